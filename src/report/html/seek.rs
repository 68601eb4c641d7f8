//! The level chart of a `seek` phase: what it tried, what held, what it found.
//!
//! [`chart`]: `outcome` (the line above) → svg of `Scale::grid` → `Scale::bars`
//! (one per level) → `Scale::overlays` (p99 line, rate found, legend).

use std::fmt::Write as _;

use super::{BLUE, GREEN, ORANGE, RED, esc};
use crate::engine::seek::SeekResult;
use crate::scenario::units::{format_number, format_rate};

/// Size of the svg and its margins (left, right, top, bottom), px.
const W: f64 = 900.0;
const H: f64 = 260.0;
const L: f64 = 64.0;
const R: f64 = 64.0;
const T: f64 = 34.0;
const B: f64 = 40.0;

/// The levels a `seek` phase tried, in order: bar height = the rate tried
/// (green sustained, red failed, the bound in its tooltip), the p99 of each
/// level as a line on its own scale, the rate found as a dashed line.
pub(super) fn chart(k: &SeekResult) -> String {
    let mut o = String::new();
    outcome(&mut o, k);
    if k.levels.is_empty() {
        o.push_str("<p class=\"none\">No level completed.</p>\n");
        return o;
    }
    let scale = Scale::of(k);
    let _ = write!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"seek levels of phase {}\">",
        esc(&k.phase)
    );
    scale.grid(&mut o);
    let p99_points = scale.bars(&mut o, k);
    scale.overlays(&mut o, k, &p99_points);
    o
}

/// The line above the chart: the rate found and why the search stopped there.
fn outcome(o: &mut String, k: &SeekResult) {
    let found = k.sustainable_rate.map_or("none".into(), format_rate);
    let _ = writeln!(
        o,
        "<p><b>{found}</b> sustainable{}{}</p>",
        match (k.first_failing_rate, &k.failing_bound) {
            (Some(b), Some(why)) =>
                format!("; first failing level {}: {}", format_rate(b), esc(why)),
            _ => String::new(),
        },
        if k.complete {
            ""
        } else {
            " (the search did not converge: a lower bound)"
        }
    );
}

/// The two vertical scales (rate on the left, p99 in ms on the right) and
/// the width of one level's slot.
struct Scale {
    rate_max: f64,
    p99_max: f64,
    slot: f64,
}

impl Scale {
    fn of(k: &SeekResult) -> Scale {
        let rate_max = super::chart::nice_max(k.levels.iter().map(|l| l.rate).fold(0.0, f64::max));
        let p99_max = super::chart::nice_max(
            k.levels
                .iter()
                .filter_map(|l| l.p99_us)
                .map(|v| v as f64 / 1000.0)
                .fold(0.0, f64::max),
        );
        let n = k.levels.len() as f64;
        Scale {
            rate_max,
            p99_max,
            slot: (W - L - R) / n,
        }
    }

    /// The y of value `v` on a scale that tops at `max`.
    fn y(v: f64, max: f64) -> f64 {
        H - B - v / max * (H - T - B)
    }

    /// Five grid lines, labelled with the rate on the left and the p99 on the right.
    fn grid(&self, o: &mut String) {
        for i in 0..=4 {
            let v = self.rate_max * f64::from(i) / 4.0;
            let yy = Self::y(v, self.rate_max);
            let _ = write!(
                o,
                "<line x1=\"{L}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#e3e3e3\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"{ORANGE}\">{} ms</text>",
                W - R,
                L - 6.0,
                yy + 4.0,
                esc(&format_rate(v)),
                W - R + 6.0,
                yy + 4.0,
                format_number((self.p99_max * f64::from(i) / 4.0 * 10.0).round() / 10.0)
            );
        }
    }

    /// One bar per level, numbered; returns the points of the p99 line.
    fn bars(&self, o: &mut String, k: &SeekResult) -> Vec<String> {
        let slot = self.slot;
        let mut p99_points = Vec::new();
        for (i, l) in k.levels.iter().enumerate() {
            let x = L + i as f64 * slot + slot * 0.15;
            let yy = Self::y(l.rate, self.rate_max);
            let color = if l.passed { GREEN } else { RED };
            let tip = format!(
                "level {}: {} at {}s — {}",
                i + 1,
                format_rate(l.rate),
                format_number(l.start_s.round()),
                l.failed_bound.as_deref().unwrap_or("sustained")
            );
            let _ = write!(
                o,
                "<rect class=\"level {}\" x=\"{x:.1}\" y=\"{yy:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{color}\" fill-opacity=\"0.75\"><title>{}</title></rect><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
                if l.passed { "pass" } else { "fail" },
                slot * 0.7,
                (H - B - yy).max(0.0),
                esc(&tip),
                x + slot * 0.35,
                H - B + 14.0,
                i + 1
            );
            if let Some(p) = l.p99_us {
                p99_points.push(format!(
                    "{:.1},{:.1}",
                    x + slot * 0.35,
                    Self::y(p as f64 / 1000.0, self.p99_max)
                ));
            }
        }
        p99_points
    }

    /// The p99 line, the dashed line of the rate found, the legend; closes the svg.
    fn overlays(&self, o: &mut String, k: &SeekResult, p99_points: &[String]) {
        if !p99_points.is_empty() {
            let _ = write!(
                o,
                "<polyline class=\"series\" data-series=\"p99\" fill=\"none\" stroke=\"{ORANGE}\" stroke-width=\"2\" points=\"{}\"/>",
                p99_points.join(" ")
            );
        }
        if let Some(g) = k.sustainable_rate {
            let yy = Self::y(g, self.rate_max);
            let _ = write!(
                o,
                "<line x1=\"{L}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"{BLUE}\" stroke-dasharray=\"6 4\"/>",
                W - R
            );
        }
        let _ = writeln!(
            o,
            "<text x=\"{L}\" y=\"16\" font-size=\"12\">bars: rate tried per level (green sustained, red failed) · orange: p99 ({}) · dashed: rate found</text><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"#57606a\">level</text></svg>",
            if k.latency == "end_to_end" {
                "end to end"
            } else {
                "send → ack"
            },
            W - R,
            H - 4.0
        );
    }
}
