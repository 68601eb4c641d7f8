//! Live progress while a run is going: on a terminal an indicatif status
//! line, otherwise a plain line every few seconds (CI logs). Both show the
//! current phase, target vs achieved rate, and acked / failed / dropped.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::worker::Shared;
use crate::plan::Plan;
use crate::scenario::units::format_number;

/// Spawns the reporter; it ends when `done` is cancelled.
pub fn spawn(plan: Arc<Plan>, shared: Arc<Shared>, done: tokio_util::sync::CancellationToken) {
    let tty = std::io::stderr().is_terminal();
    let every = if tty {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(5)
    };
    tokio::spawn(async move {
        let bar = tty.then(|| {
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
            let elapsed = now.saturating_duration_since(shared.start);
            let (scheduled, acked, failed, dropped) = shared.record(|r| {
                r.cells().values().fold((0, 0, 0, 0), |a, c| {
                    (
                        a.0 + c.scheduled,
                        a.1 + c.acked,
                        a.2 + c.failed_total(),
                        a.3 + c.dropped,
                    )
                })
            });
            let achieved = (acked - last_acked) as f64
                / now.saturating_duration_since(last).as_secs_f64().max(1e-3);
            last_acked = acked;
            last = now;
            let phase = plan.phases.iter().rev().find(|p| p.offset <= elapsed);
            let (name, target) = match phase {
                Some(p) => {
                    let t = elapsed.saturating_sub(p.offset);
                    let target: Option<f64> = p
                        .streams
                        .iter()
                        .map(|s| s.curve.as_ref().map(|c| c.rate_at(t)))
                        .sum();
                    (
                        p.name.as_str(),
                        target.map_or("max".to_string(), |r| format!("{}/s", format_number(r))),
                    )
                }
                None => ("-", "-".to_string()),
            };
            let line = format!(
                "[{:>5}s] phase {name}: target {target}, achieved {}/s · scheduled {scheduled} acked {acked} failed {failed} dropped {dropped}",
                elapsed.as_secs(),
                format_number(achieved)
            );
            match &bar {
                Some(b) => b.set_message(line),
                None => eprintln!("{line}"),
            }
        }
        if let Some(b) = bar {
            b.finish_and_clear();
        }
    });
}
