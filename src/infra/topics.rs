//! Kafka topics through the admin API (rdkafka `AdminClient`): create with
//! partitions, replication factor and configs; check existing topics against
//! the scenario instead of silently accepting them; delete for teardown.

use std::sync::Arc;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::util::Timeout;

use crate::scenario::model::{Targets, Topic};
use crate::sink::kafka_auth::{AuthContext, KafkaAuthError, MskIam};

/// Per-request timeout; readiness retries around it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Topics {
    admin: Arc<AdminClient<AuthContext>>,
    bootstrap: String,
}

/// Why an admin call failed. Messages are librdkafka's own, or say what the
/// broker's answer lacked; [`TopicsError::is_transient`] tells "no broker
/// answered" (retry) from a refusal.
#[derive(Debug, thiserror::Error)]
pub enum TopicsError {
    /// The target's security settings could not be resolved.
    #[error(transparent)]
    Auth(#[from] KafkaAuthError),
    #[error("cannot create the Kafka admin client: {0}")]
    Client(KafkaError),
    /// A request failed as a whole (no broker, timeout, refused).
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    /// The blocking metadata request did not finish.
    #[error(transparent)]
    Task(#[from] tokio::task::JoinError),
    /// The broker refused to create the topic.
    #[error("{code}: {}", code_help(*.code))]
    Create { code: RDKafkaErrorCode },
    /// The broker could not describe the topic's configs.
    #[error("{0}")]
    Describe(RDKafkaErrorCode),
    #[error("cannot delete topic `{name}`: {code}")]
    Delete {
        name: String,
        code: RDKafkaErrorCode,
    },
    #[error("the broker answered without a result for the topic")]
    NoCreateResult,
    #[error("no answer for the topic")]
    NoDescribeResult,
    #[error("the broker says it exists but returns no metadata")]
    NoMetadata,
}

impl TopicsError {
    /// Whether the error means "no broker answered" (retry) rather than a refusal.
    pub fn is_transient(&self) -> bool {
        is_transient(&self.to_string())
    }
}

/// What ensuring one topic found.
#[derive(Debug, Clone, PartialEq)]
pub enum TopicOutcome {
    Created,
    /// Existed and matches; `note` says what could not be compared, if anything.
    Existed {
        note: Option<String>,
    },
    /// Existed and differs from the scenario in these ways.
    Mismatch(Vec<String>),
}

impl Topics {
    /// An admin client with the scenario's client properties (security settings
    /// apply to admin requests too).
    pub fn new(bootstrap: &str, properties: &[(String, String)]) -> Result<Self, TopicsError> {
        let mut cfg = ClientConfig::new();
        for (k, v) in properties {
            cfg.set(k, v);
        }
        cfg.set("bootstrap.servers", bootstrap);
        Self::with_config(cfg, bootstrap, AuthContext::default())
    }

    /// The admin client of a scenario's Kafka target, TLS/SASL included.
    pub async fn for_target(t: &Targets) -> Result<Self, TopicsError> {
        let cfg = crate::sink::kafka_auth::client_config(t)?;
        let context = AuthContext::new(MskIam::of(t).await?);
        Self::with_config(cfg, &t.kafka_bootstrap, context)
    }

    fn with_config(
        mut cfg: ClientConfig,
        bootstrap: &str,
        context: AuthContext,
    ) -> Result<Self, TopicsError> {
        cfg.set("socket.timeout.ms", "5000");
        // A metadata request for one topic must not create it (brokers with
        // auto-create would, for producer-type clients such as this one).
        cfg.set("allow.auto.create.topics", "false");
        let admin: AdminClient<AuthContext> = cfg
            .create_with_context(context)
            .map_err(TopicsError::Client)?;
        Ok(Self {
            admin: Arc::new(admin),
            bootstrap: bootstrap.to_string(),
        })
    }

    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// Broker count from a metadata request; fails while no broker answers.
    pub async fn ping(&self) -> Result<usize, TopicsError> {
        let admin = self.admin.clone();
        let brokers = tokio::task::spawn_blocking(move || {
            admin
                .inner()
                .fetch_metadata(None, Timeout::After(REQUEST_TIMEOUT))
                .map(|m| m.brokers().len())
        })
        .await??;
        Ok(brokers)
    }

    /// Partition count of `topic`, `None` when it does not exist.
    pub async fn partitions(&self, topic: &str) -> Result<Option<usize>, TopicsError> {
        let admin = self.admin.clone();
        let name = topic.to_string();
        tokio::task::spawn_blocking(move || {
            let md = admin
                .inner()
                .fetch_metadata(Some(&name), Timeout::After(REQUEST_TIMEOUT))?;
            Ok(md
                .topics()
                .iter()
                .find(|t| t.name() == name)
                .filter(|t| t.error().is_none() && !t.partitions().is_empty())
                .map(|t| t.partitions().len()))
        })
        .await?
    }

    /// Creates `topic` or checks the existing one.
    pub async fn ensure(&self, topic: &Topic) -> Result<TopicOutcome, TopicsError> {
        let mut new = NewTopic::new(
            &topic.name,
            topic.partitions as i32,
            TopicReplication::Fixed(i32::from(topic.replication_factor)),
        );
        for (k, v) in &topic.config {
            new = new.set(k, v);
        }
        let results = self.admin.create_topics([&new], &options()).await?;
        match results.into_iter().next() {
            Some(Ok(_)) => Ok(TopicOutcome::Created),
            Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => self.compare(topic).await,
            Some(Err((_, code))) => Err(TopicsError::Create { code }),
            None => Err(TopicsError::NoCreateResult),
        }
    }

    /// Compares an existing topic with the scenario: partitions, then configs.
    async fn compare(&self, topic: &Topic) -> Result<TopicOutcome, TopicsError> {
        let mut diffs = Vec::new();
        match self.partitions(&topic.name).await? {
            Some(n) if n < topic.partitions as usize => diffs.push(format!(
                "it has {n} partition(s), the scenario asks for {}",
                topic.partitions
            )),
            Some(_) => {}
            None => return Err(TopicsError::NoMetadata),
        }
        let mut note = None;
        if !topic.config.is_empty() {
            match self.configs(&topic.name).await {
                Ok(actual) => {
                    for (k, want) in &topic.config {
                        match actual.iter().find(|(n, _)| n == k) {
                            Some((_, Some(v))) if v == want => {}
                            Some((_, v)) => diffs.push(format!(
                                "config `{k}` is {}, the scenario asks for {want}",
                                v.as_deref().unwrap_or("unset")
                            )),
                            None => diffs.push(format!(
                                "config `{k}` is not reported by the broker, the scenario asks for {want}"
                            )),
                        }
                    }
                }
                // Some Kafka-compatible brokers do not implement DescribeConfigs:
                // say so instead of pretending the configs matched.
                Err(e) => note = Some(format!("configs not verified: {e}")),
            }
        }
        Ok(if diffs.is_empty() {
            TopicOutcome::Existed { note }
        } else {
            TopicOutcome::Mismatch(diffs)
        })
    }

    async fn configs(&self, topic: &str) -> Result<Vec<(String, Option<String>)>, TopicsError> {
        let res = self
            .admin
            .describe_configs([&ResourceSpecifier::Topic(topic)], &options())
            .await?;
        match res.into_iter().next() {
            Some(Ok(r)) => Ok(r.entries.into_iter().map(|e| (e.name, e.value)).collect()),
            Some(Err(code)) => Err(TopicsError::Describe(code)),
            None => Err(TopicsError::NoDescribeResult),
        }
    }

    /// Deletes topics; returns, per topic, whether it existed.
    pub async fn delete(&self, topics: &[String]) -> Result<Vec<(String, bool)>, TopicsError> {
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        let results = self.admin.delete_topics(&names, &options()).await?;
        results
            .into_iter()
            .map(|r| match r {
                Ok(name) => Ok((name, true)),
                Err((name, RDKafkaErrorCode::UnknownTopicOrPartition)) => Ok((name, false)),
                Err((name, code)) => Err(TopicsError::Delete { name, code }),
            })
            .collect()
    }
}

fn options() -> AdminOptions {
    AdminOptions::new()
        .operation_timeout(Some(Timeout::After(REQUEST_TIMEOUT)))
        .request_timeout(Some(Timeout::After(REQUEST_TIMEOUT)))
}

fn code_help(code: RDKafkaErrorCode) -> &'static str {
    match code {
        RDKafkaErrorCode::InvalidReplicationFactor => {
            "the replication factor is larger than the number of brokers; lower `replication_factor`"
        }
        RDKafkaErrorCode::InvalidPartitions => "`partitions` must be at least 1",
        RDKafkaErrorCode::InvalidConfig => {
            "a topic `config` key or value is not valid for this broker"
        }
        RDKafkaErrorCode::TopicAuthorizationFailed
        | RDKafkaErrorCode::ClusterAuthorizationFailed => {
            "the client may not create topics; check the credentials in targets.kafka.producer"
        }
        _ => "see the broker's log",
    }
}

/// Whether an admin error's message means "no broker answered" (retry)
/// rather than a refusal.
fn is_transient(e: &str) -> bool {
    [
        "BrokerTransportFailure",
        "AllBrokersDown",
        "OperationTimedOut",
        "Timed out",
        "TimedOut",
        "Transport",
        "Connection refused",
        "Local: Broker transport failure",
    ]
    .iter()
    .any(|s| e.contains(s))
}
