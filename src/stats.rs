//! Latency statistics shared by the engine (send → ack), the collector
//! (end to end) and the reports: the one histogram shape and its
//! percentile summary. A leaf module: it depends on nothing of ours, so
//! `engine`, `collect` and `report` all use it without importing each other.

use hdrhistogram::Histogram;
use serde::Serialize;

/// A latency histogram in microseconds: 1 µs … 1 h at 3 significant
/// digits, growing beyond if needed.
pub fn latency_histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts; this cannot fail at run time.
    let mut h = Histogram::new_with_bounds(1, 3_600_000_000, 3)
        .expect("constant histogram bounds are valid");
    h.auto(true);
    h
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct Percentiles {
    pub count: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        Self {
            count: h.len(),
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        }
    }
}

/// Most slots a per-second series keeps (a day of seconds). A longer plan is
/// recorded in slots of several seconds ([`timeline_step`]), so memory and
/// report size stay bounded however long a phase is (a year-long idle phase
/// on the virtual clock included).
pub const MAX_TIMELINE_SLOTS: u64 = 86_400;

/// Seconds per timeline slot for a plan of `total_secs`: 1 up to a day.
pub fn timeline_step(total_secs: u64) -> u64 {
    total_secs.div_ceil(MAX_TIMELINE_SLOTS).max(1)
}

/// The slot index of `second`, clamped so that a drain running far past the
/// plan cannot grow a series without bound.
pub fn timeline_slot(second: u64, step: u64) -> usize {
    usize::try_from((second / step.max(1)).min(2 * MAX_TIMELINE_SLOTS)).unwrap_or(0)
}

/// p50 and p99 of one second of a latency series (seconds from the run start).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct SecondLatency {
    pub second: u64,
    pub count: u64,
    pub p50_us: u64,
    pub p99_us: u64,
}

/// Per-second latency percentiles without a histogram per second: a value is
/// recorded under the second it happened in (acks and arrivals come nearly in
/// time order), a second is summarized once [`Self::OPEN`] newer seconds have
/// values, and a value for an already summarized second goes into the oldest
/// open one. Memory: a few small histograms plus 32 bytes per second with values.
#[derive(Debug, Default)]
pub struct LatencySeries {
    open: std::collections::VecDeque<(u64, Histogram<u64>)>,
    done: Vec<SecondLatency>,
    /// The last second summarized.
    closed: Option<u64>,
    spare: Vec<Histogram<u64>>,
    /// While open, every value recorded also lands here at full precision.
    window: Option<Histogram<u64>>,
}

impl LatencySeries {
    /// Seconds kept open for stragglers.
    pub const OPEN: usize = 3;

    pub fn record(&mut self, second: u64, us: u64) {
        // A second already summarized: the value joins the oldest open one.
        let second = match (self.closed, self.open.front()) {
            (Some(closed), Some((oldest, _))) if second <= closed => *oldest,
            _ => second,
        };
        let index = match self.open.iter().position(|(s, _)| *s >= second) {
            Some(i) if self.open[i].0 == second => i,
            // Older than every open second while the window is full.
            Some(0) if self.open.len() >= Self::OPEN => 0,
            at => {
                let h = self.spare.pop().unwrap_or_else(series_histogram);
                self.open.insert(at.unwrap_or(self.open.len()), (second, h));
                self.close_overflow();
                self.open
                    .iter()
                    .position(|(s, _)| *s == second)
                    .unwrap_or(0)
            }
        };
        let _ = self.open[index].1.record(us.max(1));
        if let Some(w) = &mut self.window {
            let _ = w.record(us.max(1));
        }
    }

    /// From now on every value recorded also goes into one histogram, until
    /// [`Self::close_window`]: percentiles of a stretch of the run (a seek
    /// level's second half) merged over its values, not the worst second's.
    pub fn open_window(&mut self) {
        self.window = Some(latency_histogram());
    }

    /// The values recorded since [`Self::open_window`] (`None`: not open).
    pub fn close_window(&mut self) -> Option<Histogram<u64>> {
        self.window.take()
    }

    fn close_overflow(&mut self) {
        while self.open.len() > Self::OPEN {
            if let Some((second, mut h)) = self.open.pop_front() {
                self.done.push(summary(second, &h));
                self.closed = Some(second);
                h.reset();
                self.spare.push(h);
            }
        }
    }

    /// Every second with values so far, in order (open seconds summarized as they stand).
    pub fn seconds(&self) -> Vec<SecondLatency> {
        let mut all = self.done.clone();
        all.extend(self.open.iter().map(|(s, h)| summary(*s, h)));
        all
    }
}

fn summary(second: u64, h: &Histogram<u64>) -> SecondLatency {
    SecondLatency {
        second,
        count: h.len(),
        p50_us: h.value_at_quantile(0.50),
        p99_us: h.value_at_quantile(0.99),
    }
}

/// 2 significant digits: a per-second chart needs 1 %, not 0.1 %, and the
/// histogram is a tenth the size.
fn series_histogram() -> Histogram<u64> {
    let mut h = Histogram::new_with_bounds(1, 3_600_000_000, 2)
        .expect("constant histogram bounds are valid");
    h.auto(true);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_summarizes_each_second_and_folds_stragglers_into_the_oldest_open() {
        let mut s = LatencySeries::default();
        for second in 0..10u64 {
            for v in 1..=100u64 {
                s.record(second, v * 1_000 * (second + 1));
            }
        }
        // A straggler for second 2, after seconds up to 9 exist: lands in second 7.
        s.record(2, 5);
        let all = s.seconds();
        assert_eq!(all.len(), 10);
        assert_eq!(
            all.iter().map(|x| x.second).collect::<Vec<_>>(),
            (0..10).collect::<Vec<_>>()
        );
        for x in &all {
            let scale = (x.second + 1) * 1_000;
            assert!(x.p50_us.abs_diff(50 * scale) <= scale, "{x:?}");
            assert!(x.p99_us.abs_diff(99 * scale) <= 2 * scale, "{x:?}");
        }
        assert_eq!(all[2].count, 100);
        assert_eq!(all[7].count, 101);
        // Out of order within the open window is exact.
        let mut s = LatencySeries::default();
        s.record(5, 10);
        s.record(4, 20);
        s.record(5, 10);
        let all = s.seconds();
        assert_eq!((all[0].second, all[0].count), (4, 1));
        assert_eq!((all[1].second, all[1].count), (5, 2));
    }

    #[test]
    fn a_window_merges_the_values_of_its_stretch_not_the_worst_second() {
        let mut s = LatencySeries::default();
        s.record(0, 9_000_000);
        s.open_window();
        // 20 seconds of 100 values each; one second has a slow tail of 5.
        for second in 1..=20u64 {
            for v in 0..100u64 {
                let slow = second == 7 && v < 5;
                s.record(second, if slow { 1_000_000 } else { 1_000 + v });
            }
        }
        let w = s.close_window().expect("an open window");
        s.record(21, 9_000_000);
        assert_eq!(w.len(), 2_000, "only the values recorded while open");
        // 5 slow of 2,000 is 0.25 %: the merged p99 is a fast value, while the
        // worst second's p99 is the slow one.
        assert!(
            w.value_at_quantile(0.99) < 1_200,
            "{}",
            w.value_at_quantile(0.99)
        );
        let worst = s
            .seconds()
            .iter()
            .filter(|x| (1..=20).contains(&x.second))
            .map(|x| x.p99_us)
            .max();
        assert!(worst.unwrap() > 900_000);
        assert!(s.close_window().is_none());
    }
}
