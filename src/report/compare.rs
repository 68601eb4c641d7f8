//! The regression gate: two JSON reports compared phase by phase.
//!
//! Throughput (achieved msgs/s) may not drop, and send→ack / end-to-end
//! p99 latency may not rise, by more than `max_regression` percent. Latency
//! changes smaller than `latency_floor` are noise on a busy CI machine and
//! never count. Reports are read into [`Report`]; their `report_version`
//! is checked first, so a report of another version says so.

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Report;
use crate::check::fmt_latency;
use crate::engine::summary::PhaseSummary;
use crate::scenario::units::{format_number, format_rate};

#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Allowed worsening, percent.
    pub max_regression: f64,
    pub latency_floor: Duration,
    /// Compare reports of runs steered at runtime (refused by default).
    pub allow_steered: bool,
}

impl Default for Bounds {
    fn default() -> Self {
        Self {
            max_regression: 10.0,
            latency_floor: Duration::from_millis(1),
            allow_steered: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Row {
    pub phase: String,
    /// `throughput`, `send_ack_p99`, `end_to_end_p99`.
    pub metric: std::borrow::Cow<'static, str>,
    pub base: f64,
    pub current: f64,
    /// Signed change in percent (positive = higher).
    pub delta_pct: f64,
    pub regression: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Comparison {
    pub base_scenario: String,
    pub current_scenario: String,
    pub max_regression_pct: f64,
    pub rows: Vec<Row>,
    /// Phases of the base missing from the current report (a regression too).
    pub missing_phases: Vec<String>,
    pub notes: Vec<String>,
}

impl Comparison {
    pub fn regressions(&self) -> usize {
        self.rows.iter().filter(|r| r.regression).count() + self.missing_phases.len()
    }
}

/// Why two reports cannot be compared.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct CompareError(pub String);

fn version(v: &Value, which: &str) -> Result<u64, CompareError> {
    v.get("report_version")
        .and_then(Value::as_u64)
        .ok_or_else(|| {
            CompareError(format!(
                "the {which} file is not an mbscenario JSON report (no report_version)"
            ))
        })
}

/// Compares two JSON reports: the versions first (so an older report says
/// so instead of failing to parse), then [`compare_reports`].
pub fn compare(base: &Value, current: &Value, bounds: Bounds) -> Result<Comparison, CompareError> {
    let (bv, cv) = (version(base, "base")?, version(current, "current")?);
    if bv != cv {
        return Err(CompareError(format!(
            "report versions differ (base {bv}, current {cv}); re-create the baseline with this version"
        )));
    }
    let read = |v: &Value, which: &str| {
        Report::deserialize(v)
            .map_err(|e| CompareError(format!("the {which} report cannot be read: {e}")))
    };
    compare_reports(&read(base, "base")?, &read(current, "current")?, bounds)
}

/// The runtime changes of a steered run, briefly (`None` when unsteered).
fn steered(r: &Report) -> Option<String> {
    let events = &r.run.steering;
    if events.is_empty() {
        return None;
    }
    let list: Vec<String> = events
        .iter()
        .take(3)
        .map(|e| format!("at {:.1}s {}", e.at_s, e.detail))
        .collect();
    let more = events.len().saturating_sub(3);
    Some(format!(
        "{} change(s): {}{}",
        events.len(),
        list.join("; "),
        if more > 0 {
            format!("; … {more} more")
        } else {
            String::new()
        }
    ))
}

/// Refusals: a shard against anything but the same shard, steered runs
/// unless allowed; the notes for steered runs that are compared anyway.
fn comparable(
    base: &Report,
    current: &Report,
    bounds: Bounds,
) -> Result<Vec<String>, CompareError> {
    // A shard carries 1/N of the load: comparing it with anything but the
    // same shard of another run would report the ratio as a regression.
    let shard = |r: &Report| r.shard.map(|s| format!("shard {}/{}", s.index, s.count));
    let (bs, cs) = (shard(base), shard(current));
    if bs != cs {
        let name = |s: &Option<String>| s.clone().unwrap_or_else(|| "a whole run".into());
        return Err(CompareError(format!(
            "the base report is {} and the current one is {}: merge shard reports first (`mbscenario report merge`) and compare whole runs",
            name(&bs),
            name(&cs)
        )));
    }
    let mut notes = Vec::new();
    for (r, which) in [(base, "base"), (current, "current")] {
        if let Some(what) = steered(r) {
            if !bounds.allow_steered {
                return Err(CompareError(format!(
                    "the {which} run was steered by hand at runtime ({what}); its numbers do not follow the scenario, so a comparison would mislead — use an unsteered run, or pass --allow-steered to compare anyway"
                )));
            }
            notes.push(format!("the {which} run was steered at runtime ({what})"));
        }
    }
    Ok(notes)
}

/// Phase by phase: throughput, send→ack p99, end-to-end p99 and a seek
/// phase's sustainable rate.
pub fn compare_reports(
    base: &Report,
    current: &Report,
    bounds: Bounds,
) -> Result<Comparison, CompareError> {
    let mut out = Comparison {
        base_scenario: base.scenario.clone(),
        current_scenario: current.scenario.clone(),
        max_regression_pct: bounds.max_regression,
        rows: Vec::new(),
        missing_phases: Vec::new(),
        notes: comparable(base, current, bounds)?,
    };
    if out.base_scenario != out.current_scenario {
        out.notes.push(format!(
            "comparing different scenarios ({} vs {})",
            out.base_scenario, out.current_scenario
        ));
    }
    for (bi, b) in base.run.phases.iter().enumerate() {
        let found = current
            .run
            .phases
            .iter()
            .enumerate()
            .find(|(_, c)| c.name == b.name);
        let Some((ci, c)) = found else {
            out.missing_phases.push(b.name.clone());
            continue;
        };
        let pname = b.name.as_str();
        let regressed = throughput_regressed(&mut out.notes, b, c, bounds);
        out.rows.push(row(
            pname,
            "throughput",
            b.achieved_rate,
            c.achieved_rate,
            regressed,
        ));
        let floor_us = bounds.latency_floor.as_micros() as f64;
        let latency = |metric: &'static str, b_us: f64, c_us: f64| {
            let worse = c_us - b_us > floor_us
                && b_us > 0.0
                && (c_us - b_us) / b_us * 100.0 > bounds.max_regression;
            row(pname, metric, b_us, c_us, worse)
        };
        let p99 = |p: &crate::stats::Percentiles| p.p99_us as f64;
        out.rows
            .push(latency("send_ack_p99", p99(&b.latency), p99(&c.latency)));
        let e2e = |r: &Report, i: usize| {
            let a = r.arrivals.as_ref()?;
            a.end_to_end_by_phase.get(i).map(|p| p.p99_us as f64)
        };
        if let (Some(be), Some(ce)) = (e2e(base, bi), e2e(current, ci)) {
            out.rows.push(latency("end_to_end_p99", be, ce));
        }
        // What a seek phase found is a throughput figure: it may not drop either.
        let found = |r: &Report| {
            r.run
                .seek
                .iter()
                .find(|s| s.phase == b.name)
                .map(|s| s.sustainable_rate.unwrap_or(0.0))
        };
        if let (Some(bs), Some(cs)) = (found(base), found(current)) {
            let regressed = bs > 0.0 && (bs - cs) / bs * 100.0 > bounds.max_regression;
            out.rows
                .push(row(pname, "sustainable_rate", bs, cs, regressed));
        }
    }
    Ok(out)
}

/// Throughput may not drop; when the phase asked for a different rate (a
/// changed plan is not a regression) it is judged as a share of each
/// run's target, with a note.
fn throughput_regressed(
    notes: &mut Vec<String>,
    b: &PhaseSummary,
    c: &PhaseSummary,
    bounds: Bounds,
) -> bool {
    let (bt, ct) = (b.achieved_rate, c.achieved_rate);
    let (btarget, ctarget) = (b.target_rate, c.target_rate);
    let plan_changed = match (btarget, ctarget) {
        (Some(x), Some(y)) => (x - y).abs() > 0.005 * x.abs().max(y.abs()),
        (None, None) => false,
        _ => true,
    };
    if !plan_changed {
        return bt > 0.0 && (bt - ct) / bt * 100.0 > bounds.max_regression;
    }
    notes.push(format!(
        "phase {}: the plans differ (target {} → {}): throughput is compared as a share of each run's target",
        b.name,
        btarget.map_or("max".into(), format_rate),
        ctarget.map_or("max".into(), format_rate)
    ));
    match (btarget, ctarget) {
        (Some(x), Some(y)) if x > 0.0 && y > 0.0 => {
            let (bs, cs) = (bt / x, ct / y);
            bs > 0.0 && (bs - cs) / bs * 100.0 > bounds.max_regression
        }
        _ => false,
    }
}

fn row(phase: &str, metric: &'static str, base: f64, current: f64, regression: bool) -> Row {
    let delta_pct = if base == 0.0 {
        0.0
    } else {
        (current - base) / base * 100.0
    };
    Row {
        phase: phase.to_string(),
        metric: metric.into(),
        base,
        current,
        delta_pct,
        regression,
    }
}

/// The comparison as a Markdown table, regressions marked.
pub fn render(c: &Comparison) -> String {
    let mut o = format!(
        "Regression gate: {} (current) vs baseline, at most {}% worse\n\n| phase | metric | baseline | current | change | |\n|---|---|---|---|---|---|\n",
        c.current_scenario,
        format_number(c.max_regression_pct)
    );
    for r in &c.rows {
        let fmt = |v: f64| match &*r.metric {
            "throughput" | "sustainable_rate" => format_rate(v),
            _ => fmt_latency(Duration::from_micros(v as u64)),
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {}{}% | {} |",
            r.phase,
            r.metric,
            fmt(r.base),
            fmt(r.current),
            if r.delta_pct > 0.0 { "+" } else { "" },
            format_number((r.delta_pct * 10.0).round() / 10.0),
            if r.regression { "**REGRESSION**" } else { "ok" }
        );
    }
    for p in &c.missing_phases {
        let _ = writeln!(
            o,
            "\nphase {p} of the baseline is missing from the current run: **REGRESSION**"
        );
    }
    for n in &c.notes {
        let _ = writeln!(o, "\nnote: {n}");
    }
    let _ = writeln!(
        o,
        "\n{}",
        match c.regressions() {
            0 => "no regression".to_string(),
            n => format!("{n} regression(s)"),
        }
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report(rate: f64, p99: u64) -> Value {
        json!({
            "report_version": 1,
            "scenario": "s",
            "run": { "phases": [ { "name": "steady", "achieved_rate": rate, "latency": { "p99_us": p99 } } ] }
        })
    }

    #[test]
    fn flags_throughput_drops_and_latency_rises_beyond_the_bound() {
        let b = Bounds::default();
        let same = compare(&report(100.0, 5_000), &report(95.0, 5_400), b).unwrap();
        assert_eq!(same.regressions(), 0, "{}", render(&same));
        let slower = compare(&report(100.0, 5_000), &report(80.0, 5_000), b).unwrap();
        assert_eq!(slower.regressions(), 1);
        assert!(slower.rows[0].regression && slower.rows[0].metric == "throughput");
        let laggier = compare(&report(100.0, 5_000), &report(100.0, 9_000), b).unwrap();
        assert!(laggier.rows[1].regression);
        // +300µs on 1ms is +30% but under the 1ms floor: noise, not a regression.
        let tiny = compare(&report(100.0, 1_000), &report(100.0, 1_300), b).unwrap();
        assert_eq!(tiny.regressions(), 0);
        assert!(render(&slower).contains("**REGRESSION**"));
    }

    #[test]
    fn a_changed_plan_is_not_a_regression() {
        let with_target = |target: f64, rate: f64| {
            let mut r = report(rate, 5_000);
            r["run"]["phases"][0]["target_rate"] = json!(target);
            r
        };
        let b = Bounds::default();
        // The plateau was lowered 200 → 150/s and delivered: the plans differ.
        let lowered = compare(&with_target(200.0, 200.0), &with_target(150.0, 150.0), b).unwrap();
        assert_eq!(lowered.regressions(), 0, "{}", render(&lowered));
        assert!(render(&lowered).contains("the plans differ (target 200/s → 150/s)"));
        // Same lower plan, but only half of it delivered: a regression.
        let short = compare(&with_target(200.0, 200.0), &with_target(150.0, 75.0), b).unwrap();
        assert_eq!(short.regressions(), 1, "{}", render(&short));
        // Same plan, same drop as before: still a regression.
        let same = compare(&with_target(200.0, 200.0), &with_target(200.0, 150.0), b).unwrap();
        assert_eq!(same.regressions(), 1);
    }

    #[test]
    fn refuses_non_reports_and_version_mismatches() {
        assert!(compare(&json!({}), &report(1.0, 1), Bounds::default()).is_err());
        let mut v2 = report(1.0, 1);
        v2["report_version"] = json!(2);
        let e = compare(&report(1.0, 1), &v2, Bounds::default()).unwrap_err();
        assert!(e.0.contains("versions differ"));
    }
}
