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

use super::{Done, OutMessage, SendError};

/// Routes delivery reports to the messages' completions.
pub struct Reports;

impl ClientContext for Reports {}

impl ProducerContext for Reports {
    type DeliveryOpaque = Box<Done>;

    fn delivery(&self, result: &DeliveryResult<'_>, done: Self::DeliveryOpaque) {
        (*done).complete(match result {
            Ok(_) => Ok(0),
            Err((e, _)) => Err(error(e.clone())),
        });
    }
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
        Ok(Self {
            producer: ThreadedProducer::from_config_and_context(&config, Reports)?,
            bootstrap: bootstrap.to_string(),
        })
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
