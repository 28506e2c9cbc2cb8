//! Device identity: the one canonical form of a host name or address. Inventory keys, inventory
//! lookups, allowlist matches and the names of devices the inventory does not know all go
//! through here, so that `RTR1`, `rtr1.` and `rtr1.example.net` cannot become two devices in
//! one place and one in another.

use std::borrow::Cow;
use std::net::IpAddr;

/// Junos dual-RE hosts log as `re0.<host>` / `re1-<host>`; the prefix names the routing
/// engine, not a different device.
const RE_PREFIXES: [&str; 4] = ["re0.", "re1.", "re0-", "re1-"];

/// The form every name comparison uses: trimmed, without trailing dots, lower case. Borrows
/// when the name is already in that form (log sources almost always send lower case, and
/// lookups are on the per-signal path).
pub fn name_key(name: &str) -> Cow<'_, str> {
    let name = name.trim().trim_end_matches('.');
    if name.bytes().any(|b| b.is_ascii_uppercase() || b >= 0x80) {
        Cow::Owned(name.to_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

/// The host behind a Junos routing-engine prefix (`re0.mx-01` → `mx-01`), if there is one.
pub fn without_routing_engine(key: &str) -> Option<&str> {
    RE_PREFIXES
        .iter()
        .find_map(|p| key.strip_prefix(p))
        .filter(|rest| !rest.is_empty())
}

/// The address, if `key` is an IP literal. Cheap byte checks first: most names are host names.
pub fn ip_form(key: &str) -> Option<IpAddr> {
    let bytes = key.as_bytes();
    let v4_like = bytes.iter().all(|b| b.is_ascii_digit() || *b == b'.');
    if v4_like || bytes.contains(&b':') {
        key.parse().ok()
    } else {
        None
    }
}

/// The device name for a host the inventory does not know: [`name_key`], a Junos
/// routing-engine prefix dropped, and a DNS name cut to its first label (so `RTR1` and
/// `rtr1.example.net` are one device). Addresses are kept whole.
pub fn canonical_host(host: &str) -> String {
    let key = name_key(host);
    if ip_form(&key).is_some() {
        return key.into_owned();
    }
    let host = without_routing_engine(&key).unwrap_or(&key);
    host.split('.').next().unwrap_or(host).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_hosts_become_their_first_label() {
        assert_eq!(canonical_host("RTR-0042.corp.example.net."), "rtr-0042");
        assert_eq!(canonical_host("  rtr-0042  "), "rtr-0042");
        assert_eq!(canonical_host("re0.edge01.bjm01"), "edge01");
        assert_eq!(canonical_host("re1-edge01"), "edge01");
        assert_eq!(canonical_host("re0"), "re0");
        assert_eq!(canonical_host("10.1.2.3"), "10.1.2.3");
        assert_eq!(canonical_host("10.1.2.3."), "10.1.2.3");
        assert_eq!(canonical_host("2001:DB8::1"), "2001:db8::1");
    }

    #[test]
    fn keys_borrow_when_already_canonical() {
        assert!(matches!(name_key("rtr-1"), Cow::Borrowed("rtr-1")));
        assert!(matches!(name_key(" rtr-1.. "), Cow::Borrowed("rtr-1")));
        assert_eq!(name_key("RTR-1."), "rtr-1");
        assert_eq!(name_key("ÄRTR"), "ärtr");
    }

    /// The inventory and the names of unknown devices agree: whatever the inventory resolves
    /// a spelling to, a device it does not know gets the same name from the same spelling.
    #[test]
    fn the_inventory_and_unknown_hosts_share_one_canonical_form() {
        let inv = crate::calendar::ChangeCalendar::from_yaml(
            "inventory:\n  - device: edge01\n  - device: 10.1.2.3\n",
            "changes.yaml",
        )
        .unwrap()
        .inventory;
        for spelling in ["EDGE01.", "re0.edge01", "Edge01", " 10.1.2.3. "] {
            assert_eq!(
                inv.resolve(spelling),
                Some(canonical_host(spelling).as_str()),
                "{spelling:?}"
            );
        }
    }
}
