//! Live progress while a run is going: on a terminal an indicatif status
//! line, otherwise a plain line every few seconds (CI logs). Both show the
//! current phase, target vs achieved rate, and acked / failed / dropped.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::steering::Steering;
use crate::scenario::units::format_number;

/// Spawns the reporter; it ends when `done` is cancelled.
pub fn spawn(steering: Arc<Steering>, done: tokio_util::sync::CancellationToken) {
    let tty = std::io::stderr().is_terminal();
    let every = if tty {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(5)
    };
    tokio::spawn(async move {
        let bar = (tty && !crate::telemetry::logs::is_json()).then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        let mut last_acked = 0u64;
        let mut last = Instant::now();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = done.cancelled() => break,
            }
            let now = Instant::now();
            // Target rates follow steering too: the status view is plan + overrides.
            let st = super::status::status(&steering);
            let t = &st.totals;
            let achieved = (t.acked - last_acked) as f64
                / now.saturating_duration_since(last).as_secs_f64().max(1e-3);
            last_acked = t.acked;
            last = now;
            let (name, target) = match &st.phase {
                Some(p) => {
                    let target: Option<f64> = st
                        .streams
                        .iter()
                        .filter(|s| s.active)
                        .map(|s| s.target_rate)
                        .sum();
                    (
                        p.name.as_str(),
                        target.map_or("max".to_string(), |r| format!("{}/s", format_number(r))),
                    )
                }
                None => ("-", "-".to_string()),
            };
            let line = format!(
                "[{:>5}s] phase {name}: target {target}, achieved {}/s · scheduled {} acked {} failed {} dropped {}{}",
                st.elapsed_s as u64,
                format_number(achieved),
                t.scheduled,
                t.acked,
                t.failed,
                t.dropped,
                if st.steered { " · steered" } else { "" }
            );
            match &bar {
                _ if crate::telemetry::logs::is_json() => tracing::info!(
                    event = "ProgressReported",
                    phase = name,
                    target_rate = %target,
                    achieved = achieved,
                    scheduled = t.scheduled,
                    acked = t.acked,
                    failed = t.failed,
                    dropped = t.dropped,
                    "progress"
                ),
                Some(b) => b.set_message(line),
                None => eprintln!("{line}"),
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
    });
}
