//! Markdown rendering of a [`Report`]: verdicts first (what CI and people
//! look at), then phases, arrivals and backend state. [`verdict_table`] is
//! also the console summary printed at the end of `mbscenario run`.
//!
//! [`render`] in section order, one function each: `header` → assertions
//! ([`verdict_table`]) → `phases` → `seek_section` per seek phase →
//! `arrivals` → baseline ([`super::compare::render`]) → `steering` → `backend`.

use std::fmt::Write as _;

use super::Report;
use crate::check::{Status, Verdict, fmt_latency};
use crate::collect::Accounting;
use crate::plan::describe::group;
use crate::scenario::units::{format_elapsed, format_number, format_rate};

pub fn render(r: &Report) -> String {
    let mut o = String::new();
    header(&mut o, r);
    o.push_str("## Assertions\n\n");
    o.push_str(&verdict_table(&r.verdicts));
    phases(&mut o, r);
    for k in &r.run.seek {
        seek_section(&mut o, k);
    }
    if let Some(acc) = &r.arrivals {
        arrivals(&mut o, acc);
    }
    if let Some(c) = &r.baseline {
        o.push_str("\n## Baseline\n\n");
        o.push_str(&super::compare::render(c));
    }
    if !r.run.steering.is_empty() {
        steering(&mut o, r);
    }
    if !r.backend.is_empty() {
        backend(&mut o, r);
    }
    o
}

/// Title with the verdict, then what the run was (seed, sink, size) and
/// whatever makes its numbers read differently: interrupted, stopped,
/// a shard, a merge, steered.
fn header(o: &mut String, r: &Report) {
    let _ = writeln!(
        o,
        "# {} — {}\n",
        r.scenario,
        if r.passed { "PASSED" } else { "FAILED" }
    );
    if let Some(d) = &r.description {
        let _ = writeln!(o, "{}\n", d.trim_end());
    }
    let _ = writeln!(
        o,
        "seed {} · sink {} · started {} · {} planned · {} acked · ran {}\n",
        r.seed,
        r.sink,
        r.started_at,
        group(r.planned_messages),
        group(r.run.totals.acked),
        format_elapsed(r.run.elapsed)
    );
    if r.run.interrupted {
        let _ = writeln!(
            o,
            "**The run was interrupted before its last phase ended.**\n"
        );
    }
    if let Some(f) = &r.run.fatal {
        let _ = writeln!(o, "**The run was stopped:** {f}\n");
    }
    if let Some(sh) = r.shard {
        let _ = writeln!(
            o,
            "**Shard {} of {}**: the records n ≡ {} (mod {}) of every stream; `mbscenario report merge` combines the shards' reports.\n",
            sh.index, sh.count, sh.index, sh.count
        );
    }
    if !r.merged_from.is_empty() {
        let _ = writeln!(
            o,
            "**Merged from {} shard reports**; counts and histograms combined, assertions evaluated on the whole plan.\n",
            r.merged_from.len()
        );
    }
    if r.run.steered {
        let _ = writeln!(
            o,
            "**Steered at runtime** ({} change(s) through the control API): the numbers below do not follow the scenario alone; `report compare` refuses this report unless `--allow-steered`.\n",
            r.run.steering.len()
        );
    }
}

/// One row per phase: target against achieved rate, counts, send→ack latency.
fn phases(o: &mut String, r: &Report) {
    o.push_str("\n## Phases\n\n");
    o.push_str(
        "| phase | mode | target | achieved | planned | acked | failed | dropped | send→ack p50 | p99 |\n",
    );
    o.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
    for p in &r.run.phases {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            p.name,
            p.mode.as_str(),
            p.target_rate.map_or("max".into(), format_rate),
            format_rate(p.achieved_rate),
            p.planned.map_or("—".into(), group),
            group(p.counts.acked),
            group(p.counts.failed),
            group(p.counts.dropped),
            us(p.latency.p50_us),
            us(p.latency.p99_us),
        );
    }
}

/// Per queue, then per phase × stream × queue; collector errors and samples
/// of messages nobody sent.
fn arrivals(o: &mut String, acc: &Accounting) {
    o.push_str("\n## Arrivals\n\n");
    o.push_str("| queue | expected | arrived | missing | duplicates | unknown | received |\n");
    o.push_str("|---|---|---|---|---|---|---|\n");
    for q in &acc.queues {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} |",
            q.queue,
            group(q.expected),
            group(q.arrived),
            group(q.missing),
            group(q.duplicates),
            group(q.unknown),
            group(q.received)
        );
    }
    o.push_str("\n| phase | stream | queue | expected | arrived | missing | late | end-to-end p50 | p99 |\n");
    o.push_str("|---|---|---|---|---|---|---|---|---|\n");
    for c in &acc.cells {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            c.phase,
            c.stream,
            c.queue,
            group(c.expected),
            group(c.arrived),
            group(c.missing),
            group(c.late),
            us(c.end_to_end.p50_us),
            us(c.end_to_end.p99_us)
        );
    }
    for e in &acc.collector_errors {
        let _ = writeln!(o, "\ncollector: {e}");
    }
    for u in &acc.unknown_samples {
        let _ = writeln!(
            o,
            "\nunknown message at {}: `{}`",
            u.queue,
            u.body.replace('`', "'")
        );
    }
}

/// Every change made through the control API, in time order.
fn steering(o: &mut String, r: &Report) {
    o.push_str(
        "\n## Steering\n\n| at | phase | action | stream | change |\n|---|---|---|---|---|\n",
    );
    for e in &r.run.steering {
        let _ = writeln!(
            o,
            "| {}s | {} | {} | {} | {} |",
            format_number(e.at_s),
            e.phase.as_deref().unwrap_or("-"),
            e.action,
            e.stream.as_deref().unwrap_or("all"),
            e.detail.replace('|', "\\|")
        );
    }
}

/// Connectors and queues as watched, per snapshot.
fn backend(o: &mut String, r: &Report) {
    o.push_str("\n## Backend\n\n");
    for s in &r.backend {
        let _ = writeln!(o, "- **{}**", s.at);
        for c in &s.connectors {
            let _ = writeln!(
                o,
                "  - connector {}: {} (tasks: {})",
                c.name,
                c.state,
                c.tasks.join(", ")
            );
            if let Some(t) = &c.trace {
                let _ = writeln!(o, "    ```\n    {}\n    ```", t.replace('\n', "\n    "));
            }
        }
        for q in &s.queues {
            let _ = writeln!(
                o,
                "  - {}queue {}: {} visible, {} in flight",
                if q.dead_letter { "dead-letter " } else { "" },
                q.queue,
                group(q.visible),
                group(q.in_flight)
            );
        }
        for e in &s.errors {
            let _ = writeln!(o, "  - {e}");
        }
    }
}

/// `| # | assertion | observed | bound | result |` plus indented details.
pub fn verdict_table(verdicts: &[Verdict]) -> String {
    if verdicts.is_empty() {
        return "No assertions: the run passes unless it fails to run.\n".into();
    }
    let mut o =
        String::from("| # | assertion | observed | bound | result |\n|---|---|---|---|---|\n");
    for v in verdicts {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} |",
            v.index,
            v.description.replace('|', "\\|"),
            v.observed,
            v.bound,
            match v.status {
                Status::Passed => "pass",
                Status::Failed => "**FAIL**",
                Status::Skipped => "skipped",
            }
        );
    }
    let details: Vec<String> = verdicts
        .iter()
        .filter(|v| v.status == Status::Failed)
        .flat_map(|v| {
            v.details
                .iter()
                .map(move |d| format!("- #{}: {d}", v.index))
        })
        .collect();
    if !details.is_empty() {
        o.push('\n');
        o.push_str(&details.join("\n"));
        o.push('\n');
    }
    o
}

fn us(v: u64) -> String {
    if v == 0 {
        "—".into()
    } else {
        fmt_latency(std::time::Duration::from_micros(v))
    }
}

/// What a `seek` phase found, and every level it tried.
fn seek_section(o: &mut String, k: &crate::engine::seek::SeekResult) {
    let _ = writeln!(o, "\n## Sustainable rate (phase {})\n", k.phase);
    let found = k.sustainable_rate.map_or("none".into(), format_rate);
    let _ = write!(o, "**{found}** sustainable");
    if let (Some(b), Some(why)) = (k.first_failing_rate, &k.failing_bound) {
        let _ = write!(o, "; first failing level {}: {why}", format_rate(b));
    }
    let latency = if k.latency == "end_to_end" {
        "end-to-end"
    } else {
        "send→ack"
    };
    let _ = writeln!(
        o,
        ".{} Levels judged on {latency} latency.\n",
        if k.complete {
            ""
        } else {
            " The search did not converge before the phase ended: a lower bound."
        }
    );
    if let Some(h) = &k.held {
        let _ = writeln!(
            o,
            "The rest of the phase at {} {} ({}s judged, backlog growth {}).\n",
            format_rate(h.rate),
            if h.held {
                "held"
            } else {
                "**did not hold**: the pipeline slows down over time"
            },
            format_number(h.seconds.round()),
            h.backlog_growth
        );
    }
    o.push_str(
        "| level | at | rate | result | p99 | scheduled | dropped | failed | backlog growth |\n",
    );
    o.push_str("|---|---|---|---|---|---|---|---|---|\n");
    for (i, l) in k.levels.iter().enumerate() {
        let _ = writeln!(
            o,
            "| {} | {}s | {} | {} | {} | {} | {} | {} | {} |",
            i + 1,
            format_number(l.start_s.round()),
            format_rate(l.rate),
            if l.passed {
                "pass".to_string()
            } else {
                format!("fail: {}", l.failed_bound.as_deref().unwrap_or(""))
            },
            l.p99_us.map_or("—".into(), us),
            group(l.scheduled),
            group(l.dropped),
            group(l.failed),
            l.backlog_growth,
        );
    }
}
