//! Reports on the virtual clock: every example scenario yields the same
//! bytes on every run (snapshotted as JSON and Markdown); assertions turn
//! into verdicts with per-phase details; the regression gate passes an
//! unchanged run and catches a slowed one; JUnit and HTML carry the verdicts.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use mbscenario::check::Status;
use mbscenario::ops::finish::{self, Measured};
use mbscenario::ops::virtual_run;
use mbscenario::plan::Plan;
use mbscenario::report::{self, Report, compare};
use mbscenario::scenario::{self, LoadOptions, Scenario, SourceFile, Vars};

fn load_file(path: &Path) -> Scenario {
    let opts = LoadOptions {
        vars: Vars::fixed(BTreeMap::new()),
        ..LoadOptions::default()
    };
    let shown = path.file_name().unwrap().to_string_lossy().to_string();
    scenario::load_file(path, &shown, &opts).unwrap_or_else(|d| panic!("{}", d.render_plain()))
}

fn load(yaml: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/report.yaml");
    scenario::load_source(
        SourceFile::new("report.yaml", path, yaml.to_string()),
        &LoadOptions {
            vars: Vars::fixed(BTreeMap::new()),
            ..LoadOptions::default()
        },
    )
    .unwrap_or_else(|d| panic!("{}", d.render_plain()))
}

#[test]
fn example_scenario_reports_are_byte_identical_and_snapshotted() {
    insta::glob!("../scenarios", "*.yaml", |path| {
        let s = load_file(path);
        let first = virtual_run::report(&s).unwrap();
        let again = virtual_run::report(&s).unwrap();
        assert_eq!(
            first.to_json(),
            again.to_json(),
            "{} is not deterministic",
            path.display()
        );
        insta::assert_snapshot!("markdown", report::markdown::render(&first));
        insta::assert_snapshot!("json", first.to_json());
    });
}

const SMALL: &str = "name: small
seed: 3
streams:
  - { name: cards, schema: ../../../schemas/pokemon_card.avsc, schema_id: 1, queue: q }
phases:
  - { name: steady, duration: 4s, rate: 50/s, mode: direct_sqs }
  - { name: flat-out, duration: 2s, rate: max, workers: 4 }
assertions:
  - { type: arrivals, queue: q, expect: all_acked, tolerance: 1%, within: 5s }
  - { type: arrivals, queue: q, expect: all_acked, tolerance: 0, within: 5s, phase: steady }
  - { type: throughput, phase: steady, min: 95% }
  - { type: throughput, phase: flat-out, min: 150/s }
  - { type: latency, metric: send_ack, percentile: p99, max: 30ms }
  - { type: errors, max: 0 }
  - { type: dropped, max: 0.5% }
  - { type: duplicates, max: 0 }
  - { type: queue_depth, queue: q, dead_letter: true, max: 0 }
";

fn measured(s: &Scenario, ack: Duration) -> (Plan, Measured) {
    let plan = Plan::compile(s);
    let m = virtual_run::measure_with(s, &plan, ack).unwrap();
    (plan, m)
}

fn statuses(r: &Report) -> Vec<Status> {
    r.verdicts.iter().map(|v| v.status).collect()
}

#[test]
fn verdicts_follow_what_was_measured() {
    let s = load(SMALL);
    let (plan, m) = measured(&s, Duration::from_millis(20));
    let r = finish::report(&s, &plan, m);
    use Status::*;
    // All measured and within bounds; the DLQ depth was not measured here.
    assert_eq!(
        statuses(&r),
        [
            Passed, Passed, Passed, Passed, Passed, Passed, Passed, Passed, Skipped
        ]
    );
    assert!(r.passed);
    assert_eq!(finish::exit_code(&r), mbscenario::exit::Exit::Passed);

    // Lose 3 messages of the steady phase: the whole-run check (1% tolerance)
    // still passes, the exact per-phase one fails and says where.
    let (plan, mut m) = measured(&s, Duration::from_millis(20));
    let acc = m.accounting.as_mut().unwrap();
    let cell = acc.cells.iter_mut().find(|c| c.phase == "steady").unwrap();
    cell.arrived -= 3;
    cell.missing += 3;
    let r = finish::report(&s, &plan, m);
    assert_eq!(r.verdicts[0].status, Passed, "{:?}", r.verdicts[0]);
    let v = &r.verdicts[1];
    assert_eq!(v.status, Failed);
    assert_eq!(v.observed, "197 of 200 arrived (3 missing)");
    assert_eq!(
        v.details,
        ["phase steady stream cards: 200 expected, 197 arrived, 3 missing, 0 duplicate(s)"]
    );
    assert_eq!(
        finish::exit_code(&r),
        mbscenario::exit::Exit::AssertionFailed
    );
    let md = report::markdown::render(&r);
    assert!(
        md.contains("| 2 | arrivals at q: every acknowledged message of phase steady"),
        "{md}"
    );
    assert!(
        md.contains("- #2: phase steady stream cards: 200 expected, 197 arrived, 3 missing"),
        "{md}"
    );

    // Slow acks: the closed-model phase falls under its absolute floor and
    // the send→ack p99 over its bound.
    let (plan, m) = measured(&s, Duration::from_millis(80));
    let r = finish::report(&s, &plan, m);
    assert_eq!(r.verdicts[3].status, Failed, "{:?}", r.verdicts[3]);
    assert_eq!(r.verdicts[3].observed, "50/s in phase flat-out");
    assert_eq!(r.verdicts[4].status, Failed);
    assert!(
        r.verdicts[4].observed.starts_with("p99 = 8"),
        "{:?}",
        r.verdicts[4]
    );
}

#[test]
fn sinks_without_arrival_counting_skip_arrival_checks() {
    let s = load(SMALL);
    let (plan, mut m) = measured(&s, Duration::from_millis(20));
    m.accounting = None;
    let r = finish::report(&s, &plan, m);
    assert_eq!(r.verdicts[0].status, Status::Skipped);
    assert_eq!(r.verdicts[7].status, Status::Skipped);
    assert!(r.passed, "skipped checks do not fail a run");
}

#[test]
fn regression_gate_passes_unchanged_runs_and_catches_a_slowed_one() {
    let s = load(SMALL);
    let json = |ack| {
        let (plan, m) = measured(&s, Duration::from_millis(ack));
        serde_json::to_value(finish::report(&s, &plan, m)).unwrap()
    };
    let base = json(20);
    let bounds = compare::Bounds::default();
    let same = compare::compare(&base, &json(20), bounds).unwrap();
    assert_eq!(same.regressions(), 0, "{}", compare::render(&same));
    let slowed = compare::compare(&base, &json(30), bounds).unwrap();
    let text = compare::render(&slowed);
    let flagged: Vec<(&str, &str)> = slowed
        .rows
        .iter()
        .filter(|r| r.regression)
        .map(|r| (r.phase.as_str(), r.metric))
        .collect();
    assert!(flagged.contains(&("flat-out", "throughput")), "{text}");
    assert!(flagged.contains(&("flat-out", "send_ack_p99")), "{text}");
    assert!(
        text.contains("| flat-out | throughput | 200/s | 134/s | -33% | **REGRESSION** |"),
        "{text}"
    );
}

#[test]
fn cli_report_compare_exits_1_on_a_regression() {
    let s = load(SMALL);
    let dir = std::env::temp_dir().join(format!("mbs-compare-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, ack| {
        let (plan, m) = measured(&s, Duration::from_millis(ack));
        let p = dir.join(name);
        std::fs::write(&p, finish::report(&s, &plan, m).to_json()).unwrap();
        p
    };
    let (base, same, slow) = (
        write("base.json", 20),
        write("same.json", 20),
        write("slow.json", 40),
    );
    let run = |current: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_mbscenario"))
            .args(["report", "compare"])
            .arg(&base)
            .arg(current)
            .output()
            .unwrap()
    };
    let ok = run(&same);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let bad = run(&slow);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stdout).contains("regression(s)"));
    let garbage = run(&dir.join("missing.json"));
    assert_eq!(garbage.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn junit_and_html_carry_the_verdicts() {
    let s = load(SMALL);
    let (plan, mut m) = measured(&s, Duration::from_millis(20));
    m.summary.phases[0].counts.failed = 2;
    let r = finish::report(&s, &plan, m);
    let xml = report::junit::render(&r);
    assert!(
        xml.contains("tests=\"9\" failures=\"1\" errors=\"0\" skipped=\"1\""),
        "{xml}"
    );
    assert!(
        xml.contains("<failure message=\"observed 2 failed of"),
        "{xml}"
    );
    let html = report::html::render(&r);
    assert!(html.contains("<svg") && html.matches("<svg").count() == 3);
    assert!(html.contains("FAILED"));
    assert!(!html.contains("<script"), "self-contained, no scripts");
}

#[test]
fn committed_report_schema_is_fresh_and_accepts_real_reports() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/report.schema.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let current = format!("{}\n", mbscenario::ops::report_schema_json());
    if committed != current {
        if std::env::var_os("MBS_UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &current).unwrap();
        } else {
            panic!(
                "docs/report.schema.json is stale: run `cargo run -- schema --report > docs/report.schema.json` (or MBS_UPDATE_SCHEMA=1 cargo test)"
            );
        }
    }
    let schema: serde_json::Value = serde_json::from_str(&current).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    // A report with every optional part: arrivals, failed verdicts, a baseline.
    let s = load(SMALL);
    let (plan, mut m) = measured(&s, Duration::from_millis(20));
    m.summary.phases[0].counts.failed = 1;
    let mut r = finish::report(&s, &plan, m);
    let base = serde_json::to_value(&r).unwrap();
    r.baseline = Some(compare::compare(&base, &base, compare::Bounds::default()).unwrap());
    let value = serde_json::to_value(&r).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // And the schema is not vacuous.
    let mut broken = value.clone();
    broken["verdicts"][0]["status"] = serde_json::json!("maybe");
    assert!(!validator.is_valid(&broken));
    broken = value;
    broken["run"]["phases"][0]["counts"]["acked"] = serde_json::json!(-1);
    assert!(!validator.is_valid(&broken));
}
