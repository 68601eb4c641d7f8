//! Where messages go: the `SinkHandle` enum over every destination.
//!
//! The engine builds an [`OutMessage`] per record and [`SinkHandle::submit`]s
//! it to the sink of the phase's route with a [`Done`] completion; the sink
//! answers it later, once, with `Ok` when the destination acknowledged the
//! message or a [`SendError`] whose kind the recorder counts. Saturation (a
//! full producer queue) is an error kind, never a hidden wait.
//!
//! - `memory`: keeps every message (tests, virtual-clock runs)
//! - `file`: JSON lines per route, for runs without infrastructure
//! - `kafka`: rdkafka producer with delivery reports
//! - [`sqs`]: batched SendMessageBatch with retries and a circuit breaker
//! - `Null`: acknowledges and forgets (generator/engine overhead)
//! - `Delay`: acknowledges after a fixed delay and forgets (virtual-clock runs):
//!   rate phases' messages are answered asynchronously like a real broker's,
//!   while a closed-model phase's hold their lane for the delay (a modelled
//!   service time), or the phase would send flat out on a clock that costs
//!   nothing

pub mod avro_file;
pub mod aws;
pub mod file;
pub mod kafka;
pub mod kafka_auth;
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

/// Told exactly once how a submitted message ended: `Ok(retries)` once the
/// destination acknowledged it, or the error. Sinks call it from wherever the
/// answer arrives (librdkafka's delivery-report thread, an SQS batch task, or
/// inline), so the engine never parks a task per message.
pub trait Completion: Send + Sync + 'static {
    fn complete(self: Box<Self>, outcome: Result<u32, SendError>);
}

/// A boxed [`Completion`], carried with the message through the sink.
pub type Done = Box<dyn Completion>;

/// A completion that forwards the outcome to a oneshot channel (for callers
/// that want to await one message: tests, tools).
struct Reply(tokio::sync::oneshot::Sender<Result<u32, SendError>>);

impl Completion for Reply {
    fn complete(self: Box<Self>, outcome: Result<u32, SendError>) {
        let _ = self.0.send(outcome);
    }
}

/// Every sink the engine can drive (an enum, so sends are static dispatch).
#[derive(Debug, Clone)]
pub enum SinkHandle {
    Null,
    Delay(Arc<DelaySink>),
    Memory(Arc<memory::MemorySink>),
    File(Arc<file::FileSink>),
    /// Avro object container files per topic (`--sink avro:DIR`).
    AvroFile(Arc<avro_file::AvroFileSink>),
    Kafka(Arc<kafka::KafkaSink>),
    Sqs(Arc<sqs::SqsSink>),
    /// A route the run has no sink for: every send fails with this reason.
    Unavailable(&'static str),
}

/// The virtual-clock sink: answers every message after `ack`.
#[derive(Debug)]
pub struct DelaySink {
    pub ack: std::time::Duration,
    /// Per phase index: whether a send holds its lane for `ack` (closed-model phases).
    pub hold: Vec<bool>,
    /// Modelled capacity (msgs/s): one server that takes `1 / capacity` per
    /// message and queues the rest, so latency grows without bound above it.
    pub capacity: Option<f64>,
    /// When the modelled server is next free.
    pub free_at: std::sync::Mutex<Option<tokio::time::Instant>>,
}

impl DelaySink {
    pub fn new(ack: std::time::Duration, hold: Vec<bool>, capacity: Option<f64>) -> Self {
        Self {
            ack,
            hold,
            capacity,
            free_at: std::sync::Mutex::new(None),
        }
    }

    fn holds(&self, phase: usize) -> bool {
        self.hold.get(phase).copied().unwrap_or(true)
    }

    /// When a message handed over now is acknowledged.
    fn ack_at(&self) -> tokio::time::Instant {
        let now = tokio::time::Instant::now();
        let Some(cap) = self.capacity else {
            return now + self.ack;
        };
        let mut free = self.free_at.lock().unwrap_or_else(|p| p.into_inner());
        let start = free.map_or(now, |f| f.max(now));
        let served = start + std::time::Duration::from_secs_f64(1.0 / cap);
        *free = Some(served);
        served + self.ack
    }
}

impl SinkHandle {
    /// Hands one message to the sink and returns once the sink has taken it
    /// (queued in librdkafka, in an SQS batcher, written to a file); `done`
    /// is told the outcome later, exactly once. `Ok(n)`: acked after `n`
    /// retries by the sink itself (SQS batch retries; librdkafka's internal
    /// retries are not visible and count as 0).
    ///
    /// What holds the caller: only the sink's own backpressure — a full SQS
    /// batcher queue, a file write, and the `Delay` sink's modelled service
    /// time. Kafka and SQS acknowledgements never hold it.
    pub async fn submit(&self, msg: OutMessage, done: Done) {
        match self {
            SinkHandle::Null => done.complete(Ok(0)),
            SinkHandle::Delay(d) if d.holds(msg.phase) => {
                tokio::time::sleep_until(d.ack_at()).await;
                done.complete(Ok(0));
            }
            SinkHandle::Delay(d) => {
                let at = d.ack_at();
                tokio::spawn(async move {
                    tokio::time::sleep_until(at).await;
                    done.complete(Ok(0));
                });
            }
            SinkHandle::Memory(m) => m.submit(msg, done).await,
            SinkHandle::File(f) => done.complete(f.send(msg).await.map(|()| 0)),
            SinkHandle::AvroFile(f) => done.complete(f.send(msg).await.map(|()| 0)),
            SinkHandle::Kafka(k) => k.submit(msg, done),
            SinkHandle::Sqs(q) => q.submit(msg, done).await,
            SinkHandle::Unavailable(why) => done.complete(Err(SendError {
                kind: "no_sink",
                message: (*why).to_string(),
            })),
        }
    }

    /// Sends one message and waits for its outcome ([`Self::submit`] plus a
    /// wait; for tools and tests, not the engine's hot path).
    pub async fn send(&self, msg: OutMessage) -> Result<u32, SendError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(msg, Box::new(Reply(tx))).await;
        rx.await.unwrap_or_else(|_| {
            Err(SendError {
                kind: "canceled",
                message: "the sink dropped the message without an answer".into(),
            })
        })
    }

    /// Flushes buffered sends, giving up at `deadline`.
    pub async fn flush(&self, deadline: Instant) -> Result<(), SendError> {
        match self {
            // SQS batches answer their messages themselves; the engine waits
            // for those answers before it flushes.
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
