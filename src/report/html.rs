//! A self-contained HTML page (inline CSS and SVG, no scripts, no network):
//! verdicts, then three plots — target vs achieved rate per second with
//! phase boundaries, latency percentiles per phase, sends vs arrivals per
//! phase — then the Markdown report's tables.

use std::fmt::Write as _;

use super::Report;
use crate::check::Status;
use crate::scenario::units::format_number;

const W: f64 = 900.0;
const H: f64 = 260.0;
const PAD_L: f64 = 60.0;
const PAD_R: f64 = 20.0;
const PAD_T: f64 = 20.0;
const PAD_B: f64 = 40.0;

pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} — mbscenario report</title>\n<style>{CSS}</style></head><body>\n",
        esc(&r.scenario)
    );
    let _ = writeln!(
        o,
        "<h1>{} <span class=\"{}\">{}</span></h1>",
        esc(&r.scenario),
        if r.passed { "pass" } else { "fail" },
        if r.passed { "PASSED" } else { "FAILED" }
    );
    let _ = writeln!(
        o,
        "<p class=\"meta\">seed {} · sink {} · started {} · {} planned · {} acked</p>",
        r.seed,
        esc(&r.sink),
        esc(&r.started_at),
        r.planned_messages,
        r.run.totals.acked
    );
    if r.run.steered {
        let _ = writeln!(
            o,
            "<p class=\"fail\">Steered at runtime: {} change(s) through the control API (orange lines in the rate plot). These numbers do not follow the scenario alone.</p>",
            r.run.steering.len()
        );
    }
    o.push_str("<h2>Assertions</h2>\n<table><tr><th>#</th><th>assertion</th><th>observed</th><th>bound</th><th>result</th></tr>\n");
    for v in &r.verdicts {
        let (class, text) = match v.status {
            Status::Passed => ("pass", "pass"),
            Status::Failed => ("fail", "FAIL"),
            Status::Skipped => ("skip", "skipped"),
        };
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{class}\">{text}</td></tr>",
            v.index,
            esc(&v.description),
            esc(&v.observed),
            esc(&v.bound)
        );
        for d in &v.details {
            let _ = writeln!(
                o,
                "<tr class=\"detail\"><td></td><td colspan=\"4\">{}</td></tr>",
                esc(d)
            );
        }
    }
    o.push_str("</table>\n");

    o.push_str("<h2>Rate: target vs achieved (messages/s)</h2>\n");
    o.push_str(&rate_plot(r));
    o.push_str("<h2>Latency per phase</h2>\n");
    o.push_str(&latency_plot(r));
    o.push_str("<h2>Sends vs arrivals per phase</h2>\n");
    o.push_str(&arrivals_plot(r));
    o.push_str("<h2>Details</h2>\n<pre>");
    o.push_str(&esc(&super::markdown::render(r)));
    o.push_str("</pre>\n</body></html>\n");
    o
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:2em;max-width:960px;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}\
.pass{color:#1a7f37;font-weight:bold}.fail{color:#cf222e;font-weight:bold}.skip{color:#777}\
.detail td{font-size:90%;color:#555;border-top:none}.meta{color:#555}\
svg{background:#fafafa;border:1px solid #ddd}pre{background:#f6f8fa;padding:1em;overflow:auto;font-size:85%}\
.legend{font-size:12px}";

/// A y axis scale with a round maximum.
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
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

struct Frame {
    x_max: f64,
    y_max: f64,
}

impl Frame {
    fn x(&self, v: f64) -> f64 {
        PAD_L + v / self.x_max.max(1e-9) * (W - PAD_L - PAD_R)
    }
    fn y(&self, v: f64) -> f64 {
        H - PAD_B - v / self.y_max * (H - PAD_T - PAD_B)
    }
    /// Axes, 5 horizontal grid lines with labels, and the x label.
    fn axes(&self, o: &mut String, x_label: &str, y_fmt: impl Fn(f64) -> String) {
        for i in 0..=4 {
            let v = self.y_max * f64::from(i) / 4.0;
            let y = self.y(v);
            let _ = write!(
                o,
                "<line x1=\"{PAD_L}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e3e3e3\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
                W - PAD_R,
                PAD_L - 6.0,
                y + 4.0,
                esc(&y_fmt(v))
            );
        }
        let _ = write!(
            o,
            "<line x1=\"{PAD_L}\" y1=\"{b:.1}\" x2=\"{:.1}\" y2=\"{b:.1}\" stroke=\"#888\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
            W - PAD_R,
            (W + PAD_L) / 2.0,
            H - 8.0,
            esc(x_label),
            b = H - PAD_B
        );
    }
}

fn svg_open(o: &mut String, label: &str) {
    let _ = write!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\">",
        esc(label)
    );
}

fn polyline(o: &mut String, points: &[(f64, f64)], color: &str, dash: bool) {
    let pts: Vec<String> = points
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect();
    let _ = write!(
        o,
        "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"{} points=\"{}\"/>",
        if dash {
            " stroke-dasharray=\"6 4\""
        } else {
            ""
        },
        pts.join(" ")
    );
}

fn legend(o: &mut String, items: &[(&str, &str)]) {
    for (i, (name, color)) in items.iter().enumerate() {
        let x = PAD_L + 10.0 + i as f64 * 150.0;
        let _ = write!(
            o,
            "<rect x=\"{x:.1}\" y=\"6\" width=\"12\" height=\"12\" fill=\"{color}\"/><text class=\"legend\" x=\"{:.1}\" y=\"16\">{}</text>",
            x + 16.0,
            esc(name)
        );
    }
}

fn rate_plot(r: &Report) -> String {
    let t = &r.run.timeline;
    if t.is_empty() {
        return "<p>No timeline.</p>\n".into();
    }
    let y_max = nice_max(
        t.iter()
            .map(|p| p.target.max(p.acked) as f64)
            .fold(0.0, f64::max),
    );
    let f = Frame {
        x_max: t.len() as f64,
        y_max,
    };
    let mut o = String::new();
    svg_open(&mut o, "target vs achieved rate per second");
    f.axes(&mut o, "seconds since start", |v| format_number(v.round()));
    // Phase boundaries.
    let mut at = 0.0;
    for p in &r.run.phases {
        let x = f.x(at);
        let _ = write!(
            o,
            "<line x1=\"{x:.1}\" y1=\"{PAD_T}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#bbb\" stroke-dasharray=\"2 3\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#666\">{}</text>",
            H - PAD_B,
            x + 3.0,
            PAD_T + 22.0,
            esc(&p.name)
        );
        at += p.duration.as_secs_f64();
    }
    let step = |val: &dyn Fn(usize) -> f64| -> Vec<(f64, f64)> {
        (0..t.len())
            .flat_map(|i| {
                let y = f.y(val(i));
                [(f.x(i as f64), y), (f.x(i as f64 + 1.0), y)]
            })
            .collect()
    };
    // Runtime changes (control API).
    for e in &r.run.steering {
        let x = f.x(e.at_s);
        let _ = write!(
            o,
            "<line x1=\"{x:.1}\" y1=\"{PAD_T}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#bc4c00\" stroke-width=\"1.5\"><title>{}</title></line><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" fill=\"#bc4c00\">{}</text>",
            H - PAD_B,
            esc(&e.detail),
            x + 2.0,
            H - PAD_B - 4.0,
            esc(&e.action)
        );
    }
    polyline(&mut o, &step(&|i| t[i].target as f64), "#0969da", true);
    polyline(&mut o, &step(&|i| t[i].acked as f64), "#1a7f37", false);
    if t.iter().any(|p| p.failed + p.dropped > 0) {
        polyline(
            &mut o,
            &step(&|i| (t[i].failed + t[i].dropped) as f64),
            "#cf222e",
            false,
        );
    }
    legend(
        &mut o,
        &[
            ("target", "#0969da"),
            ("acked", "#1a7f37"),
            ("failed + dropped", "#cf222e"),
        ],
    );
    o.push_str("</svg>\n");
    o
}

/// Grouped bars per phase.
fn bars(
    label: &str,
    groups: &[(String, Vec<f64>)],
    series: &[(&str, &str)],
    y_fmt: impl Fn(f64) -> String,
) -> String {
    let y_max = nice_max(
        groups
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .fold(0.0, f64::max),
    );
    let f = Frame {
        x_max: groups.len().max(1) as f64,
        y_max,
    };
    let mut o = String::new();
    svg_open(&mut o, label);
    f.axes(&mut o, "phase", &y_fmt);
    let slot = (W - PAD_L - PAD_R) / groups.len().max(1) as f64;
    let bar_w = (slot * 0.8 / series.len().max(1) as f64).min(60.0);
    for (gi, (name, values)) in groups.iter().enumerate() {
        let x0 = f.x(gi as f64) + slot * 0.1;
        for (si, v) in values.iter().enumerate() {
            let x = x0 + si as f64 * bar_w;
            let y = f.y(*v);
            let _ = write!(
                o,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{}: {}</title></rect>",
                bar_w - 2.0,
                (H - PAD_B - y).max(0.0),
                series.get(si).map_or("#999", |s| s.1),
                esc(series.get(si).map_or("", |s| s.0)),
                esc(&y_fmt(*v))
            );
        }
        let _ = write!(
            o,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
            f.x(gi as f64) + slot / 2.0,
            H - PAD_B + 14.0,
            esc(name)
        );
    }
    legend(&mut o, series);
    o.push_str("</svg>\n");
    o
}

fn latency_plot(r: &Report) -> String {
    let e2e = r.arrivals.as_ref().map(|a| &a.end_to_end_by_phase);
    let groups: Vec<(String, Vec<f64>)> = r
        .run
        .phases
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let e = e2e.and_then(|v| v.get(i)).cloned().unwrap_or_default();
            (
                p.name.clone(),
                vec![
                    p.latency.p50_us as f64 / 1000.0,
                    p.latency.p99_us as f64 / 1000.0,
                    e.p50_us as f64 / 1000.0,
                    e.p99_us as f64 / 1000.0,
                ],
            )
        })
        .collect();
    bars(
        "latency percentiles per phase",
        &groups,
        &[
            ("send→ack p50", "#8ec5ff"),
            ("send→ack p99", "#0969da"),
            ("end-to-end p50", "#ffc58e"),
            ("end-to-end p99", "#bc4c00"),
        ],
        |v| format!("{} ms", format_number((v * 10.0).round() / 10.0)),
    )
}

fn arrivals_plot(r: &Report) -> String {
    let groups: Vec<(String, Vec<f64>)> = r
        .run
        .phases
        .iter()
        .map(|p| {
            let arrived: u64 = r
                .arrivals
                .as_ref()
                .map(|a| {
                    a.cells
                        .iter()
                        .filter(|c| c.phase == p.name)
                        .map(|c| c.arrived)
                        .sum()
                })
                .unwrap_or(0);
            (p.name.clone(), vec![p.counts.acked as f64, arrived as f64])
        })
        .collect();
    bars(
        "sends vs arrivals per phase",
        &groups,
        &[
            ("acked sends", "#1a7f37"),
            ("arrived at the queue", "#8250df"),
        ],
        |v| format_number(v.round()),
    )
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    #[test]
    fn axis_maxima_are_round() {
        assert_eq!(super::nice_max(0.0), 1.0);
        assert_eq!(super::nice_max(7.0), 10.0);
        assert_eq!(super::nice_max(180.0), 200.0);
        assert_eq!(super::nice_max(210.0), 250.0);
    }
}
