//! Sharded runs: 4 shard processes send exactly the records of one unsharded
//! process (same event ids, same payload bytes, same keys), their merged
//! report has the unsharded counts, and merging is refused when it would
//! mislead. The merged virtual-clock report is snapshotted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_mbscenario");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mbs-shards-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn mbs(args: &[&str], envs: &[(&str, &str)]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .current_dir(root())
        .env_remove("JOB_COMPLETION_INDEX")
        .env("NO_COLOR", "1")
        .envs(envs.iter().copied());
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// (event id, stream, seq, destination, key, payload) of every line the file sink wrote.
fn sent(dir: &Path) -> BTreeSet<(String, u64, u64, String, String, String)> {
    let mut out = BTreeSet::new();
    for f in ["kafka.jsonl", "sqs.jsonl"] {
        let Ok(t) = std::fs::read_to_string(dir.join(f)) else {
            continue;
        };
        for line in t.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            let fresh = out.insert((
                v["event_id"].as_str().unwrap().to_string(),
                v["stream"].as_u64().unwrap(),
                v["seq"].as_u64().unwrap(),
                v["destination"].to_string(),
                v["key"].to_string(),
                v["payload"].to_string(),
            ));
            assert!(fresh, "sent twice: {line}");
        }
    }
    out
}

fn report_in(dir: &Path) -> (PathBuf, Value) {
    let p = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap_or_else(|| panic!("no JSON report in {}", dir.display()));
    let v = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    (p, v)
}

fn phase_counts(r: &Value, phase: &str) -> (u64, u64) {
    let p = r["run"]["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == phase)
        .unwrap();
    (
        p["counts"]["scheduled"].as_u64().unwrap(),
        p["counts"]["acked"].as_u64().unwrap(),
    )
}

#[test]
fn four_shards_send_exactly_the_records_of_one_run() {
    let base = tmp("equal");
    let scenario = "tests/fixtures/shard/shard.yaml";
    let dir = |n: &str| base.join(n).display().to_string();
    // All five processes at once: the shards run side by side, like pods.
    let mut children = Vec::new();
    for i in 0..4 {
        let (out, rep) = (dir(&format!("out{i}")), dir(&format!("rep{i}")));
        let shard = format!("{i}/4");
        let mut c = mbs(
            &[
                "run",
                scenario,
                "--sink",
                &format!("file:{out}"),
                "--shard",
                &shard,
                "--report-dir",
                &rep,
            ],
            &[],
        );
        children.push(("shard", c.output_spawn()));
    }
    let (out, rep) = (dir("whole"), dir("whole-rep"));
    let mut c = mbs(
        &[
            "run",
            scenario,
            "--sink",
            &format!("file:{out}"),
            "--report-dir",
            &rep,
        ],
        &[],
    );
    children.push(("whole", c.output_spawn()));
    for (what, child) in children {
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "{what}: {}", text(&o));
    }

    let whole = sent(&base.join("whole"));
    let mut union = BTreeSet::new();
    let mut per_shard = Vec::new();
    for i in 0..4 {
        let s = sent(&base.join(format!("out{i}")));
        per_shard.push(s.len());
        for r in s {
            assert!(union.insert(r.clone()), "two shards sent {r:?}");
        }
    }
    // The closed-model phase runs flat out on every shard, so only the
    // rate-limited phases can be compared record by record: `plain`'s burst
    // records are its sequence numbers [220, 220 + 2^40) (see `plan`).
    let paced = |set: &BTreeSet<(String, u64, u64, String, String, String)>| {
        set.iter()
            .filter(|r| !(r.1 == 1 && (220..220 + (1u64 << 40)).contains(&r.2)))
            .cloned()
            .collect::<BTreeSet<_>>()
    };
    let (pw, pu) = (paced(&whole), paced(&union));
    assert_eq!(pw.len(), 720, "the planned records of the whole run");
    assert_eq!(pw, pu, "the shards' records differ from the whole run's");
    for (i, n) in per_shard.iter().enumerate() {
        assert!(*n >= 160, "shard {i} sent {n}");
    }
    // Each shard owns its residue class, also in the flat-out phase.
    for (i, n) in (0..4).zip(&per_shard) {
        let s = sent(&base.join(format!("out{i}")));
        assert!(s.iter().all(|r| r.2 % 4 == i), "shard {i}");
        assert_eq!(s.len(), *n);
    }

    // Merged report: the unsharded counts for every rate-limited phase.
    let reports: Vec<String> = (0..4)
        .map(|i| {
            report_in(&base.join(format!("rep{i}")))
                .0
                .display()
                .to_string()
        })
        .collect();
    let merged_dir = dir("merged");
    let mut args = vec!["report", "merge"];
    args.extend(reports.iter().map(String::as_str));
    args.extend(["--report-dir", &merged_dir]);
    let o = mbs(&args, &[]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let (_, merged) = report_in(&base.join("merged"));
    let (_, whole_report) = report_in(&base.join("whole-rep"));
    for phase in ["ramp", "flat", "after"] {
        assert_eq!(
            phase_counts(&merged, phase),
            phase_counts(&whole_report, phase),
            "phase {phase}"
        );
    }
    assert_eq!(merged["planned_messages"], whole_report["planned_messages"]);
    assert!(merged["shard"].is_null() && merged["merge"].is_null());
    assert_eq!(merged["merged_from"].as_array().unwrap().len(), 4);
    // Per-second scheduled counts follow the plan's instants on every shard.
    let sched = |r: &Value| -> Vec<u64> {
        r["run"]["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .take(5)
            .map(|t| t["scheduled"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(sched(&merged), sched(&whole_report));
    assert_eq!(merged["passed"], true, "{}", merged["verdicts"]);
}

trait Spawn {
    fn output_spawn(&mut self) -> std::process::Child;
}

impl Spawn for Command {
    fn output_spawn(&mut self) -> std::process::Child {
        self.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }
}

/// Virtual-clock shards of an example scenario, merged: snapshotted, and
/// equal to the unsharded virtual report where the plan fixes the counts.
#[test]
fn merged_virtual_shards_reevaluate_assertions_and_are_snapshotted() {
    let base = tmp("virtual");
    let scenario = "scenarios/mode-switch.yaml";
    let mut reports = Vec::new();
    for i in 0..3 {
        let rep = base.join(format!("rep{i}"));
        virtual_run(
            scenario,
            &rep,
            &["--shards", "3"],
            &[("JOB_COMPLETION_INDEX", &i.to_string())],
        );
        let (p, v) = report_in(&rep);
        assert_eq!(v["shard"]["index"], i);
        assert_eq!(v["shard"]["count"], 3);
        reports.push(p.display().to_string());
    }
    let whole = base.join("whole");
    virtual_run(scenario, &whole, &[], &[]);
    let (_, whole) = report_in(&whole);

    // Reports in any order.
    reports.reverse();
    let merged_dir = base.join("merged");
    let mut args = vec!["report", "merge"];
    args.extend(reports.iter().map(String::as_str));
    args.extend(["--report-dir", merged_dir.to_str().unwrap()]);
    let o = mbs(&args, &[]).output().unwrap();
    assert_eq!(o.status.code(), whole_exit(&whole), "{}", text(&o));
    let (path, merged) = report_in(&merged_dir);
    for p in whole["run"]["phases"].as_array().unwrap() {
        if p["planned"].is_null() {
            continue;
        }
        let name = p["name"].as_str().unwrap();
        assert_eq!(
            phase_counts(&merged, name),
            phase_counts(&whole, name),
            "phase {name}"
        );
    }
    // Counts per second add up exactly; per-second percentiles cannot be added, the
    // merge shows the worst shard's, and a mixture's quantile lies between its
    // shards' (so never below the whole run's, up to the histogram's 1 %).
    let strip = |v: &serde_json::Value| {
        let mut v = v.clone();
        for p in v.as_array_mut().unwrap() {
            let p = p.as_object_mut().unwrap();
            p.remove("ack_p50_us");
            p.remove("ack_p99_us");
        }
        v
    };
    let (mt, wt) = (&merged["run"]["timeline"], &whole["run"]["timeline"]);
    assert_eq!(strip(mt), strip(wt), "timeline");
    for (m, w) in mt.as_array().unwrap().iter().zip(wt.as_array().unwrap()) {
        let (m99, w99) = (m["ack_p99_us"].as_u64(), w["ack_p99_us"].as_u64());
        assert_eq!(m99.is_some(), w99.is_some(), "second {}", w["second"]);
        if let (Some(m99), Some(w99)) = (m99, w99) {
            assert!(
                m99 * 101 >= w99 * 100,
                "second {}: merged p99 {m99} < {w99}",
                w["second"]
            );
        }
    }
    assert_eq!(
        merged["arrivals"]["queues"], whole["arrivals"]["queues"],
        "arrivals"
    );
    // Verdicts re-evaluated on the whole plan, not copied from a shard.
    let verdicts = |r: &Value| -> BTreeMap<u64, (String, String)> {
        r["verdicts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["index"].as_u64().unwrap(),
                    (
                        v["observed"].as_str().unwrap().to_string(),
                        v["status"].as_str().unwrap().to_string(),
                    ),
                )
            })
            .collect()
    };
    assert_eq!(verdicts(&merged), verdicts(&whole));
    let mut redacted = merged.clone();
    for s in redacted["merged_from"].as_array_mut().unwrap() {
        let f = s["file"].as_str().unwrap();
        s["file"] = Value::String(
            Path::new(f)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned(),
        );
    }
    insta::assert_json_snapshot!("merged_mode_switch", redacted);
    let md = std::fs::read_to_string(path.with_extension("md")).unwrap();
    insta::assert_snapshot!("merged_mode_switch_md", md);
}

/// A virtual-clock run of `scenario` with `extra` arguments, its report
/// into `dir`; it must finish (passed or an assertion failed).
fn virtual_run(scenario: &str, dir: &Path, extra: &[&str], envs: &[(&str, &str)]) {
    let mut args = vec!["run", scenario, "--sink", "virtual", "--report-dir"];
    args.push(dir.to_str().unwrap());
    args.extend(extra);
    let o = mbs(&args, envs).output().unwrap();
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", text(&o));
}

fn whole_exit(whole: &Value) -> Option<i32> {
    Some(if whole["passed"] == true { 0 } else { 1 })
}

#[test]
fn merges_that_would_mislead_are_refused() {
    let base = tmp("refuse");
    let scenario = "tests/fixtures/shard/shard.yaml";
    let mut reports = Vec::new();
    for i in 0..3 {
        let rep = base.join(format!("rep{i}"));
        virtual_run(scenario, &rep, &["--shard", &format!("{i}/3")], &[]);
        reports.push(report_in(&rep).0.display().to_string());
    }
    let merge = |files: &[&str], extra: &[&str]| {
        let mut args = vec!["report", "merge"];
        args.extend(files);
        args.extend(extra);
        args.extend(["--report-dir", base.to_str().unwrap()]);
        let o = mbs(&args, &[]).output().unwrap();
        (o.status.code(), text(&o))
    };
    let (code, out) = merge(&[&reports[0], &reports[2]], &[]);
    assert_eq!(code, Some(2));
    assert!(out.contains("shard(s) 1 of 3 are missing"), "{out}");
    let (code, out) = merge(&[&reports[0], &reports[1], &reports[1]], &[]);
    assert_eq!(code, Some(2));
    assert!(out.contains("shard 1/3 is given twice"), "{out}");
    let (code, out) = merge(&[&reports[0], &reports[1], &reports[2]], &["--seed", "5"]);
    assert_eq!(code, Some(2));
    assert!(out.contains("different plan than this scenario's"), "{out}");
    // An unsharded report is not mergeable.
    let whole = base.join("whole");
    virtual_run(scenario, &whole, &[], &[]);
    let whole_file = report_in(&whole).0.display().to_string();
    let (code, out) = merge(&[&whole_file], &["--scenario", scenario]);
    assert_eq!(code, Some(2));
    assert!(out.contains("is not a shard report"), "{out}");
    // Bad shard arguments.
    let o = mbs(&["run", scenario, "--sink", "null", "--shard", "3/3"], &[])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("indices run from 0 to 2"), "{}", text(&o));
    let o = mbs(&["run", scenario, "--sink", "null", "--shards", "3"], &[])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("JOB_COMPLETION_INDEX"), "{}", text(&o));
    // All three merge fine, in any order.
    let (code, out) = merge(&[&reports[2], &reports[0], &reports[1]], &[]);
    assert!(code.is_some_and(|c| c <= 1), "{out}");
}

/// For every example scenario and shard count, the shards' plans add up to
/// the whole plan: per phase, per stream, and per second of the target.
#[test]
fn shard_plans_add_up_to_the_whole_plan() {
    use mbscenario::plan::{Plan, Shard};
    use mbscenario::scenario::{self, LoadOptions};
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let s = scenario::load_file(&path, &path.display().to_string(), &LoadOptions::default())
            .unwrap_or_else(|d| panic!("{}", d.render_plain()));
        let whole = Plan::compile(&s);
        for n in 1..=5u32 {
            let shards: Vec<Plan> = (0..n)
                .map(|i| Plan::compile(&s).for_shard(Shard::new(i, n).unwrap()))
                .collect();
            assert_eq!(
                shards.iter().map(|p| p.expected_messages).sum::<u64>(),
                whole.expected_messages,
                "{} / {n}",
                path.display()
            );
            for (k, p) in whole.phases.iter().enumerate() {
                let sum: Option<u64> = shards.iter().map(|sp| sp.phases[k].expected_messages).sum();
                assert_eq!(
                    sum,
                    p.expected_messages,
                    "{} / {n}: phase {}",
                    path.display(),
                    p.name
                );
            }
            for (k, st) in whole.streams.iter().enumerate() {
                let sum: u64 = shards
                    .iter()
                    .map(|sp| sp.streams[k].expected_messages)
                    .sum();
                assert_eq!(
                    sum,
                    st.expected_messages,
                    "{} / {n}: stream {}",
                    path.display(),
                    st.name
                );
            }
            assert!(shards.iter().all(|sp| sp.digest == whole.digest));
        }
        checked += 1;
    }
    assert!(checked >= 6, "{checked} scenarios");
}

#[test]
fn a_shard_report_is_not_compared_with_a_whole_run() {
    use mbscenario::report::compare::{Bounds, compare};
    let whole = serde_json::json!({"report_version": 1, "scenario": "s", "run": {"phases": []}});
    let mut shard = whole.clone();
    shard["shard"] = serde_json::json!({"index": 1, "count": 4});
    let e = compare(&whole, &shard, Bounds::default()).unwrap_err();
    assert!(
        e.0.contains("the base report is a whole run and the current one is shard 1/4"),
        "{}",
        e.0
    );
    assert!(e.0.contains("report merge"), "{}", e.0);
    assert!(compare(&shard, &shard, Bounds::default()).is_ok());
}

#[test]
fn a_seek_phase_is_not_sharded() {
    let (code, _, err) = crate::support::cli(&[
        "run",
        "scenarios/seek/direct-sqs-ceiling.yaml",
        "--shard",
        "1/2",
        "--sink",
        "virtual",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("phase `ceiling` seeks the sustainable rate, and a search cannot be sharded"),
        "{err}"
    );
}
