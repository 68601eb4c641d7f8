//! What `run --shard` adds around a run: waiting for the common start time.

use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

/// Sleeps until `at` (wall clock), or until the run is stopped. A start time
/// already past is a warning: this shard runs out of step with the others.
pub async fn wait_for_start(at: SystemTime, stop: &CancellationToken) {
    let shown = humantime::format_rfc3339_seconds(at);
    match at.duration_since(SystemTime::now()) {
        Ok(wait) => {
            crate::say!(
                "waiting {} for the start time {shown}",
                crate::scenario::units::format_duration(Duration::from_millis(
                    u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)
                ))
            );
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.cancelled() => {}
            }
        }
        Err(e) => crate::say!(
            "warning: the start time {shown} passed {} ago (setup took longer?); starting now, out of step with the other shards",
            crate::scenario::units::format_duration(Duration::from_millis(
                u64::try_from(e.duration().as_millis()).unwrap_or(u64::MAX)
            ))
        ),
    }
}
