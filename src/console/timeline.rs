//! The time line the console draws as SVG: lanes of running-version bands, change tickets and
//! maintenance windows as shaded spans, and one row of marks per kind of event (transfer, boot
//! variable or install, reload, boot, integrity failure, deadline). Pure: data in, markup out.
//! Each kind has its own row, label and shape, so nothing is told by colour alone.

use std::fmt::Write;

use crate::time::{Millis, format_rfc3339};

/// A version the device ran from `from` to `to`.
#[derive(Clone, Debug, PartialEq)]
pub struct Band {
    pub from: Millis,
    pub to: Millis,
    pub version: String,
}

/// A ticket or window occurrence.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    pub from: Millis,
    pub to: Millis,
    /// `ticket` or `window`.
    pub what: &'static str,
    pub id: String,
}

/// One event on the line.
#[derive(Clone, Debug, PartialEq)]
pub struct Mark {
    pub at: Millis,
    /// A signal kind (`transfer`, `boot_var`, …) or `deadline`.
    pub kind: String,
    /// What the mark says when focused or hovered.
    pub text: String,
}

/// The rows of marks, in the order things happen to an image, with their labels.
pub const ROWS: [(&str, &str, &[&str]); 7] = [
    ("transfer", "Transfer", &["transfer", "verify"]),
    (
        "stage",
        "Boot var / install",
        &[
            "boot_var",
            "install_add",
            "install_activate",
            "install_commit",
            "install_reload",
            "config_save",
            "config_change",
            "config_copy",
        ],
    ),
    ("reload", "Reload", &["reload", "reload_cmd"]),
    ("boot", "Boot / version", &["boot", "version"]),
    ("integrity", "Integrity failure", &["integrity_failure"]),
    ("deadline", "Deadline", &["deadline"]),
    ("other", "Other", &[]),
];

/// The row a kind is drawn in.
pub fn row_of(kind: &str) -> usize {
    ROWS.iter()
        .position(|(_, _, kinds)| kinds.contains(&kind))
        .unwrap_or(ROWS.len() - 1)
}

/// Everything one drawing shows.
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    pub from: Millis,
    pub to: Millis,
    pub bands: Vec<Band>,
    pub spans: Vec<Span>,
    pub marks: Vec<Mark>,
}

/// Text escaped for XML content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const WIDTH: f64 = 1200.0;
const GUTTER: f64 = 160.0;
const ROW_H: f64 = 30.0;

/// `06-02 22:41` (UTC), for axis labels.
fn short_time(t: Millis) -> String {
    let full = format_rfc3339(t);
    full.get(5..16).unwrap_or(&full).replace('T', " ")
}

impl Timeline {
    /// A range around `times`, padded by a twentieth on each side (an hour when it is one
    /// instant); None without times.
    pub fn range_around(times: impl IntoIterator<Item = Millis>) -> Option<(Millis, Millis)> {
        let mut it = times.into_iter();
        let first = it.next()?;
        let (lo, hi) = it.fold((first, first), |(lo, hi), t| (lo.min(t), hi.max(t)));
        let pad = ((hi - lo) / 20).max(crate::time::HOUR / 2);
        Some((lo - pad, hi + pad))
    }

    fn x(&self, t: Millis) -> f64 {
        let span = (self.to - self.from).max(1) as f64;
        let t = t.clamp(self.from, self.to);
        GUTTER + (t - self.from) as f64 / span * (WIDTH - GUTTER - 20.0)
    }

    /// The rows of marks that have something in them (all of them when `all_rows`).
    fn rows(&self, all_rows: bool) -> Vec<usize> {
        (0..ROWS.len())
            .filter(|r| all_rows || self.marks.iter().any(|m| row_of(&m.kind) == *r))
            .collect()
    }

    /// The SVG, titled `title` for assistive technology.
    pub fn svg(&self, title: &str) -> String {
        let rows = self.rows(false);
        let mut y = 34.0;
        let mut body = String::new();
        // Axis: six ticks with UTC labels and faint grid lines.
        let lanes =
            usize::from(!self.spans.is_empty()) + usize::from(!self.bands.is_empty()) + rows.len();
        let height_guess = 34.0 + lanes as f64 * ROW_H;
        for i in 0..=5 {
            let t = self.from + (self.to - self.from) * i / 5;
            let x = self.x(t);
            let anchor = match i {
                0 => "start",
                5 => "end",
                _ => "middle",
            };
            let _ = write!(
                body,
                r#"<line class="grid" x1="{x:.1}" y1="24" x2="{x:.1}" y2="{height_guess:.1}"/><text class="tick" x="{x:.1}" y="16" text-anchor="{anchor}">{} UTC</text>"#,
                esc(&short_time(t))
            );
        }
        // Lane: tickets and windows.
        if !self.spans.is_empty() {
            let _ = write!(
                body,
                r#"<text class="lane" x="4" y="{:.1}">Tickets / windows</text>"#,
                y + 19.0
            );
            for s in &self.spans {
                let (x1, x2) = (self.x(s.from), self.x(s.to));
                let w = (x2 - x1).max(3.0);
                let label = format!(
                    "{} {}: {} – {}",
                    s.what,
                    s.id,
                    format_rfc3339(s.from),
                    format_rfc3339(s.to)
                );
                let _ = write!(
                    body,
                    r#"<g class="span span-{what}" tabindex="0" role="img" aria-label="{l}" data-span="{id}"><title>{l}</title><rect x="{x1:.1}" y="{top:.1}" width="{w:.1}" height="{h:.1}"/><text x="{tx:.1}" y="{ty:.1}">{id}</text></g>"#,
                    what = s.what,
                    l = esc(&label),
                    id = esc(&s.id),
                    top = y + 4.0,
                    h = ROW_H - 8.0,
                    tx = x1 + 4.0,
                    ty = y + 19.0,
                );
            }
            y += ROW_H;
        }
        // Lane: running version.
        if !self.bands.is_empty() {
            let _ = write!(
                body,
                r#"<text class="lane" x="4" y="{:.1}">Running version</text>"#,
                y + 19.0
            );
            for (i, b) in self.bands.iter().enumerate() {
                let (x1, x2) = (self.x(b.from), self.x(b.to));
                let label = format!(
                    "version {} from {} to {}",
                    b.version,
                    format_rfc3339(b.from),
                    format_rfc3339(b.to)
                );
                let _ = write!(
                    body,
                    r#"<g class="band band-{alt}" tabindex="0" role="img" aria-label="{l}" data-version="{v}"><title>{l}</title><rect x="{x1:.1}" y="{top:.1}" width="{w:.1}" height="{h:.1}"/><text x="{tx:.1}" y="{ty:.1}">{v}</text></g>"#,
                    alt = i % 2,
                    l = esc(&label),
                    v = esc(&b.version),
                    w = (x2 - x1).max(1.0),
                    top = y + 4.0,
                    h = ROW_H - 8.0,
                    tx = x1 + 4.0,
                    ty = y + 19.0,
                );
                if i > 0 {
                    let _ = write!(
                        body,
                        r#"<line class="change" x1="{x1:.1}" y1="{:.1}" x2="{x1:.1}" y2="{:.1}"/>"#,
                        y,
                        y + ROW_H
                    );
                }
            }
            y += ROW_H;
        }
        // One row per kind of event, each with its own shape.
        for r in rows {
            let (class, label, _) = ROWS[r];
            let cy = y + ROW_H / 2.0;
            let _ = write!(
                body,
                r#"<text class="lane" x="4" y="{:.1}">{label}</text><line class="row" x1="{GUTTER}" y1="{cy:.1}" x2="{:.1}" y2="{cy:.1}"/>"#,
                y + 19.0,
                WIDTH - 20.0
            );
            for m in self.marks.iter().filter(|m| row_of(&m.kind) == r) {
                let x = self.x(m.at);
                let l = esc(&format!(
                    "{} at {}: {}",
                    m.kind,
                    format_rfc3339(m.at),
                    m.text
                ));
                let _ = write!(
                    body,
                    r#"<g class="mark mark-{class}" tabindex="0" role="img" aria-label="{l}" data-kind="{k}"><title>{l}</title>{}</g>"#,
                    shape(class, x, cy),
                    k = esc(&m.kind),
                );
            }
            y += ROW_H;
        }
        let height = y + 8.0;
        format!(
            r#"<svg class="timeline" viewBox="0 0 {WIDTH} {height:.0}" role="group" aria-label="{t}" xmlns="http://www.w3.org/2000/svg"><title>{t}</title>{body}</svg>"#,
            t = esc(title)
        )
    }
}

/// A shape per row: triangle, square, circle, diamond, cross, bar, dot.
fn shape(class: &str, x: f64, y: f64) -> String {
    match class {
        "transfer" => format!(
            r#"<path d="M{:.1} {:.1} L{:.1} {:.1} L{:.1} {:.1} Z"/>"#,
            x - 7.0,
            y - 6.0,
            x + 7.0,
            y - 6.0,
            x,
            y + 7.0
        ),
        "stage" => format!(
            r#"<rect x="{:.1}" y="{:.1}" width="12" height="12"/>"#,
            x - 6.0,
            y - 6.0
        ),
        "reload" => format!(r#"<circle cx="{x:.1}" cy="{y:.1}" r="7"/>"#),
        "boot" => format!(
            r#"<path d="M{x:.1} {:.1} L{:.1} {y:.1} L{x:.1} {:.1} L{:.1} {y:.1} Z"/>"#,
            y - 8.0,
            x + 8.0,
            y + 8.0,
            x - 8.0
        ),
        "integrity" => format!(
            r#"<path class="cross" d="M{:.1} {:.1} L{:.1} {:.1} M{:.1} {:.1} L{:.1} {:.1}"/>"#,
            x - 7.0,
            y - 7.0,
            x + 7.0,
            y + 7.0,
            x + 7.0,
            y - 7.0,
            x - 7.0,
            y + 7.0
        ),
        "deadline" => format!(
            r#"<rect x="{:.1}" y="{:.1}" width="4" height="20"/>"#,
            x - 2.0,
            y - 10.0
        ),
        _ => format!(r#"<circle cx="{x:.1}" cy="{y:.1}" r="4"/>"#),
    }
}

/// Bands from the version the device started on and the changes after it, as (time, version)
/// in any order; the last band runs to `to`.
pub fn bands(
    from: Millis,
    to: Millis,
    start: Option<&str>,
    mut changes: Vec<(Millis, String)>,
) -> Vec<Band> {
    changes.sort();
    let mut out: Vec<Band> = Vec::new();
    let mut current = start.map(|v| (from, v.to_string()));
    for (at, version) in changes {
        if current.as_ref().is_some_and(|(_, v)| *v == version) {
            continue;
        }
        if let Some((since, v)) = current.take() {
            out.push(Band {
                from: since,
                to: at,
                version: v,
            });
        }
        current = Some((at, version));
    }
    if let Some((since, v)) = current {
        out.push(Band {
            from: since,
            to,
            version: v,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version change splits the line into two bands at the boot, a repeated version does
    /// not, and the drawing has the bands, the ticket span and a mark per kind row, with
    /// every text escaped.
    #[test]
    fn draws_bands_spans_and_marks() {
        let b = bands(
            0,
            100,
            Some("15.6"),
            vec![(60, "15.7".into()), (30, "15.6".into())],
        );
        assert_eq!(
            b,
            vec![
                Band {
                    from: 0,
                    to: 60,
                    version: "15.6".into()
                },
                Band {
                    from: 60,
                    to: 100,
                    version: "15.7".into()
                }
            ]
        );
        let t = Timeline {
            from: 0,
            to: 100_000,
            bands: b,
            spans: vec![Span {
                from: 10,
                to: 50,
                what: "ticket",
                id: "CHG<1>".into(),
            }],
            marks: vec![
                Mark {
                    at: 20,
                    kind: "transfer".into(),
                    text: "copy tftp://x/a&b.bin".into(),
                },
                Mark {
                    at: 60,
                    kind: "boot".into(),
                    text: "restart".into(),
                },
            ],
        };
        let svg = t.svg("rtr-1");
        assert!(svg.contains(r#"data-version="15.7""#), "{svg}");
        assert!(svg.contains(r#"data-span="CHG&lt;1&gt;""#), "{svg}");
        assert!(svg.contains("a&amp;b.bin"));
        assert!(svg.contains(">Transfer<") && svg.contains(">Boot / version<"));
        assert!(!svg.contains(">Reload<"), "empty rows are left out");
        assert_eq!(row_of("install_activate"), 1);
        assert_eq!(row_of("something_new"), ROWS.len() - 1);
    }
}
