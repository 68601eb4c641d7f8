//! Every broken scenario under `fixtures/invalid/` is rejected with located,
//! readable diagnostics (snapshotted), never a panic, and exit code 2 from the CLI.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use mbscenario::scenario::{self, LoadOptions, Vars};

fn options() -> LoadOptions {
    // A fixed variable set: the machine's environment must not change results.
    LoadOptions {
        vars: Vars::fixed(BTreeMap::new()),
        ..LoadOptions::default()
    }
}

fn shown(path: &Path) -> String {
    format!("invalid/{}", path.file_name().unwrap().to_string_lossy())
}

#[test]
fn invalid_fixtures_render_located_diagnostics() {
    insta::glob!("../fixtures/invalid", "*.yaml", |path| {
        let err = scenario::load_file(path, &shown(path), &options())
            .expect_err("an invalid fixture must not validate");
        assert!(err.has_errors());
        // Every problem is located (except the one-line "empty file"/"unreadable" cases).
        for d in &err.items {
            if !d.pointer.is_empty() {
                assert!(d.span.is_some(), "{}: no span for {:?}", shown(path), d);
            }
            assert!(d.help.is_some(), "{}: no help for {:?}", shown(path), d);
        }
        insta::assert_snapshot!(err.render_plain());
    });
}

#[test]
fn there_are_at_least_25_invalid_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let n = std::fs::read_dir(dir).unwrap().count();
    assert!(n >= 25, "only {n} invalid fixtures");
}

#[test]
fn many_problems_are_reported_together() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/invalid/many-problems-at-once.yaml");
    let err = scenario::load_file(&path, "x.yaml", &options()).unwrap_err();
    let messages: Vec<&str> = err.items.iter().map(|d| d.message.as_str()).collect();
    assert!(err.items.len() >= 5, "{messages:#?}");
}

#[test]
fn fancy_rendering_does_not_panic_and_names_the_file() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid/unknown-key-typo.yaml");
    let err = scenario::load_file(&path, "typo.yaml", &options()).unwrap_err();
    let fancy = err.render_fancy();
    assert!(fancy.contains("typo.yaml"), "{fancy}");
    assert!(fancy.contains("did you mean `rate`?"), "{fancy}");
}

#[test]
fn cli_exits_2_on_every_invalid_fixture() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        let out = Command::new(env!("CARGO_BIN_EXE_mbscenario"))
            .args(["validate", "--color", "never"])
            .arg(&f)
            .env_remove("MBS_FIXTURE_UNSET_BOOTSTRAP")
            .env_remove("MBS_FIXTURE_UNSET_HOST")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", f.display());
        assert!(stderr.contains("error: "), "{}: {stderr}", f.display());
        assert!(!stderr.contains("panicked"), "{}: {stderr}", f.display());
    }
}

#[test]
fn cli_exits_2_on_missing_file_and_bad_flags() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_mbscenario"))
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["validate", "no/such/file.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read scenario file"));
    assert_eq!(
        run(&["plan", "scenarios/ramp.yaml", "--format", "yaml"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&["plan", "scenarios/ramp.yaml", "--set", "novalue"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(run(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn runtime_failures_of_expressions_are_located_at_the_expression() {
    // Each `runtime-*` fixture compiles; `validate` evaluates the first
    // records of every phase and must point at the failing expression.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap().filter_map(Result::ok) {
        let path = entry.path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("runtime-") {
            continue;
        }
        n += 1;
        let err = scenario::load_file(&path, &name, &options())
            .expect_err("a runtime failure must not validate");
        let located = err.items.iter().any(|d| {
            (d.pointer.starts_with("/streams/0/overrides/") || d.pointer == "/streams/0/key/expr")
                && d.span.is_some()
        });
        assert!(
            located,
            "{name}: not located at the expression: {}",
            err.render_plain()
        );
    }
    assert!(n >= 10, "only {n} runtime fixtures");
}
