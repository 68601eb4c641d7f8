//! In-memory sink for tests: keeps every message, can simulate a send
//! latency that holds the sender, an asynchronous acknowledgement latency (as
//! a real producer's delivery reports) and failures.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::{OutMessage, SendError};

/// A message as the memory sink saw it.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub message: OutMessage,
    /// When the send started (virtual time in paused-clock tests).
    pub at: Instant,
}

#[derive(Debug, Default)]
pub struct MemorySink {
    delivered: Mutex<Vec<Delivered>>,
    latency: Duration,
    /// Acknowledge this long after taking the message, without holding the sender.
    ack_latency: Duration,
    /// Fail every n-th send (by arrival order), for error accounting tests.
    fail_every: Option<u64>,
    attempts: Mutex<u64>,
}

impl MemorySink {
    pub fn new() -> Self {
        Self::default()
    }

    /// Each send holds its sender for `latency`, then is acknowledged (a
    /// backend that serves one request per connection at a time).
    pub fn with_latency(latency: Duration) -> Self {
        Self {
            latency,
            ..Self::default()
        }
    }

    /// Each message is acknowledged `latency` after the sink took it, while
    /// the sender goes on at once (a producer with delivery reports).
    pub fn with_ack_latency(latency: Duration) -> Self {
        Self {
            ack_latency: latency,
            ..Self::default()
        }
    }

    /// Every `n`-th send fails with kind `injected`.
    pub fn failing_every(mut self, n: u64) -> Self {
        self.fail_every = Some(n.max(1));
        self
    }

    pub async fn send(&self, message: OutMessage) -> Result<(), SendError> {
        let at = Instant::now();
        let attempt = {
            let mut a = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
            *a += 1;
            *a
        };
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        if self.fail_every.is_some_and(|n| attempt % n == 0) {
            return Err(SendError {
                kind: "injected",
                message: format!("injected failure on attempt {attempt}"),
            });
        }
        self.delivered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Delivered { message, at });
        Ok(())
    }

    /// Takes `message`: with an ack latency, the acknowledgement comes that
    /// much later from a timer task (the sender is not held meanwhile);
    /// otherwise the sender is held for the send latency.
    pub async fn submit(self: &std::sync::Arc<Self>, message: OutMessage, done: super::Done) {
        if self.ack_latency.is_zero() {
            done.complete(self.send(message).await.map(|()| 0));
            return;
        }
        let outcome = self.send(message).await.map(|()| 0);
        let latency = self.ack_latency;
        tokio::spawn(async move {
            tokio::time::sleep(latency).await;
            done.complete(outcome);
        });
    }

    /// Everything delivered so far, in delivery order.
    pub fn delivered(&self) -> Vec<Delivered> {
        self.delivered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
