//! `RateCurve`: when the n-th message of a phase is due, in closed form.
//!
//! Every open-model shape (constant, ramp up/down, steps, idle) is a list of
//! linear-rate segments, so one implementation serves them all. With the rate
//! of a segment going linearly from `a` to `b` over `len` seconds, its
//! cumulative count after `τ` seconds is
//!
//! ```text
//!   Λ(τ) = a·τ + k·τ²/2          with k = (b − a) / len
//! ```
//!
//! and message `n` is due at the `t` where the cumulative count of the whole
//! curve reaches `n` (message 0 at the first instant the rate is positive).
//! Inverting the quadratic in its numerically stable form
//!
//! ```text
//!   τ = 2m / (a + √(a² + 2·k·m))      with m = n − (count before the segment)
//! ```
//!
//! works for rising, falling and flat segments alike (including ramps from 0,
//! where `a = 0` gives `τ = √(2m/k)`), without catastrophic cancellation.
//!
//! ```text
//!  rate                         ramp 0 → r over D:
//!   r ┤            ╱            n-th message at t = D·√(n / N)
//!     │         ╱               where N = r·D/2 messages in total
//!     │      ╱
//!     │   ╱
//!   0 ┼╱──────────── t
//!     0            D
//! ```

use std::time::Duration;

use serde::Serialize;

use crate::scenario::model::RateShape;

/// One linear piece of a curve.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    /// Start offset in seconds from the phase start.
    start: f64,
    /// Length in seconds.
    len: f64,
    /// Rate at the start and at the end (messages/s).
    from: f64,
    to: f64,
    /// Messages due before the segment starts.
    base: f64,
}

impl Segment {
    fn count(&self) -> f64 {
        (self.from + self.to) / 2.0 * self.len
    }

    fn slope(&self) -> f64 {
        if self.len > 0.0 {
            (self.to - self.from) / self.len
        } else {
            0.0
        }
    }

    /// Cumulative count `τ` seconds into the segment.
    fn count_at(&self, tau: f64) -> f64 {
        self.from * tau + self.slope() * tau * tau / 2.0
    }

    /// Seconds into the segment at which the cumulative count reaches `m`.
    fn time_of(&self, m: f64) -> Option<f64> {
        if m <= 0.0 {
            return Some(0.0);
        }
        let a = self.from;
        let disc = a * a + 2.0 * self.slope() * m;
        if disc < 0.0 {
            return None;
        }
        let denom = a + disc.sqrt();
        (denom > 0.0).then(|| 2.0 * m / denom)
    }
}

/// A phase's planned rate over time; pure and cheap to query.
#[derive(Debug, Clone, PartialEq)]
pub struct RateCurve {
    segments: Vec<Segment>,
    duration: f64,
    /// Number of messages due within the phase (cached; see [`Self::event_count`]).
    events: u64,
}

impl RateCurve {
    /// Builds the curve of `shape` over `duration`, multiplied by `scale`
    /// (a stream's share of the phase rate).
    pub fn new(shape: &RateShape, duration: Duration, scale: f64) -> Self {
        let d = duration.as_secs_f64();
        let mut pieces: Vec<(f64, f64, f64, f64)> = Vec::new(); // (start, len, from, to)
        match shape {
            RateShape::Idle => pieces.push((0.0, d, 0.0, 0.0)),
            RateShape::Constant { rate } => pieces.push((0.0, d, *rate, *rate)),
            // Planned at its first level; the search steers it from there.
            RateShape::Seek(k) => pieces.push((0.0, d, k.from, k.from)),
            RateShape::Ramp { from, to } => pieces.push((0.0, d, *from, *to)),
            RateShape::Steps { steps } => {
                for (i, (at, rate)) in steps.iter().enumerate() {
                    let start = at.as_secs_f64().min(d);
                    let end = steps
                        .get(i + 1)
                        .map_or(d, |(next, _)| next.as_secs_f64().min(d));
                    if end > start {
                        pieces.push((start, end - start, *rate, *rate));
                    }
                }
            }
        }
        let mut segments = Vec::with_capacity(pieces.len());
        let mut base = 0.0;
        for (start, len, from, to) in pieces {
            let s = Segment {
                start,
                len,
                from: (from * scale).max(0.0),
                to: (to * scale).max(0.0),
                base,
            };
            base += s.count();
            segments.push(s);
        }
        // Λ(D) rounded with a relative tolerance so that e.g. 200/s × 60s is
        // exactly 12,000 messages, not 12,001 because of float noise.
        let eps = 1e-9 * base.max(1.0);
        let events = (base - eps).ceil().max(0.0) as u64;
        Self {
            segments,
            duration: d,
            events,
        }
    }

    /// Caps the number of messages (a replay file that stops at its end):
    /// the due times of the first messages are unchanged.
    pub fn with_limit(mut self, limit: Option<u64>) -> Self {
        if let Some(l) = limit {
            self.events = self.events.min(l);
        }
        self
    }

    /// Phase length.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration)
    }

    /// Number of messages due in the phase: every `n` with `arrival_offset(n)` defined.
    pub fn event_count(&self) -> u64 {
        self.events
    }

    /// Planned rate (messages/s) at offset `t` (right-continuous at steps).
    pub fn rate_at(&self, t: Duration) -> f64 {
        let t = t.as_secs_f64();
        self.segments
            .iter()
            .rev()
            .find(|s| s.start <= t)
            .map_or(0.0, |s| {
                let tau = (t - s.start).min(s.len);
                s.from + s.slope() * tau
            })
    }

    /// Expected cumulative message count at offset `t` (clamped to the phase): Λ(t).
    pub fn expected_count(&self, t: Duration) -> f64 {
        let t = t.as_secs_f64().clamp(0.0, self.duration);
        let Some(s) = self.segments.iter().rev().find(|s| s.start <= t) else {
            return 0.0;
        };
        s.base + s.count_at((t - s.start).min(s.len))
    }

    /// Number of messages due strictly before offset `t` (all of them from
    /// the phase end on). Binary search over the monotone due times.
    pub fn count_before(&self, t: Duration) -> u64 {
        if t >= self.duration() {
            return self.events;
        }
        let (mut lo, mut hi) = (0u64, self.events);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.arrival_offset(mid) {
                Some(x) if x < t => lo = mid + 1,
                _ => hi = mid,
            }
        }
        lo
    }

    /// Offset from the phase start at which message `n` (0-based) is due, or
    /// `None` when the phase ends before it.
    pub fn arrival_offset(&self, n: u64) -> Option<Duration> {
        if n >= self.events {
            return None;
        }
        let nf = n as f64;
        // First segment whose end count lies beyond n (skips empty segments).
        let i = self.segments.partition_point(|s| s.base + s.count() <= nf);
        let s = self.segments.get(i).or_else(|| self.segments.last())?;
        let tau = s.time_of(nf - s.base)?.min(s.len);
        let t = (s.start + tau).min(self.duration);
        Some(Duration::from_secs_f64(t))
    }
}

/// Serialized form: the totals (the shape itself is serialized by the phase).
impl Serialize for RateCurve {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("RateCurve", 2)?;
        st.serialize_field("expected_messages", &self.events)?;
        st.serialize_field(
            "peak_rate",
            &self
                .segments
                .iter()
                .map(|s| s.from.max(s.to))
                .fold(0.0_f64, f64::max),
        )?;
        st.end()
    }
}
