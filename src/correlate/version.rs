//! Vendor-aware ordering of network OS versions: whether a boot was an upgrade or a downgrade,
//! whether the version a ticket approved is the one the device booted, and which version an
//! image file name carries.
//!
//! Versions are compared as runs of digits and letters (separators `.`, `(`, `)`, `-`, `_`).
//! Letter runs are of two kinds, and the difference decides comparability:
//!
//! - a *train* opens a release line (`M` in `15.7(3)M8`, `I` in `7.0(3)I7(9)`, `R` in `21.4R3`):
//!   two versions on different trains are not ordered by their numbers (IOS `15.2(7)E6` is newer
//!   than `15.7(3)M8`), so such a pair is incomparable;
//! - a *suffix* qualifies the number just before it (`a` in `17.6.6a`, `F` in `4.30.1F`) and is
//!   ordered like a rebuild.
//!
//! Junos has its own shape (`21.4R3-S5.4`: release, service release, build) and is ordered by it.

use std::cmp::Ordering;

/// OS family named by the free-text vendor hint. Only the families whose ordering differs from
/// the generic rules, or whose image names need their own reader, are told apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Ios,
    IosXe,
    NxOs,
    Asa,
    Junos,
    Eos,
    Generic,
}

impl Family {
    fn from_hint(vendor: Option<&str>) -> Family {
        let Some(hint) = vendor else {
            return Family::Generic;
        };
        // Hints come from rule files and inventories in several spellings (`cisco_nxos`,
        // `Cisco NX-OS`, `ios-xe`), so compare on the letters and digits only.
        let key: String = hint
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if key.contains("junos") || key.contains("juniper") {
            Family::Junos
        } else if key.contains("arista") || key.contains("eos") {
            Family::Eos
        } else if key.contains("nxos") || key.contains("nexus") {
            Family::NxOs
        } else if key.contains("asa") {
            Family::Asa
        } else if key.contains("iosxe") || key.ends_with("xe") {
            Family::IosXe
        } else if key.contains("ios") {
            Family::Ios
        } else {
            Family::Generic
        }
    }
}

/// Compares two versions of the same OS family. `vendor` is a free-text hint (`cisco_ios`,
/// `cisco_iosxe`, `cisco_nxos`, `cisco_asa`, `juniper_junos`, `arista_eos`, or None/unknown for
/// the generic rules).
///
/// Returns None when the two are not comparable (different trains: IOS `M` vs `E`, Junos `R` vs
/// `X`, EOS `F` vs `M` on the same numbers, Junos vs Junos EVO) or when either is not a version
/// at all (empty, not starting with a digit, characters outside letters, digits and `.()-_`).
pub fn compare(vendor: Option<&str>, a: &str, b: &str) -> Option<Ordering> {
    let (a, b) = (normalize(a), normalize(b));
    // The Junos shape cannot be mistaken for another vendor's (no parentheses, a letter right
    // after `major.minor`), so it is recognised whatever the hint says: hints are often generic.
    if let (Some(ja), Some(jb)) = (Junos::parse_exact(&a), Junos::parse_exact(&b)) {
        return ja.compare(&jb);
    }
    let ta = tokenize(&a)?;
    let tb = tokenize(&b)?;
    compare_tokens(Family::from_hint(vendor), &ta, &tb)
}

/// True when the two strings name the same version (`17.06.06a` == `17.6.6a`,
/// `Version 15.7(3)M8,` == `15.7(3)M8`, case-insensitive). False when either is not a version.
pub fn same(vendor: Option<&str>, a: &str, b: &str) -> bool {
    compare(vendor, a, b) == Some(Ordering::Equal)
}

/// Normalised display form: trimmed, without a leading `Version`/`Version:` or `v`, cut at the
/// first blank or comma (`Version 15.7(3)M8, RELEASE SOFTWARE` → `15.7(3)M8`), without trailing
/// punctuation or quotes and without unbalanced outer parentheses. Case and leading zeros are
/// kept: this is what an alert shows.
pub fn normalize(v: &str) -> String {
    let mut s = v.trim();
    if let Some(head) = s.get(..7)
        && head.eq_ignore_ascii_case("version")
        && s[7..].starts_with(|c: char| c == ':' || c.is_whitespace())
    {
        s = s[7..].trim_start_matches(|c: char| c == ':' || c.is_whitespace());
    }
    s = s.trim_start_matches(['"', '\'']);
    if (s.starts_with('v') || s.starts_with('V'))
        && s[1..].starts_with(|c: char| c.is_ascii_digit())
    {
        s = &s[1..];
    }
    s = s
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .next()
        .unwrap_or_default();
    s = s.trim_end_matches(['.', ',', ';', ':', '!', '?', '"', '\'']);
    // `(15.7(3)M8)` or `15.7(3)M8)` from a surrounding sentence. A version never starts with
    // `(`; at the end drop only the `)` without a partner, so `9.3(10)` keeps its own.
    s = s.trim_start_matches('(');
    while s.ends_with(')') && s.matches(')').count() > s.matches('(').count() {
        s = &s[..s.len() - 1];
    }
    s.to_string()
}

/// One run of a version string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok<'a> {
    /// Digits without leading zeros (`""` is zero): compared by length, then lexically, so a
    /// number of any size compares correctly without overflowing.
    Num(&'a str),
    /// Letters that open a release line: followed by a digit (`M8`, `R3`, `I7`) or not
    /// preceded by one (`)M`, `.S`).
    Train(&'a str),
    /// Letters right after a number and not followed by one (`6a`, `1F`, `(4a)`): a rebuild or
    /// designation of that number.
    Suffix(&'a str),
    /// `)`: closes a maintenance group, so `(2a)` lines up against `(2)` instead of the train.
    Close,
}

impl<'a> Tok<'a> {
    fn letters(self) -> Option<&'a str> {
        match self {
            Tok::Train(s) | Tok::Suffix(s) => Some(s),
            Tok::Num(_) | Tok::Close => None,
        }
    }
}

/// Splits a normalised version into runs; None when it is not a version (empty, not starting
/// with a digit, or holding characters no vendor uses).
fn tokenize(v: &str) -> Option<Vec<Tok<'_>>> {
    let b = v.as_bytes();
    if !b.first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let mut toks = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            toks.push(Tok::Num(trim_zeros(&v[start..i])));
        } else if c.is_ascii_alphabetic() {
            let start = i;
            while i < b.len() && b[i].is_ascii_alphabetic() {
                i += 1;
            }
            let after_digit = start > 0 && b[start - 1].is_ascii_digit();
            let before_digit = b.get(i).is_some_and(u8::is_ascii_digit);
            let run = &v[start..i];
            toks.push(if after_digit && !before_digit {
                Tok::Suffix(run)
            } else {
                Tok::Train(run)
            });
        } else if c == b')' {
            toks.push(Tok::Close);
            i += 1;
        } else if matches!(c, b'.' | b'(' | b'-' | b'_') {
            i += 1;
        } else {
            return None;
        }
    }
    Some(toks)
}

fn trim_zeros(digits: &str) -> &str {
    digits.trim_start_matches('0')
}

/// Compares digit strings of any length: leading zeros ignored, then longer is greater, then
/// lexical order (which is numeric order for equal lengths).
fn cmp_digits(a: &str, b: &str) -> Ordering {
    let (a, b) = (trim_zeros(a), trim_zeros(b));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn cmp_letters(a: &str, b: &str) -> Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
}

/// The train runs of a version, in order.
fn trains<'a>(toks: &[Tok<'a>]) -> Vec<&'a str> {
    toks.iter()
        .filter_map(|t| match t {
            Tok::Train(s) => Some(*s),
            _ => None,
        })
        .collect()
}

fn compare_tokens(family: Family, a: &[Tok<'_>], b: &[Tok<'_>]) -> Option<Ordering> {
    // Trains first, whatever the numbers say: `15.2(7)E6` is newer than `15.7(3)M8`, so the
    // numeric prefix of two different trains means nothing. A side without a train (NX-OS
    // `9.3(9)` against `7.0(3)I7(9)`) is the common line and stays comparable.
    if trains(a)
        .iter()
        .zip(trains(b))
        .any(|(x, y)| !x.eq_ignore_ascii_case(y))
    {
        return None;
    }

    let (mut i, mut j) = (0, 0);
    loop {
        match (a.get(i).copied(), b.get(j).copied()) {
            (None, None) => return Some(Ordering::Equal),
            (Some(Tok::Close), Some(Tok::Close)) => {
                i += 1;
                j += 1;
            }
            // `(2a)` against `(2)`: the rebuild letter makes it the later one.
            (Some(Tok::Close), Some(Tok::Suffix(_))) => return Some(Ordering::Less),
            (Some(Tok::Suffix(_)), Some(Tok::Close)) => return Some(Ordering::Greater),
            // Otherwise a parenthesis on one side only is notation (`9.3(10)` is `9.3.10`).
            (Some(Tok::Close), _) => i += 1,
            (_, Some(Tok::Close)) => j += 1,
            // A longer version that extends a shorter one is a later release of it.
            (None, Some(_)) => return Some(Ordering::Less),
            (Some(_), None) => return Some(Ordering::Greater),
            (Some(Tok::Num(x)), Some(Tok::Num(y))) => match cmp_digits(x, y) {
                Ordering::Equal => {
                    i += 1;
                    j += 1;
                }
                other => return Some(other),
            },
            // A number where the other side has letters is a finer-grained later release
            // (`4.30.1.1F` after `4.30.1F`).
            (Some(Tok::Num(_)), Some(_)) => return Some(Ordering::Greater),
            (Some(_), Some(Tok::Num(_))) => return Some(Ordering::Less),
            (Some(x), Some(y)) => {
                let (Some(xs), Some(ys)) = (x.letters(), y.letters()) else {
                    return None;
                };
                if xs.eq_ignore_ascii_case(ys) {
                    i += 1;
                    j += 1;
                    continue;
                }
                return match (x, y) {
                    // EOS `F`/`M` say feature or maintenance, not which came first; one number
                    // never carries both, so a mismatch is not an order.
                    (Tok::Suffix(_), Tok::Suffix(_)) if family != Family::Eos => {
                        Some(cmp_letters(xs, ys))
                    }
                    // A train against anything else: the structures do not line up.
                    _ => None,
                };
            }
        }
    }
}

/// A Junos version: `major.minor` `kind` `release` [`-` service letter + number] [`.` build]
/// [`-EVO`], e.g. `21.4R3-S5.4`, `22.4R3.25`, `15.1X49-D240.2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Junos<'a> {
    major: &'a str,
    minor: &'a str,
    kind: &'a str,
    release: &'a str,
    service: Option<(&'a str, &'a str)>,
    build: Option<&'a str>,
    evo: bool,
}

impl<'a> Junos<'a> {
    /// The whole string is a Junos version.
    fn parse_exact(s: &'a str) -> Option<Junos<'a>> {
        match Junos::parse_prefix(s, false) {
            Some((j, used)) if used == s.len() => Some(j),
            _ => None,
        }
    }

    /// A Junos version at the start of `s` and the bytes it spans. `upper_only` requires the
    /// letters to be upper case, which keeps file-name scanning from reading `-signed` as a
    /// service release.
    fn parse_prefix(s: &'a str, upper_only: bool) -> Option<(Junos<'a>, usize)> {
        let mut c = Cursor { s, pos: 0 };
        let major = c.digits()?;
        c.byte(b'.')?;
        let minor = c.digits()?;
        let kind = c.letters(upper_only)?;
        let release = c.digits()?;
        let service = c.optional(|c| {
            c.byte(b'-')?;
            let letter = c.letters(upper_only)?;
            Some((letter, c.digits()?))
        });
        let build = c.optional(|c| {
            c.byte(b'.')?;
            c.digits()
        });
        let evo = c
            .optional(|c| {
                c.byte(b'-')?;
                c.letters(upper_only)
                    .filter(|l| l.eq_ignore_ascii_case("evo"))
            })
            .is_some();
        let junos = Junos {
            major,
            minor,
            kind,
            release,
            service,
            build,
            evo,
        };
        Some((junos, c.pos))
    }

    fn compare(&self, other: &Junos<'_>) -> Option<Ordering> {
        // `R` (regular), `X` (special), `F`, `D`… are separate lines, EVO a separate OS, and a
        // service `S` and a `D` release are not steps on one ladder.
        if !self.kind.eq_ignore_ascii_case(other.kind) || self.evo != other.evo {
            return None;
        }
        if let (Some((x, _)), Some((y, _))) = (self.service, other.service)
            && !x.eq_ignore_ascii_case(y)
        {
            return None;
        }
        // Absent service or build sorts first: `21.4R3` < `21.4R3-S5` < `21.4R3-S5.4`, and a
        // respin of the release (`22.4R3.25`) comes before its service releases.
        let opt = |x: Option<&str>, y: Option<&str>| match (x, y) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => cmp_digits(x, y),
        };
        Some(
            cmp_digits(self.major, other.major)
                .then_with(|| cmp_digits(self.minor, other.minor))
                .then_with(|| cmp_digits(self.release, other.release))
                .then_with(|| opt(self.service.map(|s| s.1), other.service.map(|s| s.1)))
                .then_with(|| opt(self.build, other.build)),
        )
    }

    /// Display form, as Juniper writes it.
    fn render(&self) -> String {
        let mut out = format!("{}.{}{}{}", self.major, self.minor, self.kind, self.release);
        if let Some((letter, n)) = self.service {
            out.push_str(&format!("-{letter}{n}"));
        }
        if let Some(build) = self.build {
            out.push_str(&format!(".{build}"));
        }
        if self.evo {
            out.push_str("-EVO");
        }
        out
    }
}

/// A byte cursor for the hand-written Junos reader (no regex: it is small and must not panic).
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> Option<&'a str> {
        let start = self.pos;
        let rest = self.s.as_bytes().get(start..)?;
        let n = rest.iter().take_while(|&&c| f(c)).count();
        if n == 0 {
            return None;
        }
        self.pos += n;
        self.s.get(start..self.pos)
    }

    fn digits(&mut self) -> Option<&'a str> {
        self.take_while(|c| c.is_ascii_digit())
    }

    fn letters(&mut self, upper_only: bool) -> Option<&'a str> {
        if upper_only {
            self.take_while(|c| c.is_ascii_uppercase())
        } else {
            self.take_while(|c| c.is_ascii_alphabetic())
        }
    }

    fn byte(&mut self, want: u8) -> Option<()> {
        if self.s.as_bytes().get(self.pos) == Some(&want) {
            self.pos += 1;
            Some(())
        } else {
            None
        }
    }

    /// Runs `f`; on failure rewinds, so an optional part is all or nothing.
    fn optional<T>(&mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        let saved = self.pos;
        let out = f(self);
        if out.is_none() {
            self.pos = saved;
        }
        out
    }
}

/// Best-effort version carried by an image file name (a path or `flash:` prefix is ignored):
/// `c2900-universalk9-mz.SPA.157-3.M8.bin` → `15.7(3)M8`, `cat9k_iosxe.17.06.06a.SPA.bin` →
/// `17.06.06a`, `nxos64-cs.10.3.4a.M.bin` → `10.3(4a)`, `junos-install-mx-x86-64-21.4R3-S5.4.tgz`
/// → `21.4R3-S5.4`, `EOS-4.30.4M.swi` → `4.30.4M`, `asa9-12-4-smp-k8.bin` → `9.12(4)`.
/// The result is in the form the device reports in `show version`. None when no reader
/// recognises the name.
pub fn version_from_image(vendor: Option<&str>, image: &str) -> Option<String> {
    let name = image
        .trim()
        .rsplit(['/', '\\', ':'])
        .next()
        .unwrap_or_default();
    type Reader = fn(&str) -> Option<String>;
    // Each reader is gated on a prefix or a shape of its own, so trying them all is safe; the
    // hinted one goes first because hints are often coarse (`cisco_ios` for an IOS-XE box).
    let readers: [(Family, Reader); 6] = [
        (Family::Asa, image_asa),
        (Family::Eos, image_eos),
        (Family::NxOs, image_nxos),
        (Family::Junos, image_junos),
        (Family::Ios, image_ios),
        (Family::IosXe, image_iosxe),
    ];
    let hinted = Family::from_hint(vendor);
    let first = readers.iter().filter(|(f, _)| *f == hinted);
    let rest = readers.iter().filter(|(f, _)| *f != hinted);
    first.chain(rest).find_map(|(_, read)| read(name))
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())
}

/// Digits followed by optional lower-case letters: `4`, `04a`, `25d`.
fn is_maint(s: &str) -> bool {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && s.bytes().skip(digits).all(|c| c.is_ascii_lowercase())
}

/// IOS: `<platform>-<features>-mz[.SPA].<MMm>-<maint>[.<train>].bin`, e.g. `157-3.M8` for
/// `15.7(3)M8`, `124-25d` for mainline `12.4(25d)`.
fn image_ios(name: &str) -> Option<String> {
    let pieces: Vec<&str> = name.split('.').collect();
    for (i, piece) in pieces.iter().enumerate().skip(1) {
        let Some((code, maint)) = piece.split_once('-') else {
            continue;
        };
        if code.len() != 3 || !all_digits(code) || !is_maint(maint) {
            continue;
        }
        let (major, minor) = code.split_at(2);
        let mut out = format!("{major}.{minor}({maint})");
        // The train piece is never the last one: that is the extension.
        if i + 2 < pieces.len()
            && let Some(train) = pieces.get(i + 1)
            && train.starts_with(|c: char| c.is_ascii_uppercase())
            && train.bytes().all(|c| c.is_ascii_alphanumeric())
        {
            out.push_str(train);
        }
        return Some(out);
    }
    None
}

/// IOS-XE 16/17: `<platform>.<MM>.<mm>.<pp>[a].SPA.bin`, kept as written (`17.06.06a`).
fn image_iosxe(name: &str) -> Option<String> {
    let pieces: Vec<&str> = name.split('.').collect();
    pieces.windows(3).skip(1).find_map(|w| {
        let ok = w[0].len() == 2
            && all_digits(w[0])
            && w[1].len() <= 2
            && all_digits(w[1])
            && is_maint(w[2])
            && w[2].bytes().filter(u8::is_ascii_digit).count() <= 2;
        ok.then(|| w.join("."))
    })
}

/// NX-OS: `nxos[64-cs].<a>.<b>.<c>[.<train><n>.<m>][.M|.F].bin`, reported as `a.b(c)`
/// (`nxos.9.3.10.bin` → `9.3(10)`, `nxos.7.0.3.I7.9.bin` → `7.0(3)I7(9)`).
fn image_nxos(name: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    let nexus_platform = lower
        .strip_prefix('n')
        .is_some_and(|r| r.bytes().take_while(u8::is_ascii_digit).count() >= 4);
    if !lower.starts_with("nxos") && !nexus_platform {
        return None;
    }
    let pieces: Vec<&str> = name.split('.').collect();
    for i in 1..pieces.len() {
        let (Some(a), Some(b), Some(c)) = (pieces.get(i), pieces.get(i + 1), pieces.get(i + 2))
        else {
            return None;
        };
        if !all_digits(a) || !all_digits(b) || !is_maint(c) {
            continue;
        }
        let mut out = format!("{a}.{b}({c})");
        // A train piece has letters then digits (`I7`, `U6`); `M`/`F` alone only say
        // maintenance or feature release and are not part of the version.
        if let (Some(train), Some(n)) = (pieces.get(i + 3), pieces.get(i + 4)) {
            let letters = train.bytes().take_while(u8::is_ascii_alphabetic).count();
            if letters > 0 && all_digits(&train[letters..]) && is_maint(n) {
                out.push_str(&format!("{train}({n})"));
            }
        }
        return Some(out);
    }
    None
}

/// Junos: the first Junos-shaped run in the name (`…-x86-64-21.4R3-S5.4.tgz`,
/// `junos-srxsme-15.1X49-D240.2.tgz`), standing on its own between separators.
fn image_junos(name: &str) -> Option<String> {
    let b = name.as_bytes();
    (0..b.len()).find_map(|start| {
        let boundary_before =
            start == 0 || !(b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'.');
        if !boundary_before || !b[start].is_ascii_digit() {
            return None;
        }
        let (junos, used) = Junos::parse_prefix(name.get(start..)?, true)?;
        let end = start + used;
        let boundary_after = b.get(end).is_none_or(|c| !c.is_ascii_alphanumeric());
        boundary_after.then(|| junos.render())
    })
}

/// EOS: `EOS[64]-<version>.swi` (also `.swix`, `.tar`), version as written.
fn image_eos(name: &str) -> Option<String> {
    if !name.get(..3)?.eq_ignore_ascii_case("eos") {
        return None;
    }
    let (_, rest) = name.split_once('-')?;
    let version = [".swix", ".swi", ".tar", ".tgz"]
        .iter()
        .find_map(|ext| rest.strip_suffix(ext))
        .unwrap_or(rest);
    tokenize(version)?;
    Some(version.to_string())
}

/// ASA: `asa9-12-4[-52]-smp-k8.bin` (dashed), `asa847-30-k8.bin` (compact, single-digit
/// fields), `cisco-asa.9.14.1[.19].SPA.csp`; reported as `9.12(4)` or `9.12(4)52` with the interim.
fn image_asa(name: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    let render = |major: &str, minor: &str, maint: &str, interim: Option<&&str>| {
        let mut out = format!("{major}.{minor}({maint})");
        if let Some(interim) = interim {
            out.push_str(interim);
        }
        out
    };
    if let Some(rest) = lower.strip_prefix("cisco-asa.") {
        let nums: Vec<&str> = rest.split('.').take_while(|p| all_digits(p)).collect();
        return match nums.as_slice() {
            [major, minor, maint, interim @ ..] => {
                Some(render(major, minor, maint, interim.first()))
            }
            _ => None,
        };
    }
    let rest = lower
        .strip_prefix("asav")
        .or_else(|| lower.strip_prefix("asa"))?;
    let nums: Vec<&str> = rest.split('-').take_while(|p| all_digits(p)).collect();
    match nums.as_slice() {
        [major, minor, maint, interim @ ..] => Some(render(major, minor, maint, interim.first())),
        // Before 9.x the fields were run together, one digit each: `asa847-30-k8.bin`.
        [compact, interim @ ..] if compact.len() == 3 => {
            let (major, rest) = compact.split_at(1);
            let (minor, maint) = rest.split_at(1);
            Some(render(major, minor, maint, interim.first()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    /// Every earlier entry is less than every later one, both ways round.
    fn assert_ascending(vendor: Option<&str>, chain: &[&str]) {
        for (i, a) in chain.iter().enumerate() {
            assert_eq!(compare(vendor, a, a), Some(Equal), "{a} == {a}");
            for b in &chain[i + 1..] {
                assert_eq!(compare(vendor, a, b), Some(Less), "{a} < {b}");
                assert_eq!(compare(vendor, b, a), Some(Greater), "{b} > {a}");
            }
        }
    }

    const IOS: Option<&str> = Some("cisco_ios");
    const IOSXE: Option<&str> = Some("cisco_iosxe");
    const NXOS: Option<&str> = Some("cisco_nxos");
    const ASA: Option<&str> = Some("cisco_asa");
    const JUNOS: Option<&str> = Some("juniper_junos");
    const EOS: Option<&str> = Some("arista_eos");

    #[test]
    fn ios_train_numbers_compare_numerically() {
        assert_ascending(IOS, &["15.7(3)M8", "15.7(3)M9", "15.7(3)M10"]);
        assert_ascending(None, &["15.7(3)M8", "15.7(3)M9", "15.7(3)M10"]);
    }

    #[test]
    fn ios_maintenance_and_minor_order_within_a_train() {
        assert_ascending(IOS, &["15.2(4)E10", "15.2(7)E6"]);
        assert_ascending(IOS, &["15.5(3)M10", "15.6(3)M9"]);
    }

    #[test]
    fn ios_rebuilds_sort_after_their_release() {
        assert_ascending(IOS, &["15.0(2)SE11", "15.0(2a)SE11", "15.0(3)SE11"]);
        assert_ascending(IOS, &["15.2(4)M6", "15.2(4)M6a", "15.2(4)M7"]);
        assert_ascending(IOS, &["12.4(25)", "12.4(25d)", "12.4(26)"]);
    }

    #[test]
    fn ios_different_trains_are_incomparable() {
        assert_eq!(compare(IOS, "15.2(7)E6", "15.7(3)M8"), None);
        assert_eq!(compare(IOS, "15.7(3)M8", "15.2(7)E6"), None);
        assert_eq!(compare(None, "15.2(7)E6", "15.7(3)M8"), None);
        assert_eq!(compare(IOS, "15.4(3)M", "15.4(3)S"), None);
        assert_eq!(compare(IOS, "15.0(2)SE11", "15.0(2)SG11"), None);
        assert!(!same(IOS, "15.2(7)E6", "15.2(7)M6"));
    }

    #[test]
    fn iosxe_order_ignores_zero_padding() {
        assert_ascending(
            IOSXE,
            &[
                "17.03.05",
                "17.06.05",
                "17.6.6a",
                "17.09.04a",
                "17.9.5",
                "17.12.03",
            ],
        );
        assert_ascending(IOSXE, &["16.9.3", "17.3.1"]);
        assert_ascending(
            None,
            &["16.9.3", "17.03.05", "17.6.6", "17.06.06a", "17.6.6b"],
        );
        assert_eq!(compare(IOSXE, "17.06.06a", "17.6.6a"), Some(Equal));
        assert_eq!(compare(IOSXE, "17.06.06A", "17.6.6a"), Some(Equal));
    }

    #[test]
    fn nxos_order() {
        assert_ascending(
            NXOS,
            &[
                "7.0(3)I7(9)",
                "9.3(9)",
                "9.3(10)",
                "9.3(12)",
                "10.2(6)",
                "10.3(4a)",
                "10.4(2)",
            ],
        );
        assert_ascending(NXOS, &["10.3(4)", "10.3(4a)", "10.3(4b)", "10.3(5)"]);
        assert_ascending(NXOS, &["7.0(3)I7(8)", "7.0(3)I7(9)", "7.0(3)I7(10)"]);
        assert_eq!(compare(NXOS, "7.0(3)I7(9)", "7.0(3)F3(5)"), None);
    }

    #[test]
    fn parentheses_are_notation_when_only_one_side_has_them() {
        assert!(same(NXOS, "9.3(10)", "9.3.10"));
        assert!(same(IOS, "15.7(3)M8", "15.7.3M8"));
        assert!(same(ASA, "9.12(4)52", "9.12.4.52"));
    }

    #[test]
    fn junos_order() {
        let chain = [
            "20.4R3-S9.2",
            "21.2R3-S7.3",
            "21.4R3-S5.4",
            "22.2R3-S3.5",
            "22.4R3.25",
            "23.2R2-S1.3",
        ];
        assert_ascending(JUNOS, &chain);
        assert_ascending(None, &chain);
        assert_ascending(JUNOS, &["21.4R3", "21.4R3-S5", "21.4R3-S5.4"]);
        assert_ascending(JUNOS, &["21.4R3-S5.3", "21.4R3-S5.4", "21.4R3-S6.1"]);
    }

    #[test]
    fn junos_respin_comes_before_service_releases() {
        assert_ascending(JUNOS, &["22.4R3", "22.4R3.25", "22.4R3-S1", "22.4R3-S3.5"]);
    }

    #[test]
    fn junos_different_trains_are_incomparable() {
        assert_eq!(compare(JUNOS, "21.4R3", "21.4X3"), None);
        assert_eq!(compare(JUNOS, "15.1X49-D240.2", "21.4R3-S5.4"), None);
        assert_eq!(compare(None, "15.1X49-D240.2", "21.4R3-S5.4"), None);
        assert_eq!(compare(JUNOS, "21.4R3-S5.4", "21.4R3-S5.4-EVO"), None);
        assert_ascending(JUNOS, &["15.1X49-D100.6", "15.1X49-D240.2"]);
    }

    #[test]
    fn eos_order() {
        assert_ascending(
            EOS,
            &[
                "4.28.9M",
                "4.29.6M",
                "4.30.1F",
                "4.30.1.1F",
                "4.30.4M",
                "4.31.2F",
                "4.32.1F",
            ],
        );
        assert_ascending(EOS, &["4.30.1F", "4.30.1.1F"]);
        assert_ascending(None, &["4.30.1F", "4.30.1.1F", "4.30.4M"]);
    }

    #[test]
    fn eos_designation_alone_is_not_an_order() {
        assert_eq!(compare(EOS, "4.30.1F", "4.30.1M"), None);
        assert!(same(EOS, "4.30.4m", "4.30.4M"));
    }

    #[test]
    fn asa_order() {
        assert_ascending(ASA, &["9.12(4)", "9.12(4)52", "9.14(1)"]);
        assert_ascending(ASA, &["9.12(4)52", "9.12(4)62"]);
    }

    #[test]
    fn same_ignores_presentation() {
        assert!(same(IOSXE, "17.06.06a", "17.6.6a"));
        assert!(same(IOS, "Version 15.7(3)M8,", "15.7(3)M8"));
        assert!(same(IOS, "version 15.7(3)m8", "15.7(3)M8"));
        assert!(same(JUNOS, "21.4r3-s5.4", "21.4R3-S5.4"));
        assert!(!same(IOS, "15.7(3)M8", "15.7(3)M9"));
        assert!(!same(None, "", ""));
        assert!(!same(None, "unknown", "unknown"));
    }

    #[test]
    fn normalize_trims_decoration() {
        assert_eq!(normalize("Version 15.7(3)M8,"), "15.7(3)M8");
        assert_eq!(normalize("  Version: 17.06.06a "), "17.06.06a");
        assert_eq!(
            normalize("Version 15.7(3)M8, RELEASE SOFTWARE (fc1)"),
            "15.7(3)M8"
        );
        assert_eq!(normalize("9.3(10)"), "9.3(10)");
        assert_eq!(normalize("(9.3(10))"), "9.3(10)");
        assert_eq!(normalize("9.3(10))."), "9.3(10)");
        assert_eq!(normalize("v4.30.4M."), "4.30.4M");
        assert_eq!(normalize("\"21.4R3-S5.4\""), "21.4R3-S5.4");
        assert_eq!(normalize(""), "");
        assert_eq!(normalize("Versionless"), "Versionless");
    }

    #[test]
    fn garbage_is_not_a_version_and_does_not_panic() {
        for junk in [
            "", " ", "abc", "M8", "-", "()", ")(", "version", "1.2/3", "é1", "1.é",
        ] {
            assert_eq!(compare(None, junk, "1.0"), None, "{junk:?}");
            assert_eq!(compare(None, "1.0", junk), None, "{junk:?}");
            assert!(!same(None, junk, junk), "{junk:?}");
            let _ = normalize(junk);
            let _ = version_from_image(None, junk);
        }
    }

    #[test]
    fn arbitrary_strings_do_not_panic() {
        // A fixed linear congruential generator over the characters versions and file names
        // are made of, plus a few that are not: deterministic, no extra dependency.
        const ALPHABET: &[char] = &[
            '0', '1', '7', '9', '.', '(', ')', '-', '_', 'a', 'M', 'R', 'S', 'X', 'F', 'E', ' ',
            ',', '/', ':', 'é', 'v',
        ];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        let vendors = [None, IOS, IOSXE, NXOS, ASA, JUNOS, EOS];
        for round in 0..20_000 {
            let mut word = || -> String {
                let len = next() % 16;
                (0..len)
                    .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                    .collect()
            };
            let (a, b) = (word(), word());
            let vendor = vendors[round % vendors.len()];
            let forward = compare(vendor, &a, &b);
            // Whatever the input, the order is antisymmetric.
            assert_eq!(
                forward.map(Ordering::reverse),
                compare(vendor, &b, &a),
                "{a:?} {b:?}"
            );
            let _ = normalize(&a);
            let _ = version_from_image(vendor, &a);
        }
    }

    #[test]
    fn numbers_beyond_u64_compare_as_digit_strings() {
        let big = "184467440737095516160.1";
        let bigger = "184467440737095516161.1";
        assert_eq!(compare(None, big, bigger), Some(Less));
        assert_eq!(compare(None, "99999999999999999999999", "1"), Some(Greater));
        assert_eq!(
            compare(None, "000000000000000000000000007", "7"),
            Some(Equal)
        );
        assert_eq!(compare(None, "0.0", "0"), Some(Greater));
    }

    #[test]
    fn vendor_hint_spellings() {
        assert_eq!(Family::from_hint(Some("Cisco NX-OS")), Family::NxOs);
        assert_eq!(Family::from_hint(Some("cisco_iosxe")), Family::IosXe);
        assert_eq!(Family::from_hint(Some("cisco_ios")), Family::Ios);
        assert_eq!(Family::from_hint(Some("cisco_asa")), Family::Asa);
        assert_eq!(Family::from_hint(Some("juniper_junos")), Family::Junos);
        assert_eq!(Family::from_hint(Some("arista_eos")), Family::Eos);
        assert_eq!(Family::from_hint(Some("mikrotik")), Family::Generic);
        assert_eq!(Family::from_hint(None), Family::Generic);
    }

    #[test]
    fn image_ios() {
        let cases = [
            ("c2900-universalk9-mz.SPA.157-3.M8.bin", "15.7(3)M8"),
            ("c2960x-universalk9-mz.152-7.E6.bin", "15.2(7)E6"),
            ("c3750-ipservicesk9-mz.122-55.SE12.bin", "12.2(55)SE12"),
            ("c2600-adventerprisek9-mz.124-25d.bin", "12.4(25d)"),
            ("flash:/c2900-universalk9-mz.SPA.157-3.M8.bin", "15.7(3)M8"),
        ];
        for (image, want) in cases {
            assert_eq!(
                version_from_image(IOS, image).as_deref(),
                Some(want),
                "{image}"
            );
            assert_eq!(
                version_from_image(None, image).as_deref(),
                Some(want),
                "{image}"
            );
        }
    }

    #[test]
    fn image_iosxe() {
        let cases = [
            ("cat9k_iosxe.17.06.06a.SPA.bin", "17.06.06a"),
            ("isr4400-universalk9.17.09.04a.SPA.bin", "17.09.04a"),
            (
                "bootflash:asr1000rpx86-universalk9.16.09.03.SPA.bin",
                "16.09.03",
            ),
        ];
        for (image, want) in cases {
            assert_eq!(
                version_from_image(IOSXE, image).as_deref(),
                Some(want),
                "{image}"
            );
            assert_eq!(
                version_from_image(None, image).as_deref(),
                Some(want),
                "{image}"
            );
            // netmiko-style inventories call IOS-XE boxes `cisco_ios`.
            assert_eq!(
                version_from_image(IOS, image).as_deref(),
                Some(want),
                "{image}"
            );
        }
    }

    #[test]
    fn image_nxos() {
        let cases = [
            ("nxos.9.3.10.bin", "9.3(10)"),
            ("nxos64-cs.10.3.4a.M.bin", "10.3(4a)"),
            ("nxos64-msll.10.4.2.F.bin", "10.4(2)"),
            ("nxos.7.0.3.I7.9.bin", "7.0(3)I7(9)"),
            ("n7000-s2-dk9.8.4.7.bin", "8.4(7)"),
        ];
        for (image, want) in cases {
            assert_eq!(
                version_from_image(NXOS, image).as_deref(),
                Some(want),
                "{image}"
            );
            assert_eq!(
                version_from_image(None, image).as_deref(),
                Some(want),
                "{image}"
            );
        }
    }

    #[test]
    fn image_junos() {
        let cases = [
            (
                "junos-vmhost-install-mx-x86-64-21.4R3-S5.4.tgz",
                "21.4R3-S5.4",
            ),
            ("junos-install-mx-x86-64-22.4R3.25.tgz", "22.4R3.25"),
            ("jinstall-ex-4300-21.4R3-S5.4-signed.tgz", "21.4R3-S5.4"),
            ("junos-srxsme-15.1X49-D240.2.tgz", "15.1X49-D240.2"),
            (
                "junos-evo-install-ptx-x86-64-21.4R3-S5.4-EVO.iso",
                "21.4R3-S5.4-EVO",
            ),
        ];
        for (image, want) in cases {
            assert_eq!(
                version_from_image(JUNOS, image).as_deref(),
                Some(want),
                "{image}"
            );
            assert_eq!(
                version_from_image(None, image).as_deref(),
                Some(want),
                "{image}"
            );
        }
    }

    #[test]
    fn image_eos() {
        let cases = [
            ("EOS-4.30.4M.swi", "4.30.4M"),
            ("EOS64-4.30.4M.swi", "4.30.4M"),
            ("EOS-4.30.1.1F.swi", "4.30.1.1F"),
        ];
        for (image, want) in cases {
            assert_eq!(
                version_from_image(EOS, image).as_deref(),
                Some(want),
                "{image}"
            );
            assert_eq!(
                version_from_image(None, image).as_deref(),
                Some(want),
                "{image}"
            );
        }
    }

    #[test]
    fn image_asa() {
        let cases = [
            ("asa9-12-4-smp-k8.bin", "9.12(4)"),
            ("asa9-12-4-52-smp-k8.bin", "9.12(4)52"),
            ("asa9-14-1-lfbff-k8.SPA", "9.14(1)"),
            ("asa847-30-k8.bin", "8.4(7)30"),
            ("cisco-asa.9.16.3.19.SPA.csp", "9.16(3)19"),
        ];
        for (image, want) in cases {
            assert_eq!(
                version_from_image(ASA, image).as_deref(),
                Some(want),
                "{image}"
            );
            assert_eq!(
                version_from_image(None, image).as_deref(),
                Some(want),
                "{image}"
            );
        }
    }

    #[test]
    fn image_versions_compare_with_reported_ones() {
        let image = version_from_image(IOSXE, "cat9k_iosxe.17.06.06a.SPA.bin");
        assert!(image.is_some_and(|v| same(IOSXE, &v, "17.6.6a")));
        let image = version_from_image(NXOS, "nxos.9.3.10.bin");
        assert!(image.is_some_and(|v| same(NXOS, &v, "9.3(10)")));
    }

    #[test]
    fn image_unknown_is_none() {
        for image in [
            "",
            "firmware.bin",
            "config-backup.txt",
            "running-config",
            "vmlinuz",
            "asa-smp-k8.bin",
            "EOS.swi",
            "nxos.bin",
        ] {
            assert_eq!(version_from_image(None, image), None, "{image}");
            assert_eq!(version_from_image(IOS, image), None, "{image}");
        }
    }
}
