//! Reports on the virtual clock: every example scenario yields the same
//! bytes on every run (snapshotted as JSON and Markdown); assertions turn
//! into verdicts with per-phase details; the regression gate passes an
//! unchanged run and catches a slowed one; JUnit and HTML carry the verdicts.

use std::path::Path;
use std::time::Duration;

use mbscenario::check::Status;
use mbscenario::ops::finish::{self, Measured};
use mbscenario::ops::virtual_run;
use mbscenario::plan::Plan;
use mbscenario::report::{self, Report, compare};
use mbscenario::scenario::Scenario;

use crate::support::scenario_file as load_file;

fn load(yaml: &str) -> Scenario {
    crate::support::scenario_yaml("tests/fixtures/valid/report.yaml", yaml, &[])
}

#[test]
fn example_scenario_reports_are_byte_identical_and_snapshotted() {
    insta::glob!("../../scenarios", "*.yaml", |path| {
        let s = load_file(path);
        let first = virtual_run::report(&s).unwrap();
        let again = virtual_run::report(&s).unwrap();
        assert_eq!(
            first.to_json(),
            again.to_json(),
            "{} is not deterministic",
            path.display()
        );
        // `report compare` and `report merge` read reports as this type.
        let back: mbscenario::report::Report =
            serde_json::from_str(&first.to_json()).expect("a report reads back");
        assert_eq!(
            back.to_json(),
            first.to_json(),
            "{} does not read back",
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
    let m = virtual_run::measure_with(&plan, ack).unwrap();
    (plan, m)
}

fn statuses(r: &Report) -> Vec<Status> {
    r.verdicts.iter().map(|v| v.status).collect()
}

#[test]
fn verdicts_follow_what_was_measured() {
    let s = load(SMALL);
    let (plan, m) = measured(&s, Duration::from_millis(20));
    let r = finish::report(&plan, m);
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
    let r = finish::report(&plan, m);
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
    let r = finish::report(&plan, m);
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
    let r = finish::report(&plan, m);
    assert_eq!(r.verdicts[0].status, Status::Skipped);
    assert_eq!(r.verdicts[7].status, Status::Skipped);
    assert!(r.passed, "skipped checks do not fail a run");
}

#[test]
fn regression_gate_passes_unchanged_runs_and_catches_a_slowed_one() {
    let s = load(SMALL);
    let json = |ack| {
        let (plan, m) = measured(&s, Duration::from_millis(ack));
        serde_json::to_value(finish::report(&plan, m)).unwrap()
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
        .map(|r| (r.phase.as_str(), &*r.metric))
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
        std::fs::write(&p, finish::report(&plan, m).to_json()).unwrap();
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
    let r = finish::report(&plan, m);
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
    // Throughput, latency, arrivals; no failure chart (the timeline has none).
    assert_eq!(html.matches("<svg").count(), 3);
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
    let mut r = finish::report(&plan, m);
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

/// Headless Chromium, if this machine has one (`.ci/run` installs it).
fn chromium() -> Option<std::path::PathBuf> {
    let candidates = ["chromium", "chromium-browser", "google-chrome"];
    std::env::var_os("MBS_CHROMIUM")
        .map(std::path::PathBuf::from)
        .into_iter()
        .chain(candidates.iter().filter_map(|c| {
            std::env::var_os("PATH").and_then(|p| {
                std::env::split_paths(&p)
                    .map(|d| d.join(c))
                    .find(|f| f.is_file())
            })
        }))
        .next()
}

/// The DOM Chromium builds from `html`, and a screenshot of it.
fn render_in_chromium(browser: &Path, html: &str, name: &str) -> (String, Vec<u8>) {
    let dir = std::env::temp_dir().join(format!("mbs-html-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("report.html");
    std::fs::write(&page, html).unwrap();
    let url = format!("file://{}", page.display());
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
    ];
    let dom = std::process::Command::new(browser)
        .args(common)
        .args(["--dump-dom", &url])
        .output()
        .expect("chromium runs");
    assert!(dom.status.success(), "chromium --dump-dom failed: {dom:?}");
    let png = dir.join("report.png");
    let shot = std::process::Command::new(browser)
        .args(common)
        .args([
            "--window-size=1000,2400",
            &format!("--screenshot={}", png.display()),
            &url,
        ])
        .output()
        .expect("chromium runs");
    assert!(
        shot.status.success(),
        "chromium --screenshot failed: {shot:?}"
    );
    let image = std::fs::read(&png).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    (String::from_utf8_lossy(&dom.stdout).into_owned(), image)
}

/// The charts of one `<svg aria-label=…>` in a DOM, by label.
fn chart<'d>(dom: &'d str, label: &str) -> Option<&'d str> {
    let start = dom.find(&format!("aria-label=\"{label}\""))?;
    let end = dom[start..].find("</svg>")? + start;
    Some(&dom[start..end])
}

#[test]
fn html_report_draws_every_chart_in_chromium_and_nothing_unmeasured() {
    let Some(browser) = chromium() else {
        eprintln!(
            "\n!!!!!!!! NOTICE: no Chromium here: the HTML report's browser test is SKIPPED \
             (apt-get install chromium, or set MBS_CHROMIUM) !!!!!!!!\n"
        );
        return;
    };
    // ramp.yaml on the virtual clock: four phases, both modes, arrivals counted.
    let ramp = load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/ramp.yaml"));
    let r = virtual_run::report(&ramp).unwrap();
    let (dom, png) = render_in_chromium(&browser, &report::html::render(&r), "ramp");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "a real screenshot"
    );
    let throughput = chart(&dom, "messages per second: target vs acked").expect("throughput chart");
    let latency = chart(&dom, "latency per second (ms)").expect("latency chart");
    let arrivals = chart(&dom, "messages per second: acked vs arrived").expect("arrivals chart");
    for (svg, series) in [
        (throughput, &["target", "acked"][..]),
        (
            latency,
            &[
                "send→ack p50",
                "send→ack p99",
                "end-to-end p50",
                "end-to-end p99",
            ][..],
        ),
        (arrivals, &["acked", "arrived at the queue"][..]),
    ] {
        for s in series {
            assert!(svg.contains(&format!("data-series=\"{s}\"")), "{s} drawn");
        }
        // A time axis with round ticks and the four phases as bands.
        assert!(svg.matches("class=\"xtick\"").count() >= 5);
        assert!(svg.contains(">1m<"), "minute ticks");
        for phase in ["warmup", "plateau", "direct", "max"] {
            assert!(
                svg.contains(&format!("<title>phase {phase}</title>")),
                "{phase} band"
            );
        }
    }
    // The `max` phase has no target: the target line stops where it starts (2m).
    let max_x = 64.0 + 120.0 / r.run.timeline.len() as f64 * (900.0 - 64.0 - 16.0);
    let target_xs: Vec<f64> = throughput
        .split("data-series=\"target\"")
        .skip(1)
        .flat_map(|s| {
            let pts = s
                .split("points=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            pts.split(' ')
                .map(|p| p.split(',').next().unwrap().parse::<f64>().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        target_xs.iter().all(|x| *x <= max_x + 0.5),
        "no target in the max phase"
    );
    assert!(dom.contains("No message failed or was dropped."));
    assert!(dom.contains("<table class=\"phases\">"));
    assert!(
        !dom.contains("<pre>| "),
        "details are rendered, not raw Markdown"
    );

    // Kafka only (no queue, so no arrivals), a tiny in-flight budget against a slow
    // sink: drops are charted, arrivals and end-to-end latency are not drawn at all.
    let s = load(
        "name: drops
seed: 3
streams:
  - { name: cards, schema: ../../../schemas/pokemon_card.avsc, schema_id: 1, topic: t }
phases:
  - { name: steady, duration: 5s, rate: 200/s, workers: 1, max_in_flight: 2 }
",
    );
    let (plan, m) = measured(&s, Duration::from_millis(50));
    let r = finish::report(&plan, m);
    assert!(r.run.totals.dropped > 0, "the budget drops");
    let (dom, _) = render_in_chromium(&browser, &report::html::render(&r), "drops");
    assert!(chart(&dom, "messages per second: acked vs arrived").is_none());
    let latency = chart(&dom, "latency per second (ms)").unwrap();
    assert!(latency.contains("data-series=\"send→ack p99\""));
    assert!(
        !latency.contains("end-to-end"),
        "e2e was not measured: not drawn, not in the legend"
    );
    let failures = chart(&dom, "failed and dropped messages per second, by kind").unwrap();
    assert!(failures.contains("data-series=\"dropped (in-flight budget)\""));
}

/// `seek` on the virtual clock against modelled pipelines of 1k, 7.5k and 40k
/// msgs/s: the sustainable rate found is within 5 % below the capacity, the first
/// failing level is above it with the bound it broke, and the search converged.
#[test]
fn seek_finds_the_modelled_capacity_within_5_percent_below() {
    for capacity in [1_000.0, 7_500.0, 40_000.0] {
        let s = load(&format!(
            "name: seek
seed: 3
streams:
  - {{ name: c, schema: ../avro/record.avsc, schema_id: 1, queue: q }}
phases:
  - name: find
    duration: 45s
    mode: direct_sqs
    rate: {{ type: seek, from: 500/s, max: 100k/s, hold: 2s }}
assertions:
  - {{ type: sustainable_rate, min: {min}/s }}
",
            min = capacity * 0.9
        ));
        let plan = Plan::compile(&s);
        let model = virtual_run::Model {
            capacity: Some(capacity),
            ..virtual_run::Model::default()
        };
        let m = virtual_run::measure_model(&plan, model).unwrap();
        let found = m.summary.seek.first().expect("a seek result").clone();
        let rate = found.sustainable_rate.expect("a sustainable rate");
        assert!(
            rate <= capacity && rate >= 0.95 * capacity,
            "capacity {capacity}: found {rate} ({found:#?})"
        );
        let bad = found.first_failing_rate.expect("a failing level");
        assert!(bad > capacity, "capacity {capacity}: first failing {bad}");
        assert!(
            found.failing_bound.is_some() && found.complete,
            "{found:#?}"
        );
        assert!(found.levels.iter().any(|l| !l.passed));
        // Below a constant capacity the found rate holds for the rest of the phase.
        let held = found.held.as_ref().expect("the rest of the phase judged");
        assert!(
            held.held && held.rate == rate && held.seconds > 0.0,
            "{held:?}"
        );
        let r = finish::report(&plan, m);
        assert!(r.passed, "the sustainable_rate assertion passes");
        let md = report::markdown::render(&r);
        assert!(md.contains("## Sustainable rate"), "{md}");
        let html = report::html::render(&r);
        assert!(html.contains("aria-label=\"seek levels of phase find\""));
        assert_eq!(
            html.matches("class=\"level pass\"").count()
                + html.matches("class=\"level fail\"").count(),
            found.levels.len()
        );
        // `report compare` treats the rate found as a throughput figure.
        let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        let mut lower = json.clone();
        lower["run"]["seek"][0]["sustainable_rate"] = serde_json::json!(rate * 0.8);
        let c = compare::compare(&json, &lower, compare::Bounds::default()).unwrap();
        let row = c
            .rows
            .iter()
            .find(|r| r.metric == "sustainable_rate")
            .unwrap();
        assert!(row.regression, "{row:?}");
    }
}
