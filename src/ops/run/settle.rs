//! Settling after the last phase: how long to wait for arrivals, and the
//! watches that end the wait when a connector on the path has failed, the
//! Connect worker stopped answering, or a counted queue is gone.

use std::time::Duration;

use crate::plan::Plan;
use crate::scenario::model::Assertion;

use super::DEFAULT_SETTLE;

/// Kafka Connect answering no status poll for this long means the messages
/// still in Kafka cannot reach their queue: settling stops waiting for them.
/// Longer than a worker's restart or a rebalance; far shorter than a settle
/// window spent waiting for arrivals that cannot come.
pub(super) const CONNECT_SILENCE: Duration = Duration::from_secs(15);

/// Polls the connectors applied in setup every 2 s until `give_up` is
/// cancelled. A FAILED connector or task records why (its trace's first
/// line) and cancels it; so does a Connect worker that has answered no poll
/// for [`CONNECT_SILENCE`] (stopped, hung or unreachable).
pub(super) async fn watch_connectors(
    connect: Option<&crate::infra::connect::ConnectClient>,
    names: &[String],
    why: &std::sync::Mutex<Option<String>>,
    give_up: &tokio_util::sync::CancellationToken,
) {
    let Some(connect) = connect.filter(|_| !names.is_empty()) else {
        return give_up.cancelled().await;
    };
    let mut silent_since: Option<(tokio::time::Instant, String)> = None;
    let stop = |reason: String| {
        *why.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason);
        give_up.cancel();
    };
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = give_up.cancelled() => return,
        }
        for name in names {
            // The client's own timeout bounds a poll; this one also covers its retries.
            let answer = tokio::time::timeout(Duration::from_secs(5), connect.status(name)).await;
            let last = match answer {
                Ok(Ok(status)) => {
                    silent_since = None;
                    if let Some(status) = status
                        && let crate::infra::connect::Progressing::Failed { what, trace } =
                            status.assess(crate::scenario::model::ConnectorState::Running)
                    {
                        let first = trace.lines().next().unwrap_or("no trace").to_string();
                        return stop(format!("connector `{name}` {what} FAILED: {first}"));
                    }
                    continue;
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => "no answer within 5 s".to_string(),
            };
            silent_since
                .get_or_insert_with(|| (tokio::time::Instant::now(), String::new()))
                .1 = last;
        }
        if let Some((since, last)) = &silent_since
            && since.elapsed() >= CONNECT_SILENCE
        {
            return stop(format!(
                "Kafka Connect has answered no status poll for {} s (last: {last})",
                since.elapsed().as_secs()
            ));
        }
    }
}

/// How long every receive from a counted queue must have answered "no such
/// queue" before it counts as gone (a queue just created can be briefly
/// unknown to a distributed SQS).
pub(super) const QUEUE_GONE_AFTER: Duration = Duration::from_secs(5);

/// Checks every second whether a counted queue is gone (deleted, or its
/// emulator restarted empty): the messages still missing from it are lost,
/// so waiting for them is pointless; records why and cancels `give_up`.
pub(super) async fn watch_queues(
    health: &crate::collect::sqs::PollStats,
    why: &std::sync::Mutex<Option<String>>,
    give_up: &tokio_util::sync::CancellationToken,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = give_up.cancelled() => return,
        }
        if let Some(queue) = health.queue_gone(QUEUE_GONE_AFTER) {
            *why.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!(
                "queue `{queue}` no longer exists (every receive for {} s: QueueDoesNotExist): \
                 what was in it is lost",
                QUEUE_GONE_AFTER.as_secs()
            ));
            give_up.cancel();
            return;
        }
    }
}

/// The longest `within` of the planned arrivals checks (the default without one).
pub(super) fn settle_window(plan: &Plan) -> Duration {
    plan.checks
        .iter()
        .filter_map(|a| match a {
            Assertion::Arrivals { within, .. } => Some(*within),
            _ => None,
        })
        .max()
        .unwrap_or(DEFAULT_SETTLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Connect worker that cannot be reached ends the wait after
    /// [`CONNECT_SILENCE`] with why; the clock is paused, so no real 15 s pass.
    #[tokio::test(start_paused = true)]
    async fn a_silent_connect_worker_ends_the_wait_with_why() {
        // Nothing listens on port 9 (discard) here: every poll is refused.
        let client =
            crate::infra::connect::ConnectClient::new("http://127.0.0.1:9", Duration::from_secs(1))
                .unwrap();
        let why = std::sync::Mutex::new(None);
        let give_up = tokio_util::sync::CancellationToken::new();
        let t0 = tokio::time::Instant::now();
        watch_connectors(Some(&client), &["sink".to_string()], &why, &give_up).await;
        assert!(give_up.is_cancelled());
        let waited = t0.elapsed();
        assert!(
            waited >= CONNECT_SILENCE && waited <= CONNECT_SILENCE + Duration::from_secs(10),
            "{waited:?}"
        );
        let why = why.into_inner().unwrap().expect("a reason");
        assert!(
            why.starts_with("Kafka Connect has answered no status poll for"),
            "{why}"
        );
    }
}
