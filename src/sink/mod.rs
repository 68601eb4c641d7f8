//! Where messages go: the `SinkHandle` enum over every destination.
//!
//! The engine builds an [`OutMessage`] per record and hands it to the sink of
//! the phase's route. A send returns `Ok` once the destination acknowledged
//! it, or a [`SendError`] whose kind the recorder counts; saturation (a full
//! producer queue) is an error kind, never a hidden wait.
//!
//! - [`memory`]: keeps every message (tests, virtual-clock runs)
//! - [`file`]: JSON lines per route, for runs without infrastructure
//! - [`kafka`]: rdkafka producer with delivery reports
//! - [`sqs`]: batched SendMessageBatch with retries and a circuit breaker
//! - `Null`: acknowledges and forgets (generator/engine overhead)
//! - `Delay`: acknowledges after a fixed delay and forgets (virtual-clock runs:
//!   a closed-model phase needs sends that take time, or it never ends)

pub mod avro_file;
pub mod file;
pub mod kafka;
pub mod memory;
pub mod sqs;

use std::sync::Arc;

use serde::Serialize;
use tokio::time::Instant;

/// Which leg of the pipeline a message takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// To a Kafka topic (then Kafka Connect delivers it to SQS).
    Kafka,
    /// Straight to an SQS queue.
    Sqs,
}

/// One message ready to send.
#[derive(Debug, Clone)]
pub struct OutMessage {
    pub route: Route,
    /// Topic (Kafka) or queue name (SQS).
    pub destination: String,
    pub phase: usize,
    pub stream: usize,
    pub seq: u64,
    pub event_id: String,
    pub key: Option<String>,
    pub headers: Vec<(String, String)>,
    pub payload: Vec<u8>,
    /// The planned instant (latency is measured from here: no coordinated omission).
    pub scheduled: Instant,
}

/// Why a send failed; `kind` is a low-cardinality label for counting.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct SendError {
    pub kind: &'static str,
    pub message: String,
}

/// Every sink the engine can drive (an enum, so sends are static dispatch).
#[derive(Debug, Clone)]
pub enum SinkHandle {
    Null,
    Delay(std::time::Duration),
    Memory(Arc<memory::MemorySink>),
    File(Arc<file::FileSink>),
    /// Avro object container files per topic (`--sink avro:DIR`).
    AvroFile(Arc<avro_file::AvroFileSink>),
    Kafka(Arc<kafka::KafkaSink>),
    Sqs(Arc<sqs::SqsSink>),
    /// A route the run has no sink for: every send fails with this reason.
    Unavailable(&'static str),
}

impl SinkHandle {
    /// Sends one message and waits for its acknowledgement. `Ok(n)`: acked
    /// after `n` retries by the sink itself (SQS batch retries; librdkafka's
    /// internal retries are not visible and count as 0).
    pub async fn send(&self, msg: OutMessage) -> Result<u32, SendError> {
        match self {
            SinkHandle::Null => Ok(0),
            SinkHandle::Delay(d) => {
                tokio::time::sleep(*d).await;
                Ok(0)
            }
            SinkHandle::Memory(m) => m.send(msg).await.map(|()| 0),
            SinkHandle::File(f) => f.send(msg).await.map(|()| 0),
            SinkHandle::AvroFile(f) => f.send(msg).await.map(|()| 0),
            SinkHandle::Kafka(k) => k.send(msg).await.map(|()| 0),
            SinkHandle::Sqs(q) => q.send(msg).await,
            SinkHandle::Unavailable(why) => Err(SendError {
                kind: "no_sink",
                message: (*why).to_string(),
            }),
        }
    }

    /// Flushes buffered sends, giving up at `deadline`.
    pub async fn flush(&self, deadline: Instant) -> Result<(), SendError> {
        match self {
            // SQS sends are awaited per message: nothing is buffered.
            SinkHandle::Null
            | SinkHandle::Delay(_)
            | SinkHandle::Memory(_)
            | SinkHandle::Sqs(_)
            | SinkHandle::Unavailable(_) => Ok(()),
            SinkHandle::File(f) => f.flush(deadline).await,
            SinkHandle::AvroFile(f) => f.flush(deadline).await,
            SinkHandle::Kafka(k) => k.flush(deadline).await,
        }
    }

    /// Short name for labels and summaries.
    pub fn name(&self) -> &'static str {
        match self {
            SinkHandle::Null => "null",
            SinkHandle::Delay(_) => "delay",
            SinkHandle::Memory(_) => "memory",
            SinkHandle::File(_) => "file",
            SinkHandle::AvroFile(_) => "avro",
            SinkHandle::Kafka(_) => "kafka",
            SinkHandle::Sqs(_) => "sqs",
            SinkHandle::Unavailable(_) => "unavailable",
        }
    }
}

/// The sinks of a run, one per route (the same handle may serve both).
#[derive(Debug, Clone)]
pub struct Sinks {
    pub kafka: SinkHandle,
    pub sqs: SinkHandle,
}

impl Sinks {
    /// The same sink for both routes (offline modes).
    pub fn both(sink: SinkHandle) -> Self {
        Self {
            kafka: sink.clone(),
            sqs: sink,
        }
    }

    pub fn for_route(&self, route: Route) -> &SinkHandle {
        match route {
            Route::Kafka => &self.kafka,
            Route::Sqs => &self.sqs,
        }
    }
}
