//! The README's command list and the binary's command line cannot drift:
//! every subcommand the binary has is listed, every listed one exists, and
//! every `--flag` the list names for a command is one of its flags.

use std::collections::BTreeSet;

use clap::CommandFactory;
use mbscenario::cli::Cli;

/// Long flags of `cmd` and all its subcommands.
fn flags(cmd: &clap::Command, out: &mut BTreeSet<String>) {
    for a in cmd.get_arguments() {
        if let Some(l) = a.get_long() {
            out.insert(format!("--{l}"));
        }
    }
    for sub in cmd.get_subcommands() {
        flags(sub, out);
    }
}

#[test]
fn readme_command_list_matches_the_binary() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("```text\nmbscenario validate")
        .expect("README has the command list");
    let block = &readme[start + 8..];
    let block = &block[..block.find("```").unwrap()];

    let cli = Cli::command();
    let mut globals = BTreeSet::new();
    for a in cli.get_arguments() {
        if let Some(l) = a.get_long() {
            globals.insert(format!("--{l}"));
        }
    }
    let mut listed = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut problems = Vec::new();
    for line in block.lines() {
        if let Some(rest) = line.strip_prefix("mbscenario ") {
            let name = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            listed.insert(name.clone());
            current = Some(name);
        }
        let Some(name) = &current else { continue };
        let Some(sub) = cli.find_subcommand(name) else {
            problems.push(format!(
                "README lists `mbscenario {name}`, the binary has no such command"
            ));
            current = None;
            continue;
        };
        let mut known = globals.clone();
        known.insert("--help".into());
        flags(sub, &mut known);
        for word in line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
            if word.starts_with("--") && word.len() > 2 && !known.contains(word) {
                problems.push(format!("README: `mbscenario {name}` has no flag `{word}`"));
            }
        }
    }
    for sub in cli.get_subcommands() {
        let name = sub.get_name();
        if name != "help" && !listed.contains(name) {
            problems.push(format!(
                "`mbscenario {name}` is missing from the README's command list"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn init_writes_a_starter_that_validates_and_completions_print() {
    let dir = std::env::temp_dir().join(format!("mbs-init-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out_file = dir.join("starter.yaml");
    let bin = env!("CARGO_BIN_EXE_mbscenario");
    let run = |args: &[&str]| {
        let o = std::process::Command::new(bin).args(args).output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let path = out_file.to_str().unwrap();
    let (code, _, err) = run(&[
        "init", "-o", path, "--topic", "t.orders", "--queue", "q-orders",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let text = std::fs::read_to_string(&out_file).unwrap();
    assert!(text.starts_with("# yaml-language-server: $schema=./scenario.schema.json"));
    assert!(text.contains("topic: t.orders") && text.contains("queue: q-orders"));
    assert!(dir.join("scenario.schema.json").exists() && dir.join("example.avsc").exists());
    let (code, _, err) = run(&["validate", path, "--color", "never"]);
    assert_eq!(code, Some(0), "the starter must validate: {err}");
    // Not overwritten without --force.
    let (code, _, err) = run(&["init", "-o", path]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--force"), "{err}");
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, _) = run(&["completions", shell]);
        assert_eq!(code, Some(0));
        assert!(
            out.contains("mbscenario") && out.contains("validate"),
            "{shell}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn json_logs_make_stderr_pure_json() {
    let bin = env!("CARGO_BIN_EXE_mbscenario");
    let dir = std::env::temp_dir().join(format!("mbs-jsonlogs-{}", std::process::id()));
    let cases: [&[&str]; 3] = [
        &[
            "run",
            "scenarios/mode-switch.yaml",
            "--sink",
            "virtual",
            "--report-dir",
            dir.to_str().unwrap(),
        ],
        &[
            "validate",
            "tests/fixtures/invalid/many-problems-at-once.yaml",
        ],
        &[
            "run",
            "tests/fixtures/invalid/runtime-int-for-enum.yaml",
            "--sink",
            "null",
        ],
    ];
    for args in cases {
        let out = std::process::Command::new(bin)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .arg("--log-format")
            .arg("json")
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.trim().is_empty(), "{args:?}: nothing on stderr");
        for line in stderr.lines() {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{args:?}: not a JSON line ({e}): {line}"));
            assert!(v["level"].is_string() && v["message"].is_string(), "{line}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
