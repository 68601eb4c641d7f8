//! Kafka sink (rdkafka `FutureProducer`, bundled librdkafka).
//!
//! Producer properties from the scenario (`acks`, `compression.type`,
//! `linger.ms`, `enable.idempotence`, …) are passed through unchanged. A send
//! resolves when the broker acknowledges the message (delivery report), so
//! the engine measures send → ack latency from the scheduled instant. A full
//! local queue is returned as the error kind `queue_full` (saturation made
//! visible) instead of waiting for space.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use tokio::time::Instant;

use super::{OutMessage, SendError};

pub struct KafkaSink {
    producer: FutureProducer,
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
            producer: config.create()?,
            bootstrap: bootstrap.to_string(),
        })
    }

    pub async fn send(&self, m: OutMessage) -> Result<(), SendError> {
        let mut headers = OwnedHeaders::new_with_capacity(m.headers.len());
        for (k, v) in &m.headers {
            headers = headers.insert(Header {
                key: k,
                value: Some(v.as_bytes()),
            });
        }
        let mut record = FutureRecord::to(&m.destination)
            .payload(&m.payload)
            .headers(headers);
        if let Some(key) = &m.key {
            record = record.key(key.as_bytes());
        }
        match self.producer.send_result(record) {
            Err((e, _)) => Err(error(e)),
            Ok(delivery) => match delivery.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((e, _))) => Err(error(e)),
                Err(_) => Err(SendError {
                    kind: "canceled",
                    message: "the producer was dropped before the delivery report".into(),
                }),
            },
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
