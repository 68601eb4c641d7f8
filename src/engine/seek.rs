//! Goal seeking: the controller of a `seek` phase. It steers the phase's rate
//! level by level and judges each level, to find the highest rate the pipeline
//! sustains.
//!
//! ```text
//!   level r ──hold/2──▶ mid snapshot ──hold/2──▶ end snapshot ──▶ judge
//!     pass: r is good → r × factor (climbing), or (good + bad) / 2 (bisecting)
//!     fail: r is bad  → pause until the backlog drains (≤ one hold), then
//!           (good + bad) / 2; with no good level yet, r / factor
//!   stop when (bad − good) / good ≤ precision, when `max` passes, or when the
//!   phase has no room for another level; the rest of the phase runs at `good`
//!   and is judged like a level (backlog trend after half a hold): `held`
//! ```
//!
//! A level is sustainable when, over its hold: dropped and failed stay within the
//! bounds, the p99 (end to end when arrivals are counted, else send → ack) of
//! every latency of the second half, merged in one histogram, stays under
//! `until.p99`, at least 95 % of the level's messages were scheduled, and the
//! backlog does not grow in the second half — the backlog is sent-but-not-arrived
//! messages when arrivals are counted, else messages in flight (sent, not
//! answered), so a pipeline falling behind fails even when every bound on latency
//! is loose. Growth is the backlog's trend: the least-squares slope of 40 samples
//! over the half, times its length, so a sink that moves messages in batches
//! (the backlog jumps by a batch at any instant) is judged on where the backlog
//! goes, not where one sample caught it. It counts when it exceeds 0.5 % of the
//! messages of that half (and 2 messages).

use std::time::Duration;

use serde::Serialize;
use tokio::time::{Instant, sleep, sleep_until};

use super::steering::Steering;
use super::worker::Shared;
use crate::collect::Arrivals;
use crate::plan::PlanPhase;
use crate::scenario::model::Seek;
use crate::scenario::units::Amount;

/// Backlog samples taken through the second half of a level.
const BACKLOG_SAMPLES: u32 = 40;

/// Least-squares slope of `(t, y)` points (0 with fewer than two distinct t).
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let (mt, my) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (t, y)| (a + t / n, b + y / n));
    let (cov, var) = points.iter().fold((0.0, 0.0), |(c, v), (t, y)| {
        (c + (t - mt) * (y - my), v + (t - mt) * (t - mt))
    });
    if var > 0.0 { cov / var } else { 0.0 }
}

/// The next level to try after `rate`, given the highest good and lowest bad
/// levels so far; `None` when the search is over: `max` passed, the gap is
/// within `precision`, or nothing passed down to `from / factor⁴`.
fn next_level(k: &Seek, rate: f64, good: Option<f64>, bad: Option<f64>) -> Option<f64> {
    match (good, bad) {
        (Some(g), None) if g >= k.max => None,
        (_, None) => Some((rate * k.factor).min(k.max)),
        (Some(g), Some(b)) => ((b - g) / g > k.precision).then_some((g + b) / 2.0),
        (None, Some(b)) => {
            let next = b / k.factor;
            (next >= k.from / k.factor.powi(4)).then_some(next)
        }
    }
}

/// One level tried.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct SeekLevel {
    /// The rate tried, msgs/s (all streams of the phase).
    pub rate: f64,
    /// Seconds since the run's start when the level began.
    pub start_s: f64,
    pub passed: bool,
    /// The bound the level broke, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_bound: Option<String>,
    /// p99 of the second half's latencies (µs), one histogram: end to end when
    /// arrivals are counted, else send → ack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_us: Option<u64>,
    pub scheduled: u64,
    pub dropped: u64,
    pub failed: u64,
    /// Backlog growth over the second half of the hold (messages): its
    /// least-squares trend, rounded.
    pub backlog_growth: i64,
}

/// What a `seek` phase found.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct SeekResult {
    pub phase: String,
    /// The highest level that passed (msgs/s); `None` when none did.
    pub sustainable_rate: Option<f64>,
    /// The lowest level that failed, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_failing_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_bound: Option<String>,
    /// Whether the search converged (or passed `max`) before the phase ended.
    pub complete: bool,
    /// `end_to_end` or `send_ack`: which latency the levels were judged on.
    pub latency: String,
    pub levels: Vec<SeekLevel>,
    /// Whether the sustainable rate held for the rest of the phase (`None`:
    /// nothing passed, or less than a hold was left).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<Held>,
}

/// The sustainable rate, run for the rest of the phase and judged like a
/// level on its backlog trend (after half a hold of warm-up). A pipeline that
/// slows down over minutes passes a short level and fails here.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Held {
    pub rate: f64,
    /// Seconds judged (the rest of the phase after the warm-up).
    pub seconds: f64,
    /// Backlog growth over those seconds (least-squares trend, rounded).
    pub backlog_growth: i64,
    pub held: bool,
}

/// Counts of the phase, and the backlog, at one instant.
#[derive(Debug, Clone, Copy, Default)]
struct Snapshot {
    scheduled: u64,
    acked: u64,
    failed: u64,
    dropped: u64,
    backlog: i64,
}

pub(crate) struct Controller<'a> {
    pub phase: &'a PlanPhase,
    pub seek: &'a Seek,
    pub steering: &'a Steering,
    pub shared: &'a Shared,
    /// Counted arrivals (real collector or virtual echo), if any.
    pub arrivals: Option<&'a Arrivals>,
    pub phase_start: Instant,
    pub stop: &'a tokio_util::sync::CancellationToken,
}

impl Controller<'_> {
    fn end(&self) -> Instant {
        self.phase_start + self.phase.duration
    }

    /// Whether arrivals at a queue are what the levels are judged on.
    fn end_to_end(&self) -> bool {
        self.arrivals.is_some()
            && self
                .phase
                .streams
                .iter()
                .all(|s| self.shared.streams[s.stream].queue.is_some())
    }

    fn snapshot(&self) -> Snapshot {
        let (mut s, all_sent) = self.shared.record(|r| {
            let mut s = Snapshot::default();
            let mut all_sent = 0;
            for (&(phase, _), c) in r.cells() {
                all_sent += c.scheduled - (c.dropped + c.failed_total()).min(c.scheduled);
                if phase == self.phase.index {
                    s.scheduled += c.scheduled;
                    s.acked += c.acked;
                    s.failed += c.failed_total();
                    s.dropped += c.dropped;
                }
            }
            (s, all_sent)
        });
        s.backlog = match self.arrivals.filter(|_| self.end_to_end()) {
            // Sent and not arrived yet: waiting for the sink or in the pipeline.
            Some(a) => all_sent as i64 - a.arrived_total() as i64,
            None => (s.scheduled - s.acked.min(s.scheduled)) as i64 - (s.failed + s.dropped) as i64,
        };
        s
    }

    /// From now on, every latency the levels are judged on (end to end or
    /// send → ack) also goes into one histogram.
    fn open_latency_window(&self) {
        match self.arrivals.filter(|_| self.end_to_end()) {
            Some(a) => a.open_e2e_window(),
            None => self.shared.record(|r| r.open_ack_window()),
        }
    }

    /// The p99 (µs) of the latencies since [`Self::open_latency_window`]:
    /// one histogram over the stretch, not the worst second's p99.
    fn close_latency_window(&self) -> Option<u64> {
        let h = match self.arrivals.filter(|_| self.end_to_end()) {
            Some(a) => a.close_e2e_window(),
            None => self.shared.record(|r| r.close_ack_window()),
        }?;
        (!h.is_empty()).then(|| h.value_at_quantile(0.99))
    }

    /// Samples the backlog through the second half of a level until `end`
    /// and returns its trend over that half (least-squares slope × the
    /// half's length): a sink that moves messages in batches makes the
    /// backlog at any one instant jump by a batch, its trend does not.
    /// `None` when the run stops or the phase ends first.
    async fn backlog_trend(&self, end: Instant) -> Option<f64> {
        let begin = Instant::now();
        let half = end.saturating_duration_since(begin);
        let tick = (half / BACKLOG_SAMPLES).max(Duration::from_millis(10));
        let mut samples = vec![(0.0, self.snapshot().backlog as f64)];
        let mut at = begin;
        while at < end {
            at = (at + tick).min(end);
            if !self.wait_until(at).await {
                return None;
            }
            let t = at.saturating_duration_since(begin).as_secs_f64();
            samples.push((t, self.snapshot().backlog as f64));
        }
        Some(slope(&samples) * half.as_secs_f64())
    }

    fn set_rate(&self, rate: f64) {
        let rates: Vec<(usize, f64)> = self
            .phase
            .streams
            .iter()
            .map(|s| (s.stream, rate * s.share))
            .collect();
        self.steering.seek_rates(&rates);
    }

    fn pause(&self, paused: bool) {
        let streams: Vec<usize> = self.phase.streams.iter().map(|s| s.stream).collect();
        self.steering.seek_pause(&streams, paused);
    }

    /// Sleeps until `at`; false when the run stops or the phase ends first.
    async fn wait_until(&self, at: Instant) -> bool {
        if at > self.end() {
            return false;
        }
        tokio::select! {
            () = sleep_until(at) => true,
            () = self.stop.cancelled() => false,
        }
    }

    async fn level(&self, rate: f64) -> Option<SeekLevel> {
        let hold = self.seek.hold;
        let start = Instant::now();
        if start + hold > self.end() {
            return None;
        }
        self.set_rate(rate);
        let t0 = self.snapshot();
        if !self.wait_until(start + hold / 2).await {
            return None;
        }
        let mid = self.snapshot();
        self.open_latency_window();
        let trend = self.backlog_trend(start + hold).await;
        let p99 = self.close_latency_window();
        let trend = trend?;
        let end = self.snapshot();
        let since = |i: Instant| i.saturating_duration_since(self.shared.start);
        let scheduled = end.scheduled - t0.scheduled;
        let dropped = end.dropped - t0.dropped;
        let failed = end.failed - t0.failed;
        let growth = trend.round() as i64;
        let second_half = (end.scheduled - mid.scheduled) as f64;
        let expected = rate * hold.as_secs_f64();
        let over = |a: Amount, n: u64| match a {
            Amount::Count(max) => n > max,
            Amount::Percent(p) => n as f64 > p / 100.0 * scheduled as f64,
        };
        let failed_bound = if over(self.seek.dropped, dropped) {
            Some(format!(
                "dropped {dropped} of {scheduled} (bound {})",
                self.seek.dropped
            ))
        } else if over(self.seek.errors, failed) {
            Some(format!(
                "{failed} failed sends (bound {})",
                self.seek.errors
            ))
        } else if (scheduled as f64) < 0.95 * expected {
            Some(format!(
                "only {scheduled} of {} messages could be scheduled",
                expected.round()
            ))
        } else if let (Some(bound), Some(p)) = (self.seek.p99, p99)
            && Duration::from_micros(p) > bound
        {
            Some(format!(
                "p99 {} > {}",
                crate::scenario::units::format_duration(Duration::from_micros(p)),
                crate::scenario::units::format_duration(bound)
            ))
        } else if trend > (0.005 * second_half).max(2.0) {
            Some(format!(
                "backlog grew by {growth} in the second half of the hold: the pipeline falls behind"
            ))
        } else {
            None
        };
        Some(SeekLevel {
            rate,
            start_s: since(start).as_secs_f64(),
            passed: failed_bound.is_none(),
            failed_bound,
            p99_us: p99,
            scheduled,
            dropped,
            failed,
            backlog_growth: growth,
        })
    }

    /// Pauses until the backlog is back where the failed level found it (at
    /// most one hold), so the next level starts on a drained pipeline.
    async fn recover(&self, before: i64) {
        self.pause(true);
        let until = Instant::now() + self.seek.hold;
        while Instant::now() < until && self.snapshot().backlog > before.max(0) + 2 {
            if !self
                .wait_until(Instant::now() + Duration::from_millis(250))
                .await
            {
                break;
            }
        }
        self.pause(false);
    }

    pub(crate) async fn run(self) -> SeekResult {
        let k = self.seek;
        let mut levels: Vec<SeekLevel> = Vec::new();
        let mut good: Option<f64> = None;
        let mut bad: Option<(f64, String)> = None;
        let mut rate = k.from;
        let mut complete = false;
        loop {
            let before = self.snapshot().backlog;
            let Some(level) = self.level(rate).await else {
                break;
            };
            let passed = level.passed;
            if passed {
                good = Some(good.map_or(rate, |g: f64| g.max(rate)));
            } else if bad.as_ref().is_none_or(|(b, _)| rate < *b) {
                bad = Some((rate, level.failed_bound.clone().unwrap_or_default()));
            }
            tracing::info!(
                event = "SeekLevel",
                phase = %self.phase.name,
                rate,
                passed,
                "seek {}: {} {}",
                self.phase.name,
                crate::scenario::units::format_rate(rate),
                level.failed_bound.as_deref().map_or("sustained".to_string(), |b| format!("failed: {b}"))
            );
            levels.push(level);
            if !passed {
                self.recover(before).await;
            }
            match next_level(k, rate, good, bad.as_ref().map(|(b, _)| *b)) {
                Some(next) => rate = next,
                None => {
                    complete = true;
                    break;
                }
            }
        }
        // The rest of the phase runs at what was found (paused when nothing
        // passed), and is judged on whether it held.
        let held = match good {
            Some(g) => {
                self.set_rate(g);
                self.hold_rest(g).await
            }
            None => {
                self.pause(true);
                None
            }
        };
        if !self.stop.is_cancelled() {
            tokio::select! {
                () = sleep_until(self.end()) => {}
                () = self.stop.cancelled() => {}
            }
        }
        self.pause(false);
        let _ = sleep(Duration::ZERO).await;
        SeekResult {
            phase: self.phase.name.clone(),
            sustainable_rate: good,
            first_failing_rate: bad.as_ref().map(|(b, _)| *b),
            failing_bound: bad.map(|(_, why)| why),
            complete,
            latency: if self.end_to_end() {
                "end_to_end"
            } else {
                "send_ack"
            }
            .into(),
            levels,
            held,
        }
    }

    /// Judges the rest of the phase at `rate` (already set) on its backlog
    /// trend, after half a hold of warm-up; `None` when less than a hold is
    /// left or the run stops first.
    async fn hold_rest(&self, rate: f64) -> Option<Held> {
        let warm = Instant::now() + self.seek.hold / 2;
        if self.end().saturating_duration_since(warm) < self.seek.hold / 2 {
            return None;
        }
        if !self.wait_until(warm).await {
            return None;
        }
        let growth = self.backlog_trend(self.end()).await?;
        let seconds = self.end().saturating_duration_since(warm).as_secs_f64();
        let held = growth <= (0.005 * rate * seconds).max(2.0);
        if !held {
            crate::say!(
                "warning: seek {}: {} did not hold for the rest of the phase (backlog grew by {} in {:.0} s): \
                 the pipeline slows down over time; a longer `hold` finds a rate that lasts",
                self.phase.name,
                crate::scenario::units::format_rate(rate),
                growth.round(),
                seconds
            );
        }
        Some(Held {
            rate,
            seconds,
            backlog_growth: growth.round() as i64,
            held,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::slope;

    #[test]
    fn the_trend_of_a_sawtooth_is_its_drift_not_its_teeth() {
        // A sink that takes 50 messages at once every second: the backlog
        // saws between 0 and 50 whatever the instant, and drifts by 2/s.
        let points: Vec<(f64, f64)> = (0..=40)
            .map(|i| {
                let t = f64::from(i) * 0.25;
                (t, (t.fract() * 50.0) + 2.0 * t)
            })
            .collect();
        let growth = slope(&points) * 10.0;
        assert!((growth - 20.0).abs() < 8.0, "{growth}");
        // Two instants a tooth apart would have seen 20 + up to ±37.5.
        assert_eq!(slope(&[(1.0, 5.0)]), 0.0);
        assert_eq!(slope(&[(0.0, 1.0), (2.0, 5.0)]), 2.0);
    }
}
