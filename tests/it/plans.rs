//! Plans of valid scenarios are snapshotted in text and JSON form, the example
//! scenarios stay valid, and `plan` output is deterministic.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use mbscenario::plan::{Plan, describe::describe};
use mbscenario::scenario::{self, LoadOptions, Vars};

fn load(path: &Path, shown: &str) -> Plan {
    // The secrets fixtures name (`*_env`) must be set for them to be valid.
    let opts = LoadOptions {
        vars: Vars::fixed(BTreeMap::from([(
            "REGISTRY_AUTH".to_string(),
            "user:not-shown".to_string(),
        )])),
        ..LoadOptions::default()
    };
    match scenario::load_file(path, shown, &opts) {
        Ok(s) => Plan::compile(&s),
        Err(d) => panic!("{shown} should be valid:\n{}", d.render_plain()),
    }
}

#[test]
fn valid_fixture_plans() {
    insta::glob!("../fixtures/valid", "*.yaml", |path| {
        let shown = format!("valid/{}", path.file_name().unwrap().to_string_lossy());
        let plan = load(path, &shown);
        insta::assert_snapshot!("text", describe(&plan, true));
        insta::assert_json_snapshot!("json", plan);
    });
}

#[test]
fn example_scenario_plans() {
    insta::glob!("../../scenarios", "*.yaml", |path| {
        let shown = format!("scenarios/{}", path.file_name().unwrap().to_string_lossy());
        insta::assert_snapshot!(describe(&load(path, &shown), false));
    });
}

#[test]
fn plan_counts_are_consistent_with_curves() {
    let plan = load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/weighted-streams.yaml"),
        "w",
    );
    let both = plan.phase("both").unwrap();
    // 100/s for 20 s split 3:1.
    let counts: Vec<u64> = both
        .streams
        .iter()
        .map(|s| s.curve.as_ref().unwrap().event_count())
        .collect();
    assert_eq!(counts, vec![1_500, 500]);
    // Sequence numbers continue per stream across phases.
    let again = plan.phase("both-again").unwrap();
    assert_eq!(again.streams[0].first_seq, Some(1_500 + 400));
    assert_eq!(again.streams[1].first_seq, Some(500));
    assert_eq!(again.offset.as_secs(), 30);
    assert_eq!(plan.expected_messages, 2_000 + 400 + 600);
}

#[test]
fn cli_plan_is_deterministic_and_json_parses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_mbscenario"))
            .current_dir(root)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let a = run(&["plan", "scenarios/ramp.yaml"]);
    assert_eq!(a, run(&["plan", "scenarios/ramp.yaml"]));
    for needle in [
        "warmup",
        "0s",
        "30s",
        "ramp 10/s → 200/s",
        "3,150",
        "kafka_via_connect",
        "direct_sqs",
        "register_schemas",
        "apply_connector",
    ] {
        assert!(a.contains(needle), "missing {needle} in:\n{a}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&run(&["plan", "scenarios/ramp.yaml", "--format", "json"])).unwrap();
    assert_eq!(json["phases"][1]["expected_messages"], 12_000);
    assert_eq!(json["seed"], 42);
    let seeded: serde_json::Value = serde_json::from_str(&run(&[
        "plan",
        "scenarios/ramp.yaml",
        "--format",
        "json",
        "--seed",
        "7",
    ]))
    .unwrap();
    assert_eq!(seeded["seed"], 7);
    assert_eq!(seeded["seed_origin"], "command_line");
    let ok = run(&[
        "validate",
        "scenarios/ramp.yaml",
        "scenarios/direct-sqs.yaml",
        "scenarios/mode-switch.yaml",
    ]);
    assert_eq!(ok.lines().count(), 3, "{ok}");
}

#[test]
fn set_overrides_environment_variables() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_mbscenario"))
        .current_dir(root)
        .args([
            "plan",
            "scenarios/ramp.yaml",
            "--set",
            "KAFKA_BOOTSTRAP=kafka.example:9093",
        ])
        .env("KAFKA_BOOTSTRAP", "from-env:1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("kafka            kafka.example:9093"),
        "{text}"
    );
}

#[test]
fn committed_json_schema_is_fresh() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/scenario.schema.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let current = format!("{}\n", mbscenario::ops::schema_json());
    if committed != current {
        if std::env::var_os("MBS_UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, current).unwrap();
        } else {
            panic!(
                "scenarios/scenario.schema.json is stale: run `cargo run -- schema > scenarios/scenario.schema.json` (or MBS_UPDATE_SCHEMA=1 cargo test)"
            );
        }
    }
}

#[test]
fn committed_schema_accepts_examples_and_rejects_garbage() {
    let schema = mbscenario::scenario::schema_check::scenario_schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(&serde_json::json!({
        "name": "x", "streams": [{"name": "s", "schema": "a.avsc"}],
        "phases": [{"name": "p", "duration": "1s", "rate": "5/s"}]
    })));
    assert!(!validator.is_valid(&serde_json::json!({"name": "x", "streams": [], "phases": []})));
}

/// What an editor sees: every scenario and valid fixture in the repository,
/// raw (before `${VAR}` interpolation), against the committed JSON Schema —
/// no false errors where `validate` accepts the file. Python's jsonschema
/// (the dev stack's tool venv) plays the editor.
#[test]
fn editors_accept_what_validate_accepts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let py = std::env::var("MBS_TOOLS_PYTHON").ok().or_else(|| {
        let home = std::env::var("HOME").ok()?;
        let p = format!("{home}/.cache/mbscenario-stack/venv-tools/bin/python");
        Path::new(&p).exists().then_some(p)
    });
    let usable = py.as_ref().is_some_and(|p| {
        Command::new(p)
            .args(["-c", "import jsonschema, yaml"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(py) = py.filter(|_| usable) else {
        let why = "Python with jsonschema + PyYAML (scripts/dev-stack install) is missing";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{why} — in CI a missing tool is a failure");
        }
        eprintln!("\n!!!!!!!! SKIPPED {why}\n");
        return;
    };
    let mut files: Vec<String> = Vec::new();
    for dir in [
        "scenarios",
        "scenarios/secure",
        "scenarios/bench",
        "tests/fixtures/valid",
    ] {
        for e in std::fs::read_dir(root.join(dir))
            .unwrap()
            .filter_map(Result::ok)
        {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "yaml")
                && !p.file_name().unwrap().to_string_lossy().starts_with('.')
            {
                files.push(p.to_string_lossy().into_owned());
            }
        }
    }
    assert!(files.len() >= 15, "{files:?}");
    let out = Command::new(py)
        .arg(root.join("scripts/check_editor_schema.py"))
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the editor schema rejects files validate accepts:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
