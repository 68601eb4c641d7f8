//! Kafka sink: one rdkafka `ThreadedProducer` per run (bundled librdkafka).
//!
//! Producer properties from the scenario (`acks`, `compression.type`,
//! `linger.ms`, `enable.idempotence`, …) are passed through unchanged.
//! [`KafkaSink::submit`] puts a message on librdkafka's own queue and returns;
//! the broker's answer arrives as a delivery report on the producer's polling
//! thread, where [`Reports::delivery`] hands it to the message's completion —
//! no future and no task per message. The engine measures send → ack latency
//! from the scheduled instant. A full local queue is answered at once with the
//! error kind `queue_full` (saturation made visible) instead of a wait.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::config::FromClientConfigAndContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use tokio::time::Instant;

use super::kafka_auth::{AuthContext, CHECK_TIMEOUT, KafkaAuthError, MskIam};
use super::{Done, OutMessage, SendError};
use crate::scenario::model::Targets;

/// Routes delivery reports to the messages' completions; authentication
/// (errors, MSK IAM tokens) is [`AuthContext`]'s.
pub struct Reports {
    auth: AuthContext,
}

impl ClientContext for Reports {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn error(&self, error: KafkaError, reason: &str) {
        self.auth.error(error, reason);
    }

    fn generate_oauth_token(
        &self,
        config: Option<&str>,
    ) -> Result<rdkafka::client::OAuthToken, Box<dyn std::error::Error>> {
        self.auth.generate_oauth_token(config)
    }
}

impl ProducerContext for Reports {
    type DeliveryOpaque = Box<Done>;

    fn delivery(&self, result: &DeliveryResult<'_>, done: Self::DeliveryOpaque) {
        (*done).complete(match result {
            Ok(_) => Ok(0),
            Err((e, _)) => Err(error(e.clone())),
        });
    }
}

/// Why the producer could not be created: its security settings, or
/// librdkafka refusing the configuration (messages as they say them).
#[derive(Debug, thiserror::Error)]
pub enum ProducerError {
    #[error(transparent)]
    Auth(#[from] KafkaAuthError),
    #[error(transparent)]
    Kafka(#[from] KafkaError),
}

pub struct KafkaSink {
    producer: ThreadedProducer<Reports>,
    bootstrap: String,
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink")
            .field("bootstrap", &self.bootstrap)
            .finish()
    }
}

impl KafkaSink {
    /// Creates the producer. Bad properties are reported here, before the run.
    pub fn new(bootstrap: &str, properties: &[(String, String)]) -> Result<Self, KafkaError> {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", bootstrap);
        for (k, v) in properties {
            config.set(k, v);
        }
        Self::with_config(&config, bootstrap, None)
    }

    /// The producer of a scenario's Kafka target, with its TLS/SASL settings
    /// (secrets read from the environment now). Call inside the runtime.
    pub async fn for_target(t: &Targets) -> Result<Self, ProducerError> {
        let config = super::kafka_auth::client_config(t)?;
        let msk = MskIam::of(t).await?;
        Ok(Self::with_config(&config, &t.kafka_bootstrap, msk)?)
    }

    fn with_config(
        config: &ClientConfig,
        bootstrap: &str,
        msk: Option<MskIam>,
    ) -> Result<Self, KafkaError> {
        let context = Reports {
            auth: AuthContext::new(msk),
        };
        Ok(Self {
            producer: ThreadedProducer::from_config_and_context(config, context)?,
            bootstrap: bootstrap.to_string(),
        })
    }

    /// Asks the brokers for metadata before anything is sent: an
    /// authentication or TLS failure is `Err((true, reason))` — the run
    /// cannot succeed —, anything else `Err((false, error))`.
    pub async fn check(&self) -> Result<(), (bool, String)> {
        let producer = self.producer.clone();
        let result = tokio::task::spawn_blocking(move || {
            // Short requests in a loop: an authentication failure is known
            // within a second, and must not wait out the whole timeout.
            let deadline = std::time::Instant::now() + CHECK_TIMEOUT;
            loop {
                let r = producer
                    .client()
                    .fetch_metadata(None, Duration::from_secs(1));
                let auth = producer.context().auth.auth_error();
                match (r, auth) {
                    (Ok(_), _) => return Ok(()),
                    (Err(_), Some(auth)) => return Err((true, auth)),
                    (Err(e), None) if std::time::Instant::now() >= deadline => {
                        return Err((false, e.to_string()));
                    }
                    (Err(_), None) => {}
                }
            }
        })
        .await;
        result.unwrap_or_else(|e| Err((false, e.to_string())))
    }

    /// Queues `m` in librdkafka; `done` hears the delivery report.
    pub fn submit(&self, m: OutMessage, done: Done) {
        let mut headers = OwnedHeaders::new_with_capacity(m.headers.len());
        for (k, v) in &m.headers {
            headers = headers.insert(Header {
                key: k,
                value: Some(v.as_bytes()),
            });
        }
        let mut record = BaseRecord::with_opaque_to(&m.destination, Box::new(done))
            .payload(&m.payload)
            .headers(headers);
        if let Some(key) = &m.key {
            record = record.key(key.as_bytes());
        }
        if let Err((e, record)) = self.producer.send(record) {
            (*record.delivery_opaque).complete(Err(error(e)));
        }
    }

    /// Waits for queued messages to be delivered, until `deadline`.
    pub async fn flush(&self, deadline: Instant) -> Result<(), SendError> {
        let timeout = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        let producer = self.producer.clone();
        tokio::task::spawn_blocking(move || producer.flush(timeout))
            .await
            .map_err(|e| SendError {
                kind: "flush",
                message: e.to_string(),
            })?
            .map_err(error)
    }
}

/// Low-cardinality error kinds for the recorder.
fn error(e: KafkaError) -> SendError {
    let kind = match e.rdkafka_error_code() {
        Some(RDKafkaErrorCode::QueueFull) => "queue_full",
        Some(RDKafkaErrorCode::MessageTimedOut) => "timed_out",
        Some(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic) => {
            "unknown_topic"
        }
        Some(RDKafkaErrorCode::MessageSizeTooLarge) => "too_large",
        Some(RDKafkaErrorCode::BrokerTransportFailure | RDKafkaErrorCode::AllBrokersDown) => {
            "broker_down"
        }
        _ => "kafka",
    };
    SendError {
        kind,
        message: e.to_string(),
    }
}
