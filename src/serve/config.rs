//! The service's configuration: defaults that work on a fresh machine, a TOML file that can set
//! everything, and command-line flags that win over both.
//!
//! Every key is declared once, in the [`keys!`] table below: its field of [`ServeConfig`], its
//! default, how the file (or flag) writes it and the function that reads and checks it. A value
//! out of its key's range is an error at its position, never silently clamped.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::config::ConfigError;
use crate::config::error::position;
use crate::kafka::settings::KafkaSettings;
use crate::sink::render::AlertFormat;
use crate::sink::webhook::{Batch, SecretValue, WebhookSettings, check_header};
use crate::time::Millis;

/// Declares the keys of the service's configuration, each once, and from that table generates
/// [`ServeConfig`] with its `Default`, the TOML file's mirror `FileConfig` (every key optional
/// and located) and the command-line [`Flags`]. A row is
///
/// `/// doc` `key: Type = default; Written => read;`
///
/// where `Written` is the type the file (or flag) gives and `read(value, key, place)` turns it
/// into `Type` or a located error. Keys under `flags` can also be given on the command line.
macro_rules! keys {
    (
        flags {$(
            $(#[doc = $fdoc:literal])*
            $fkey:ident: $fty:ty = $fdefault:expr; $fwritten:ty => $fread:expr;
        )*}
        file {$(
            $(#[doc = $doc:literal])*
            $key:ident: $ty:ty = $default:expr; $written:ty => $read:expr;
        )*}
    ) => {
        /// Everything `serve` needs. Field comments give the unit and the default.
        #[derive(Clone, Debug, PartialEq)]
        pub struct ServeConfig {
            $( $(#[doc = $fdoc])* pub $fkey: $fty, )*
            $( $(#[doc = $doc])* pub $key: $ty, )*
            /// API bearer token (from `IMAGEWATCH_API_TOKEN` or the file's `token_file`).
            pub token: Option<ApiToken>,
        }

        impl Default for ServeConfig {
            fn default() -> Self {
                ServeConfig {
                    $( $fkey: $fdefault, )*
                    $( $key: $default, )*
                    token: None,
                }
            }
        }

        /// The TOML file: every key optional, each value with its place in the file.
        #[derive(Debug, Default, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        struct FileConfig {
            $( $fkey: Option<Spanned<$fwritten>>, )*
            $( $key: Option<Spanned<$written>>, )*
            /// A file holding the API token; read here, it sets [`ServeConfig::token`].
            token_file: Option<Spanned<PathBuf>>,
        }

        impl FileConfig {
            /// Reads every key the file sets into `c` and notes where each was set.
            fn apply<'a>(
                self,
                c: &mut ServeConfig,
                set: &mut Places<'a>,
                place: impl Fn(Range<usize>) -> Place<'a>,
            ) -> Result<(), ConfigError> {
                $(
                    if let Some(v) = self.$fkey {
                        let at = place(v.span());
                        c.$fkey = ($fread)(v.into_inner(), stringify!($fkey), at)?;
                        set.insert(stringify!($fkey), at);
                    }
                )*
                $(
                    if let Some(v) = self.$key {
                        let at = place(v.span());
                        c.$key = ($read)(v.into_inner(), stringify!($key), at)?;
                        set.insert(stringify!($key), at);
                    }
                )*
                Ok(())
            }
        }

        /// Command-line overrides (`None`: not given).
        #[derive(Debug, Default, Clone, clap::Args)]
        pub struct Flags {
            /// TOML configuration file; flags win over it.
            #[arg(long)]
            pub config: Option<PathBuf>,
            #[command(flatten)]
            pub kafka: Box<crate::kafka::settings::KafkaFlags>,
            $(
                $(#[doc = $fdoc])*
                #[arg(long)]
                pub $fkey: Option<$fwritten>,
            )*
        }

        impl Flags {
            /// Reads every key given on the command line into `c`.
            fn apply(&self, c: &mut ServeConfig, set: &mut Places<'_>) -> Result<(), ConfigError> {
                $(
                    if let Some(v) = &self.$fkey {
                        let label = concat!("--", stringify!($fkey));
                        c.$fkey = ($fread)(v.clone(), label, COMMAND_LINE)?;
                        set.insert(stringify!($fkey), COMMAND_LINE);
                    }
                )*
                Ok(())
            }
        }
    };
}

keys! {
    flags {
        /// UDP syslog listener; default `127.0.0.1:5514`; `off` disables it.
        udp: Option<SocketAddr> = Some(loopback(5514)); String => listener;
        /// TCP syslog listener (LF or RFC 6587 octet-counted framing, per connection); default
        /// `127.0.0.1:5514`; `off` disables it.
        tcp: Option<SocketAddr> = Some(loopback(5514)); String => listener;
        /// TLS syslog listener (RFC 5425); off unless set, needs `tls_cert` and `tls_key` in the
        /// config file.
        tls: Option<SocketAddr> = None; String => listener;
        /// HTTP API address; default `127.0.0.1:9514`.
        http: SocketAddr = loopback(9514); String => address;
        /// State directory (sled); default `./state`.
        state: PathBuf = PathBuf::from("state"); PathBuf => as_is;
        /// Rules directory (`signals/`, `sequences/`); default: the rules built into the binary.
        rules: Option<PathBuf> = None; PathBuf => some;
        /// Change calendar; default `./changes.yaml` when present.
        changes: Option<PathBuf> = Path::new("changes.yaml")
            .exists()
            .then(|| PathBuf::from("changes.yaml")); PathBuf => some;
        /// NDJSON alert file; default `<state>/alerts.ndjson`.
        alerts: PathBuf = PathBuf::from("state/alerts.ndjson"); PathBuf => as_is;
    }
    file {
        /// TLS listener's certificate chain (PEM).
        tls_cert: Option<PathBuf> = None; PathBuf => some;
        /// TLS listener's private key (PEM).
        tls_key: Option<PathBuf> = None; PathBuf => some;
        /// Serve the API over HTTPS with this certificate chain (PEM); off unless set, needs
        /// `api_tls_key`.
        api_tls_cert: Option<PathBuf> = None; PathBuf => some;
        api_tls_key: Option<PathBuf> = None; PathBuf => some;
        /// Webhook sink URL (POST JSON); off unless set.
        webhook: Option<String> = None; String => some;
        /// Extra webhook request headers, e.g. `{ "X-Splunk-Request-Channel" = "…" }`; their
        /// values appear in no log.
        webhook_headers: Vec<(String, SecretValue)> = Vec::new();
            BTreeMap<String, String> => header_values;
        /// Webhook request headers whose value is read (trailing white space cut) from a file
        /// at start, e.g. `{ Authorization = "/etc/imagewatch/siem-auth" }`; never logged.
        webhook_header_files: Vec<(String, SecretValue)> = Vec::new();
            BTreeMap<String, PathBuf> => header_files;
        /// PEM bundle of the CAs that sign the webhook receiver's certificate; needed for an
        /// `https` webhook (the binary trusts no CA of its own).
        webhook_ca: Option<PathBuf> = None; PathBuf => some;
        /// Client certificate chain (PEM) for a webhook receiver that requires mutual TLS;
        /// needs `webhook_client_key`.
        webhook_client_cert: Option<PathBuf> = None; PathBuf => some;
        webhook_client_key: Option<PathBuf> = None; PathBuf => some;
        /// Records per webhook request: `off` (one, with `Idempotency-Key`; default), `array`
        /// (a JSON array), `ndjson` (one per line) or `bulk` (an Elasticsearch `_bulk` body).
        webhook_batch: Batch = Batch::Off; Batch => as_is;
        /// Most records per batch; default 100, 1 to 10000.
        webhook_batch_max: usize = 100; usize => between(1, 10_000);
        /// Longest a record waits for its batch to fill, in milliseconds; default 1000, 0 to
        /// 600000.
        webhook_batch_wait_ms: u64 = 1000; u64 => between(0, 600_000);
        /// What every sink writes: `native` (the API's record; default) or `ecs` (Elastic
        /// Common Schema documents).
        alert_format: AlertFormat = AlertFormat::Native; AlertFormat => as_is;
        /// Reorder delay in milliseconds: how long a signal waits for earlier lines of its
        /// device; default 250, at least 0. It bounds alert latency.
        lateness_ms: Millis = 250; Millis => at_least(0);
        /// Capacity of each queue between listeners and workers, in messages; default 65536,
        /// at least 1.
        queue: usize = 65536; usize => at_least(1);
        /// Device-sharded engine workers; default 2, 1 to 64.
        workers: usize = 2; usize => between(1, 64);
        /// Longest line kept, in bytes; longer lines are truncated. Default 65536, at least 256.
        max_line: usize = crate::source::lines::MAX_LINE; usize => at_least(256);
        /// Most TCP/TLS connections at once; default 1024, at least 1.
        max_connections: usize = 1024; usize => at_least(1);
        /// Largest API request body, in bytes; larger ones get 413. Default 65536, at least 1024.
        max_body: usize = 64 * 1024; usize => at_least(1024);
        /// Idle TCP/TLS connections are closed after this many seconds; default 300, at least 1.
        idle_timeout_secs: u64 = 300; u64 => at_least(1);
        /// A syslog TLS client that has not completed its handshake after this many seconds is
        /// disconnected, freeing its connection slot; default 10, at least 1.
        tls_handshake_timeout_secs: u64 = 10; u64 => at_least(1);
        /// UDP sockets sharing the UDP address (`SO_REUSEPORT`), each read by its own thread;
        /// default: the number of cores, at most 4; 1 to 64.
        udp_sockets: usize = default_udp_sockets(); usize => between(1, 64);
        /// Receive buffer requested for each UDP socket, in bytes; default 8 MiB, 4 KiB to
        /// 1 GiB. The kernel may grant less (`net.core.rmem_max`); the service then says so in
        /// its log.
        udp_recv_buffer: usize = 8 << 20; usize => between(4096, 1 << 30);
        /// Device machines held in memory (split across workers); idle ones past it are evicted
        /// to the state store and read back when their device is seen again or a deadline of
        /// theirs fires. Default 100000, at least 1.
        max_devices: usize = crate::correlate::DEFAULT_MAX_DEVICES; usize => at_least(1);
        /// Evidence lines kept per pending sequence instance (first, steps and latest kept, the
        /// rest dropped and counted); also caps a device's recent signals (at most 16).
        /// Default 64, at least 2.
        max_evidence: usize = crate::correlate::DEFAULT_MAX_EVIDENCE; usize => at_least(2);
        /// Sequence instances kept per device; past it the least recently advanced unreported
        /// one is dropped (its evidence counted as dropped). Default 32, at least 1.
        max_pending: usize = crate::correlate::DEFAULT_MAX_PENDING; usize => at_least(1);
        /// Serve `GET /metrics` without the API token even when one is configured; default
        /// false (with a token, `/metrics` needs it like the API).
        metrics_public: bool = false; bool => as_is;
        /// A sink (alert file, webhook) failing to deliver for longer than this many seconds
        /// turns `/healthz` into 503 naming it and the reason; default 60, at least 1.
        sink_unhealthy_after_secs: u64 = 60; u64 => at_least(1);
        /// sled page cache in MiB (sled's own default is 1 GiB); default 64, at least 1.
        state_cache_mb: u64 = crate::state::DEFAULT_CACHE_BYTES >> 20; u64 => at_least(1);
        /// Kafka mode (`[kafka]` table, or the `--kafka-*` flags); off unless set.
        kafka: Option<KafkaSettings> = None; KafkaSettings => kafka_table;
    }
}

fn kafka_table(k: KafkaSettings, _: &str, at: Place) -> Result<Option<KafkaSettings>, ConfigError> {
    match k.problem() {
        Some(reason) => Err(at.error(reason)),
        None => Ok(Some(k)),
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// One UDP socket per core (at most 4): each has its own receive thread.
pub fn default_udp_sockets() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// The API's bearer token. Its `Debug` says nothing of it, so a logged configuration cannot
/// leak it; [`ApiToken::expose`] is the one way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

impl ApiToken {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

impl From<String> for ApiToken {
    fn from(s: String) -> Self {
        ApiToken(s)
    }
}

impl From<&str> for ApiToken {
    fn from(s: &str) -> Self {
        ApiToken(s.to_string())
    }
}

/// Where a setting was written: a line and column of the config file, or the command line.
#[derive(Clone, Copy)]
struct Place<'a> {
    file: &'a str,
    line: usize,
    column: usize,
}

impl Place<'_> {
    fn error(self, reason: impl Into<String>) -> ConfigError {
        ConfigError::new(self.file, self.line, self.column, reason)
    }
}

const COMMAND_LINE: Place<'static> = Place {
    file: "command line",
    line: 0,
    column: 0,
};

/// Where each key was last set (the file, or the command line), for checks that involve
/// several keys and must point at one of them.
type Places<'a> = HashMap<&'static str, Place<'a>>;

// The readers a key row names: `read(value as written, key, place) -> value or error`.

/// `off` (or nothing) disables a listener; anything else is an address.
fn listener(text: String, key: &str, at: Place) -> Result<Option<SocketAddr>, ConfigError> {
    if text.eq_ignore_ascii_case("off") || text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|e| {
        at.error(format!(
            "{key}: {text:?} is not an address: {e} (write IP:PORT, e.g. 127.0.0.1:5514, or \"off\")"
        ))
    })
}

fn address(text: String, key: &str, at: Place) -> Result<SocketAddr, ConfigError> {
    text.parse().map_err(|e| {
        at.error(format!(
            "{key}: {text:?} is not an address: {e} (write IP:PORT, e.g. 127.0.0.1:9514)"
        ))
    })
}

/// Header names and values as written; checked as a request will carry them.
fn header_values(
    headers: BTreeMap<String, String>,
    key: &str,
    at: Place,
) -> Result<Vec<(String, SecretValue)>, ConfigError> {
    headers
        .into_iter()
        .map(|(name, value)| {
            check_header(&name, &value).map_err(|e| at.error(format!("{key}: {e}")))?;
            Ok((name, SecretValue::new(value)))
        })
        .collect()
}

/// Header values read from files, now, so that a missing file stops the start-up at the key
/// that names it. No error repeats a byte of a value.
fn header_files(
    files: BTreeMap<String, PathBuf>,
    key: &str,
    at: Place,
) -> Result<Vec<(String, SecretValue)>, ConfigError> {
    files
        .into_iter()
        .map(|(name, path)| {
            let value = std::fs::read_to_string(&path)
                .map_err(|e| at.error(format!("{key}: {name}: {}: {e}", path.display())))?;
            let value = value.trim().to_string();
            if value.is_empty() {
                return Err(at.error(format!("{key}: {name}: {} is empty", path.display())));
            }
            check_header(&name, &value)
                .map_err(|e| at.error(format!("{key}: {}: {e}", path.display())))?;
            Ok((name, SecretValue::new(value)))
        })
        .collect()
}

fn as_is<T>(v: T, _: &str, _: Place) -> Result<T, ConfigError> {
    Ok(v)
}

fn some<T>(v: T, _: &str, _: Place) -> Result<Option<T>, ConfigError> {
    Ok(Some(v))
}

fn at_least<T: PartialOrd + fmt::Display + Copy>(
    min: T,
) -> impl Fn(T, &str, Place) -> Result<T, ConfigError> {
    move |v: T, key: &str, at: Place| {
        if v >= min {
            Ok(v)
        } else {
            Err(at.error(format!("{key} = {v} is out of range: at least {min}")))
        }
    }
}

fn between<T: PartialOrd + fmt::Display + Copy>(
    min: T,
    max: T,
) -> impl Fn(T, &str, Place) -> Result<T, ConfigError> {
    move |v: T, key: &str, at: Place| {
        if (min..=max).contains(&v) {
            Ok(v)
        } else {
            Err(at.error(format!(
                "{key} = {v} is out of range: between {min} and {max}"
            )))
        }
    }
}

/// Serde's names for Rust's integer types mean nothing to the person editing the file.
fn plain_words(message: &str) -> String {
    let mut m = message.to_string();
    for (rust, plain) in [
        ("expected usize", "expected a whole number"),
        ("expected u64", "expected a whole number"),
        ("expected i64", "expected a whole number (milliseconds)"),
        (
            "invalid basic string",
            "invalid string: a \"…\" not closed on its line, or a bad \\ escape",
        ),
    ] {
        m = m.replace(rust, plain);
    }
    m
}

impl ServeConfig {
    /// The webhook sink's settings, when a webhook is configured.
    pub fn webhook_settings(&self) -> Option<WebhookSettings> {
        let url = self.webhook.clone()?;
        let mut headers = self.webhook_headers.clone();
        headers.extend(self.webhook_header_files.iter().cloned());
        Some(WebhookSettings {
            url,
            headers,
            ca: self.webhook_ca.clone(),
            client_cert: self.webhook_client_cert.clone(),
            client_key: self.webhook_client_key.clone(),
            batch: self.webhook_batch,
            batch_max: self.webhook_batch_max,
            batch_wait: std::time::Duration::from_millis(self.webhook_batch_wait_ms),
        })
    }

    /// Defaults, then the config file, then the flags, then the environment's token.
    pub fn resolve(flags: &Flags, env_token: Option<String>) -> Result<ServeConfig, ConfigError> {
        let mut c = ServeConfig::default();
        let (file_name, text) = match &flags.config {
            Some(path) => {
                let name = path.display().to_string();
                let text = std::fs::read_to_string(path)
                    .map_err(|e| ConfigError::whole(&name, format!("cannot read: {e}")))?;
                (name, text)
            }
            None => (COMMAND_LINE.file.to_string(), String::new()),
        };
        let mut set = Places::new();
        if flags.config.is_some() {
            let mut f: FileConfig = toml::from_str(&text).map_err(|e| {
                let e = ConfigError::from_toml(&file_name, &text, &e);
                ConfigError {
                    reason: plain_words(&e.reason),
                    ..e
                }
            })?;
            let place = |span: Range<usize>| {
                let (line, column) = position(&text, span.start);
                Place {
                    file: &file_name,
                    line,
                    column,
                }
            };
            let token_file = f.token_file.take();
            f.apply(&mut c, &mut set, place)?;
            if let Some(tf) = token_file {
                let at = place(tf.span());
                let tf = tf.get_ref();
                let token = std::fs::read_to_string(tf)
                    .map_err(|e| at.error(format!("token_file {}: {e}", tf.display())))?;
                if token.trim().is_empty() {
                    // An empty token would let every request through.
                    return Err(at.error(format!("token_file {} is empty", tf.display())));
                }
                c.token = Some(token.trim().into());
            }
        }
        flags.apply(&mut c, &mut set)?;
        if flags.kafka.given() {
            c.kafka = flags.kafka.apply(c.kafka.take());
            if let Some(reason) = c.kafka.as_ref().and_then(KafkaSettings::problem) {
                return Err(COMMAND_LINE.error(reason));
            }
        }
        if !set.contains_key("alerts") {
            c.alerts = c.state.join("alerts.ndjson");
        }
        if let Some(t) = env_token.filter(|t| !t.trim().is_empty()) {
            c.token = Some(t.trim().into());
        }
        let set_at = |key: &str| set.get(key).copied().unwrap_or(COMMAND_LINE);
        if c.tls.is_some() && (c.tls_cert.is_none() || c.tls_key.is_none()) {
            return Err(set_at("tls")
                .error("tls needs tls_cert and tls_key (PEM files) in the config file"));
        }
        if c.api_tls_cert.is_some() != c.api_tls_key.is_some() {
            let at = set.get("api_tls_cert").or(set.get("api_tls_key"));
            return Err(at.copied().unwrap_or(COMMAND_LINE).error(
                "api_tls_cert and api_tls_key go together: set both to serve the API over HTTPS, or neither",
            ));
        }
        if c.webhook_client_cert.is_some() != c.webhook_client_key.is_some() {
            let at = set
                .get("webhook_client_cert")
                .or(set.get("webhook_client_key"));
            return Err(at.copied().unwrap_or(COMMAND_LINE).error(
                "webhook_client_cert and webhook_client_key go together: set both for mutual TLS, or neither",
            ));
        }
        if c.token.is_none() && !c.http.ip().is_loopback() {
            return Err(set_at("http").error(format!(
                "refusing to serve the API on {} without a token: set IMAGEWATCH_API_TOKEN or token_file, or bind to a loopback address",
                c.http
            )));
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_flags_and_file_layer_in_order() {
        let c = ServeConfig::resolve(&Flags::default(), None).unwrap();
        assert_eq!(c.http.to_string(), "127.0.0.1:9514");
        assert_eq!(c.udp.unwrap().to_string(), "127.0.0.1:5514");
        assert_eq!(c.alerts, PathBuf::from("state/alerts.ndjson"));
        assert_eq!(
            (c.max_devices, c.max_evidence, c.state_cache_mb),
            (100_000, 64, 64)
        );

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("imagewatch.toml");
        std::fs::write(
            &file,
            "udp = \"off\"\ntcp = \"127.0.0.1:6000\"\nstate = \"/var/lib/iw\"\nworkers = 3\n\
             udp_sockets = 3\nudp_recv_buffer = 1048576\n\
             max_devices = 5000\nmax_evidence = 16\nstate_cache_mb = 32\nmax_pending = 7\n\
             max_body = 32768\ntls_handshake_timeout_secs = 3\n",
        )
        .unwrap();
        let flags = Flags {
            config: Some(file.clone()),
            tcp: Some("127.0.0.1:7000".into()),
            ..Default::default()
        };
        let c = ServeConfig::resolve(&flags, Some("s3cret".into())).unwrap();
        assert_eq!(c.udp, None);
        assert_eq!(c.tcp.unwrap().to_string(), "127.0.0.1:7000", "flags win");
        assert_eq!(c.alerts, PathBuf::from("/var/lib/iw/alerts.ndjson"));
        assert_eq!(c.workers, 3);
        assert_eq!(c.tls_handshake_timeout_secs, 3);
        assert_eq!((c.udp_sockets, c.udp_recv_buffer), (3, 1 << 20));
        assert_eq!(
            (c.max_devices, c.max_evidence, c.state_cache_mb),
            (5000, 16, 32)
        );
        assert_eq!((c.max_pending, c.max_body), (7, 32768));
        assert_eq!(c.token.as_ref().map(ApiToken::expose), Some("s3cret"));
        assert!(
            !format!("{c:?}").contains("s3cret"),
            "Debug redacts the token"
        );

        std::fs::write(&file, "udp = \"off\"\nworkerz = 3\n").unwrap();
        let err = ServeConfig::resolve(
            &Flags {
                config: Some(file),
                ..Default::default()
            },
            None,
        )
        .unwrap_err();
        assert_eq!(err.line, 2, "{err}");
        assert!(err.reason.contains("workerz"), "{err}");
    }

    #[test]
    fn rules_default_to_the_built_in_set_and_a_file_or_flag_names_a_directory() {
        assert_eq!(ServeConfig::default().rules, None);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("imagewatch.toml");
        std::fs::write(&file, "rules = \"/etc/iw/rules\"\n").unwrap();
        let mut flags = Flags {
            config: Some(file),
            ..Default::default()
        };
        let c = ServeConfig::resolve(&flags, None).unwrap();
        assert_eq!(c.rules, Some(PathBuf::from("/etc/iw/rules")));
        flags.rules = Some(PathBuf::from("mine"));
        let c = ServeConfig::resolve(&flags, None).unwrap();
        assert_eq!(c.rules, Some(PathBuf::from("mine")), "flags win");
    }

    /// Every bounded key refuses a value past either end at the value's position (no clamping).
    #[test]
    fn out_of_range_values_are_errors_where_they_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("imagewatch.toml");
        for (line, says) in [
            ("workers = 65", "between 1 and 64"),
            ("queue = 0", "at least 1"),
            ("max_body = 1023", "at least 1024"),
            ("idle_timeout_secs = 0", "at least 1"),
            ("tls_handshake_timeout_secs = 0", "at least 1"),
            ("udp_recv_buffer = 4095", "between 4096"),
            ("max_evidence = 1", "at least 2"),
            ("max_devices = 0", "at least 1"),
            ("max_pending = 0", "at least 1"),
            ("max_connections = 0", "at least 1"),
            ("state_cache_mb = 0", "at least 1"),
        ] {
            std::fs::write(&file, format!("udp = \"off\"\n{line}\n")).unwrap();
            let flags = Flags {
                config: Some(file.clone()),
                ..Default::default()
            };
            let err = ServeConfig::resolve(&flags, None).unwrap_err();
            let column = line.find('=').unwrap() + 3;
            assert_eq!((err.line, err.column), (2, column), "{line}: {err}");
            assert!(err.reason.contains(line), "{line}: {err}");
            assert!(err.reason.contains(says), "{line}: {err}");
        }
    }

    /// The webhook keys: header values from the file and from files (Debug shows neither), the
    /// batch and format words, and mutual TLS files that go together.
    #[test]
    fn webhook_keys_read_headers_from_files_and_hide_them() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("imagewatch.toml");
        let auth = dir.path().join("auth");
        std::fs::write(&auth, "ApiKey c2VjcmV0LWtleQ==\n").unwrap();
        std::fs::write(
            &file,
            format!(
                "webhook = \"https://es:9200/logs-imagewatch.alert-default/_bulk\"\n\
                 webhook_header_files = {{ Authorization = {auth:?} }}\n\
                 webhook_headers = {{ X-Tenant = \"blue-7\" }}\n\
                 webhook_batch = \"bulk\"\nwebhook_batch_max = 7\nalert_format = \"ecs\"\n"
            ),
        )
        .unwrap();
        let flags = Flags {
            config: Some(file.clone()),
            ..Default::default()
        };
        let c = ServeConfig::resolve(&flags, None).unwrap();
        assert_eq!(c.alert_format, AlertFormat::Ecs);
        let w = c.webhook_settings().unwrap();
        assert_eq!((w.batch, w.batch_max), (Batch::Bulk, 7));
        assert_eq!(
            w.headers,
            vec![
                ("X-Tenant".to_string(), SecretValue::new("blue-7".into())),
                (
                    "Authorization".to_string(),
                    SecretValue::new("ApiKey c2VjcmV0LWtleQ==".into())
                ),
            ]
        );
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("c2VjcmV0") && !shown.contains("blue-7"),
            "{shown}"
        );

        std::fs::write(&auth, "ApiKey c2VjcmV0\u{7}\n").unwrap();
        let err = ServeConfig::resolve(&flags, None).unwrap_err();
        assert_eq!(err.line, 2, "{err}");
        assert!(err.reason.contains("Authorization"), "{err}");
        assert!(!err.to_string().contains("c2VjcmV0"), "{err}");

        std::fs::write(&file, "webhook_client_cert = \"c.pem\"\n").unwrap();
        let err = ServeConfig::resolve(&flags, None).unwrap_err();
        assert!(err.reason.contains("go together"), "{err}");
        std::fs::write(&file, "webhook_batch = \"lines\"\n").unwrap();
        let err = ServeConfig::resolve(&flags, None).unwrap_err();
        assert!(err.reason.contains("lines"), "{err}");
    }

    #[test]
    fn a_bad_flag_is_named_without_a_position() {
        let flags = Flags {
            http: Some("localhost".into()),
            ..Default::default()
        };
        let err = ServeConfig::resolve(&flags, None).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("command line: --http: \"localhost\" is not an address"),
            "{err}"
        );
    }

    #[test]
    fn refuses_an_open_api_without_a_token() {
        let flags = Flags {
            http: Some("0.0.0.0:9514".parse().unwrap()),
            ..Default::default()
        };
        let err = ServeConfig::resolve(&flags, None).unwrap_err();
        assert!(err.reason.contains("without a token"), "{err}");
        assert!(ServeConfig::resolve(&flags, Some("t".into())).is_ok());
    }
}
