//! The `[kafka]` table of the service's configuration and its command-line flags. Plain data,
//! compiled with or without the `kafka` feature, so that a config file is read the same way by
//! every build (one without the feature says so when the table is used).

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

/// Where a consumer group with no committed offset starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Start {
    /// The oldest record still on the topic (a new deployment reads the backlog).
    #[default]
    Earliest,
    /// Only records produced from now on.
    Latest,
}

impl Start {
    pub fn as_str(self) -> &'static str {
        match self {
            Start::Earliest => "earliest",
            Start::Latest => "latest",
        }
    }
}

/// Kafka mode of `serve`: input topics, the internal topics and the client settings.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaSettings {
    /// Bootstrap servers, `host:port[,host:port…]`; required.
    pub brokers: String,
    /// Consumer group of the input topics; the signals topic is read by `<group>.signals`.
    /// Default `imagewatch`.
    pub group: String,
    /// Topics of raw syslog lines or ECS JSON (detected per record); may be empty (then only
    /// the signals of other instances, and of nobody else, are correlated here).
    pub input_topics: Vec<String>,
    /// Signals keyed by device; default `imagewatch.signals`.
    pub signals_topic: String,
    /// Every machine change keyed by device (compacted); default `imagewatch.changelog`.
    pub changelog_topic: String,
    /// Alert records keyed by alert id; default `imagewatch.alerts`.
    pub alerts_topic: String,
    /// Where a group with no committed offset starts; default `earliest`.
    pub start: Start,
    /// Partitions of the signals and changelog topics when this instance creates them
    /// (they must be equal: a signals partition restores from the changelog partition of the
    /// same number); default 4, 1 to 1024.
    pub partitions: i32,
    /// librdkafka settings passed through to every client (TLS, SASL, timeouts), e.g.
    /// `"security.protocol" = "SASL_SSL"`. Values are never logged.
    pub settings: BTreeMap<String, String>,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        KafkaSettings {
            brokers: String::new(),
            group: "imagewatch".into(),
            input_topics: Vec::new(),
            signals_topic: "imagewatch.signals".into(),
            changelog_topic: "imagewatch.changelog".into(),
            alerts_topic: "imagewatch.alerts".into(),
            start: Start::Earliest,
            partitions: 4,
            settings: BTreeMap::new(),
        }
    }
}

/// The pass-through settings may hold a SASL password or a key: only their names are shown.
impl fmt::Debug for KafkaSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaSettings")
            .field("brokers", &self.brokers)
            .field("group", &self.group)
            .field("input_topics", &self.input_topics)
            .field("signals_topic", &self.signals_topic)
            .field("changelog_topic", &self.changelog_topic)
            .field("alerts_topic", &self.alerts_topic)
            .field("start", &self.start)
            .field("partitions", &self.partitions)
            .field("settings", &self.settings.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl KafkaSettings {
    /// What is wrong with the table, if anything (the caller adds the place).
    pub fn problem(&self) -> Option<String> {
        if self.brokers.trim().is_empty() {
            return Some("kafka needs brokers (host:port, comma-separated)".into());
        }
        if !(1..=1024).contains(&self.partitions) {
            return Some(format!(
                "kafka.partitions must be 1 to 1024, not {}",
                self.partitions
            ));
        }
        let internal = [
            &self.signals_topic,
            &self.changelog_topic,
            &self.alerts_topic,
        ];
        if internal.iter().any(|t| t.trim().is_empty()) || self.group.trim().is_empty() {
            return Some("kafka topic and group names cannot be empty".into());
        }
        if let Some(t) = self.input_topics.iter().find(|t| internal.contains(t)) {
            return Some(format!(
                "kafka input topic {t} is one of the internal topics"
            ));
        }
        None
    }
}

/// `--kafka-*` flags: given, they turn Kafka mode on (or override the `[kafka]` table).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct KafkaFlags {
    /// Kafka bootstrap servers (`host:port,…`): turns Kafka mode on.
    #[arg(long)]
    pub kafka_brokers: Option<String>,
    /// Kafka consumer group; default `imagewatch`.
    #[arg(long)]
    pub kafka_group: Option<String>,
    /// An input topic (raw syslog or ECS JSON records); repeatable.
    #[arg(long = "kafka-input", value_name = "TOPIC")]
    pub kafka_input: Vec<String>,
    /// Topic the alert records go to; default `imagewatch.alerts`.
    #[arg(long)]
    pub kafka_alerts_topic: Option<String>,
}

impl KafkaFlags {
    pub fn given(&self) -> bool {
        self.kafka_brokers.is_some()
            || self.kafka_group.is_some()
            || !self.kafka_input.is_empty()
            || self.kafka_alerts_topic.is_some()
    }

    /// Lays the flags over the table (or over the defaults when there is none).
    pub fn apply(&self, table: Option<KafkaSettings>) -> Option<KafkaSettings> {
        if !self.given() {
            return table;
        }
        let mut k = table.unwrap_or_default();
        if let Some(b) = &self.kafka_brokers {
            k.brokers = b.clone();
        }
        if let Some(g) = &self.kafka_group {
            k.group = g.clone();
        }
        if !self.kafka_input.is_empty() {
            k.input_topics = self.kafka_input.clone();
        }
        if let Some(t) = &self.kafka_alerts_topic {
            k.alerts_topic = t.clone();
        }
        Some(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_turn_it_on_and_win_over_the_table() {
        assert_eq!(KafkaFlags::default().apply(None), None);
        let table: KafkaSettings = toml::from_str(
            "brokers = \"b1:9092\"\ninput_topics = [\"syslog\"]\nstart = \"latest\"\n[settings]\n\"sasl.password\" = \"hunter2\"\n",
        )
        .unwrap();
        assert_eq!(table.start, Start::Latest);
        assert_eq!(table.signals_topic, "imagewatch.signals");
        assert!(!format!("{table:?}").contains("hunter2"));
        let flags = KafkaFlags {
            kafka_brokers: Some("127.0.0.1:1".into()),
            kafka_input: vec!["a".into(), "b".into()],
            ..Default::default()
        };
        let k = flags.apply(Some(table)).unwrap();
        assert_eq!(k.brokers, "127.0.0.1:1");
        assert_eq!(k.input_topics, ["a", "b"]);
        assert_eq!(k.group, "imagewatch");
        assert_eq!(k.problem(), None);
        let bad = KafkaSettings {
            input_topics: vec!["imagewatch.signals".into()],
            ..k
        };
        assert!(bad.problem().unwrap().contains("internal"));
        assert!(
            KafkaSettings::default()
                .problem()
                .unwrap()
                .contains("brokers")
        );
    }
}
