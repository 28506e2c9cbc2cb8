//! NDJSON input as Filebeat and Elastic Agent write it (ECS). Fields may be nested objects or
//! dotted keys (`{"host":{"ip":…}}` or `{"host.ip":…}`), and addresses may be arrays.

use serde_json::Value;

use crate::time::{Millis, format_rfc3339, parse_rfc3339};

/// What one JSON line says about a syslog message.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonRecord {
    /// The syslog message (`message`, else `event.original`).
    pub message: String,
    /// Ingest time (`event.created`, else `@timestamp`).
    pub arrival: Option<Millis>,
    /// Address the message came from (`log.source.address` without port, `host.ip`, `observer.ip`).
    pub sender: Option<String>,
    /// Device name the shipper recorded (`log.syslog.hostname`, `observer.*`; `host.hostname`
    /// and `host.name` only without `log.source.address`, when they describe the sender):
    /// see [`decode`].
    pub host: Option<String>,
    /// A management host's own process or network event (not a device's syslog), when the
    /// record is one: see [`HostEvent`].
    pub telemetry: Option<HostEvent>,
}

/// A process or network event of a management host, in ECS (Elastic Agent / Auditbeat /
/// Sysmon for Linux process events; Zeek, Packetbeat or Elastic Agent network events): what
/// the host ran or which address it talked to. Which end is a device is for the inventory to
/// say, later.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostEvent {
    /// `host.name`, else `host.hostname`.
    pub host: Option<String>,
    /// `host.ip` (the first that is not a loopback address).
    pub host_ip: Option<String>,
    /// `user.name`.
    pub user: Option<String>,
    /// `process.name`, else the base name of `process.executable`.
    pub process: Option<String>,
    /// `process.args`, else `process.command_line` split at blanks.
    pub args: Vec<String>,
    pub source_ip: Option<String>,
    pub destination_ip: Option<String>,
    pub destination_port: Option<u16>,
    /// `network.transport` (`udp`, `tcp`).
    pub transport: Option<String>,
    /// `network.protocol` (Zeek's service: `snmp`, `http`, …).
    pub protocol: Option<String>,
    /// A file the event names: `file.name`, else the last part of `url.original` / `url.path`.
    pub file: Option<String>,
    /// SNMP set requests in the connection (`zeek.snmp.set_requests`).
    pub snmp_sets: Option<u64>,
    /// When it happened, by the host's clock (`@timestamp`).
    pub time: Option<Millis>,
}

impl HostEvent {
    /// Reads a host event out of an ECS record: one with a `process.name` (or executable) and
    /// arguments, or with a destination port. None for anything else (device syslog).
    fn of(v: &Value) -> Option<HostEvent> {
        let process = text(v, "process.name").or_else(|| {
            text(v, "process.executable").map(|e| e.rsplit('/').next().unwrap_or(&e).to_string())
        });
        let mut args: Vec<String> = match field(v, "process.args") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        if args.is_empty()
            && let Some(cl) = text(v, "process.command_line")
        {
            args = cl.split_whitespace().map(str::to_string).collect();
        }
        let destination_port = field(v, "destination.port").and_then(|p| match p {
            Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
            Value::String(s) => s.parse().ok(),
            _ => None,
        });
        if (process.is_none() || args.is_empty()) && destination_port.is_none() {
            return None;
        }
        let host_ip = match field(v, "host.ip") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .find(|ip| !ip.starts_with("127.") && *ip != "::1")
                .map(str::to_string),
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        let file = text(v, "file.name").or_else(|| {
            ["url.original", "url.path"].iter().find_map(|p| {
                let u = text(v, p)?;
                let last = u.split(['?', '#']).next()?.rsplit('/').next()?.to_string();
                (!last.is_empty()).then_some(last)
            })
        });
        let snmp_sets = field(v, "zeek.snmp.set_requests").and_then(Value::as_u64);
        Some(HostEvent {
            host: text(v, "host.name").or_else(|| text(v, "host.hostname")),
            host_ip,
            user: text(v, "user.name"),
            process,
            args,
            source_ip: text(v, "source.ip").map(|s| without_port(&s).to_string()),
            destination_ip: text(v, "destination.ip").map(|s| without_port(&s).to_string()),
            destination_port,
            transport: text(v, "network.transport"),
            protocol: text(v, "network.protocol"),
            file,
            snmp_sets,
            time: text(v, "@timestamp").and_then(|t| parse_rfc3339(&t)),
        })
    }
}

/// True when an NDJSON line may hold a host event ([`HostEvent`]): it names a destination or
/// process arguments. One search over the line, for lines the rule prefilter rejected.
pub fn may_be_host_event(line: &[u8]) -> bool {
    use std::sync::LazyLock;
    static KEYS: LazyLock<aho_corasick::AhoCorasick> = LazyLock::new(|| {
        aho_corasick::AhoCorasick::new(["\"destination", "args\"", "command_line\""])
            .expect("three literals build")
    });
    KEYS.is_match(line)
}

/// Looks up an ECS field by dotted path, accepting nested objects, dotted keys and mixes.
fn field<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let obj = v.as_object()?;
    if let Some(x) = obj.get(path) {
        return Some(x);
    }
    let mut split = path.match_indices('.').map(|(i, _)| i);
    split.find_map(|i| {
        obj.get(&path[..i])
            .and_then(|inner| field(inner, &path[i + 1..]))
    })
}

fn text(v: &Value, path: &str) -> Option<String> {
    match field(v, path)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Array(items) => items.iter().find_map(|i| i.as_str().map(str::to_string)),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Strips a port from `10.0.0.1:514` or `[2001:db8::1]:514`; a bare IPv6 address is kept.
fn without_port(addr: &str) -> &str {
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => {
            host
        }
        _ => addr,
    }
}

/// The syslog message as the device sent it. A shipper that parsed the syslog header (Elastic
/// Agent's and Filebeat's `syslog` processor) leaves only the free text in `message`: the
/// device's time, host and tag (`/kernel:`, `mgd[…]:`) are then in `log.syslog.*`, and the
/// line as received in `event.original` when the shipper kept it. Rules match on the whole
/// line, so the original is preferred when it holds the message; without it the header is
/// rebuilt as RFC 5424 from the parsed fields.
fn wire_message(v: &Value) -> Result<String, String> {
    let message = text(v, "message");
    let original = text(v, "event.original");
    match (message, original) {
        (Some(m), Some(o)) if o.len() > m.len() && o.contains(m.trim()) => Ok(o),
        (Some(m), _) => Ok(rebuild_header(v, &m).unwrap_or(m)),
        (None, Some(o)) => Ok(o),
        (None, None) => Err("no `message` or `event.original` field".to_string()),
    }
}

/// `<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG` from `log.syslog.*` and `@timestamp`, for a
/// `message` whose header a shipper took apart (`log.syslog.appname` is the sign of that);
/// `None` when the message still has its own header.
fn rebuild_header(v: &Value, message: &str) -> Option<String> {
    let app = text(v, "log.syslog.appname")?;
    if message.starts_with('<') {
        return None;
    }
    let time = text(v, "@timestamp").and_then(|t| parse_rfc3339(&t))?;
    let field_or_nil = |path: &str| {
        text(v, path)
            .filter(|s| !s.contains(char::is_whitespace) || path.ends_with("structured_data"))
            .unwrap_or_else(|| "-".to_string())
    };
    // Facility user (1), severity notice (5) when the shipper did not keep the priority.
    let pri = text(v, "log.syslog.priority").unwrap_or_else(|| "13".to_string());
    Some(format!(
        "<{pri}>1 {} {} {app} {} {} {} {message}",
        format_rfc3339(time),
        field_or_nil("log.syslog.hostname"),
        field_or_nil("log.syslog.procid"),
        field_or_nil("log.syslog.msgid"),
        field_or_nil("log.syslog.structured_data"),
    ))
}

/// Decodes one NDJSON line; the error says why a line is not usable.
pub fn decode(line: &[u8]) -> Result<JsonRecord, String> {
    let v: Value = serde_json::from_slice(line).map_err(|e| format!("invalid JSON: {e}"))?;
    if !v.is_object() {
        return Err("JSON value is not an object".to_string());
    }
    let telemetry = HostEvent::of(&v);
    let message = match wire_message(&v) {
        Ok(m) => m,
        // A host event needs no message: its fields are what it says.
        Err(_) if telemetry.is_some() => String::new(),
        Err(e) => return Err(e),
    };
    let arrival = ["event.created", "@timestamp"]
        .iter()
        .find_map(|p| text(&v, p).and_then(|t| parse_rfc3339(&t)));
    let source = text(&v, "log.source.address");
    // With `log.source.address` the line came over the network to a shipper, and `host.*` is
    // that shipper's own metadata (Filebeat's and Elastic Agent's `add_host_metadata`): naming
    // the device after it would merge every device the collector hears into one.
    let host_fields: &[&str] = if source.is_some() {
        &["log.syslog.hostname", "observer.hostname", "observer.name"]
    } else {
        &[
            "log.syslog.hostname",
            "host.hostname",
            "host.name",
            "observer.hostname",
            "observer.name",
        ]
    };
    let sender = source
        .or_else(|| ["host.ip", "observer.ip"].iter().find_map(|p| text(&v, p)))
        .map(|s| without_port(&s).to_string());
    let host = host_fields.iter().find_map(|p| text(&v, p));
    Ok(JsonRecord {
        message,
        arrival,
        sender,
        host,
        telemetry,
    })
}

/// The arrival time of a line without decoding it, for lines the prefilter rejects (they still
/// move time forward).
///
/// The ingest time (`event.created`, nested or dotted) is preferred, as in [`decode`]: once a
/// shipper has parsed the header, `@timestamp` is the device's clock, which may be wrong.
/// White space after the colon is allowed (`json.dumps` and some shippers write it).
pub fn arrival_hint(line: &[u8]) -> Option<Millis> {
    // One pass for both ingest-time keys (`"event.created"`, a nested `"created"`): most
    // lines have neither, and this runs on every noise line of an NDJSON feed.
    use memchr::memmem::Finder;
    use std::sync::LazyLock;
    // Built once: building a searcher costs more than a search of one line.
    static CREATED: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"created\""));
    static TIMESTAMP: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"@timestamp\""));
    let (mut dotted, mut nested) = (None, None);
    for at in CREATED.find_iter(line) {
        let end = at + b"created\"".len();
        if line[..at].ends_with(b"\"event.") {
            dotted = dotted.or(Some(end));
        } else if line[..at].ends_with(b"\"") {
            nested = nested.or(Some(end));
        }
    }
    [dotted, nested]
        .into_iter()
        .flatten()
        .find_map(|end| value_at(line, end).and_then(parse_rfc3339))
        .or_else(|| {
            let key = TIMESTAMP.find(line)? + TIMESTAMP.needle().len();
            value_at(line, key).and_then(parse_rfc3339)
        })
}

/// The line from its `"message"` or `original"` key on, whichever comes first (the whole line
/// when there is neither): the part a prefilter has to look at, since only the message (or the
/// original it came from) is classified. Shipper fields before it (`@timestamp`, `host`,
/// `log`, ...) are skipped. The original can come first: Elastic's firewall integrations keep
/// the whole line in `event.original` and only a part of it in `message` (FortiGate's `msg`,
/// a fragment of the PAN-OS CSV), and documents often list `event` before `message`.
pub fn message_onward(line: &[u8]) -> &[u8] {
    use memchr::memmem::Finder;
    use std::sync::LazyLock;
    static MESSAGE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"message\""));
    static ORIGINAL: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"original\""));
    let message = MESSAGE.find(line);
    // Only the part before the message needs searching for the original.
    let original = ORIGINAL.find(&line[..message.unwrap_or(line.len())]);
    match (original, message) {
        (Some(at), _) | (None, Some(at)) => &line[at..],
        (None, None) => line,
    }
}

/// The string value of the key that ends at `at`: `: "value"`, white space allowed.
fn value_at(line: &[u8], mut at: usize) -> Option<&str> {
    while line.get(at).is_some_and(|c| c.is_ascii_whitespace()) {
        at += 1;
    }
    if line.get(at) != Some(&b':') {
        return None;
    }
    at += 1;
    while line.get(at).is_some_and(|c| c.is_ascii_whitespace()) {
        at += 1;
    }
    if line.get(at) != Some(&b'"') {
        return None;
    }
    at += 1;
    let end = memchr::memchr(b'"', &line[at..])? + at;
    std::str::from_utf8(&line[at..end]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_generator_and_filebeat_shapes() {
        let r = decode(br#"{"@timestamp":"2026-06-01T03:10:00.456Z","event":{"dataset":"cisco.ios"},"host":{"ip":"10.64.0.42"},"log":{"syslog":{"priority":189}},"message":"<189>1: x: %SYS-5-RELOAD: y"}"#).unwrap();
        assert_eq!(r.sender.as_deref(), Some("10.64.0.42"));
        assert_eq!(r.arrival, parse_rfc3339("2026-06-01T03:10:00.456Z"));
        assert!(r.message.starts_with("<189>"));
        let r = decode(br#"{"@timestamp":"2026-06-01T03:10:00Z","event.created":"2026-06-01T03:10:02Z","log.source.address":"10.1.1.1:514","log":{"syslog.hostname":"RTR-1.corp"},"host.ip":["10.9.9.9"],"message":"m"}"#).unwrap();
        assert_eq!(r.sender.as_deref(), Some("10.1.1.1"));
        assert_eq!(r.host.as_deref(), Some("RTR-1.corp"));
        assert_eq!(r.arrival, parse_rfc3339("2026-06-01T03:10:02Z"));
        assert_eq!(without_port("[2001:db8::1]:514"), "2001:db8::1");
        assert_eq!(without_port("2001:db8::1"), "2001:db8::1");
    }

    #[test]
    fn prefers_the_original_line_when_the_shipper_parsed_the_header() {
        let r = decode(br#"{"@timestamp":"2026-06-01T22:38:15.000Z","event":{"created":"2026-06-01T22:38:16.452Z","original":"<189>Jun  1 22:38:15 RTR-0181 /kernel: JUNOS 21.2R3-S7.3 #0: 2024-02-13"},"log":{"source":{"address":"10.64.180.1:514"},"syslog":{"priority":189,"hostname":"RTR-0181","appname":"/kernel"}},"message":"JUNOS 21.2R3-S7.3 #0: 2024-02-13"}"#).unwrap();
        assert_eq!(
            r.message,
            "<189>Jun  1 22:38:15 RTR-0181 /kernel: JUNOS 21.2R3-S7.3 #0: 2024-02-13"
        );
        // A `message` that is not part of the original is what the shipper was asked to send.
        let r = decode(br#"{"event":{"original":"<13>x: one"},"message":"<13>y: other"}"#).unwrap();
        assert_eq!(r.message, "<13>y: other");
    }

    #[test]
    fn rebuilds_a_parsed_header_without_the_original() {
        let r = decode(br#"{"@timestamp":"2026-06-01T22:33:16Z","log":{"syslog":{"priority":189,"hostname":"edge-1.corp","appname":"mgd","procid":"3260","msgid":"UI_CMDLINE_READ_LINE","structured_data":"[junos@2636.1.1.1.2.18 username=\"akumar\"]"}},"message":"User 'akumar', command 'request system reboot'"}"#).unwrap();
        assert_eq!(
            r.message,
            "<189>1 2026-06-01T22:33:16.000Z edge-1.corp mgd 3260 UI_CMDLINE_READ_LINE \
             [junos@2636.1.1.1.2.18 username=\"akumar\"] User 'akumar', command 'request system reboot'"
        );
        let r = decode(br#"{"@timestamp":"2026-06-01T22:33:16Z","log.syslog.appname":"Cli","message":"%SYS-5-CONFIG_I: x"}"#).unwrap();
        assert_eq!(
            r.message,
            "<13>1 2026-06-01T22:33:16.000Z - Cli - - - %SYS-5-CONFIG_I: x"
        );
        // Still a whole syslog line: left alone.
        let r = decode(
            br#"{"log.syslog.appname":"mgd","message":"<13>1 2026-06-01T00:00:00Z h mgd - - - x"}"#,
        )
        .unwrap();
        assert_eq!(r.message, "<13>1 2026-06-01T00:00:00Z h mgd - - - x");
    }

    #[test]
    fn arrival_hint_prefers_ingest_time_and_tolerates_spaces() {
        let created = parse_rfc3339("2026-06-01T03:10:02Z");
        assert_eq!(
            arrival_hint(br#"{"@timestamp": "2026-06-01T03:10:00Z", "event": {"created": "2026-06-01T03:10:02Z"}}"#),
            created
        );
        assert_eq!(
            arrival_hint(
                br#"{"@timestamp":"2026-06-01T03:10:00Z","event.created":"2026-06-01T03:10:02Z"}"#
            ),
            created
        );
        assert_eq!(
            arrival_hint(br#"{"@timestamp" : "2026-06-01T03:10:02Z"}"#),
            created
        );
        assert_eq!(arrival_hint(br#"{"@timestamp":5}"#), None);
        // The dotted key wins wherever it stands; an unusable one falls through.
        let dotted = br#"{"event":{"created":"2026-06-01T03:10:05Z"},"event.created":"2026-06-01T03:10:02Z"}"#;
        assert_eq!(arrival_hint(dotted), created);
        let bad = br#"{"event.created":"soon","@timestamp":"2026-06-01T03:10:02Z"}"#;
        assert_eq!(arrival_hint(bad), created);
        let nested =
            br#"{"file":{"x_created":"2026-06-01T03:10:09Z"},"@timestamp":"2026-06-01T03:10:02Z"}"#;
        assert_eq!(
            arrival_hint(nested),
            created,
            "only a whole `created` key counts"
        );
    }

    #[test]
    fn shipper_metadata_does_not_name_the_device() {
        let line = br#"{"@timestamp":"2026-06-01T03:10:00Z","log":{"source":{"address":"10.64.9.1:514"}},"host":{"name":"logcollector-01","hostname":"logcollector-01","ip":["10.50.0.20"]},"message":"<189>: 2026 Jun 01 03:10:00 UTC: %X-5-Y: z"}"#;
        let r = decode(line).unwrap();
        assert_eq!(r.sender.as_deref(), Some("10.64.9.1"));
        assert_eq!(r.host, None);
        // gen.py's shape: no source address, `host.*` describes the device.
        let r = decode(br#"{"host":{"ip":"10.64.9.1","name":"sw-1"},"message":"m"}"#).unwrap();
        assert_eq!(r.sender.as_deref(), Some("10.64.9.1"));
        assert_eq!(r.host.as_deref(), Some("sw-1"));
    }

    #[test]
    fn the_prefilter_looks_from_the_message_on() {
        let line = br#"{"@timestamp":"2026-06-01T03:10:00Z","host":{"name":"copy-sw1"},"message":"<189>x: %SYS-5-RELOAD: y"}"#;
        assert!(message_onward(line).starts_with(br#""message":"<189>"#));
        let first = br#"{"message":"copy tftp: flash:","host":{"name":"sw1"}}"#;
        assert_eq!(message_onward(first), &first[1..]);
        assert_eq!(message_onward(b"{\"a\":1}"), b"{\"a\":1}");
        // Elastic's fortinet_fortigate document: the whole line is in `event.original`, before
        // a `message` that holds only `msg`.
        let fgt = br#"{"@timestamp":"2026-06-07T09:08:31.000Z","event":{"code":"0100032009","original":"<190>date=2026-06-07 time=09:08:31 logid=\"0100032009\" msg=\"FortiGate started\""},"message":"FortiGate started"}"#;
        assert!(message_onward(fgt).starts_with(br#"original":"<190>"#));
        let dotted = br#"{"host":{"name":"copy-sw1"},"event.original":"<189>x","message":"y"}"#;
        assert!(message_onward(dotted).starts_with(br#"original":"<189>"#));
    }

    #[test]
    fn explains_unusable_lines() {
        assert!(decode(b"{nope").unwrap_err().contains("invalid JSON"));
        assert!(decode(b"[1]").unwrap_err().contains("not an object"));
        assert!(decode(b"{\"a\":1}").unwrap_err().contains("message"));
        assert_eq!(
            arrival_hint(br#"{"@timestamp":"2026-06-01T03:10:00Z"}"#),
            parse_rfc3339("2026-06-01T03:10:00Z")
        );
    }
}
