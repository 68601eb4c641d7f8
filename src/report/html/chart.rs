//! SVG time charts for the HTML report: one x axis of seconds since the run's
//! start with round ticks, phase bands behind the data, step lines per second,
//! and a legend that lists only what was drawn.

use std::fmt::Write as _;
use std::time::Duration;

use super::esc;
use crate::scenario::units::format_duration;

pub const W: f64 = 900.0;
pub const H: f64 = 240.0;
const PAD_L: f64 = 64.0;
const PAD_R: f64 = 16.0;
const PAD_T: f64 = 30.0;
const PAD_B: f64 = 36.0;

/// A phase as a band on the time axis.
pub struct Band<'a> {
    pub name: &'a str,
    pub start_s: f64,
    pub end_s: f64,
}

/// One line: a value per bucket of the chart's step (`None`: nothing measured
/// there, a gap in the line).
pub struct Series<'a> {
    pub name: &'a str,
    pub color: &'a str,
    pub dashed: bool,
    pub values: Vec<Option<f64>>,
}

impl Series<'_> {
    /// Whether the series has anything to draw.
    pub fn measured(&self) -> bool {
        self.values.iter().any(Option::is_some)
    }
}

/// A time chart: the bands, then each measured series, then the legend.
pub fn time_chart(
    label: &str,
    seconds: f64,
    step_s: f64,
    bands: &[Band<'_>],
    series: &[Series<'_>],
    y_fmt: &dyn Fn(f64) -> String,
) -> String {
    let drawn: Vec<&Series<'_>> = series.iter().filter(|s| s.measured()).collect();
    let y_max = nice_max(
        drawn
            .iter()
            .flat_map(|s| s.values.iter().flatten().copied())
            .fold(0.0, f64::max),
    );
    let f = Frame {
        x_max: seconds.max(1.0),
        y_max,
    };
    let mut o = String::new();
    let _ = write!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\">",
        esc(label)
    );
    f.bands(&mut o, bands);
    f.y_axis(&mut o, y_fmt);
    f.x_axis(&mut o);
    for s in &drawn {
        f.step_line(&mut o, s, step_s);
    }
    legend(&mut o, &drawn);
    o.push_str("</svg>\n");
    o
}

/// Vertical markers (runtime changes) on top of a chart: appended before `</svg>`.
pub fn with_markers(svg: String, seconds: f64, markers: &[(f64, String, String)]) -> String {
    if markers.is_empty() {
        return svg;
    }
    let f = Frame {
        x_max: seconds.max(1.0),
        y_max: 1.0,
    };
    let mut extra = String::new();
    for (at, action, detail) in markers {
        let x = f.x(*at);
        let _ = write!(
            extra,
            "<line class=\"marker\" x1=\"{x:.1}\" y1=\"{PAD_T}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#bc4c00\" stroke-width=\"1.5\"><title>{}</title></line><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"#bc4c00\">{}</text>",
            H - PAD_B,
            esc(detail),
            x + 2.0,
            H - PAD_B - 4.0,
            esc(action)
        );
    }
    match svg.rfind("</svg>") {
        Some(i) => format!("{}{extra}{}", &svg[..i], &svg[i..]),
        None => svg,
    }
}

/// A y axis scale with a round maximum.
pub fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if v <= m * mag {
            return m * mag;
        }
    }
    10.0 * mag
}

/// A round tick step for `seconds` on the time axis: at most ~10 ticks.
pub fn tick_step(seconds: f64) -> f64 {
    const STEPS: [f64; 14] = [
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
    ];
    STEPS
        .into_iter()
        .find(|s| seconds / s <= 10.0)
        .unwrap_or_else(|| (seconds / 10.0 / 3600.0).ceil() * 3600.0)
}

struct Frame {
    x_max: f64,
    y_max: f64,
}

impl Frame {
    fn x(&self, v: f64) -> f64 {
        PAD_L + v / self.x_max * (W - PAD_L - PAD_R)
    }

    fn y(&self, v: f64) -> f64 {
        H - PAD_B - v / self.y_max * (H - PAD_T - PAD_B)
    }

    fn bands(&self, o: &mut String, bands: &[Band<'_>]) {
        for (i, b) in bands.iter().enumerate() {
            let (x0, x1) = (self.x(b.start_s), self.x(b.end_s.min(self.x_max)));
            let fill = if i % 2 == 0 { "#f3f6fa" } else { "#fbfbfb" };
            let _ = write!(
                o,
                "<rect class=\"band\" x=\"{x0:.1}\" y=\"{PAD_T}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\"><title>phase {}</title></rect><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#57606a\">{}</text>",
                (x1 - x0).max(0.0),
                H - PAD_T - PAD_B,
                esc(b.name),
                x0 + 3.0,
                PAD_T + 12.0,
                esc(b.name)
            );
        }
    }

    /// 5 grid lines with labels.
    fn y_axis(&self, o: &mut String, y_fmt: &dyn Fn(f64) -> String) {
        for i in 0..=4 {
            let v = self.y_max * f64::from(i) / 4.0;
            let y = self.y(v);
            let _ = write!(
                o,
                "<line x1=\"{PAD_L}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e3e3e3\"/><text class=\"ytick\" x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
                W - PAD_R,
                PAD_L - 6.0,
                y + 4.0,
                esc(&y_fmt(v))
            );
        }
    }

    /// The time axis with round ticks (`0s`, `30s`, `1m`, …).
    fn x_axis(&self, o: &mut String) {
        let base = H - PAD_B;
        let _ = write!(
            o,
            "<line x1=\"{PAD_L}\" y1=\"{base:.1}\" x2=\"{:.1}\" y2=\"{base:.1}\" stroke=\"#888\"/>",
            W - PAD_R
        );
        let step = tick_step(self.x_max);
        let mut t = 0.0;
        while t <= self.x_max + 1e-9 {
            let x = self.x(t);
            let _ = write!(
                o,
                "<line x1=\"{x:.1}\" y1=\"{base:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#888\"/><text class=\"xtick\" x=\"{x:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
                base + 4.0,
                base + 16.0,
                format_duration(Duration::from_secs_f64(t))
            );
            t += step;
        }
        let _ = write!(
            o,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"#57606a\">time since start</text>",
            W - PAD_R,
            H - 4.0
        );
    }

    /// A step line, broken where a second has no value.
    fn step_line(&self, o: &mut String, s: &Series<'_>, step: f64) {
        let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for (i, v) in s.values.iter().enumerate() {
            match v {
                Some(v) => {
                    let y = self.y(*v);
                    let t = i as f64 * step;
                    if let Some(run) = runs.last_mut() {
                        run.push((self.x(t), y));
                        run.push((self.x((t + step).min(self.x_max)), y));
                    }
                }
                None if runs.last().is_some_and(|r| !r.is_empty()) => runs.push(Vec::new()),
                None => {}
            }
        }
        for run in runs.iter().filter(|r| !r.is_empty()) {
            let pts: Vec<String> = run.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            let _ = write!(
                o,
                "<polyline class=\"series\" data-series=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\"{} points=\"{}\"/>",
                esc(s.name),
                s.color,
                if s.dashed {
                    " stroke-dasharray=\"6 4\""
                } else {
                    ""
                },
                pts.join(" ")
            );
        }
    }
}

fn legend(o: &mut String, drawn: &[&Series<'_>]) {
    let mut x = PAD_L;
    for s in drawn {
        let _ = write!(
            o,
            "<g class=\"legend\"><line x1=\"{x:.1}\" y1=\"12\" x2=\"{:.1}\" y2=\"12\" stroke=\"{}\" stroke-width=\"3\"{}/><text x=\"{:.1}\" y=\"16\" font-size=\"12\">{}</text></g>",
            x + 18.0,
            s.color,
            if s.dashed {
                " stroke-dasharray=\"4 3\""
            } else {
                ""
            },
            x + 22.0,
            esc(s.name)
        );
        x += 30.0 + 7.0 * s.name.chars().count() as f64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_maxima_and_tick_steps_are_round() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(180.0), 200.0);
        assert_eq!(nice_max(210.0), 250.0);
        assert_eq!(tick_step(8.0), 1.0);
        assert_eq!(tick_step(100.0), 10.0);
        assert_eq!(tick_step(170.0), 30.0);
        assert_eq!(tick_step(3600.0), 600.0);
        assert_eq!(tick_step(86_400.0), 10_800.0);
    }

    #[test]
    fn unmeasured_series_draw_nothing_and_gaps_break_lines() {
        let s = |name, values| Series {
            name,
            color: "#000",
            dashed: false,
            values,
        };
        let svg = time_chart(
            "t",
            4.0,
            1.0,
            &[],
            &[
                s("a", vec![Some(1.0), None, Some(2.0), Some(2.0)]),
                s("never", vec![None; 4]),
            ],
            &|v| v.to_string(),
        );
        assert_eq!(svg.matches("data-series=\"a\"").count(), 2, "{svg}");
        assert!(!svg.contains("never"), "{svg}");
    }
}
