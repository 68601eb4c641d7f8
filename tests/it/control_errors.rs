//! Control-plane mistakes get a clear message and the documented exit code:
//! a busy port, an unreachable run for `ctl`, `--control` with the virtual
//! clock, a malformed address or start time.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_mbscenario");

fn mbs(args: &[&str]) -> (Option<i32>, String) {
    let o = Command::new(BIN)
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .env_remove("MBSCENARIO_CONTROL_TOKEN")
        .env_remove("MBSCENARIO_CONTROL_ADDR")
        .output()
        .unwrap();
    (
        o.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

const SCENARIO: &str = "tests/fixtures/control/steer.yaml";

#[test]
fn a_busy_port_stops_the_run_before_it_starts() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, out) = mbs(&["run", SCENARIO, "--sink", "null", "--control", &addr]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains(&format!("cannot listen on {addr} for the control API")),
        "{out}"
    );
    assert!(out.contains("pick another address"), "{out}");
    assert!(!out.contains("running steer"), "the run started: {out}");
}

#[test]
fn ctl_without_a_run_says_how_to_start_one() {
    // A port nobody listens on: bind, note it, release it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, out) = mbs(&["ctl", "status", "--addr", &format!("127.0.0.1:{port}")]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("cannot reach the run's control API"), "{out}");
    assert!(out.contains("start the run with `--control"), "{out}");
}

#[test]
fn bad_control_and_shard_flags_are_usage_errors() {
    let (code, out) = mbs(&["run", SCENARIO, "--sink", "virtual", "--control", "7979"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("need a real-time run"), "{out}");
    let (code, out) = mbs(&[
        "run",
        SCENARIO,
        "--sink",
        "null",
        "--control",
        "not-an-address",
    ]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("HOST:PORT"), "{out}");
    let (code, out) = mbs(&["run", SCENARIO, "--sink", "null", "--start-at", "tomorrow"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("not an RFC 3339 time"), "{out}");
    let (code, out) = mbs(&["ctl", "mode", "sideways"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("direct_sqs"), "{out}");
}
