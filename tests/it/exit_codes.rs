//! Exit codes a CI gate can trust: an output that cannot be written is a
//! failure (3) — with the rest still written —, a run in which every send
//! failed cannot pass, `sample` out of range is a usage error (2); and
//! `plan` never shows a credential that sits in a URL.

use crate::support;

use support::cli;

#[test]
fn outputs_that_cannot_be_written_fail_the_run_but_lose_nothing() {
    let dir = std::env::temp_dir().join(format!("mbs-exit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let blocker = dir.join("a-file");
    std::fs::write(&blocker, "not a folder").unwrap();
    let bad_dir = blocker.join("reports");
    let (code, out, err) = cli(&[
        "run",
        "scenarios/mode-switch.yaml",
        "--sink",
        "virtual",
        "--report-dir",
        bad_dir.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("cannot write the report"), "{err}");
    assert!(
        out.contains("| # | assertion"),
        "the verdicts are still printed: {out}"
    );

    let reports = dir.join("reports");
    let (code, _, err) = cli(&[
        "run",
        "scenarios/mode-switch.yaml",
        "--sink",
        "virtual",
        "--report-dir",
        reports.to_str().unwrap(),
        "--summary-json",
        bad_dir.join("s.json").to_str().unwrap(),
    ]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("cannot write the summary"), "{err}");
    assert!(
        std::fs::read_dir(&reports).unwrap().count() >= 1,
        "the report is written all the same"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sample_out_of_range_is_a_usage_error() {
    let (code, out, err) = cli(&[
        "sample",
        "scenarios/ramp.yaml",
        "--from",
        "18446744073709551615",
        "-n",
        "3",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(out.is_empty() && err.contains("out of range"), "{err}");
}

#[test]
fn plan_masks_credentials_in_urls() {
    let dir = std::env::temp_dir().join(format!("mbs-plan-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.yaml");
    std::fs::write(
        &path,
        format!(
            "name: s
targets:
  schema_registry: {{ url: \"https://bob:hunter2@registry.example:8081\" }}
  connect: {{ url: \"https://ops:hunter3@connect.example:8083\" }}
  sqs: {{ endpoint: \"https://sqs.example/?access_token=hunter4\" }}
streams:
  - {{ name: c, schema: {}, topic: t }}
phases:
  - {{ name: p, duration: 1s, rate: 1/s }}
",
            support::repo().join("schemas/pokemon_card.avsc").display()
        ),
    )
    .unwrap();
    for format in ["text", "json"] {
        let (code, out, err) = cli(&["plan", path.to_str().unwrap(), "--format", format]);
        assert_eq!(code, Some(0), "{err}");
        for secret in ["hunter2", "hunter3", "hunter4"] {
            assert!(
                !out.contains(secret) && !err.contains(secret),
                "{format}: {out}"
            );
        }
        assert!(out.contains("registry.example"), "{out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_run_where_every_send_fails_does_not_pass() {
    let Some(stack) = support::stack("a_run_where_every_send_fails_does_not_pass") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("mbs-allfail-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.yaml");
    // No assertion at all, so only the "nothing got through" rule can fail
    // it; every record is larger than the producer's message.max.bytes.
    let pad = "x".repeat(2_000);
    std::fs::write(
        &path,
        format!(
            "name: all-fail
targets:
  kafka: {{ bootstrap: \"{}\", producer: {{ message.max.bytes: 1000 }} }}
streams:
  - {{ name: c, schema: {}, schema_id: 1, topic: mbs-all-fail, headers: {{ pad: {pad} }} }}
phases:
  - {{ name: p, duration: 1s, rate: 10/s }}
",
            stack.get("KAFKA_BOOTSTRAP"),
            support::repo().join("schemas/pokemon_card.avsc").display()
        ),
    )
    .unwrap();
    let out = support::run_bin(
        &stack,
        &[
            "run",
            path.to_str().unwrap(),
            "--no-setup",
            "--no-arrivals",
            "--report-dir",
            dir.join("r").to_str().unwrap(),
        ],
        "allfail",
        &[],
    );
    assert_eq!(out.0, 3, "stdout:\n{}\nstderr:\n{}", out.1, out.2);
    assert!(out.2.contains("every send failed"), "{}", out.2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_set_key_that_matches_nothing_is_an_error() {
    let (code, _, err) = cli(&[
        "validate",
        "scenarios/ramp.yaml",
        "--set",
        "KAFKA_BOOTSTRP=b:9092",
        "--color",
        "never",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("`--set KAFKA_BOOTSTRP=…` matches nothing"),
        "{err}"
    );
    assert!(err.contains("did you mean `KAFKA_BOOTSTRAP`?"), "{err}");
    // A name only a connector config refers to is fine (resolved at setup).
    let (code, _, err) = cli(&[
        "validate",
        "scenarios/ramp.yaml",
        "--set",
        "SQS_SINK_CLASS=x",
    ]);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn a_record_failing_after_the_dry_run_stops_the_run_without_a_verdict_table() {
    // `validate` evaluates the first 64 records of each phase; record 500 fails only
    // at run time. The run stops there (exit 2), says where, and prints no verdicts
    // ("500 of 500 arrived: pass" would read as a result); the report keeps them.
    let dir = std::env::temp_dir().join(format!("mbs-late-fail-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("late-fail.yaml");
    std::fs::write(
        &path,
        format!(
            "name: late-fail
streams:
  - name: cards
    schema: {}
    schema_id: 1
    queue: q
    overrides:
      hp: 'if seq == 500 {{ 1 / 0 }} else {{ 10 }}'
phases:
  - {{ name: steady, duration: 10s, rate: 100/s, mode: direct_sqs }}
assertions:
  - {{ type: arrivals, queue: q, expect: all_acked, tolerance: 0, within: 5s }}
",
            support::repo().join("schemas/pokemon_card.avsc").display()
        ),
    )
    .unwrap();
    let (code, _, err) = cli(&["validate", path.to_str().unwrap()]);
    assert_eq!(code, Some(0), "record 500 is beyond the dry run: {err}");
    let reports = dir.join("reports");
    let (code, out, err) = cli(&[
        "run",
        path.to_str().unwrap(),
        "--sink",
        "virtual",
        "--report-dir",
        reports.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(!out.contains("| # | assertion"), "no verdict table: {out}");
    assert!(err.contains("verdicts not shown"), "{err}");
    assert!(
        err.contains("record 500") && err.contains("late-fail.yaml:8:11"),
        "{err}"
    );
    let md = std::fs::read_to_string(reports.join("late-fail-virtual.md")).unwrap();
    assert!(
        md.contains("FAILED") && md.contains("| # | assertion"),
        "{md}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
