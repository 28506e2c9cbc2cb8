//! Who has had privileged access to one device: the session sources and accounts it has seen
//! before (bounded, least recently seen dropped first), how each account last came in, and the
//! access that was new — a source never seen for the device, a freshly created privileged
//! account — which raises image work that follows it. Part of the device machine, so it is
//! persisted with it and restored after a restart.

use serde::{Deserialize, Serialize};

use crate::classify::{Signal, SignalKind};
use crate::correlate::finding::Evidence;
use crate::time::Millis;

/// Sources, accounts and sessions remembered per device, each. Past it the least recently seen
/// is forgotten: a device with more administrators than this sees an old one as new again.
pub const MAX_KNOWN: usize = 32;
/// New accesses remembered per device (the latest).
pub const MAX_FRESH: usize = 8;

/// Session methods that mean the web UI or a programmatic interface (`proto` of a privileged
/// login, lower-cased): the way the IOS XE implant campaign came in.
const WEB_OR_API: &[&str] = &[
    "web",
    "webui",
    "http",
    "https",
    "api",
    "netconf",
    "restconf",
    "junoscript",
    "xnm-ssl",
    "xnm-clear-text",
    "gnmi",
    "nx-api",
    "nxapi",
    "asdm",
    "rest",
];

/// True when a session method names the web UI or an API.
pub fn is_web_or_api(method: &str) -> bool {
    WEB_OR_API.iter().any(|m| m.eq_ignore_ascii_case(method))
}

/// Why an access was new for its device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Novelty {
    /// A privileged session from a source the device had not seen one from.
    NewSource,
    /// A local account created or given full privilege.
    NewAccount,
}

/// A privileged access that was new for the device, kept as evidence for the image work that
/// may follow it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FreshAccess {
    pub time: Millis,
    pub novelty: Novelty,
    /// The account: the one created, else the one that logged in.
    pub account: Option<String>,
    pub src: Option<String>,
    /// How the session came in, when the line says (`ssh`, `WEB`, `netconf`, …).
    pub method: Option<String>,
    pub evidence: Evidence,
}

impl FreshAccess {
    /// `account cisco_tac_admin created through the web UI or an API` / `login by x from y (new
    /// source)`: the words an image finding uses to name it.
    pub fn describe(&self) -> String {
        let who = self.account.as_deref().unwrap_or("an unknown account");
        let mut s = match self.novelty {
            Novelty::NewAccount => format!("privileged account {who} created"),
            Novelty::NewSource => format!("privileged access by {who}"),
        };
        if let Some(src) = &self.src {
            s.push_str(&format!(" from {src}"));
        }
        if let Some(m) = &self.method {
            s.push_str(&format!(" over {m}"));
        }
        if self.novelty == Novelty::NewSource {
            s.push_str(" (a source not seen before for this device)");
        }
        s
    }
}

/// The latest privileged session of one account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub account: String,
    pub method: Option<String>,
    pub time: Millis,
}

/// What one device knows about privileged access to it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AccessBook {
    /// Sources of privileged sessions with the last time each was seen, least recent first.
    #[serde(default)]
    pub sources: Vec<(String, Millis)>,
    /// Accounts that had or were given privileged access, likewise.
    #[serde(default)]
    pub accounts: Vec<(String, Millis)>,
    /// The latest session of each account, least recent first.
    #[serde(default)]
    pub sessions: Vec<Session>,
    /// New accesses, oldest first.
    #[serde(default)]
    pub fresh: Vec<FreshAccess>,
}

/// Where `key` is in `list`, any case. Searched from the most recently seen end, where a
/// routine access finds its source and account; a list never holds a key twice.
fn find(list: &[(String, Millis)], key: &str) -> Option<usize> {
    list.iter().rposition(|(k, _)| k.eq_ignore_ascii_case(key))
}

/// Puts `key` last with time `t` (most recently seen), forgetting the least recent past the cap.
fn touch(list: &mut Vec<(String, Millis)>, key: &str, t: Millis) {
    if let Some(i) = find(list, key) {
        list[i].1 = list[i].1.max(t);
        list[i..].rotate_left(1);
    } else {
        if list.len() >= MAX_KNOWN {
            list.remove(0);
        }
        list.push((key.to_string(), t));
    }
}

fn known(list: &[(String, Millis)], key: &str) -> bool {
    find(list, key).is_some()
}

/// True for the kinds that say something about privileged access.
pub fn is_access(kind: SignalKind) -> bool {
    matches!(
        kind,
        SignalKind::PrivilegedLogin | SignalKind::PrivilegeChange | SignalKind::AccountCreated
    )
}

impl AccessBook {
    /// True when an account created by `sig` (an `account_created` signal) came through the web
    /// UI or an API: its line says so, or the session of the account that created it did.
    pub fn via_web_or_api(&self, sig: &Signal) -> bool {
        if sig.fields.proto.as_deref().is_some_and(is_web_or_api) {
            return true;
        }
        let Some(actor) = sig.fields.user.as_deref() else {
            return false;
        };
        self.sessions.iter().any(|s| {
            s.account.eq_ignore_ascii_case(actor)
                && s.time <= sig.time
                && s.method.as_deref().is_some_and(is_web_or_api)
        })
    }

    /// Learns from a privileged-access signal; returns the new access it was, if it was one.
    /// A source is new only once the device has a history of sources: the first ones a device
    /// shows are learnt, not reported (else every first login of a fleet would be news).
    /// True for a login or privilege change by an account from a source this device already
    /// knows: it teaches the book nothing but recency, so it need not be stored at once (on a
    /// fleet that automation logs into every few minutes, nearly every access is this).
    pub fn is_routine(&self, sig: &Signal) -> bool {
        let f = &sig.fields;
        matches!(
            sig.kind,
            SignalKind::PrivilegedLogin | SignalKind::PrivilegeChange
        ) && (f.src.is_some() || f.user.is_some())
            && f.src.as_deref().is_none_or(|s| known(&self.sources, s))
            && f.user.as_deref().is_none_or(|u| known(&self.accounts, u))
    }

    pub fn observe(&mut self, sig: &Signal) -> Option<FreshAccess> {
        if !is_access(sig.kind) {
            return None;
        }
        let f = &sig.fields;
        let t = sig.time;
        let mut novelty = None;
        let account = if sig.kind == SignalKind::AccountCreated {
            let account = f.account.clone().or_else(|| f.user.clone());
            if account.as_deref().is_none_or(|a| !known(&self.accounts, a)) {
                novelty = Some(Novelty::NewAccount);
            }
            account
        } else {
            if let Some(src) = f.src.as_deref()
                && !self.sources.is_empty()
                && !known(&self.sources, src)
            {
                novelty = Some(Novelty::NewSource);
            }
            f.user.clone()
        };
        if let Some(src) = f.src.as_deref()
            && sig.kind != SignalKind::AccountCreated
        {
            touch(&mut self.sources, src, t);
        }
        if let Some(a) = account.as_deref() {
            touch(&mut self.accounts, a, t);
        }
        if sig.kind != SignalKind::AccountCreated
            && let Some(user) = f.user.as_deref()
        {
            // The account's session, now the latest (updated in place: no allocation when
            // the same account comes in the same way again).
            match self
                .sessions
                .iter()
                .rposition(|s| s.account.eq_ignore_ascii_case(user))
            {
                Some(i) => {
                    let s = &mut self.sessions[i];
                    if s.account != user {
                        s.account = user.to_string();
                    }
                    if s.method != f.proto {
                        s.method.clone_from(&f.proto);
                    }
                    s.time = t;
                    self.sessions[i..].rotate_left(1);
                }
                None => {
                    if self.sessions.len() >= MAX_KNOWN {
                        self.sessions.remove(0);
                    }
                    self.sessions.push(Session {
                        account: user.to_string(),
                        method: f.proto.clone(),
                        time: t,
                    });
                }
            }
        }
        let fresh = FreshAccess {
            time: t,
            novelty: novelty?,
            account,
            src: f.src.clone(),
            method: f.proto.clone(),
            evidence: Evidence::of(sig),
        };
        if self.fresh.len() >= MAX_FRESH {
            self.fresh.remove(0);
        }
        self.fresh.push(fresh.clone());
        Some(fresh)
    }

    /// The new accesses from `within` before `first` up to `last`: what raises image work seen
    /// from `first` to `last`.
    pub fn fresh_before(&self, first: Millis, last: Millis, within: Millis) -> Vec<&FreshAccess> {
        self.fresh
            .iter()
            .filter(|a| a.time <= last && a.time >= first.saturating_sub(within))
            .collect()
    }

    /// Forgets new accesses older than `horizon` (nothing can be raised by them any more).
    pub fn expire(&mut self, horizon: Millis) {
        self.fresh.retain(|a| a.time >= horizon);
    }

    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
            && self.accounts.is_empty()
            && self.sessions.is_empty()
            && self.fresh.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::SignalFields;

    fn sig(
        kind: SignalKind,
        t: Millis,
        user: &str,
        src: Option<&str>,
        proto: Option<&str>,
    ) -> Signal {
        Signal {
            device: "rtr-1".into(),
            time: t,
            received: None,
            time_source: Default::default(),
            time_reason: Default::default(),
            kind,
            rule_id: format!("test.{kind}"),
            vendor: "cisco_ios".into(),
            sender: None,
            fields: SignalFields {
                user: Some(user.into()),
                src: src.map(Into::into),
                proto: proto.map(Into::into),
                ..Default::default()
            },
            fingerprint: 0,
            message: format!("{kind} {user}"),
            origin: Default::default(),
        }
    }

    /// A known account or source coming back moves last (most recently seen) in place,
    /// keeping its first spelling in the lists, while its session takes the latest spelling
    /// and method: what removing and pushing it again gave.
    #[test]
    fn a_returning_account_moves_last_with_its_latest_session() {
        let mut book = AccessBook::default();
        let login = SignalKind::PrivilegedLogin;
        book.observe(&sig(login, 10, "ops", Some("10.0.0.1"), Some("ssh")));
        book.observe(&sig(login, 20, "admin", Some("10.0.0.2"), Some("ssh")));
        book.observe(&sig(login, 30, "noc", Some("10.0.0.3"), None));
        assert!(book.is_routine(&sig(login, 40, "OPS", Some("10.0.0.1"), None)));
        book.observe(&sig(login, 40, "OPS", Some("10.0.0.1"), Some("https")));
        let keys =
            |l: &[(String, Millis)]| l.iter().map(|(k, t)| (k.clone(), *t)).collect::<Vec<_>>();
        assert_eq!(
            keys(&book.accounts),
            [("admin".into(), 20), ("noc".into(), 30), ("ops".into(), 40)]
        );
        assert_eq!(book.sources.last(), Some(&("10.0.0.1".to_string(), 40)));
        let last = book.sessions.last().unwrap();
        assert_eq!(book.sessions.len(), 3);
        assert_eq!(
            (last.account.as_str(), last.method.as_deref(), last.time),
            ("OPS", Some("https"), 40)
        );
        // An access older than the last one seen keeps the later time.
        book.observe(&sig(login, 35, "admin", Some("10.0.0.2"), None));
        assert_eq!(book.accounts.last(), Some(&("admin".to_string(), 35)));
        assert_eq!(book.accounts[1], ("ops".to_string(), 40));
    }

    #[test]
    fn a_source_is_new_only_against_a_history_and_is_learnt() {
        let mut b = AccessBook::default();
        let login = SignalKind::PrivilegedLogin;
        assert!(
            b.observe(&sig(login, 0, "admin", Some("10.30.1.5"), Some("ssh")))
                .is_none()
        );
        assert!(
            b.observe(&sig(login, 10, "admin", Some("10.30.1.5"), None))
                .is_none()
        );
        let f = b
            .observe(&sig(login, 20, "admin", Some("203.0.113.9"), Some("ssh")))
            .expect("a new source");
        assert_eq!(f.novelty, Novelty::NewSource);
        assert!(f.describe().contains("203.0.113.9"), "{}", f.describe());
        assert!(
            b.observe(&sig(login, 30, "admin", Some("203.0.113.9"), None))
                .is_none()
        );
        assert_eq!(b.fresh_before(40, 50, 15).len(), 0);
        assert_eq!(b.fresh_before(25, 50, 15).len(), 1);
    }

    #[test]
    fn known_sources_are_bounded_least_recent_first() {
        let mut b = AccessBook::default();
        for n in 0..(MAX_KNOWN as i64 + 10) {
            b.observe(&sig(
                SignalKind::PrivilegedLogin,
                n,
                "a",
                Some(&format!("10.0.0.{n}")),
                None,
            ));
        }
        assert_eq!(b.sources.len(), MAX_KNOWN);
        assert_eq!(b.sources[0].0, "10.0.0.10");
        assert!(b.fresh.len() <= MAX_FRESH);
    }

    #[test]
    fn an_account_created_after_a_web_session_is_via_the_web_ui() {
        let mut b = AccessBook::default();
        b.observe(&sig(
            SignalKind::PrivilegedLogin,
            0,
            "cisco_tac_admin",
            None,
            Some("webui"),
        ));
        let mut created = sig(SignalKind::AccountCreated, 5, "cisco_tac_admin", None, None);
        created.fields.account = Some("cisco_support".into());
        assert!(b.via_web_or_api(&created));
        let f = b.observe(&created).expect("a new account");
        assert_eq!(f.account.as_deref(), Some("cisco_support"));
        // The same account given privilege again is not new.
        created.time = 9;
        assert!(b.observe(&created).is_none());
        let cli = sig(SignalKind::AccountCreated, 5, "netops", None, None);
        assert!(!b.via_web_or_api(&cli));
    }
}
