//! Tiny hostile inputs must not buy unbounded memory or time: nested YAML
//! aliases, a replay "file" that is a device, an Avro `fixed` of 2 GiB.
//! Each is a located error from `validate`, at once.

mod support;

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
