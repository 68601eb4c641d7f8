//! SQS pollers: long-poll `ReceiveMessage` (10 per call), record each
//! message's event id and when it reached the queue (`SentTimestamp`), then
//! `DeleteMessageBatch` what was read so it is counted once. Several pollers
//! per queue, because one receive/delete round trip caps a single poller
//! well below a busy queue's rate. End-to-end latency ends at the queue's
//! `SentTimestamp`, not at our receive: a backlog the pollers work through
//! (an emulator serves far fewer receives than sends) is not the pipeline's.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use tokio_util::sync::CancellationToken;

use super::arrivals::{Arrivals, Copy, event_id_of, sent_at_of};

/// Long-poll wait per receive: short enough that stopping is prompt.
const WAIT_SECONDS: i32 = 1;
/// Visibility timeout of received messages: a receive whose answer is lost
/// in transit (the SDK then retries) leaves its messages invisible for this
/// long; short, so they come back well within the settle window (their
/// first recorded receipt). A message whose delete failed also comes back;
/// its id is remembered, so that receipt is not a duplicate.
const VISIBILITY_SECONDS: i32 = 5;
/// Back-off after a failed receive, so a dead endpoint is not hammered.
const ERROR_PAUSE: Duration = Duration::from_millis(500);

/// Counters of the pollers' own health, for the report.
#[derive(Debug, Default)]
pub struct PollStats {
    pub receive_errors: std::sync::atomic::AtomicU64,
    pub delete_errors: std::sync::atomic::AtomicU64,
    pub last_error: std::sync::Mutex<Option<String>>,
    /// Queues whose receives answer "no such queue", since when (cleared by
    /// the next successful receive).
    gone: std::sync::Mutex<std::collections::BTreeMap<String, tokio::time::Instant>>,
}

impl PollStats {
    fn error(&self, counter: &std::sync::atomic::AtomicU64, e: String) {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
    }

    fn gone(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<String, tokio::time::Instant>> {
        self.gone.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A queue whose receives have answered "no such queue" for at least
    /// `for_at_least` (a queue deleted, or an emulator restarted empty).
    pub fn queue_gone(&self, for_at_least: Duration) -> Option<String> {
        self.gone()
            .iter()
            .find(|(_, since)| since.elapsed() >= for_at_least)
            .map(|(q, _)| q.clone())
    }
}

/// An SQS error in one line: a service error as `code: message` (its
/// debug form quotes the whole HTTP response), anything else with its
/// causes.
fn error_text<E, R>(e: &aws_sdk_sqs::error::SdkError<E, R>) -> String
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e.as_service_error() {
        Some(se) if se.code().is_some() => format!(
            "{}: {}",
            se.code().unwrap_or_default(),
            se.message().unwrap_or("(no message)")
        ),
        _ => aws_sdk_sqs::error::DisplayErrorContext(e).to_string(),
    }
}

/// Runs one poller until `stop` is cancelled.
pub async fn poll(
    client: Client,
    queue: String,
    url: String,
    arrivals: Arc<Arrivals>,
    stats: Arc<PollStats>,
    stop: CancellationToken,
) {
    while !stop.is_cancelled() {
        let Some(messages) = receive(&client, &queue, &url, &stats, &stop).await else {
            return;
        };
        if messages.is_empty() {
            continue;
        }
        let entries = record(&queue, &messages, &arrivals);
        delete(&client, &url, entries, &messages, &arrivals, &stats).await;
    }
}

/// One long-poll receive: the messages (none after a failed receive, once
/// the back-off has passed), or `None` when `stop` was cancelled meanwhile.
async fn receive(
    client: &Client,
    queue: &str,
    url: &str,
    stats: &PollStats,
    stop: &CancellationToken,
) -> Option<Vec<Message>> {
    let req = client
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .wait_time_seconds(WAIT_SECONDS)
        .visibility_timeout(VISIBILITY_SECONDS)
        .message_attribute_names("All")
        .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
        .send();
    let resp = tokio::select! {
        r = req => r,
        _ = stop.cancelled() => return None,
    };
    match resp {
        Ok(r) => {
            stats.gone().remove(queue);
            Some(r.messages.unwrap_or_default())
        }
        Err(e) => {
            if e.as_service_error()
                .is_some_and(|se| se.is_queue_does_not_exist())
            {
                stats
                    .gone()
                    .entry(queue.to_string())
                    .or_insert_with(tokio::time::Instant::now);
            }
            stats.error(&stats.receive_errors, error_text(&e));
            tokio::select! {
                _ = tokio::time::sleep(ERROR_PAUSE) => {}
                _ = stop.cancelled() => return None,
            }
            Some(Vec::new())
        }
    }
}

/// Records each received message as an arrival at `queue`; returns the
/// delete entries of those with a receipt handle (ids: their index).
fn record(
    queue: &str,
    messages: &[Message],
    arrivals: &Arrivals,
) -> Vec<DeleteMessageBatchRequestEntry> {
    let now = now_us();
    let mut entries = Vec::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        let attr = |name: &str| {
            m.message_attributes
                .as_ref()
                .and_then(|a| a.get(name))
                .and_then(|v| v.string_value.as_deref())
        };
        let body = m.body.as_deref().unwrap_or_default();
        arrivals.record(Copy {
            queue,
            event_id: event_id_of(attr("event_id"), body),
            message_id: m.message_id.as_deref(),
            sent_at_us: sent_at_of(attr("sent_at"), body),
            body,
            arrived_us: arrived_us(m).unwrap_or(now),
            received_us: now,
        });
        if let Some(handle) = &m.receipt_handle
            && let Ok(entry) = DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(handle)
                .build()
        {
            entries.push(entry);
        }
    }
    entries
}

/// Deletes what was read, so it is counted once.
async fn delete(
    client: &Client,
    url: &str,
    entries: Vec<DeleteMessageBatchRequestEntry>,
    messages: &[Message],
    arrivals: &Arrivals,
    stats: &PollStats,
) {
    let deleted = client
        .delete_message_batch()
        .queue_url(url)
        .set_entries(Some(entries))
        .send()
        .await;
    // A message whose delete failed comes back: remember it, so its
    // next receipt is not taken for a second copy.
    let not_deleted = |i: usize| {
        if let Some(id) = messages.get(i).and_then(|m| m.message_id.as_deref()) {
            arrivals.not_deleted(id);
        }
    };
    match deleted {
        Ok(r) if !r.failed.is_empty() => {
            for f in &r.failed {
                match f.id.parse::<usize>() {
                    Ok(i) => not_deleted(i),
                    Err(_) => (0..messages.len()).for_each(not_deleted),
                }
            }
            stats.error(
                &stats.delete_errors,
                format!(
                    "{} message(s) not deleted: {}",
                    r.failed.len(),
                    r.failed[0].code
                ),
            )
        }
        Ok(_) => {}
        Err(e) => {
            (0..messages.len()).for_each(not_deleted);
            stats.error(&stats.delete_errors, error_text(&e))
        }
    }
}

/// When the message reached the queue: SQS's `SentTimestamp` (ms since the
/// epoch, the queue's clock), in µs.
fn arrived_us(m: &aws_sdk_sqs::types::Message) -> Option<i64> {
    m.attributes
        .as_ref()?
        .get(&MessageSystemAttributeName::SentTimestamp)?
        .parse::<i64>()
        .ok()?
        .checked_mul(1_000)
}

pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
