//! `RateCurve`: table tests of due times for every shape, and a property test
//! against a slow numeric reference (integrate the rate, invert by bisection).

use std::time::Duration;

use mbscenario::plan::RateCurve;
use mbscenario::scenario::model::RateShape;
use proptest::prelude::*;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn offsets(c: &RateCurve, ns: &[u64]) -> Vec<Option<f64>> {
    ns.iter()
        .map(|&n| {
            c.arrival_offset(n)
                .map(|d| (d.as_secs_f64() * 1e6).round() / 1e6)
        })
        .collect()
}

#[test]
fn constant_rate_is_evenly_spaced() {
    let c = RateCurve::new(&RateShape::Constant { rate: 200.0 }, secs(60.0), 1.0);
    assert_eq!(c.event_count(), 12_000);
    assert_eq!(
        offsets(&c, &[0, 1, 2, 199, 200, 11_999, 12_000]),
        vec![
            Some(0.0),
            Some(0.005),
            Some(0.01),
            Some(0.995),
            Some(1.0),
            Some(59.995),
            None
        ]
    );
    assert_eq!(c.expected_count(secs(30.0)), 6_000.0);
}

#[test]
fn ramp_up_from_zero_follows_square_root() {
    // 0 → 100/s over 10 s: N = 500, message n at 10·√(n/500).
    let c = RateCurve::new(
        &RateShape::Ramp {
            from: 0.0,
            to: 100.0,
        },
        secs(10.0),
        1.0,
    );
    assert_eq!(c.event_count(), 500);
    assert_eq!(
        offsets(&c, &[0, 1, 125, 499, 500]),
        vec![Some(0.0), Some(0.447214), Some(5.0), Some(9.989995), None]
    );
}

#[test]
fn ramp_up_from_nonzero() {
    // 10 → 200/s over 30 s: Λ(t) = 10t + 19t²/6, N = 3150.
    let c = RateCurve::new(
        &RateShape::Ramp {
            from: 10.0,
            to: 200.0,
        },
        secs(30.0),
        1.0,
    );
    assert_eq!(c.event_count(), 3_150);
    assert_eq!(offsets(&c, &[1]), vec![Some(0.097019)]);
    // Λ(15) = 150 + 712.5 = 862.5 → message 862 is just before 15 s, 863 just after.
    let before = c.arrival_offset(862).unwrap().as_secs_f64();
    let after = c.arrival_offset(863).unwrap().as_secs_f64();
    assert!(before < 15.0 && after > 15.0, "{before} {after}");
}

#[test]
fn ramp_down_to_zero_ends_early() {
    // 100 → 0/s over 10 s: N = 500; the last message (499) is due at 10·(1 − √(1/500)).
    let c = RateCurve::new(
        &RateShape::Ramp {
            from: 100.0,
            to: 0.0,
        },
        secs(10.0),
        1.0,
    );
    assert_eq!(c.event_count(), 500);
    assert_eq!(
        offsets(&c, &[0, 1, 499, 500]),
        vec![Some(0.0), Some(0.010005), Some(9.552786), None]
    );
}

#[test]
fn steps_switch_rate_at_each_step() {
    let shape = RateShape::Steps {
        steps: vec![
            (secs(0.0), 100.0),
            (secs(10.0), 300.0),
            (secs(15.0), 0.0),
            (secs(20.0), 50.0),
        ],
    };
    let c = RateCurve::new(&shape, secs(30.0), 1.0);
    // 1,000 + 1,500 + 0 + 500
    assert_eq!(c.event_count(), 3_000);
    assert_eq!(
        offsets(&c, &[999, 1_000, 1_001, 2_499, 2_500, 2_999, 3_000]),
        vec![
            Some(9.99),
            Some(10.0),
            Some(10.003333),
            Some(14.996667),
            Some(20.0),
            Some(29.98),
            None
        ]
    );
    assert_eq!(c.rate_at(secs(17.0)), 0.0);
    assert_eq!(c.rate_at(secs(10.0)), 300.0);
}

#[test]
fn idle_has_no_messages() {
    let c = RateCurve::new(&RateShape::Idle, secs(5.0), 1.0);
    assert_eq!(c.event_count(), 0);
    assert_eq!(c.arrival_offset(0), None);
    assert_eq!(c.expected_count(secs(5.0)), 0.0);
}

#[test]
fn fractional_totals_round_up_and_scale_splits() {
    // 2.5/s for 1 s: messages at 0, 0.4, 0.8 → 3 messages (Λ(1) = 2.5).
    let c = RateCurve::new(&RateShape::Constant { rate: 2.5 }, secs(1.0), 1.0);
    assert_eq!(c.event_count(), 3);
    assert_eq!(offsets(&c, &[2, 3]), vec![Some(0.8), None]);
    // A 25% share of 200/s for 10 s.
    let s = RateCurve::new(&RateShape::Constant { rate: 200.0 }, secs(10.0), 0.25);
    assert_eq!(s.event_count(), 500);
    assert_eq!(offsets(&s, &[1]), vec![Some(0.02)]);
}

// ---- property test against a slow numeric reference -------------------------

/// The rate at `t`, straight from the shape's definition (no segments, no caches).
fn reference_rate(shape: &RateShape, d: f64, t: f64) -> f64 {
    match shape {
        RateShape::Idle => 0.0,
        RateShape::Constant { rate } => *rate,
        RateShape::Ramp { from, to } => from + (to - from) * t / d,
        RateShape::Steps { steps } => steps
            .iter()
            .rev()
            .find(|(at, _)| at.as_secs_f64() <= t)
            .map_or(0.0, |(_, r)| *r),
        // Planned at its first level (the search steers it at run time).
        RateShape::Seek(k) => k.from,
    }
}

/// Λ(t) by composite Simpson integration between the shape's discontinuities
/// (exact for piecewise-linear rates up to rounding).
fn reference_count(shape: &RateShape, d: f64, t: f64) -> f64 {
    let mut cuts = vec![0.0];
    if let RateShape::Steps { steps } = shape {
        cuts.extend(
            steps
                .iter()
                .map(|(at, _)| at.as_secs_f64())
                .filter(|&x| x > 0.0 && x < t),
        );
    }
    cuts.push(t);
    let mut total = 0.0;
    for w in cuts.windows(2) {
        let (a, b) = (w[0], w[1]);
        let n = 8;
        let h = (b - a) / n as f64;
        // Evaluate just inside the interval so a step at `b` does not leak in.
        let f = |x: f64| reference_rate(shape, d, x.clamp(a, b - 1e-12 * (b - a).max(1.0)));
        let mut s = f(a) + f(b);
        for i in 1..n {
            s += f(a + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
        }
        total += s * h / 3.0;
    }
    total
}

/// Smallest t with Λ(t) ≥ n, by bisection to 1 ns.
fn reference_offset(shape: &RateShape, d: f64, n: u64) -> f64 {
    let (mut lo, mut hi) = (0.0, d);
    while hi - lo > 1e-9 {
        let mid = (lo + hi) / 2.0;
        if reference_count(shape, d, mid) >= n as f64 {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

fn shape_strategy() -> impl Strategy<Value = (RateShape, f64)> {
    let duration = 1.0..120.0f64;
    let rate = 0.0..2_000.0f64;
    prop_oneof![
        (rate.clone(), duration.clone()).prop_map(|(r, d)| (RateShape::Constant { rate: r }, d)),
        (rate.clone(), rate.clone(), duration.clone())
            .prop_map(|(a, b, d)| (RateShape::Ramp { from: a, to: b }, d)),
        (
            proptest::collection::vec((0.0..1.0f64, rate), 1..6),
            duration
        )
            .prop_map(|(mut s, d)| {
                s.sort_by(|a, b| a.0.total_cmp(&b.0));
                s[0].0 = 0.0;
                let mut steps: Vec<(Duration, f64)> = Vec::new();
                for (frac, r) in s {
                    let at = Duration::from_millis((frac * d * 1000.0) as u64);
                    if steps.last().is_none_or(|(prev, _)| at > *prev) {
                        steps.push((at, r));
                    }
                }
                (RateShape::Steps { steps }, d)
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Due times agree with the reference within 1 µs for up to 10k messages,
    /// are non-decreasing, lie inside the phase, and stop exactly at the count.
    #[test]
    fn due_times_match_numeric_reference((shape, d) in shape_strategy()) {
        let c = RateCurve::new(&shape, Duration::from_secs_f64(d), 1.0);
        let total = c.event_count();
        prop_assert!((total as f64 - reference_count(&shape, d, d)).abs() <= 1.0 + 1e-6);
        prop_assert_eq!(c.arrival_offset(total), None);
        let n_checked = total.min(10_000);
        // Check every message for small curves, a spread sample of 10k otherwise.
        let stride = (total / n_checked.max(1)).max(1);
        let mut prev = 0.0;
        for k in 0..n_checked {
            let n = k * stride;
            let got = c.arrival_offset(n).expect("n < event_count must be due").as_secs_f64();
            prop_assert!(got >= prev && got < d + 1e-9, "n={} got={} prev={}", n, got, prev);
            prev = got;
            if k % 97 == 0 || k + 1 == n_checked {
                let want = reference_offset(&shape, d, n);
                prop_assert!((got - want).abs() < 1e-6, "n={} got={} want={} shape={:?}", n, got, want, shape);
            }
        }
    }
}
