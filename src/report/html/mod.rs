//! A self-contained HTML page (inline CSS and SVG, no scripts, no network):
//!
//! ```text
//!   verdicts · per-phase table
//!   time charts (x: time since start with round ticks, phase bands):
//!     throughput   target (rate phases only) vs acked, baseline per phase, steering marks
//!     latency      send→ack p50/p99, end-to-end p50/p99 per second, baseline p99
//!     arrivals     acked vs arrived per second            (only when arrivals were counted)
//!     failures     failed by kind + dropped per second   (a sentence when there were none)
//!   details: the Markdown report rendered as HTML
//! ```
//!
//! A series that was not measured is neither drawn nor in the legend (see `chart.rs`).

mod chart;
mod seek;

use std::fmt::Write as _;

use super::Report;
use crate::check::Status;
use crate::scenario::units::format_number;

pub fn render(r: &Report) -> String {
    let mut o = String::new();
    head(&mut o, r);
    verdicts(&mut o, r);
    charts(&mut o, r);
    details(&mut o, r);
    o
}

/// The page up to the title and the run's one-line description.
fn head(o: &mut String, r: &Report) {
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
}

/// The assertions table, details under their verdict.
fn verdicts(o: &mut String, r: &Report) {
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
}

/// The per-phase table and the time charts, a seek chart per seek phase.
fn charts(o: &mut String, r: &Report) {
    o.push_str("<h2>Phases</h2>\n");
    o.push_str(&phase_table(r));
    let view = View::of(r);
    o.push_str("<h2>Throughput per second</h2>\n");
    o.push_str(&view.throughput(r));
    o.push_str("<h2>Latency per second</h2>\n");
    o.push_str(&view.latency(r));
    if r.arrivals.as_ref().is_some_and(|a| !a.queues.is_empty()) {
        o.push_str("<h2>Arrivals per second</h2>\n");
        o.push_str(&view.arrivals(r));
    }
    for k in &r.run.seek {
        let _ = writeln!(o, "<h2>Sustainable rate: phase {}</h2>", esc(&k.phase));
        o.push_str(&seek::chart(k));
    }
    o.push_str("<h2>Failed and dropped per second</h2>\n");
    o.push_str(&view.failures(r));
}

/// The rest of the Markdown report, as HTML; closes the page.
fn details(o: &mut String, r: &Report) {
    o.push_str("<h2>Details</h2>\n<div class=\"details\">");
    // The Markdown's title and verdict table are already at the top of the page.
    let md = super::markdown::render(r);
    let rest = md
        .match_indices("\n## ")
        .map(|(i, _)| &md[i..])
        .find(|s| !s.starts_with("\n## Assertions"))
        .unwrap_or("");
    o.push_str(&markdown_to_html(rest));
    o.push_str("</div>\n</body></html>\n");
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:2em;max-width:960px;color:#222}\
table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}\
.pass{color:#1a7f37;font-weight:bold}.fail{color:#cf222e;font-weight:bold}.skip{color:#777}\
.detail td{font-size:90%;color:#555;border-top:none}.meta{color:#555}.none{color:#57606a;font-style:italic}\
svg.chart{background:#fff;border:1px solid #ddd;display:block;margin:.5em 0}\
.details{font-size:90%;overflow-x:auto}.details pre{background:#f6f8fa;padding:1em;overflow:auto}";

const BLUE: &str = "#0969da";
const LIGHT_BLUE: &str = "#54aeff";
const GREEN: &str = "#1a7f37";
const ORANGE: &str = "#bc4c00";
const LIGHT_ORANGE: &str = "#fb8f44";
const PURPLE: &str = "#8250df";
const RED: &str = "#cf222e";
const GREY: &str = "#6e7781";
/// Colours for failure kinds, in order of first appearance.
const KIND_COLORS: [&str; 6] = [
    "#cf222e", "#8250df", "#bf3989", "#9a6700", "#1b7c83", "#57606a",
];

/// Most points a chart draws: a long run's seconds are grouped into buckets.
const MAX_POINTS: u64 = 1_800;

/// The time view of a report, shared by the charts: the run's length, the
/// phases as bands, and buckets of `bucket_s` seconds (the timeline's slots,
/// grouped further when there are more than [`MAX_POINTS`]).
struct View<'a> {
    seconds: u64,
    bucket_s: u64,
    buckets: usize,
    bands: Vec<chart::Band<'a>>,
    /// Per bucket: the phase its start belongs to.
    phase_of: Vec<Option<usize>>,
}

impl<'a> View<'a> {
    fn of(r: &'a Report) -> Self {
        let mut bands = Vec::new();
        let mut at = 0.0;
        for p in &r.run.phases {
            let d = p.duration.as_secs_f64();
            bands.push(chart::Band {
                name: &p.name,
                start_s: at,
                end_s: at + d,
            });
            at += d;
        }
        let step = r.run.timeline_step_s.max(1);
        let last = r.run.timeline.last().map_or(0, |p| p.second + step);
        let seconds = last.max(at.ceil() as u64).max(1);
        let bucket_s = step * seconds.div_ceil(step).div_ceil(MAX_POINTS).max(1);
        let buckets = seconds.div_ceil(bucket_s) as usize;
        let phase_of = (0..buckets)
            .map(|i| {
                let t = (i as u64 * bucket_s) as f64;
                bands.iter().position(|b| t >= b.start_s && t < b.end_s)
            })
            .collect();
        Self {
            seconds,
            bucket_s,
            buckets,
            bands,
            phase_of,
        }
    }

    fn bucket(&self, second: u64) -> Option<usize> {
        let i = (second / self.bucket_s) as usize;
        (i < self.buckets).then_some(i)
    }

    /// Messages per second from counts at `(second, count)`: each bucket's sum over
    /// its length; a bucket without points is 0 (nothing happened there).
    fn rate(&self, points: impl Iterator<Item = (u64, u64)>) -> Vec<Option<f64>> {
        let mut sums = vec![0u64; self.buckets];
        for (second, n) in points {
            if let Some(i) = self.bucket(second) {
                sums[i] += n;
            }
        }
        sums.into_iter()
            .map(|n| Some(n as f64 / self.bucket_s as f64))
            .collect()
    }

    /// The highest value in each bucket; `None` where nothing was measured.
    fn peak(&self, points: impl Iterator<Item = (u64, Option<f64>)>) -> Vec<Option<f64>> {
        let mut out = vec![None; self.buckets];
        for (second, v) in points {
            if let (Some(i), Some(v)) = (self.bucket(second), v) {
                out[i] = Some(out[i].map_or(v, |m: f64| m.max(v)));
            }
        }
        out
    }

    /// A per-phase value drawn across the phase's buckets (baselines).
    fn per_phase(&self, f: impl Fn(usize) -> Option<f64>) -> Vec<Option<f64>> {
        self.phase_of.iter().map(|p| p.and_then(&f)).collect()
    }

    fn chart(
        &self,
        label: &str,
        series: &[chart::Series<'_>],
        y: &dyn Fn(f64) -> String,
    ) -> String {
        if !series.iter().any(chart::Series::measured) {
            return format!("<p class=\"none\">Nothing measured: {}.</p>\n", esc(label));
        }
        chart::time_chart(
            label,
            self.seconds as f64,
            self.bucket_s as f64,
            &self.bands,
            series,
            y,
        )
    }

    fn acked(&self, r: &Report) -> chart::Series<'static> {
        chart::Series {
            name: "acked",
            color: GREEN,
            dashed: false,
            values: self.rate(r.run.timeline.iter().map(|p| (p.second, p.acked))),
        }
    }

    fn throughput(&self, r: &Report) -> String {
        let t = &r.run.timeline;
        // A closed (`max`) phase has no target: nothing is drawn there.
        let open = |i: usize| self.phase_of[i].is_some_and(|p| r.run.phases[p].planned.is_some());
        let target = self.rate(t.iter().map(|p| (p.second, p.target)));
        let mut series = vec![
            self.acked(r),
            chart::Series {
                name: "target",
                color: BLUE,
                dashed: true,
                values: target
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| v.filter(|_| open(i)))
                    .collect(),
            },
        ];
        if let Some(b) = &r.baseline {
            series.push(chart::Series {
                name: "baseline (achieved per phase)",
                color: GREY,
                dashed: true,
                values: self.per_phase(|p| baseline(b, &r.run.phases[p].name, "throughput")),
            });
        }
        let markers: Vec<(f64, String, String)> = r
            .run
            .steering
            .iter()
            .map(|e| (e.at_s, e.action.clone(), e.detail.clone()))
            .collect();
        chart::with_markers(
            self.chart("messages per second: target vs acked", &series, &|v| {
                format_number(v.round())
            }),
            self.seconds as f64,
            &markers,
        )
    }

    fn latency(&self, r: &Report) -> String {
        let t = &r.run.timeline;
        let ms = |us: u64| us as f64 / 1000.0;
        let arrivals = r.arrivals.iter().flat_map(|a| &a.per_second);
        let mut series = vec![
            chart::Series {
                name: "send→ack p50",
                color: LIGHT_BLUE,
                dashed: false,
                values: self.peak(t.iter().map(|p| (p.second, p.ack_p50_us.map(ms)))),
            },
            chart::Series {
                name: "send→ack p99",
                color: BLUE,
                dashed: false,
                values: self.peak(t.iter().map(|p| (p.second, p.ack_p99_us.map(ms)))),
            },
            chart::Series {
                name: "end-to-end p50",
                color: LIGHT_ORANGE,
                dashed: false,
                values: self.peak(arrivals.clone().map(|a| (a.second, a.e2e_p50_us.map(ms)))),
            },
            chart::Series {
                name: "end-to-end p99",
                color: ORANGE,
                dashed: false,
                values: self.peak(arrivals.map(|a| (a.second, a.e2e_p99_us.map(ms)))),
            },
        ];
        if let Some(b) = &r.baseline {
            series.push(chart::Series {
                name: "baseline send→ack p99",
                color: GREY,
                dashed: true,
                values: self.per_phase(|p| baseline(b, &r.run.phases[p].name, "send_ack_p99")),
            });
        }
        self.chart("latency per second (ms)", &series, &|v| {
            format!("{} ms", format_number((v * 10.0).round() / 10.0))
        })
    }

    fn arrivals(&self, r: &Report) -> String {
        let arrived = r.arrivals.iter().flat_map(|a| &a.per_second);
        let series = [
            self.acked(r),
            chart::Series {
                name: "arrived at the queue",
                color: PURPLE,
                dashed: false,
                values: self.rate(arrived.map(|a| (a.second, a.arrived))),
            },
        ];
        self.chart("messages per second: acked vs arrived", &series, &|v| {
            format_number(v.round())
        })
    }

    fn failures(&self, r: &Report) -> String {
        let t = &r.run.timeline;
        if t.iter().all(|p| p.failed == 0 && p.dropped == 0) {
            return "<p class=\"none\">No message failed or was dropped.</p>\n".into();
        }
        let mut kinds: Vec<&str> = Vec::new();
        for p in t {
            for k in p.failed_by_kind.keys() {
                if !kinds.contains(&k.as_str()) {
                    kinds.push(k);
                }
            }
        }
        let mut names: Vec<String> = kinds.iter().map(|k| format!("failed: {k}")).collect();
        names.push("dropped (in-flight budget)".into());
        let mut series: Vec<chart::Series<'_>> = kinds
            .iter()
            .zip(&names)
            .enumerate()
            .map(|(i, (k, name))| chart::Series {
                name,
                color: KIND_COLORS[i % KIND_COLORS.len()],
                dashed: false,
                values: self.rate(
                    t.iter()
                        .map(|p| (p.second, p.failed_by_kind.get(*k).copied().unwrap_or(0))),
                ),
            })
            .collect();
        if t.iter().any(|p| p.dropped > 0) {
            series.push(chart::Series {
                name: names.last().map_or("dropped", String::as_str),
                color: RED,
                dashed: true,
                values: self.rate(t.iter().map(|p| (p.second, p.dropped))),
            });
        }
        self.chart(
            "failed and dropped messages per second, by kind",
            &series,
            &|v| format_number(v.round()),
        )
    }
}

/// The baseline's value of `metric` for `phase` (throughput in msgs/s, latencies in ms).
fn baseline(c: &super::compare::Comparison, phase: &str, metric: &str) -> Option<f64> {
    c.rows
        .iter()
        .find(|r| r.phase == phase && r.metric == metric)
        .map(|r| r.base)
}

fn phase_table(r: &Report) -> String {
    let mut o = String::from(
        "<table class=\"phases\"><tr><th>phase</th><th>mode</th><th>planned</th><th>acked</th><th>failed</th><th>dropped</th><th>achieved</th><th>send→ack p50</th><th>p99</th><th>end-to-end p99</th><th>arrived</th></tr>\n",
    );
    let ms = |us: u64| format!("{} ms", format_number((us as f64 / 100.0).round() / 10.0));
    for (i, p) in r.run.phases.iter().enumerate() {
        let arrivals = r.arrivals.as_ref();
        let arrived: Option<u64> = arrivals.map(|a| {
            a.cells
                .iter()
                .filter(|c| c.phase == p.name)
                .map(|c| c.arrived)
                .sum()
        });
        let e2e = arrivals
            .and_then(|a| a.end_to_end_by_phase.get(i))
            .filter(|e| e.count > 0);
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}/s</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&p.name),
            esc(serde_json::to_value(p.mode)
                .ok()
                .as_ref()
                .and_then(|v| v.as_str())
                .unwrap_or("")),
            p.planned.map_or("max".into(), |n| n.to_string()),
            p.counts.acked,
            p.counts.failed,
            p.counts.dropped,
            format_number(p.achieved_rate.round()),
            if p.latency.count > 0 {
                ms(p.latency.p50_us)
            } else {
                "–".into()
            },
            if p.latency.count > 0 {
                ms(p.latency.p99_us)
            } else {
                "–".into()
            },
            e2e.map_or("–".into(), |e| ms(e.p99_us)),
            arrived.map_or("–".into(), |n| n.to_string()),
        );
    }
    o.push_str("</table>\n");
    o
}

/// The Markdown report as HTML (tables included), for the Details section.
fn markdown_to_html(md: &str) -> String {
    let parser = pulldown_cmark::Parser::new_ext(md, pulldown_cmark::Options::ENABLE_TABLES);
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, parser);
    html
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
