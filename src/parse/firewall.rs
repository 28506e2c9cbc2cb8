//! Firewall records that carry their own header fields inside the syslog body: FortiGate
//! `key=value` records (`date= time= tz= devname=`, FORMATS.md §1.5) and PAN-OS CSV records
//! (`1,<receive time>,<serial>,<TYPE>,…,<device name>,…`). The syslog layers in front of them,
//! if any, were peeled by [`super::header`]; this module reads what the record says about its
//! own time and device, so a line with no syslog header at all (a FortiGate sending
//! `<189>date=…`, a PAN-OS CSV line a shipper stored as `event.original`) still names its
//! device and its clock.
//!
//! Only candidate lines (past the literal prefilter and a rule) get here: the noise path never
//! parses a header.

use super::clock::{WallTime, Zone, parse_date_and_clock, parse_rfc3339, parse_zone};

/// What a firewall record says about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RecordHeader<'a> {
    /// The record's own event time.
    pub wall: WallTime,
    /// The device name the record carries (FortiGate `devname`, PAN-OS `device_name`).
    pub host: Option<&'a str>,
    /// Which shape it was.
    pub shape: RecordShape,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecordShape {
    /// FortiGate key=value: the record's date, time and zone are the device's clock, and any
    /// syslog stamp in front of it was written by whoever forwarded it.
    FortiGate,
    /// PAN-OS CSV: used only for what the syslog header did not say (PAN-OS writes its own
    /// BSD or IETF header with its host name).
    PanOs,
}

/// The record header of `body`, when the body is a FortiGate or PAN-OS record.
pub(crate) fn record_header(body: &str) -> Option<RecordHeader<'_>> {
    let body = body.trim_start();
    if body.starts_with("date=") {
        fortigate(body)
    } else if body.starts_with("1,") {
        panos(body)
    } else {
        None
    }
}

/// `date=2020-04-23 time=14:24:13 devname="fw-1" … tz="-0300" …`: values are quoted when they
/// hold blanks. `tz` may carry letters before the offset (`PDT-0700`), as Elastic's pipeline
/// also accepts.
fn fortigate(body: &str) -> Option<RecordHeader<'_>> {
    let (mut date, mut time, mut tz, mut host) = (None, None, None, None);
    for (key, value) in KeyValues::new(body) {
        match key {
            "date" => date = date.or(Some(value)),
            "time" => time = time.or(Some(value)),
            "tz" => tz = tz.or(Some(value)),
            "devname" => host = host.or(Some(value)),
            _ => {}
        }
        if date.is_some() && time.is_some() && tz.is_some() && host.is_some() {
            break;
        }
    }
    let mut wall = parse_date_and_clock(date?.as_bytes(), b'-', time?.as_bytes())?;
    if let Some(tz) = tz {
        let offset = tz.trim_start_matches(|c: char| c.is_ascii_alphabetic());
        let offset = if offset.starts_with(['+', '-']) {
            offset
        } else {
            tz
        };
        if let Some((zone @ Zone::Offset(_), end)) = parse_zone(offset.as_bytes(), 0)
            && end == offset.len()
        {
            wall.zone = zone;
        }
    }
    Some(RecordHeader {
        wall,
        host: host.filter(|h| !h.is_empty()),
        shape: RecordShape::FortiGate,
    })
}

/// `1,2021/10/26 15:05:03,<serial>,SYSTEM,general,…,<device name>,…,<high-res time>`. The
/// generated time (field 6) is the event's, in the device's local zone; PAN-OS 9.1+ adds a
/// high-resolution time with its offset (SYSTEM field 25), which wins when present.
fn panos(body: &str) -> Option<RecordHeader<'_>> {
    let line = body.lines().next().unwrap_or(body);
    let mut fields = [""; 26];
    let mut n = 0;
    for f in CsvFields::new(line) {
        if n == fields.len() {
            break;
        }
        fields[n] = f;
        n += 1;
    }
    let (name_at, precise_at) = match fields[3] {
        "SYSTEM" => (22, Some(25)),
        "CONFIG" => (21, None),
        _ => return None,
    };
    let stamp = |f: &str| {
        let (date, clock) = f.split_once(' ')?;
        parse_date_and_clock(date.as_bytes(), b'/', clock.as_bytes())
    };
    let precise = precise_at
        .filter(|&i| i < n)
        .and_then(|i| parse_rfc3339(fields[i].as_bytes(), 0))
        .map(|(w, _)| w)
        .filter(|w| w.zone != Zone::Unwritten);
    let wall = precise.or_else(|| stamp(fields[6]).or_else(|| stamp(fields[1])))?;
    let host = (name_at < n)
        .then(|| fields[name_at])
        .filter(|h| !h.is_empty());
    Some(RecordHeader {
        wall,
        host,
        shape: RecordShape::PanOs,
    })
}

/// `key=value` pairs separated by blanks; a value in double quotes may hold blanks (the quotes
/// are not part of it). Stops at the first token that is not a pair.
struct KeyValues<'a> {
    rest: &'a str,
}

impl<'a> KeyValues<'a> {
    fn new(s: &'a str) -> Self {
        KeyValues { rest: s }
    }
}

impl<'a> Iterator for KeyValues<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.rest.trim_start_matches([' ', '\t']);
        let eq = s.find('=')?;
        let key = &s[..eq];
        if key.is_empty() || !key.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
            return None;
        }
        let after = &s[eq + 1..];
        let (value, rest) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"').unwrap_or(quoted.len());
                (&quoted[..end], quoted.get(end + 1..).unwrap_or(""))
            }
            None => {
                let end = after.find([' ', '\t']).unwrap_or(after.len());
                (&after[..end], &after[end..])
            }
        };
        self.rest = rest;
        Some((key, value))
    }
}

/// CSV fields as PAN-OS writes them: a field in double quotes may hold commas, and `""` inside
/// it is a quote (the field is returned with its escapes, without the outer quotes).
struct CsvFields<'a> {
    rest: Option<&'a str>,
}

impl<'a> CsvFields<'a> {
    fn new(s: &'a str) -> Self {
        CsvFields { rest: Some(s) }
    }
}

impl<'a> Iterator for CsvFields<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        if let Some(quoted) = s.strip_prefix('"') {
            let b = quoted.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'"' {
                    if b.get(i + 1) == Some(&b'"') {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            let field = &quoted[..i.min(quoted.len())];
            let after = quoted.get(i + 1..).unwrap_or("");
            self.rest = after.strip_prefix(',');
            return Some(field);
        }
        match s.find(',') {
            Some(k) => {
                self.rest = Some(&s[k + 1..]);
                Some(&s[..k])
            }
            None => {
                self.rest = None;
                Some(s)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Elastic `fortinet_fortigate` `test-fortinet.log` (FORMATS.md §7 / real-formats §6.1):
    /// date, time and `tz="-0300"` give the instant, `devname` the device.
    #[test]
    fn fortigate_record_names_its_device_and_clock() {
        let body = "date=2020-04-23 time=14:24:13 devname=\"testswitch3\" devid=\"someotherrouteridagain\" logid=\"0100041006\" type=\"event\" subtype=\"system\" level=\"notice\" vd=\"root\" eventtime=1587230655301863513 tz=\"-0300\" logdesc=\"FortiSandbox AV database updated\" version=\"1.522479\" msg=\"FortiSandbox AV database updated\"";
        let h = record_header(body).unwrap();
        assert_eq!(h.shape, RecordShape::FortiGate);
        assert_eq!(h.host, Some("testswitch3"));
        assert_eq!(h.wall.zone, Zone::Offset(-180));
        assert_eq!((h.wall.year, h.wall.month, h.wall.day), (Some(2020), 4, 23));
        assert_eq!((h.wall.hour, h.wall.minute, h.wall.second), (14, 24, 13));
        // No devname, no tz (Elastic `test-fortinet-7-4.log`): the clock alone, zone unwritten.
        let h = record_header("date=2019-05-13 time=11:20:54 logid=\"0100032001\" type=\"event\" subtype=\"system\" level=\"information\" vd=\"vdom1\" msg=\"Administrator admin logged in successfully from ssh(172.16.200.254)\"").unwrap();
        assert_eq!(h.host, None);
        assert_eq!(h.wall.zone, Zone::Unwritten);
        // A zone name before the offset.
        let h = record_header("date=2024-01-02 time=03:04:05 tz=\"PST-0800\" devname=fw").unwrap();
        assert_eq!(h.wall.zone, Zone::Offset(-480));
        assert_eq!(h.host, Some("fw"));
        assert!(record_header("date=yesterday time=03:04:05").is_none());
    }

    /// Elastic `panw` `test-panw-panos-system-sample.log`: the high-resolution time with its
    /// offset wins over the local generated time; `device_name` is field 22 of SYSTEM.
    #[test]
    fn panos_record_names_its_device_and_clock() {
        let body = "1,2021/10/26 15:05:03,,SYSTEM,general,2561,2021/10/26 15:05:03,,general,,0,0,general,informational,\"Connection to Update server closed: updates.paloaltonetworks.com, source: 81.2.69.193\",1234567890,0x0,0,0,0,0,,PA-VM,0,0,2021-10-26T15:05:03.440-07:00";
        let h = record_header(body).unwrap();
        assert_eq!(h.shape, RecordShape::PanOs);
        assert_eq!(h.host, Some("PA-VM"));
        assert_eq!(h.wall.zone, Zone::Offset(-420));
        assert_eq!(h.wall.milli, 440);
        // Older layout (apache/metron test): no high-resolution time; description unquoted.
        let body = "1,2016/03/25 00:00:56,003002112674,SYSTEM,general,0,2016/03/25 00:00:56,,general,,0,0,general,informational,User HarryPotter logged in via Web from 10.255.255.255 using http,156324,0x0,0,0,0,0,,SUNKUPAN1";
        let h = record_header(body).unwrap();
        assert_eq!(h.host, Some("SUNKUPAN1"));
        assert_eq!(h.wall.zone, Zone::Unwritten);
        assert_eq!(
            (h.wall.year, h.wall.hour, h.wall.second),
            (Some(2016), 0, 56)
        );
        // CONFIG: device name one field earlier; a quoted field with `""` escapes.
        let body = "1,2021/10/25 20:25:39,,CONFIG,0,2561,2021/10/25 20:25:39,81.2.69.193,,set,admin,Web,Succeeded, config shared log-settings iptag match-list  ip-tag,1234567890,0x0,0,0,0,0,,PA-VM,0,,0,2023-10-25T20:25:39.421+01:00,,\"iptag { match-list { ip-tag  { send-syslog [ SYSLOG-1 ]; filter \"\"All Logs\"\"; } } } \"";
        assert_eq!(record_header(body).unwrap().host, Some("PA-VM"));
        assert!(record_header("1,2021/10/26 15:05:03,,TRAFFIC,end").is_none());
        assert!(record_header("1, not a record").is_none());
    }
}
