//! Readiness: retry a step with exponential backoff until its service
//! answers or a deadline passes. A compose stack takes a minute to come up,
//! so "connection refused" at the start of a run is expected, not fatal.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::{InfraError, Progress};

/// First pause between attempts; doubles up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(200);
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// The least time one attempt gets, however little of the budget is left.
const MIN_ATTEMPT: Duration = Duration::from_secs(1);
/// How often a "still waiting" line is printed while a service is down.
const WAIT_REPORT_EVERY: Duration = Duration::from_secs(10);

/// Result of one attempt.
#[derive(Debug)]
pub enum Attempt<T> {
    Done(T),
    /// Worth retrying: the service is not up (yet) or answered 5xx.
    Transient(String),
    /// Retrying cannot help: the service answered and said no.
    Fatal(InfraError),
}

/// What is being waited for, for progress lines and the final error.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// "Schema Registry", "Kafka Connect", "Kafka", "SQS".
    pub service: &'a str,
    pub endpoint: &'a str,
    /// The setup step, e.g. `setup[0] register_schemas`.
    pub step: &'a str,
}

/// Runs `attempt` until it is done, fails fatally, or `timeout` has passed
/// (an attempt still running then is cut off).
/// Uses tokio time, so tests can drive it with a paused clock.
pub async fn until_ready<T, F, Fut>(
    target: &Target<'_>,
    timeout: Duration,
    progress: &Progress,
    mut attempt: F,
) -> Result<T, InfraError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt<T>>,
{
    let start = Instant::now();
    let deadline = start + timeout;
    let mut backoff = FIRST_BACKOFF;
    let mut tries = 0u32;
    let mut next_report = start;
    loop {
        tries += 1;
        // An attempt gets what is left of the budget (and at least a second),
        // so a service that hangs cannot stretch the step past its timeout.
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(MIN_ATTEMPT);
        let last = match tokio::time::timeout(left, attempt()).await {
            Ok(Attempt::Done(v)) => return Ok(v),
            Ok(Attempt::Fatal(e)) => return Err(e),
            // Client errors quote the URL, credentials included: mask them.
            Ok(Attempt::Transient(msg)) => crate::telemetry::logs::redact_text(&msg),
            Err(_) => format!(
                "no answer within {}",
                crate::scenario::units::format_elapsed(left)
            ),
        };
        let now = Instant::now();
        if now + backoff > deadline {
            return Err(InfraError::Unreachable {
                service: target.service.to_string(),
                endpoint: crate::telemetry::logs::redact_url(target.endpoint),
                step: target.step.to_string(),
                waited: now - start,
                tries,
                last,
            });
        }
        if now >= next_report {
            progress.line(&format!(
                "waiting for {} at {} ({}); retrying for up to {}",
                target.service,
                crate::telemetry::logs::redact_url(target.endpoint),
                super::http::clip(&last),
                crate::scenario::units::format_elapsed(deadline - now),
            ));
            next_report = now + WAIT_REPORT_EVERY;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn target() -> Target<'static> {
        Target {
            service: "Kafka Connect",
            endpoint: "http://127.0.0.1:1",
            step: "setup[3] apply_connector",
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_with_backoff_until_the_service_answers() {
        let calls = AtomicU32::new(0);
        let t0 = Instant::now();
        let got = until_ready(
            &target(),
            Duration::from_secs(60),
            &Progress::quiet(),
            || {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < 4 {
                        Attempt::Transient("connection refused".into())
                    } else {
                        Attempt::Done(n)
                    }
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(got, 4);
        // 0.2 + 0.4 + 0.8 + 1.6 s of backoff before the fifth attempt.
        assert_eq!(t0.elapsed(), Duration::from_millis(3000));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_the_timeout_naming_service_endpoint_and_step() {
        let t0 = Instant::now();
        let err = until_ready::<(), _, _>(
            &target(),
            Duration::from_secs(10),
            &Progress::quiet(),
            || async { Attempt::Transient("connection refused".into()) },
        )
        .await
        .unwrap_err();
        assert!(
            t0.elapsed() <= Duration::from_secs(10),
            "{:?}",
            t0.elapsed()
        );
        assert!(t0.elapsed() >= Duration::from_secs(8), "{:?}", t0.elapsed());
        let text = err.to_string();
        for part in [
            "Kafka Connect",
            "http://127.0.0.1:1",
            "setup[3] apply_connector",
            "connection refused",
        ] {
            assert!(text.contains(part), "{text}");
        }
        assert!(matches!(err, InfraError::Unreachable { tries, .. } if tries >= 6));
    }

    #[tokio::test(start_paused = true)]
    async fn credentials_in_endpoints_never_reach_the_messages() {
        let progress = Progress::capture();
        let err = until_ready::<(), _, _>(
            &Target {
                service: "Schema Registry",
                endpoint: "https://svc:s3cr3t-pw@registry.example:8081",
                step: "setup[1] register_schema",
            },
            Duration::from_secs(30),
            &progress,
            || async {
                Attempt::Transient(
                    "error sending request for url (https://svc:s3cr3t-pw@registry.example:8081/subjects)"
                        .into(),
                )
            },
        )
        .await
        .unwrap_err();
        let text = format!("{err} {:?}", progress.lines());
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(text.contains("https://***@registry.example:8081"), "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn fatal_answers_are_not_retried() {
        let calls = AtomicU32::new(0);
        let err = until_ready::<(), _, _>(
            &target(),
            Duration::from_secs(60),
            &Progress::quiet(),
            || {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Attempt::Fatal(InfraError::rejected("setup[3]", "no", None)) }
            },
        )
        .await
        .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(matches!(err, InfraError::Rejected { .. }));
    }

    /// A service that accepts the request and never answers: the attempt is
    /// cut off when the budget runs out, not when the client's own (longer)
    /// timeout would end it.
    #[tokio::test(start_paused = true)]
    async fn an_attempt_that_hangs_is_cut_off_at_the_budget() {
        let t0 = Instant::now();
        let got: Result<(), _> = until_ready(
            &target(),
            Duration::from_secs(15),
            &Progress::quiet(),
            || async {
                tokio::time::sleep(Duration::from_secs(600)).await;
                Attempt::Transient("late".into())
            },
        )
        .await;
        let waited = t0.elapsed();
        assert!(waited <= Duration::from_secs(16), "{waited:?}");
        let e = got.unwrap_err().to_string();
        assert!(e.contains("no answer within 15.0s"), "{e}");
    }
}
