//! NDJSON input as Filebeat and Elastic Agent write it (ECS). Fields may be nested objects or
//! dotted keys (`{"host":{"ip":…}}` or `{"host.ip":…}`), and addresses may be arrays.

use serde_json::Value;

use crate::time::{Millis, parse_rfc3339};

/// What one JSON line says about a syslog message.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonRecord {
    /// The syslog message (`message`, else `event.original`).
    pub message: String,
    /// Ingest time (`event.created`, else `@timestamp`).
    pub arrival: Option<Millis>,
    /// Address the message came from (`log.source.address` without port, `host.ip`, `observer.ip`).
    pub sender: Option<String>,
    /// Device name the shipper recorded (`log.syslog.hostname`, `host.hostname`, `host.name`,
    /// `observer.hostname`, `observer.name`).
    pub host: Option<String>,
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

/// Decodes one NDJSON line; the error says why a line is not usable.
pub fn decode(line: &[u8]) -> Result<JsonRecord, String> {
    let v: Value = serde_json::from_slice(line).map_err(|e| format!("invalid JSON: {e}"))?;
    if !v.is_object() {
        return Err("JSON value is not an object".to_string());
    }
    let message = text(&v, "message")
        .or_else(|| text(&v, "event.original"))
        .ok_or_else(|| "no `message` or `event.original` field".to_string())?;
    let arrival = ["event.created", "@timestamp"]
        .iter()
        .find_map(|p| text(&v, p).and_then(|t| parse_rfc3339(&t)));
    let sender = ["log.source.address", "host.ip", "observer.ip"]
        .iter()
        .find_map(|p| text(&v, p))
        .map(|s| without_port(&s).to_string());
    let host = [
        "log.syslog.hostname",
        "host.hostname",
        "host.name",
        "observer.hostname",
        "observer.name",
    ]
    .iter()
    .find_map(|p| text(&v, p));
    Ok(JsonRecord {
        message,
        arrival,
        sender,
        host,
    })
}

/// The `@timestamp` of a line without decoding it, for lines the prefilter rejects (they still
/// move time forward).
pub fn arrival_hint(line: &[u8]) -> Option<Millis> {
    let key = b"\"@timestamp\":\"";
    let at = memchr::memmem::find(line, key)? + key.len();
    let end = memchr::memchr(b'"', &line[at..])? + at;
    parse_rfc3339(std::str::from_utf8(&line[at..end]).ok()?)
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
