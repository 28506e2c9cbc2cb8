//! The service's metrics in one place, typed (no metric names as loose strings), rendered in
//! Prometheus text format for `GET /metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransportLabel {
    pub transport: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SinkLabel {
    pub sink: &'static str,
}

/// A Kafka topic partition (Kafka mode).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartitionLabel {
    pub topic: String,
    pub partition: i32,
}

/// Every metric of one service instance (tests run several in one process, so no globals).
pub struct Metrics {
    registry: Registry,
    pub lines_received: Family<TransportLabel, Counter>,
    pub parse_failures: Counter,
    pub truncated_lines: Counter,
    pub signals: Family<KindLabel, Counter>,
    pub duplicates: Counter,
    pub findings: Counter,
    pub alerts: Counter,
    pub suppressed: Counter,
    pub udp_dropped: Counter,
    pub udp_kernel_dropped: Counter,
    pub lines_processed: Family<TransportLabel, Counter>,
    pub queue_depth: Gauge,
    pub outbox_depth: Family<SinkLabel, Gauge>,
    pub deliveries: Family<SinkLabel, Counter>,
    pub delivery_failures: Family<SinkLabel, Counter>,
    pub connections: Gauge,
    pub connections_refused: Counter,
    pub connections_idle_closed: Counter,
    pub tls_handshakes_timed_out: Counter,
    pub api_body_too_large: Counter,
    pub state_bytes: Gauge,
    pub devices_evicted: Counter,
    pub devices_loaded: Counter,
    pub devices_in_memory: Gauge,
    pub evidence_dropped: Counter,
    /// Kafka mode: records behind the partition's end, for each partition this instance reads.
    pub kafka_lag: Family<PartitionLabel, Gauge>,
    pub kafka_partitions_owned: Gauge,
    pub kafka_restores: Counter,
    pub kafka_restored_devices: Counter,
    /// Seconds spent restoring partitions from the changelog, in total (Prometheus' base unit).
    pub kafka_restore_seconds: Counter<f64, std::sync::atomic::AtomicU64>,
    /// The last restore's duration in seconds.
    pub kafka_last_restore_seconds: Gauge<f64, std::sync::atomic::AtomicU64>,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("imagewatch");
        let m = Metrics {
            lines_received: Family::default(),
            parse_failures: Counter::default(),
            truncated_lines: Counter::default(),
            signals: Family::default(),
            duplicates: Counter::default(),
            findings: Counter::default(),
            alerts: Counter::default(),
            suppressed: Counter::default(),
            udp_dropped: Counter::default(),
            udp_kernel_dropped: Counter::default(),
            lines_processed: Family::default(),
            queue_depth: Gauge::default(),
            outbox_depth: Family::default(),
            deliveries: Family::default(),
            delivery_failures: Family::default(),
            connections: Gauge::default(),
            connections_refused: Counter::default(),
            connections_idle_closed: Counter::default(),
            tls_handshakes_timed_out: Counter::default(),
            api_body_too_large: Counter::default(),
            state_bytes: Gauge::default(),
            devices_evicted: Counter::default(),
            devices_loaded: Counter::default(),
            devices_in_memory: Gauge::default(),
            evidence_dropped: Counter::default(),
            kafka_lag: Family::default(),
            kafka_partitions_owned: Gauge::default(),
            kafka_restores: Counter::default(),
            kafka_restored_devices: Counter::default(),
            kafka_restore_seconds: Counter::default(),
            kafka_last_restore_seconds: Gauge::default(),
            registry: Registry::default(),
        };
        registry.register(
            "lines_received",
            "Syslog lines received, by transport",
            m.lines_received.clone(),
        );
        registry.register(
            "parse_failures",
            "Lines with no recognisable syslog structure",
            m.parse_failures.clone(),
        );
        registry.register(
            "truncated_lines",
            "Lines longer than the limit, truncated",
            m.truncated_lines.clone(),
        );
        registry.register(
            "signals",
            "Lines recognised as image-related signals, by kind",
            m.signals.clone(),
        );
        registry.register(
            "duplicate_signals",
            "Signals dropped as duplicate deliveries",
            m.duplicates.clone(),
        );
        registry.register(
            "findings",
            "Findings of the device machines",
            m.findings.clone(),
        );
        registry.register(
            "alerts",
            "Alert records emitted (each revision counts)",
            m.alerts.clone(),
        );
        registry.register(
            "alerts_suppressed",
            "Alert records suppressed by the change calendar",
            m.suppressed.clone(),
        );
        registry.register(
            "udp_dropped",
            "UDP datagrams dropped because the queue was full",
            m.udp_dropped.clone(),
        );
        registry.register(
            "udp_kernel_dropped",
            "UDP datagrams the kernel dropped before the listener read them (socket buffer full)",
            m.udp_kernel_dropped.clone(),
        );
        registry.register(
            "lines_processed",
            "Lines handled to the end, by transport: noise at the listener, signals once a worker took them",
            m.lines_processed.clone(),
        );
        registry.register(
            "queue_depth",
            "Messages waiting between listeners and workers",
            m.queue_depth.clone(),
        );
        registry.register(
            "outbox_depth",
            "Alerts written but not yet acknowledged, by sink",
            m.outbox_depth.clone(),
        );
        registry.register(
            "deliveries",
            "Alerts acknowledged by a sink",
            m.deliveries.clone(),
        );
        registry.register(
            "delivery_failures",
            "Failed delivery attempts, by sink",
            m.delivery_failures.clone(),
        );
        registry.register(
            "tcp_connections",
            "Open TCP and TLS syslog connections",
            m.connections.clone(),
        );
        registry.register(
            "tcp_connections_refused",
            "Connections refused at the limit",
            m.connections_refused.clone(),
        );
        registry.register(
            "connections_idle_closed",
            "TCP and TLS syslog connections closed after idle_timeout_secs without a line",
            m.connections_idle_closed.clone(),
        );
        registry.register(
            "tls_handshakes_timed_out",
            "Syslog TLS connections closed because the handshake took over tls_handshake_timeout_secs",
            m.tls_handshakes_timed_out.clone(),
        );
        registry.register(
            "api_body_too_large",
            "API requests refused because the body exceeded the limit (413)",
            m.api_body_too_large.clone(),
        );
        registry.register(
            "state_size_bytes",
            "Size of the state store on disk",
            m.state_bytes.clone(),
        );
        registry.register(
            "devices_evicted",
            "Idle device machines dropped from memory over max_devices (kept in the state store)",
            m.devices_evicted.clone(),
        );
        registry.register(
            "devices_loaded",
            "Device machines read back from the state store",
            m.devices_loaded.clone(),
        );
        registry.register(
            "devices_in_memory",
            "Device machines held in memory",
            m.devices_in_memory.clone(),
        );
        registry.register(
            "evidence_dropped",
            "Evidence lines dropped at max_evidence",
            m.evidence_dropped.clone(),
        );
        registry.register(
            "kafka_consumer_lag",
            "Kafka mode: records not yet read, per topic partition this instance consumes",
            m.kafka_lag.clone(),
        );
        registry.register(
            "kafka_partitions_owned",
            "Kafka mode: signals partitions whose devices this instance correlates",
            m.kafka_partitions_owned.clone(),
        );
        registry.register(
            "kafka_restores",
            "Kafka mode: signals partitions restored from the changelog",
            m.kafka_restores.clone(),
        );
        registry.register(
            "kafka_restored_devices",
            "Kafka mode: device machines read from the changelog",
            m.kafka_restored_devices.clone(),
        );
        registry.register(
            "kafka_restore_seconds",
            "Kafka mode: time spent restoring partitions from the changelog",
            m.kafka_restore_seconds.clone(),
        );
        registry.register(
            "kafka_last_restore_seconds",
            "Kafka mode: how long the last restore took",
            m.kafka_last_restore_seconds.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Prometheus text exposition format 0.0.4 (what `GET /metrics` says it serves).
    /// prometheus-client writes OpenMetrics, where a counter family `x` has samples `x_total`
    /// and the text ends with `# EOF`; in 0.0.4 the family is named by its samples, so the
    /// `HELP`/`TYPE` lines of counters get the suffix and `# EOF` goes.
    pub fn render(&self) -> String {
        let mut open = String::new();
        prometheus_client::encoding::text::encode(&mut open, &self.registry)
            .expect("writing to a String cannot fail");
        let counters: std::collections::HashSet<&str> = open
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
            .collect();
        let mut out = String::with_capacity(open.len() + 16 * counters.len());
        for line in open.lines() {
            if line == "# EOF" {
                continue;
            }
            let meta = ["# HELP ", "# TYPE "]
                .into_iter()
                .find_map(|p| Some((p, line.strip_prefix(p)?.split_once(' ')?)));
            match meta {
                Some((prefix, (name, rest))) if counters.contains(name) => {
                    out.push_str(&format!("{prefix}{name}_total {rest}\n"));
                }
                _ => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_text_format_0_0_4() {
        let m = Metrics::new();
        m.alerts.inc();
        let text = m.render();
        assert!(
            text.contains("# HELP imagewatch_alerts_total Alert records"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE imagewatch_alerts_total counter"),
            "{text}"
        );
        assert!(text.contains("\nimagewatch_alerts_total 1\n"), "{text}");
        assert!(
            text.contains("# TYPE imagewatch_queue_depth gauge"),
            "{text}"
        );
        assert!(!text.contains("# EOF"), "{text}");
    }
}
