//! The service's configuration: defaults that work on a fresh machine, a TOML file that can set
//! everything, and command-line flags that win over both.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::config::ConfigError;
use crate::time::Millis;

/// Everything `serve` needs. Field comments give the unit and the default.
#[derive(Clone, Debug, PartialEq)]
pub struct ServeConfig {
    /// UDP syslog listener; default `127.0.0.1:5514`; None disables it.
    pub udp: Option<SocketAddr>,
    /// TCP syslog listener (LF or RFC 6587 octet-counted framing, per connection); default `127.0.0.1:5514`.
    pub tcp: Option<SocketAddr>,
    /// TLS syslog listener (RFC 5425); off unless set, needs `tls_cert` and `tls_key`.
    pub tls: Option<SocketAddr>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// HTTP API; default `127.0.0.1:9514`.
    pub http: SocketAddr,
    /// Serve the API over HTTPS with this certificate chain (PEM); off unless set, needs
    /// `api_tls_key`.
    pub api_tls_cert: Option<PathBuf>,
    pub api_tls_key: Option<PathBuf>,
    /// State directory (sled); default `./state`.
    pub state: PathBuf,
    /// Rules directory (`signals/`, `sequences/`); default: the rules built into the binary.
    pub rules: Option<PathBuf>,
    /// Change calendar; default `./changes.yaml` when present.
    pub changes: Option<PathBuf>,
    /// NDJSON alert sink; default `<state>/alerts.ndjson`.
    pub alerts: PathBuf,
    /// Webhook sink URL (POST JSON); off unless set.
    pub webhook: Option<String>,
    /// API bearer token (from `IMAGEWATCH_API_TOKEN` or `token_file`).
    pub token: Option<ApiToken>,
    /// Reorder delay in milliseconds: how long a signal waits for earlier lines of its device;
    /// default 250. It bounds alert latency.
    pub lateness_ms: Millis,
    /// Capacity of each queue between listeners and workers, in messages; default 65536.
    pub queue: usize,
    /// Device-sharded engine workers; default 2.
    pub workers: usize,
    /// Longest line kept, in bytes; longer lines are truncated. Default 65536.
    pub max_line: usize,
    /// Most TCP/TLS connections at once; default 1024.
    pub max_connections: usize,
    /// Largest API request body, in bytes; larger ones get 413. Default 65536.
    pub max_body: usize,
    /// Idle TCP/TLS connections are closed after this many seconds; default 300.
    pub idle_timeout_secs: u64,
    /// UDP sockets sharing the UDP address (`SO_REUSEPORT`), each read by its own thread;
    /// default: the number of cores, at most 4.
    pub udp_sockets: usize,
    /// Receive buffer requested for each UDP socket, in bytes; default 8 MiB. The kernel may
    /// grant less (`net.core.rmem_max`); the service then says so in its log.
    pub udp_recv_buffer: usize,
    /// Device machines held in memory (split across workers); idle ones past it are evicted
    /// to the state store and read back when their device is seen again or a deadline of
    /// theirs fires. Default 100000.
    pub max_devices: usize,
    /// Evidence lines kept per pending sequence instance (first, steps and latest kept, the
    /// rest dropped and counted); also caps a device's recent signals (at most 16). Default 64.
    pub max_evidence: usize,
    /// Sequence instances kept per device; past it the least recently advanced unreported one
    /// is dropped (its evidence counted as dropped). Default 32.
    pub max_pending: usize,
    /// sled page cache in MiB (sled's own default is 1 GiB); default 64.
    pub state_cache_mb: u64,
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

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
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

impl Default for ServeConfig {
    fn default() -> Self {
        let loopback = |port| SocketAddr::from(([127, 0, 0, 1], port));
        let changes = Path::new("changes.yaml");
        ServeConfig {
            udp: Some(loopback(5514)),
            tcp: Some(loopback(5514)),
            tls: None,
            tls_cert: None,
            tls_key: None,
            http: loopback(9514),
            api_tls_cert: None,
            api_tls_key: None,
            state: PathBuf::from("state"),
            rules: None,
            changes: changes.exists().then(|| changes.to_path_buf()),
            alerts: PathBuf::from("state/alerts.ndjson"),
            webhook: None,
            token: None,
            lateness_ms: 250,
            queue: 65536,
            workers: 2,
            max_line: crate::source::lines::MAX_LINE,
            max_connections: 1024,
            max_body: 64 * 1024,
            idle_timeout_secs: 300,
            udp_sockets: default_udp_sockets(),
            udp_recv_buffer: 8 << 20,
            max_devices: crate::correlate::DEFAULT_MAX_DEVICES,
            max_evidence: crate::correlate::DEFAULT_MAX_EVIDENCE,
            max_pending: crate::correlate::DEFAULT_MAX_PENDING,
            state_cache_mb: crate::state::DEFAULT_CACHE_BYTES >> 20,
        }
    }
}

/// The TOML file: every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub udp: Option<Spanned<String>>,
    pub tcp: Option<Spanned<String>>,
    pub tls: Option<Spanned<String>>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub http: Option<Spanned<String>>,
    pub api_tls_cert: Option<Spanned<PathBuf>>,
    pub api_tls_key: Option<Spanned<PathBuf>>,
    pub state: Option<PathBuf>,
    pub rules: Option<PathBuf>,
    pub changes: Option<PathBuf>,
    pub alerts: Option<PathBuf>,
    pub webhook: Option<String>,
    pub token_file: Option<Spanned<PathBuf>>,
    pub lateness_ms: Option<Millis>,
    pub queue: Option<usize>,
    pub workers: Option<usize>,
    pub max_line: Option<usize>,
    pub max_connections: Option<usize>,
    pub max_body: Option<usize>,
    pub idle_timeout_secs: Option<u64>,
    pub udp_sockets: Option<usize>,
    pub udp_recv_buffer: Option<usize>,
    pub max_devices: Option<usize>,
    pub max_evidence: Option<usize>,
    pub max_pending: Option<usize>,
    pub state_cache_mb: Option<u64>,
}

/// Command-line overrides (`None`: not given).
#[derive(Debug, Default, Clone, clap::Args)]
pub struct Flags {
    /// TOML configuration file; flags win over it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// UDP syslog address (default 127.0.0.1:5514; `off` disables).
    #[arg(long)]
    pub udp: Option<String>,
    /// TCP syslog address, LF or octet-counted framing (default 127.0.0.1:5514; `off` disables).
    #[arg(long)]
    pub tcp: Option<String>,
    /// TLS syslog address (RFC 5425); needs tls_cert and tls_key in the config file.
    #[arg(long)]
    pub tls: Option<String>,
    /// HTTP API address (default 127.0.0.1:9514).
    #[arg(long)]
    pub http: Option<SocketAddr>,
    /// State directory (default ./state).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Rules directory (default: the rules built into the binary).
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Change calendar (default ./changes.yaml when present).
    #[arg(long)]
    pub changes: Option<PathBuf>,
    /// NDJSON alert file (default <state>/alerts.ndjson).
    #[arg(long)]
    pub alerts: Option<PathBuf>,
}

/// `off` disables a listener; anything else is an address.
fn listener(text: &str, what: &str, at: Place) -> Result<Option<SocketAddr>, ConfigError> {
    if text.eq_ignore_ascii_case("off") || text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|e| {
        at.error(format!(
            "{what}: {text:?} is not an address: {e} (write IP:PORT, e.g. 127.0.0.1:5514, or \"off\")"
        ))
    })
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
    /// Defaults, then the config file, then the flags, then the environment's token.
    pub fn resolve(flags: &Flags, env_token: Option<String>) -> Result<ServeConfig, ConfigError> {
        let mut c = ServeConfig::default();
        let mut alerts_set = false;
        let mut file_name = "command line".to_string();
        let mut text = String::new();
        // Where the file set the settings that later checks may reject.
        let (mut tls_at, mut http_at, mut api_tls_at) = (None, None, None);
        if let Some(path) = &flags.config {
            file_name = path.display().to_string();
            text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError::new(&file_name, 0, 0, format!("cannot read: {e}")))?;
        }
        let place = |span: std::ops::Range<usize>| {
            let (line, column) = line_col(&text, span.start);
            Place {
                file: &file_name,
                line,
                column,
            }
        };
        if flags.config.is_some() {
            let f: FileConfig = toml::from_str(&text).map_err(|e| {
                let (line, col) = e.span().map(|s| line_col(&text, s.start)).unwrap_or((0, 0));
                ConfigError::new(&file_name, line, col, plain_words(e.message()))
            })?;
            if let Some(v) = f.udp {
                c.udp = listener(v.get_ref(), "udp", place(v.span()))?;
            }
            if let Some(v) = f.tcp {
                c.tcp = listener(v.get_ref(), "tcp", place(v.span()))?;
            }
            if let Some(v) = f.tls {
                tls_at = Some(place(v.span()));
                c.tls = listener(v.get_ref(), "tls", place(v.span()))?;
            }
            c.tls_cert = f.tls_cert.or(c.tls_cert);
            c.tls_key = f.tls_key.or(c.tls_key);
            if let Some(v) = f.http {
                let at = place(v.span());
                http_at = Some(at);
                c.http = v.get_ref().parse().map_err(|e| {
                    at.error(format!(
                        "http: {:?} is not an address: {e} (write IP:PORT, e.g. 127.0.0.1:9514)",
                        v.get_ref()
                    ))
                })?;
            }
            for v in [&f.api_tls_cert, &f.api_tls_key].into_iter().flatten() {
                api_tls_at = Some(place(v.span()));
            }
            c.api_tls_cert = f.api_tls_cert.map(Spanned::into_inner).or(c.api_tls_cert);
            c.api_tls_key = f.api_tls_key.map(Spanned::into_inner).or(c.api_tls_key);
            c.state = f.state.unwrap_or(c.state);
            c.rules = f.rules.or(c.rules);
            c.changes = f.changes.or(c.changes);
            if let Some(a) = f.alerts {
                c.alerts = a;
                alerts_set = true;
            }
            c.webhook = f.webhook.or(c.webhook);
            if let Some(tf) = f.token_file {
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
            c.lateness_ms = f.lateness_ms.unwrap_or(c.lateness_ms);
            c.queue = f.queue.unwrap_or(c.queue).max(1);
            c.workers = f.workers.unwrap_or(c.workers).clamp(1, 64);
            c.max_line = f.max_line.unwrap_or(c.max_line).max(256);
            c.max_connections = f.max_connections.unwrap_or(c.max_connections).max(1);
            c.max_body = f.max_body.unwrap_or(c.max_body).max(1024);
            c.idle_timeout_secs = f.idle_timeout_secs.unwrap_or(c.idle_timeout_secs).max(1);
            c.udp_sockets = f.udp_sockets.unwrap_or(c.udp_sockets).clamp(1, 64);
            c.udp_recv_buffer = f
                .udp_recv_buffer
                .unwrap_or(c.udp_recv_buffer)
                .clamp(4096, 1 << 30);
            c.max_devices = f.max_devices.unwrap_or(c.max_devices).max(1);
            c.max_evidence = f.max_evidence.unwrap_or(c.max_evidence).max(2);
            c.max_pending = f.max_pending.unwrap_or(c.max_pending).max(1);
            c.state_cache_mb = f.state_cache_mb.unwrap_or(c.state_cache_mb).max(1);
        }
        if let Some(v) = &flags.udp {
            c.udp = listener(v, "--udp", COMMAND_LINE)?;
        }
        if let Some(v) = &flags.tcp {
            c.tcp = listener(v, "--tcp", COMMAND_LINE)?;
        }
        if let Some(v) = &flags.tls {
            tls_at = None;
            c.tls = listener(v, "--tls", COMMAND_LINE)?;
        }
        if let Some(h) = flags.http {
            http_at = None;
            c.http = h;
        }
        c.state = flags.state.clone().unwrap_or(c.state);
        c.rules = flags.rules.clone().or(c.rules);
        c.changes = flags.changes.clone().or(c.changes);
        match &flags.alerts {
            Some(a) => c.alerts = a.clone(),
            None if !alerts_set => c.alerts = c.state.join("alerts.ndjson"),
            None => {}
        }
        if let Some(t) = env_token.filter(|t| !t.trim().is_empty()) {
            c.token = Some(t.trim().into());
        }
        if c.tls.is_some() && (c.tls_cert.is_none() || c.tls_key.is_none()) {
            return Err(tls_at
                .unwrap_or(COMMAND_LINE)
                .error("tls needs tls_cert and tls_key (PEM files) in the config file"));
        }
        if c.api_tls_cert.is_some() != c.api_tls_key.is_some() {
            return Err(api_tls_at.unwrap_or(COMMAND_LINE).error(
                "api_tls_cert and api_tls_key go together: set both to serve the API over HTTPS, or neither",
            ));
        }
        if c.token.is_none() && !c.http.ip().is_loopback() {
            return Err(http_at.unwrap_or(COMMAND_LINE).error(format!(
                "refusing to serve the API on {} without a token: set IMAGEWATCH_API_TOKEN or token_file, or bind to a loopback address",
                c.http
            )));
        }
        Ok(c)
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
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
             max_body = 32768\n",
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
