//! A sharded run against the real stack: `scenarios/ramp-ci.yaml` as two
//! shard processes. Shard 1 starts first and waits for shard 0's setup
//! (topic, queue with purge, connector RUNNING); both start together at
//! `--start-at`; each counts only its own messages at the shared queue; the
//! merged report accounts for every message exactly once.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::support;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn cmd(stack: &support::Stack, args: &[&str], run_id: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mbscenario"));
    c.args(args)
        .current_dir(repo())
        .env("MBS_RUN_ID", run_id)
        .env_remove("JOB_COMPLETION_INDEX")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in &stack.vars {
        c.env(k, v);
    }
    c
}

fn report(dir: &Path) -> (PathBuf, Value) {
    let p = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("a JSON report");
    let v = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    (p, v)
}

/// `report merge` of `reports` into `dir`; must pass; the merged report.
fn merge(stack: &support::Stack, reports: &[&Path], dir: &Path, run_id: &str) -> Value {
    let mut args = vec!["report", "merge"];
    args.extend(reports.iter().map(|p| p.to_str().unwrap()));
    args.extend(["--report-dir", dir.to_str().unwrap()]);
    let o = cmd(stack, &args, run_id).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    report(dir).1
}

#[test]
fn two_shards_share_setup_queue_and_count_every_message_once() {
    let Some(stack) = support::stack("two_shards_share_setup_queue_and_count_every_message_once")
    else {
        return;
    };
    let run_id = format!("shard{}", std::process::id());
    let base = std::env::temp_dir().join(format!("mbs-shards-it-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let start_at =
        humantime::format_rfc3339_seconds(SystemTime::now() + Duration::from_secs(25)).to_string();
    let scenario = "scenarios/ramp-ci.yaml";
    let dir = |i: u32| base.join(format!("shard{i}")).display().to_string();
    let (d1, d0) = (dir(1), dir(0));
    // Shard 1 first: it must wait for shard 0's setup.
    let follower = cmd(
        &stack,
        &[
            "run",
            scenario,
            "--shard",
            "1/2",
            "--start-at",
            &start_at,
            "--report-dir",
            &d1,
        ],
        &run_id,
    )
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let leader = cmd(
        &stack,
        &[
            "run",
            scenario,
            "--shard",
            "0/2",
            "--start-at",
            &start_at,
            "--report-dir",
            &d0,
        ],
        &run_id,
    )
    .spawn()
    .unwrap();
    let (o0, o1) = (
        leader.wait_with_output().unwrap(),
        follower.wait_with_output().unwrap(),
    );
    let err0 = String::from_utf8_lossy(&o0.stderr).into_owned();
    let err1 = String::from_utf8_lossy(&o1.stderr).into_owned();
    let _ = cmd(&stack, &["teardown", scenario], &run_id).output();
    assert_eq!(o0.status.code(), Some(0), "shard 0:\n{err0}");
    assert_eq!(o1.status.code(), Some(0), "shard 1:\n{err1}");
    assert!(err0.contains("created"), "shard 0 ran the setup:\n{err0}");
    assert!(err1.contains("waiting for shard 0 to set up"), "{err1}");
    assert!(
        err1.contains("connector sqs-sink-ci-") && err1.contains("is in place"),
        "{err1}"
    );
    assert!(
        !err1.contains("created"),
        "shard 1 created something:\n{err1}"
    );

    let (p0, r0) = report(Path::new(&d0));
    let (p1, r1) = report(Path::new(&d1));
    // Started together (the start time), not 3 s apart.
    assert_eq!(r0["started_at"], r1["started_at"]);
    // Shard 0 alone collects: its own messages matched to its sends, the
    // other shard's kept (as unknown in its own report) for the merge.
    assert_eq!(r0["shard"]["index"], 0);
    let q0 = &r0["arrivals"]["queues"][0];
    assert_eq!(q0["expected"], r0["run"]["totals"]["acked"], "{q0}");
    assert_eq!(q0["missing"], 0, "{q0}");
    assert_eq!(q0["unknown"], r1["run"]["totals"]["acked"], "{q0}");
    assert!(r1["arrivals"].is_null(), "shard 1 does not collect");
    // ramp-ci has only rate-limited phases: shard 0 attributed every arrival
    // of shard 1 itself (per cell, no ids in the report).
    let cells = r0["merge"]["foreign_cells"].as_array().unwrap();
    let attributed: u64 = cells.iter().map(|c| c["arrived"].as_u64().unwrap()).sum();
    assert_eq!(
        attributed,
        r1["run"]["totals"]["acked"].as_u64().unwrap(),
        "{cells:?}"
    );
    assert!(cells.iter().all(|c| c["shard"] == 1));
    assert!(
        r0["merge"]["foreign_arrivals"].is_null(),
        "nothing left unattributed"
    );
    let m = merge(&stack, &[&p0, &p1], &base.join("merged"), &run_id);
    let acked = m["run"]["totals"]["acked"].as_u64().unwrap();
    // ramp-ci plans 1,255 messages; both shards together send all of them.
    assert_eq!(m["planned_messages"], 1255);
    assert_eq!(acked, 1255);
    let q = &m["arrivals"]["queues"][0];
    assert_eq!(q["expected"], 1255, "{q}");
    assert_eq!(q["arrived"], 1255, "{q}");
    assert_eq!(q["missing"], 0, "{q}");
    assert_eq!(q["unknown"], 0, "{q}");
    assert_eq!(q["duplicates"], 0, "{q}");
    // Shard 1's cells are in the merged accounting, with end-to-end latency.
    let cells = m["arrivals"]["cells"].as_array().unwrap();
    assert_eq!(
        cells
            .iter()
            .map(|c| c["arrived"].as_u64().unwrap())
            .sum::<u64>(),
        1255
    );
    assert!(
        cells
            .iter()
            .all(|c| c["end_to_end"]["count"].as_u64().unwrap() == c["arrived"].as_u64().unwrap()),
        "{cells:?}"
    );
    assert_eq!(m["passed"], true, "{}", m["verdicts"]);
}

#[test]
fn flat_out_phases_of_other_shards_are_attributed_by_the_merge() {
    let Some(stack) = support::stack("flat_out_phases_of_other_shards_are_attributed_by_the_merge")
    else {
        return;
    };
    let run_id = format!("dmax{}", std::process::id());
    let base = std::env::temp_dir().join(format!("mbs-shards-dmax-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let start_at =
        humantime::format_rfc3339_seconds(SystemTime::now() + Duration::from_secs(8)).to_string();
    let scenario = "tests/fixtures/shard/direct-max.yaml";
    let dir = |i: u32| base.join(format!("shard{i}")).display().to_string();
    let (d0, d1) = (dir(0), dir(1));
    let spawn = |shard: &str, d: &str| {
        cmd(
            &stack,
            &[
                "run",
                scenario,
                "--shard",
                shard,
                "--start-at",
                &start_at,
                "--report-dir",
                d,
            ],
            &run_id,
        )
        .spawn()
        .unwrap()
    };
    let (c0, c1) = (spawn("0/2", &d0), spawn("1/2", &d1));
    let (o0, o1) = (
        c0.wait_with_output().unwrap(),
        c1.wait_with_output().unwrap(),
    );
    let _ = cmd(&stack, &["teardown", scenario], &run_id).output();
    assert_eq!(
        o0.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o0.stderr)
    );
    assert_eq!(
        o1.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o1.stderr)
    );
    let (p0, r0) = report(Path::new(&d0));
    let (p1, r1) = report(Path::new(&d1));
    // Shard 1's flat-out records could not be attributed by shard 0 (it does
    // not know how many there were): they travel packed.
    assert!(
        r0["merge"]["foreign_arrivals"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    let m = merge(&stack, &[&p0, &p1], &base.join("merged"), &run_id);
    let acked = r0["run"]["totals"]["acked"].as_u64().unwrap()
        + r1["run"]["totals"]["acked"].as_u64().unwrap();
    assert_eq!(m["run"]["totals"]["acked"].as_u64().unwrap(), acked);
    let q = &m["arrivals"]["queues"][0];
    assert_eq!(q["expected"].as_u64().unwrap(), acked, "{q}");
    assert_eq!(q["arrived"].as_u64().unwrap(), acked, "{q}");
    assert_eq!(q["missing"], 0, "{q}");
    assert_eq!(q["unknown"], 0, "{q}");
    let flat_1 = m["arrivals"]["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["phase"] == "flat")
        .unwrap();
    assert!(flat_1["arrived"].as_u64().unwrap() > 10, "{flat_1}");
    assert_eq!(m["passed"], true, "{}", m["verdicts"]);
}
