//! Live progress while a run is going: on a terminal an indicatif status
//! line, otherwise a plain line every few seconds (CI logs). Both show the
//! current phase, target vs achieved rate, and acked / failed / dropped.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::steering::Steering;
use crate::scenario::units::format_measured_rate;

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
                        target.map_or("max".to_string(), format_measured_rate),
                    )
                }
                None => ("-", "-".to_string()),
            };
            let (pct, eta) = overall(steering.plan(), st.elapsed_s);
            let line = format!(
                "[{:>5}s] {pct:>3}% phase {name}: target {target}, achieved {} · scheduled {} acked {} failed {} dropped {} · ETA {eta}{}",
                st.elapsed_s as u64,
                format_measured_rate(achieved),
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
                    percent = pct,
                    eta = %eta,
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

/// How far the run is through its planned time (%, 0–100) and what is left
/// of it (`1m30s`), from the plan's phase offsets.
fn overall(plan: &crate::plan::Plan, elapsed_s: f64) -> (u64, String) {
    let total = plan.phases.last().map_or(0.0, |p| p.end().as_secs_f64());
    if total <= 0.0 {
        return (100, "0s".into());
    }
    let done = elapsed_s.clamp(0.0, total);
    let left = Duration::from_secs((total - done).ceil() as u64);
    (
        (done / total * 100.0).floor() as u64,
        crate::scenario::units::format_duration(left),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn overall_progress_follows_the_plan() {
        let s = crate::scenario::load_source(
            crate::scenario::SourceFile::new(
                "p.yaml",
                std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/p.yaml")),
                "name: p\nstreams:\n  - { name: c, schema: schemas/pokemon_card.avsc, schema_id: 1 }\nphases:\n  - { name: a, duration: 30s, rate: 1/s }\n  - { name: b, duration: 90s, rate: 1/s }\n".into(),
            ),
            &crate::scenario::LoadOptions::default(),
        )
        .unwrap();
        let plan = crate::plan::Plan::compile(&s);
        assert_eq!(super::overall(&plan, 0.0), (0, "2m".into()));
        assert_eq!(super::overall(&plan, 30.0), (25, "1m30s".into()));
        assert_eq!(super::overall(&plan, 500.0), (100, "0s".into()));
    }
}
