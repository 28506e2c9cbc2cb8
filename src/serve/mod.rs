//! `imagewatch serve`: the long-running service. Its configuration, API, workers and lifecycle:
//! the listeners of [`crate::source`] (UDP, TCP, TLS) extract signals and hand them to
//! device-sharded engine workers (the same engine as `replay`); alerts go to the durable outbox
//! of [`crate::sink`] and from there to the NDJSON file and webhook sinks; an HTTP API serves
//! health, metrics, alerts, device state, tickets, windows and rule reload.
//!
//! [`start`] binds everything (port 0 works, for tests) and returns a [`Running`] handle;
//! the binary waits for a signal and calls [`Running::shutdown`].

pub(crate) mod alert_query;
pub(crate) mod api;
pub(crate) mod api_error;
pub(crate) mod calendar_api;
pub(crate) mod calendar_audit;
mod config;
pub(crate) mod https;
mod same_origin;
mod triage_api;
pub(crate) mod worker;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use config::{Flags, ServeConfig};

use crate::config::{ConfigError, Loaded, RuleSource};
use crate::correlate::{DeviceMachine, Limits};
use crate::coverage::senders::Sightings;
use crate::pipeline::{AwaitingBoot, Engine, wanted_kinds};
use crate::state::{StateError, StateStore, StoreOptions};

use crate::sink::outbox::{Outbox, SinkKind};
use crate::source::listener::{Intake, ListenerLimits};
use crate::source::{tcp, udp};

use crate::config::Configured;
use crate::source::{Job, shard};
use crate::telemetry::Metrics;
use calendar_api::CalendarEntries;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    State(#[from] StateError),
    #[error("cannot listen on {addr} ({what}): {source}{}", privileged_port_hint(*addr, source))]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error(
        "alert file {}: cannot create or append to it: {source} (the service's user needs to \
         write it and create its directory; set `alerts` to move it)",
        path.display()
    )]
    AlertFile {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Kafka(#[from] crate::kafka::KafkaError),
}

/// What every task of the service shares.
pub struct Shared {
    pub config: ServeConfig,
    pub metrics: Arc<Metrics>,
    pub(crate) store: StateStore,
    pub(crate) outbox: Outbox,
    pub(crate) workers: Vec<mpsc::Sender<Job>>,
    /// Shared with the listeners' [`Intake`], which follow reloads.
    pub(crate) configured: Arc<ArcSwap<Configured>>,
    /// Serialises reloads and calendar changes.
    changing: Mutex<()>,
    /// Lines per sender (listeners) and signal kinds per device (workers): the coverage report.
    pub(crate) sightings: Arc<Sightings>,
}

impl Shared {
    /// Re-reads rules and `changes.yaml`; invalid new files keep the old ones and say why.
    pub async fn reload(&self) -> Result<Value, String> {
        let _guard = self.changing.lock().await;
        let Loaded {
            classifier,
            sequences,
            calendar: file_calendar,
        } = crate::config::load(
            &RuleSource::new(self.config.rules.as_deref()),
            self.config.changes.as_deref(),
        )
        .map_err(|e| e.to_string())?;
        let entries = CalendarEntries::open(&self.store).map_err(|e| e.to_string())?;
        let calendar = entries.merged(&file_calendar).map_err(|e| e.to_string())?;
        let summary = json!({
            "signal_rules": classifier.rule_count(),
            "sequence_rules": sequences.sequences.len(),
            "tickets": calendar.tickets.len(),
            "windows": calendar.windows.len(),
            "inventory": calendar.inventory.devices().len(),
        });
        self.install(Configured {
            focus: Arc::new(classifier.focus(&wanted_kinds(&sequences))),
            classifier: Arc::new(classifier),
            sequences: Arc::new(sequences),
            inventory: Arc::new(file_calendar.inventory.clone()),
            file_calendar: Arc::new(file_calendar),
            calendar: Arc::new(calendar),
        })
        .await;
        tracing::info!(%summary, "Rules and calendar reloaded.");
        Ok(summary)
    }

    /// Rebuilds the calendar after a ticket or window changed through the API.
    pub(crate) async fn apply_calendar(&self) -> Result<(), String> {
        let _guard = self.changing.lock().await;
        let current = self.configured.load_full();
        let entries = CalendarEntries::open(&self.store).map_err(|e| e.to_string())?;
        let calendar = entries
            .merged(&current.file_calendar)
            .map_err(|e| e.to_string())?;
        self.install(Configured {
            classifier: Arc::clone(&current.classifier),
            sequences: Arc::clone(&current.sequences),
            file_calendar: Arc::clone(&current.file_calendar),
            inventory: Arc::clone(&current.inventory),
            focus: Arc::clone(&current.focus),
            calendar: Arc::new(calendar),
        })
        .await;
        Ok(())
    }

    async fn install(&self, configured: Configured) {
        let (rules, calendar) = (
            Arc::clone(&configured.sequences),
            Arc::clone(&configured.calendar),
        );
        self.configured.store(Arc::new(configured));
        for w in &self.workers {
            let _ = w
                .send(Job::Reconfigure(Arc::clone(&rules), Arc::clone(&calendar)))
                .await;
        }
        self.sync().await;
    }

    /// Returns once every worker has processed what was queued before the call.
    pub async fn sync(&self) {
        let mut waits = Vec::new();
        for w in &self.workers {
            let (tx, rx) = oneshot::channel();
            if w.send(Job::Sync(tx)).await.is_ok() {
                waits.push(rx);
            }
        }
        for rx in waits {
            let _ = rx.await;
        }
    }
}

/// A started service.
pub struct Running {
    pub udp: Option<SocketAddr>,
    pub tcp: Option<SocketAddr>,
    pub tls: Option<SocketAddr>,
    pub http: SocketAddr,
    pub shared: Arc<Shared>,
    stop: CancellationToken,
    /// Cancelled after the listeners have finished: stops the workers.
    drain: CancellationToken,
    /// Cancelled after the workers have finished: stops the sinks. (With the workers' token
    /// a sink could stop before the last alert of the drain was queued.)
    sinks_stop: CancellationToken,
    listeners: Vec<JoinHandle<()>>,
    workers: Vec<JoinHandle<()>>,
    sinks: Vec<JoinHandle<()>>,
    /// Kafka mode's threads, when on.
    kafka: Option<crate::kafka::KafkaTasks>,
}

impl Running {
    /// Stops accepting, drains the queues into the engines, flushes state and stops sinks.
    pub async fn shutdown(self) {
        self.stop.cancel();
        for h in self.listeners {
            let _ = h.await;
        }
        // Owned signals partitions are settled into the outbox before the sinks stop.
        if let Some(kafka) = self.kafka {
            kafka.shutdown().await;
        }
        self.drain.cancel();
        for h in self.workers {
            let _ = h.await;
        }
        self.sinks_stop.cancel();
        // Give the sinks a moment to deliver what the drain produced.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        for h in self.sinks {
            let _ = tokio::time::timeout_at(deadline, h).await;
        }
        let _ = self.shared.store.flush();
        tracing::info!("Stopped; state flushed.");
    }
}

/// Ports below 1024 need `CAP_NET_BIND_SERVICE` (or root): a bare "Permission denied" does
/// not say so.
fn privileged_port_hint(addr: SocketAddr, err: &std::io::Error) -> &'static str {
    if err.kind() == std::io::ErrorKind::PermissionDenied && addr.port() < 1024 {
        "; ports below 1024 need the CAP_NET_BIND_SERVICE capability (the systemd unit in the \
         README grants it: AmbientCapabilities=CAP_NET_BIND_SERVICE) or a port of 1024 and up"
    } else {
        ""
    }
}

/// A view of a device for the API: baseline, running version, pending sequences with their
/// evidence, recent signals, open alerts.
pub(crate) fn device_view(m: &DeviceMachine) -> Value {
    let pending: Vec<Value> = m
        .instances
        .iter()
        .map(|i| {
            json!({
                "rule": i.rule, "alert_id": i.id, "reached_step": i.reached,
                "completed": i.completed.is_some(),
                "first": crate::time::format_rfc3339(i.first),
                "last": crate::time::format_rfc3339(i.last),
                "evidence": i.evidence.iter().map(|e| json!({
                    "time": crate::time::format_rfc3339(e.time), "kind": e.kind, "message": e.message,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let open: Vec<&str> = m
        .instances
        .iter()
        .filter(|i| i.emitted.is_some())
        .map(|i| i.id.as_str())
        .collect();
    json!({
        "device": m.device,
        "vendor": m.vendor,
        "baseline": m.baseline,
        "running": m.running,
        "pending": pending,
        "recent_signals": m.recent.iter().map(|r| json!({
            "time": crate::time::format_rfc3339(r.time), "kind": r.kind, "rule_id": r.rule_id, "message": r.message,
        })).collect::<Vec<_>>(),
        "open_alerts": open,
        "last_signal": m.last_signal.map(crate::time::format_rfc3339),
    })
}

fn tls_acceptor(cert: &Path, key: &Path) -> Result<tcp::TlsAcceptor, ServeError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| ServeError::Tls(format!("{}: {e}", cert.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| ServeError::Tls(format!("{}: {e}", cert.display())))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| ServeError::Tls(format!("{}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServeError::Tls(e.to_string()))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
}

/// Loads rules, calendar and state, binds every listener and starts every task.
pub async fn start(config: ServeConfig) -> Result<Running, ServeError> {
    // One crypto provider (ring) for TLS in and out; installing twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Loaded {
        classifier,
        sequences,
        calendar: file_calendar,
    } = crate::config::load(
        &RuleSource::new(config.rules.as_deref()),
        config.changes.as_deref(),
    )?;
    crate::sink::ndjson_file::check_writable(&config.alerts).map_err(|source| {
        ServeError::AlertFile {
            path: config.alerts.clone(),
            source,
        }
    })?;
    let api_tls = match (&config.api_tls_cert, &config.api_tls_key) {
        (Some(cert), Some(key)) => Some(tls_acceptor(cert, key)?),
        _ => None,
    };
    let store = StateStore::open_with(
        &config.state,
        StoreOptions {
            cache_bytes: config.state_cache_mb.max(1) << 20,
        },
    )?;
    let entries = CalendarEntries::open(&store)?;
    let calendar = entries.merged(&file_calendar)?;
    let rules = RuleSource::new(config.rules.as_deref());
    match &config.changes {
        Some(path) => tracing::info!(
            %rules,
            signal_rules = classifier.rule_count(),
            sequence_rules = sequences.sequences.len(),
            changes = %path.display(),
            calendar = %calendar.describe(),
            "Rules and change calendar loaded."
        ),
        None => tracing::warn!(
            %rules,
            signal_rules = classifier.rule_count(),
            sequence_rules = sequences.sequences.len(),
            calendar = %calendar.describe(),
            "Rules loaded; no changes.yaml: nothing is suppressed but what the API adds."
        ),
    }
    let metrics = Arc::new(Metrics::new());
    let mut sinks = vec![SinkKind::File(config.alerts.clone())];
    if let Some(webhook) = config.webhook_settings() {
        sinks.push(SinkKind::Webhook(webhook));
    }
    let outbox = Outbox::open(&store, sinks, config.alert_format)?;
    let sequences = Arc::new(sequences);
    let calendar = Arc::new(calendar);
    let n = config.workers.max(1);
    let awaiting = Arc::new(AwaitingBoot::default());
    let mut senders = Vec::with_capacity(n);
    let mut engines = Vec::with_capacity(n);
    for idx in 0..n {
        let (tx, rx) = mpsc::channel(config.queue);
        let owns = move |d: &str| shard(d, n) == idx;
        let mut engine = Engine::new(
            Arc::clone(&sequences),
            Arc::clone(&calendar),
            store.clone(),
            config.lateness_ms,
            &owns,
        )?;
        // The memory limit is per process: each worker holds its share.
        engine.set_limits(Limits {
            max_devices: config.max_devices.div_ceil(n).max(1),
            max_evidence: config.max_evidence,
            max_pending: config.max_pending,
        });
        engine.set_awaiting(Arc::clone(&awaiting));
        engine.set_write_every(crate::pipeline::MACHINE_WRITE_EVERY);
        let queue = outbox.clone();
        engine.set_alert_hook(Box::new(move |alert| queue.push(alert)));
        senders.push(tx);
        engines.push((engine, rx));
    }
    let configured = Configured {
        focus: Arc::new(classifier.focus(&wanted_kinds(&sequences))),
        classifier: Arc::new(classifier),
        sequences,
        inventory: Arc::new(file_calendar.inventory.clone()),
        file_calendar: Arc::new(file_calendar),
        calendar,
    };
    let shared = Arc::new(Shared {
        config: config.clone(),
        metrics: Arc::clone(&metrics),
        store: store.clone(),
        outbox: outbox.clone(),
        workers: senders,
        configured: Arc::new(ArcSwap::from_pointee(configured)),
        changing: Mutex::new(()),
        sightings: Arc::default(),
    });
    // Two stops, in order: `stop` ends the listeners and the API; `drain` ends the workers and
    // sinks once every listener (and every connection's last held message) has handed over
    // what it had, so a message accepted before the shutdown is processed, not dropped.
    let stop = CancellationToken::new();
    let drain = CancellationToken::new();
    let workers = engines
        .into_iter()
        .map(|(engine, rx)| {
            tokio::spawn(worker::run(engine, rx, Arc::clone(&shared), drain.clone()))
        })
        .collect();
    let sinks_stop = CancellationToken::new();
    let sinks = outbox.spawn(Arc::clone(&metrics), sinks_stop.clone());
    let kafka = match config.kafka.clone() {
        Some(k) => Some(
            crate::kafka::start(
                k,
                crate::kafka::KafkaParts {
                    configured: Arc::clone(&shared.configured),
                    metrics: Arc::clone(&metrics),
                    outbox: outbox.clone(),
                    awaiting: Arc::clone(&awaiting),
                    state: config.state.clone(),
                    limits: Limits {
                        max_devices: config.max_devices,
                        max_evidence: config.max_evidence,
                        max_pending: config.max_pending,
                    },
                    lateness: config.lateness_ms,
                    alert_format: config.alert_format,
                },
            )
            .await?,
        ),
        None => None,
    };
    let intake = Intake {
        configured: Arc::clone(&shared.configured),
        metrics: Arc::clone(&metrics),
        workers: shared.workers.clone(),
        awaiting,
        limits: ListenerLimits {
            max_line: config.max_line,
            max_connections: config.max_connections,
            idle_timeout: Duration::from_secs(config.idle_timeout_secs),
            tls_handshake_timeout: Duration::from_secs(config.tls_handshake_timeout_secs),
        },
        clocks: Arc::default(),
        sightings: Arc::clone(&shared.sightings),
    };

    let mut listeners = Vec::new();
    let mut bound_udp = None;
    if let Some(addr) = config.udp {
        let bind_err = |source| ServeError::Bind {
            what: "udp",
            addr,
            source,
        };
        let sockets =
            udp::bind_udp(addr, config.udp_sockets, config.udp_recv_buffer).map_err(bind_err)?;
        bound_udp = sockets[0].local_addr().ok();
        for (index, socket) in sockets.into_iter().enumerate() {
            listeners.push(
                udp::spawn_udp(socket, index, intake.clone(), stop.clone()).map_err(bind_err)?,
            );
        }
    }
    let mut bound_tcp = None;
    if let Some(addr) = config.tcp {
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind {
                what: "tcp",
                addr,
                source,
            })?;
        bound_tcp = l.local_addr().ok();
        listeners.push(tokio::spawn(tcp::tcp(
            l,
            None,
            intake.clone(),
            stop.clone(),
        )));
    }
    let mut bound_tls = None;
    if let (Some(addr), Some(cert), Some(key)) = (config.tls, &config.tls_cert, &config.tls_key) {
        let acceptor = tls_acceptor(cert, key)?;
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ServeError::Bind {
                what: "tls",
                addr,
                source,
            })?;
        bound_tls = l.local_addr().ok();
        listeners.push(tokio::spawn(tcp::tcp(
            l,
            Some(acceptor),
            intake.clone(),
            stop.clone(),
        )));
    }
    let http = tokio::net::TcpListener::bind(config.http)
        .await
        .map_err(|source| ServeError::Bind {
            what: "http",
            addr: config.http,
            source,
        })?;
    let bound_http = http.local_addr().map_err(|source| ServeError::Bind {
        what: "http",
        addr: config.http,
        source,
    })?;
    // With each request's peer address: the calendar's audit trail records who changed it.
    let app = api::router(Arc::clone(&shared)).into_make_service_with_connect_info::<SocketAddr>();
    let api_tls_on = api_tls.is_some();
    let http_stop = stop.clone();
    match api_tls {
        Some(acceptor) => {
            let https =
                https::TlsListener::new(http, acceptor, stop.clone()).map_err(|source| {
                    ServeError::Bind {
                        what: "https",
                        addr: config.http,
                        source,
                    }
                })?;
            // The tap gives the TLS listener axum's peer-address info, as for plain TCP.
            let https = axum::serve::ListenerExt::tap_io(https, |_| {});
            listeners.push(tokio::spawn(async move {
                let _ = axum::serve(https, app)
                    .with_graceful_shutdown(http_stop.cancelled_owned())
                    .await;
            }));
        }
        None => listeners.push(tokio::spawn(async move {
            let _ = axum::serve(http, app)
                .with_graceful_shutdown(http_stop.cancelled_owned())
                .await;
        })),
    }
    if let Some(path) = config.changes.clone() {
        listeners.push(tokio::spawn(watch_changes(
            path,
            Arc::clone(&shared),
            stop.clone(),
        )));
    }
    let shown = |a: Option<SocketAddr>| a.map_or_else(|| "off".to_owned(), |a| a.to_string());
    tracing::info!(
        udp = %shown(bound_udp),
        tcp = %shown(bound_tcp),
        tls = %shown(bound_tls),
        http = %bound_http,
        https = api_tls_on,
        state = %config.state.display(),
        alerts = %config.alerts.display(),
        "Serving."
    );
    Ok(Running {
        udp: bound_udp,
        tcp: bound_tcp,
        tls: bound_tls,
        http: bound_http,
        shared,
        stop,
        drain,
        sinks_stop,
        listeners,
        workers,
        sinks,
        kafka,
    })
}

/// Re-reads `changes.yaml` when its modification time changes.
async fn watch_changes(path: std::path::PathBuf, shared: Arc<Shared>, stop: CancellationToken) {
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let mut last: Option<SystemTime> = mtime(&path);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.cancelled() => return,
        }
        let now = mtime(&path);
        if now != last {
            last = now;
            match shared.reload().await {
                Ok(_) => tracing::info!(file = %path.display(), "Change calendar re-read."),
                Err(reason) => {
                    tracing::error!(file = %path.display(), %reason, "Changed calendar is invalid; the previous one stays in force.")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Binding syslog's port 514 without the capability says what to grant, not only
    /// "Permission denied"; other failures and high ports read as before.
    #[test]
    fn a_privileged_port_refused_names_the_capability() {
        let denied = |port| ServeError::Bind {
            what: "udp",
            addr: SocketAddr::from(([0, 0, 0, 0], port)),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        };
        let low = denied(514).to_string();
        assert!(low.contains("CAP_NET_BIND_SERVICE"), "{low}");
        assert!(
            low.starts_with("cannot listen on 0.0.0.0:514 (udp): permission denied"),
            "{low}"
        );
        assert!(!denied(5514).to_string().contains("CAP_"));
        let in_use = ServeError::Bind {
            what: "tcp",
            addr: SocketAddr::from(([127, 0, 0, 1], 514)),
            source: std::io::Error::from(std::io::ErrorKind::AddrInUse),
        };
        assert!(!in_use.to_string().contains("CAP_"));
    }
}
