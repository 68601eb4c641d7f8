//! SQS sink (aws-sdk-sqs): `SendMessageBatch` with partial-failure handling,
//! retries with exponential backoff and jitter, and a circuit breaker.
//!
//! ```text
//!  lane ─submit(msg, done)─▶ per-queue batcher task ─(≤10 entries, ≤256 KiB, ≤5 ms linger)─▶
//!     ≤ N batch tasks: SendMessageBatch ─▶ successful ids ─▶ done(Ok) per entry
//!                                        └▶ failed entries ─▶ retry (backoff+jitter) or done(Err)
//! ```
//! A lane is held only until the batcher queue takes the message; the batch
//! tasks (N = [`DEFAULT_BATCH_CONCURRENCY`] or `targets.sqs.batch_concurrency`
//! per queue) answer every message exactly once (ack or error). The engine's
//! latency clock runs from the scheduled instant until its own entry is
//! confirmed.
//! FIFO queues (`.fifo`) get `MessageGroupId` = key and
//! `MessageDeduplicationId` = event id. Headers become String message
//! attributes (SQS allows 10; the envelope ones come first).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    BatchResultErrorEntry, MessageAttributeValue, SendMessageBatchRequestEntry,
};
use tokio::sync::{Mutex, Semaphore, mpsc};
use tokio::time::Instant;

use super::{Done, OutMessage, SendError};

const MAX_ENTRIES: usize = 10;
const MAX_BATCH_BYTES: usize = 256 * 1024;
const LINGER: Duration = Duration::from_millis(5);
const MAX_ATTEMPTS: u32 = 5;
/// Concurrent `SendMessageBatch` calls per queue unless the scenario says.
pub const DEFAULT_BATCH_CONCURRENCY: usize = 16;
/// Consecutive failed batches that open the circuit, and how long it stays open.
const BREAKER_THRESHOLD: u32 = 5;
const BREAKER_OPEN: Duration = Duration::from_secs(5);

struct Pending {
    msg: OutMessage,
    /// Told `Ok(retries)` once acknowledged, or the error.
    done: Done,
}

pub use super::aws::{AwsError, SqsSettings, client};

pub struct SqsSink {
    client: Client,
    queues: Mutex<HashMap<String, mpsc::Sender<Pending>>>,
    breaker: Arc<Breaker>,
    batch_concurrency: usize,
}

impl std::fmt::Debug for SqsSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqsSink").finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Breaker {
    state: std::sync::Mutex<(u32, Option<Instant>)>,
}

impl Breaker {
    fn open_until(&self) -> Option<Instant> {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.1.filter(|t| *t > Instant::now())
    }
    fn record(&self, ok: bool) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if ok {
            *s = (0, None);
        } else {
            s.0 += 1;
            if s.0 >= BREAKER_THRESHOLD {
                s.1 = Some(Instant::now() + BREAKER_OPEN);
                s.0 = 0;
            }
        }
    }
}

impl SqsSink {
    /// Builds the sink on a client from [`client`].
    pub async fn new(settings: &SqsSettings) -> Result<Self, AwsError> {
        Ok(Self {
            client: client(settings).await?,
            queues: Mutex::new(HashMap::new()),
            breaker: Arc::new(Breaker::default()),
            batch_concurrency: DEFAULT_BATCH_CONCURRENCY,
        })
    }

    /// At most `n` (≥ 1) `SendMessageBatch` calls in flight per queue.
    pub fn with_batch_concurrency(mut self, n: usize) -> Self {
        self.batch_concurrency = n.max(1);
        self
    }

    /// Queues `msg` in its queue's batcher (waiting only while that queue is
    /// full); `done` hears the outcome from the batch task.
    pub async fn submit(&self, msg: OutMessage, done: Done) {
        if self.breaker.open_until().is_some() {
            let message = format!(
                "too many consecutive failures sending to {}; pausing sends",
                msg.destination
            );
            done.complete(Err(SendError {
                kind: "circuit_open",
                message,
            }));
            return;
        }
        let tx = match self.batcher(&msg.destination).await {
            Ok(tx) => tx,
            Err(e) => return done.complete(Err(e)),
        };
        if let Err(mpsc::error::SendError(p)) = tx.send(Pending { msg, done }).await {
            p.done.complete(Err(SendError {
                kind: "closed",
                message: "the SQS batcher stopped".into(),
            }));
        }
    }

    async fn batcher(&self, queue: &str) -> Result<mpsc::Sender<Pending>, SendError> {
        let mut queues = self.queues.lock().await;
        if let Some(tx) = queues.get(queue) {
            return Ok(tx.clone());
        }
        let url = self
            .client
            .get_queue_url()
            .queue_name(queue)
            .send()
            .await
            .map_err(|e| SendError {
                kind: "queue_url",
                message: format!(
                    "cannot resolve queue `{queue}`: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(&e)
                ),
            })?
            .queue_url
            .unwrap_or_default();
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(run_batcher(
            self.client.clone(),
            url,
            queue.ends_with(".fifo"),
            rx,
            self.breaker.clone(),
            self.batch_concurrency,
        ));
        queues.insert(queue.to_string(), tx.clone());
        Ok(tx)
    }
}

async fn run_batcher(
    client: Client,
    url: String,
    fifo: bool,
    mut rx: mpsc::Receiver<Pending>,
    breaker: Arc<Breaker>,
    concurrency: usize,
) {
    let in_flight = Arc::new(Semaphore::new(concurrency));
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let mut bytes = batch[0].msg.payload.len();
        let deadline = Instant::now() + LINGER;
        while batch.len() < MAX_ENTRIES {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(p)) => {
                    if bytes + p.msg.payload.len() > MAX_BATCH_BYTES {
                        // Does not fit: send what we have, start the next batch with it.
                        let full = std::mem::replace(&mut batch, vec![p]);
                        bytes = batch[0].msg.payload.len();
                        spawn_batch(&client, &url, fifo, full, &in_flight, &breaker).await;
                        continue;
                    }
                    bytes += p.msg.payload.len();
                    batch.push(p);
                }
                _ => break,
            }
        }
        spawn_batch(&client, &url, fifo, batch, &in_flight, &breaker).await;
    }
}

async fn spawn_batch(
    client: &Client,
    url: &str,
    fifo: bool,
    batch: Vec<Pending>,
    sem: &Arc<Semaphore>,
    breaker: &Arc<Breaker>,
) {
    let Ok(permit) = sem.clone().acquire_owned().await else {
        return;
    };
    let (client, url, breaker) = (client.clone(), url.to_string(), breaker.clone());
    tokio::spawn(async move {
        send_with_retries(&client, &url, fifo, batch, &breaker).await;
        drop(permit);
    });
}

async fn send_with_retries(
    client: &Client,
    url: &str,
    fifo: bool,
    batch: Vec<Pending>,
    breaker: &Breaker,
) {
    let mut batch = buildable(batch, fifo);
    let mut attempt = 0;
    loop {
        if batch.is_empty() {
            return;
        }
        attempt += 1;
        let entries: Vec<SendMessageBatchRequestEntry> = batch
            .iter()
            .enumerate()
            .filter_map(|(i, p)| entry(i, &p.msg, fifo))
            .collect();
        let result = client
            .send_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await;
        let (retry, last_error) = match result {
            Ok(out) => {
                breaker.record(true);
                answer(&out.failed, batch, attempt)
            }
            Err(e) => {
                breaker.record(false);
                let why = aws_sdk_sqs::error::DisplayErrorContext(&e).to_string();
                (batch, Some(why))
            }
        };
        if retry.is_empty() {
            return;
        }
        if attempt >= MAX_ATTEMPTS {
            let why = last_error.unwrap_or_default();
            for p in retry {
                p.done.complete(Err(SendError {
                    kind: "sqs",
                    message: format!("after {MAX_ATTEMPTS} attempts: {why}"),
                }));
            }
            return;
        }
        tokio::time::sleep(backoff(attempt)).await;
        batch = retry;
    }
}

/// The messages that can be built into batch entries; the others are
/// answered at once, never sent as "ok".
fn buildable(batch: Vec<Pending>, fifo: bool) -> Vec<Pending> {
    batch
        .into_iter()
        .filter_map(|p| match entry(0, &p.msg, fifo) {
            Some(_) => Some(p),
            None => {
                p.done.complete(Err(SendError {
                    kind: "invalid_message",
                    message: "the message cannot be expressed as an SQS batch entry".into(),
                }));
                None
            }
        })
        .collect()
}

/// Answers the entries of a batch SQS took (`failed`: its failed entries,
/// by index): sent ones and the sender's faults now; returns the others to
/// retry, with the last reason.
fn answer(
    failed: &[BatchResultErrorEntry],
    batch: Vec<Pending>,
    attempt: u32,
) -> (Vec<Pending>, Option<String>) {
    let failed: HashMap<String, (bool, String)> = failed
        .iter()
        .map(|f| {
            (
                f.id.clone(),
                (
                    f.sender_fault,
                    format!("{}: {}", f.code, f.message.clone().unwrap_or_default()),
                ),
            )
        })
        .collect();
    let mut retry = Vec::new();
    let mut last = None;
    for (i, p) in batch.into_iter().enumerate() {
        match failed.get(&i.to_string()) {
            None => {
                p.done.complete(Ok(attempt - 1));
            }
            // The sender's fault (bad message): retrying cannot help.
            Some((true, why)) => {
                p.done.complete(Err(SendError {
                    kind: "rejected",
                    message: why.clone(),
                }));
            }
            Some((false, why)) => {
                last = Some(why.clone());
                retry.push(p);
            }
        }
    }
    (retry, last)
}

/// The pause before attempt `attempt + 1`: exponential backoff with full
/// jitter (jitter from the clock: no RNG state needed).
fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(50 * (1 << (attempt - 1)));
    let nanos = u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos(),
    );
    let jitter = Duration::from_nanos(nanos % base.as_nanos().max(1) as u64);
    base / 2 + jitter / 2
}

fn entry(i: usize, m: &OutMessage, fifo: bool) -> Option<SendMessageBatchRequestEntry> {
    let body = String::from_utf8_lossy(&m.payload).into_owned();
    let mut attrs = HashMap::new();
    for (k, v) in m.headers.iter().take(10) {
        // SQS attribute names allow [A-Za-z0-9_.-]; `content-type` is fine.
        if let Ok(value) = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(v)
            .build()
        {
            attrs.insert(k.clone(), value);
        }
    }
    let mut b = SendMessageBatchRequestEntry::builder()
        .id(i.to_string())
        .message_body(body)
        .set_message_attributes(Some(attrs));
    if fifo {
        b = b
            .message_group_id(m.key.clone().unwrap_or_else(|| "mbscenario".into()))
            .message_deduplication_id(m.event_id.clone());
    }
    b.build().ok()
}
