//! Tiny hostile inputs must not buy unbounded memory or time: nested YAML
//! aliases, a replay "file" that is a device, an Avro `fixed` of 2 GiB, a
//! year-long phase, binary and UTF-16 files… Each is a located error from
//! `validate`, at once — or, when valid, runs within the caps: every fixture of
//! `tests/fixtures/hostile` (and a few generated ones) goes through validate,
//! plan and a virtual-clock run under a 1 GiB address-space cap and a 30 s
//! limit; mutated example scenarios are parsed for a bounded time (proptest).

use crate::support;

use support::cli;

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn hostile_inputs_are_refused_cheaply() {
    let dir = std::env::temp_dir().join(format!("mbs-hostile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let gpu = support::repo().join("schemas/gpu_telemetry.avsc");

    // "Billion laughs": 9^7 nodes from a dozen lines (it used to take > 1 GiB).
    let (code, _, err) = cli(&[
        "validate",
        "tests/fixtures/invalid/billion-laughs.yaml",
        "--color",
        "never",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("aliases expand to more than"), "{err}");

    // A replay file that is a symlink to a device.
    let zero = dir.join("zero.csv");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let s = write(
        &dir,
        "replay.yaml",
        &format!(
            "name: r\nstreams:\n  - {{ name: g, schema: {}, schema_id: 1, replay: {{ file: zero.csv }} }}\nphases:\n  - {{ name: p, duration: 1s, rate: 1/s }}\n",
            gpu.display()
        ),
    );
    let (code, _, err) = cli(&["validate", &s, "--color", "never"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("not a regular file") && err.contains("replay.file"),
        "{err}"
    );

    // A `fixed` of 2^31 − 1 bytes per record.
    let avsc = write(
        &dir,
        "huge.avsc",
        r#"{"type": "record", "name": "H", "fields": [{"name": "blob", "type": {"type": "fixed", "name": "Blob", "size": 2147483647}}]}"#,
    );
    let s = write(
        &dir,
        "fixed.yaml",
        &format!(
            "name: f\nstreams:\n  - {{ name: h, schema: {avsc}, schema_id: 1 }}\nphases:\n  - {{ name: p, duration: 1s, rate: 1/s }}\n"
        ),
    );
    let (code, _, err) = cli(&["validate", &s, "--color", "never"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("fixed") && err.contains("1 MiB"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Address-space cap for every hostile run (`ulimit -v`, KiB): 1 GiB.
const MEMORY_CAP_KIB: u64 = 1024 * 1024;
/// Wall-clock cap per command.
const TIME_CAP_S: u64 = 30;

/// Runs the binary under the memory and time caps: (exit code, stderr, seconds).
fn capped(args: &[&str]) -> (Option<i32>, String, f64) {
    let started = std::time::Instant::now();
    let out = std::process::Command::new("bash")
        .current_dir(support::repo())
        .arg("-c")
        .arg(format!(
            "ulimit -v {MEMORY_CAP_KIB} && exec timeout -k 2 {TIME_CAP_S} \"$@\""
        ))
        .arg("capped")
        .arg(env!("CARGO_BIN_EXE_mbscenario"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("bash runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed().as_secs_f64(),
    )
}

/// Inputs too big or too binary to commit, written for the test.
fn generated(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let schema = support::repo().join("schemas/pokemon_card.avsc");
    let head = format!(
        "name: g\nstreams:\n  - {{ name: c, schema: {}, schema_id: 1, topic: t }}\n",
        schema.display()
    );
    let mut files = Vec::new();
    let mut put = |name: &str, bytes: Vec<u8>| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        files.push(p);
    };
    // Random bytes (a fixed pattern: deterministic).
    put(
        "binary.yaml",
        (0..64 * 1024u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect(),
    );
    // A valid scenario, encoded as UTF-16 with a byte-order mark.
    let text = format!("{head}phases:\n  - {{ name: p, duration: 1s, rate: 1/s }}\n");
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    put("utf16.yaml", utf16);
    // 200k nested flow sequences.
    put(
        "deep.yaml",
        format!("name: {}{}", "[".repeat(200_000), "]".repeat(200_000)).into_bytes(),
    );
    // One 8 MiB scalar.
    put(
        "long-line.yaml",
        format!(
            "{head}description: {}\nphases:\n  - {{ name: p, duration: 1s, rate: 1/s }}\n",
            "x".repeat(8 << 20)
        )
        .into_bytes(),
    );
    // 4,000 phases of 1 h each: more phase × stream statistics than a run keeps.
    let mut many = format!("{head}phases:\n");
    for i in 0..4_000 {
        many.push_str(&format!(
            "  - {{ name: p{i}, duration: 1h, rate: 0.001/s }}\n"
        ));
    }
    put("many-phases.yaml", many.into_bytes());
    // Exactly the most phase × stream statistics a run keeps (512), valid: the
    // heaviest scenario that validates, run on the virtual clock under the cap.
    let mut most = format!(
        "name: g\nstreams:\n  - {{ name: c, schema: {}, schema_id: 1, queue: q }}\nphases:\n",
        schema.display()
    );
    for i in 0..512 {
        most.push_str(&format!(
            "  - {{ name: p{i}, duration: 1s, rate: 2/s, mode: direct_sqs }}\n"
        ));
    }
    put("most-cells.yaml", most.into_bytes());
    put("empty.yaml", Vec::new());
    put("too-big.yaml", vec![b'#'; 17 << 20]);
    files.push(dir.to_path_buf()); // a directory instead of a file
    files
}

/// Every hostile input, through `validate`, `plan`, `plan --per-second` and (when it
/// validates) a virtual-clock run: never a panic, never killed by the memory cap,
/// never past the time cap, and a usage error (2) for what is not a scenario.
#[test]
fn hostile_fixtures_stay_within_1_gib_and_30_s() {
    let dir = std::env::temp_dir().join(format!("mbs-hostile-gen-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let fixtures = support::repo().join("tests/fixtures/hostile");
    let mut inputs: Vec<std::path::PathBuf> = std::fs::read_dir(&fixtures)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    inputs.sort();
    inputs.extend(generated(&dir));
    let valid = [
        "idle-year.yaml",
        "tiny-rate.yaml",
        "soak-year-at-max-rate.yaml",
        "long-line.yaml", // an 8 MiB description is odd, not harmful
        "most-cells.yaml",
    ];
    let reports = dir.join("reports");
    let mut worst = (0.0f64, String::new());
    for input in &inputs {
        let name = input.file_name().unwrap().to_string_lossy().into_owned();
        let path = input.to_str().unwrap();
        let (code, err, _) = capped(&["validate", path]);
        let expected = if valid.contains(&name.as_str()) { 0 } else { 2 };
        assert_eq!(code, Some(expected), "validate {name}:\n{err}");
        let mut runs = vec![vec!["plan", path], vec!["plan", path, "--per-second"]];
        if expected == 0 {
            runs.push(vec![
                "run",
                path,
                "--sink",
                "virtual",
                "--report-dir",
                reports.to_str().unwrap(),
            ]);
        }
        for args in runs {
            let (code, err, secs) = capped(&args);
            let what = format!("{} {name}", args[..args.len().min(3)].join(" "));
            assert!(!err.contains("panicked"), "{what} panicked:\n{err}");
            assert!(
                matches!(code, Some(0..=3)),
                "{what}: exit {code:?} (124: time cap, 134/137: memory cap)\n{err}"
            );
            if secs > worst.0 {
                worst = (secs, what);
            }
        }
    }
    eprintln!(
        "{} inputs; slowest: {} in {:.1}s",
        inputs.len(),
        worst.1,
        worst.0
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Example scenarios, mutated (bytes flipped, lines dropped, duplicated or
/// swapped, numbers made huge or negative): loading never panics and never
/// takes long. In-process, so a panic fails the test with its input.
#[test]
fn mutated_scenarios_never_panic_or_hang() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let examples: Vec<(String, String)> = std::fs::read_dir(support::repo().join("scenarios"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    assert!(examples.len() >= 5);
    let numbers = [
        "0",
        "-1",
        "1e308",
        "18446744073709551616",
        "NaN",
        "0.0000001",
        "99999999999h",
    ];
    let mutation = (
        0..examples.len(),
        prop::collection::vec(
            (0usize..4, any::<usize>(), any::<usize>(), any::<u8>()),
            1..6,
        ),
    );
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&mutation, |(which, edits)| {
            let (path, text) = &examples[which];
            let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
            for (kind, a, b, byte) in edits {
                if lines.is_empty() {
                    break;
                }
                let (i, j) = (a % lines.len(), b % lines.len());
                match kind {
                    0 => {
                        lines.remove(i);
                    }
                    1 => {
                        let l = lines[i].clone();
                        lines.insert(j, l);
                    }
                    2 => lines.swap(i, j),
                    _ => {
                        // A byte replaced, or a number made hostile.
                        let line = &mut lines[i];
                        if let Some(pos) = line.find(|c: char| c.is_ascii_digit()) {
                            let end = line[pos..]
                                .find(|c: char| !c.is_ascii_digit() && c != '.')
                                .map_or(line.len(), |e| pos + e);
                            line.replace_range(pos..end, numbers[b % numbers.len()]);
                        } else if !line.is_empty() {
                            let at = line.char_indices().nth(b % line.chars().count()).unwrap().0;
                            line.replace_range(
                                at..at + line[at..].chars().next().unwrap().len_utf8(),
                                &char::from(byte).to_string(),
                            );
                        }
                    }
                }
            }
            let mutated = lines.join("\n");
            let started = std::time::Instant::now();
            let source = mbscenario::scenario::SourceFile::new(
                "mutated.yaml",
                std::path::Path::new(path),
                mutated.clone(),
            );
            let opts = mbscenario::scenario::LoadOptions {
                vars: mbscenario::scenario::Vars::fixed(std::collections::BTreeMap::new()),
                ..Default::default()
            };
            let outcome = std::panic::catch_unwind(|| {
                if let Ok(s) = mbscenario::scenario::load_source(source, &opts) {
                    let plan = mbscenario::plan::Plan::compile(&s);
                    let _ = mbscenario::plan::describe::describe(&plan, false);
                }
            });
            prop_assert!(outcome.is_ok(), "panicked on:\n{mutated}");
            prop_assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "took {:?} on:\n{mutated}",
                started.elapsed()
            );
            Ok(())
        })
        .unwrap();
}
