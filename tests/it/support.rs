//! Shared helpers for integration tests against the real local stack
//! (`scripts/dev-stack start`). Outside CI a missing stack skips the test
//! loudly; in CI (`CI=true`) it is a failure, never a silent skip.
//!
//! All test files share one binary (`tests/it/main.rs`), so a [`Stack`]
//! also holds the stack gate: tests of one file may use the stack together
//! (as they always did), tests of different files never at once — one file
//! restarts the broker, others compete for queues.

use std::collections::BTreeMap;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Endpoints of the running stack, from `stack.env` or the environment.
#[derive(Debug, Clone)]
pub struct Stack {
    pub vars: BTreeMap<String, String>,
    _gate: Arc<GateTicket>,
}

/// Which test file uses the stack now, and how many of its tests.
struct Gate {
    file: Option<&'static str>,
    holders: usize,
}

static GATE: Mutex<Gate> = Mutex::new(Gate {
    file: None,
    holders: 0,
});
static GATE_FREE: Condvar = Condvar::new();

/// A test's share of the stack; dropping it lets another file's tests in.
#[derive(Debug)]
struct GateTicket;

impl GateTicket {
    fn enter(file: &'static str) -> GateTicket {
        let mut g = GATE.lock().unwrap_or_else(|p| p.into_inner());
        while g.file.is_some_and(|f| f != file) {
            g = GATE_FREE.wait(g).unwrap_or_else(|p| p.into_inner());
        }
        g.file = Some(file);
        g.holders += 1;
        GateTicket
    }
}

impl Drop for GateTicket {
    fn drop(&mut self) {
        let mut g = GATE.lock().unwrap_or_else(|p| p.into_inner());
        g.holders -= 1;
        if g.holders == 0 {
            g.file = None;
            GATE_FREE.notify_all();
        }
    }
}

impl Stack {
    pub fn get(&self, key: &str) -> &str {
        self.vars.get(key).map(String::as_str).unwrap_or_default()
    }
}

fn stack_env_file() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("MBS_STACK_ENV") {
        return Some(p.into());
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache")))?;
    let dir = std::env::var_os("MBS_STACK_DIR")
        .map_or_else(|| cache.join("mbscenario-stack"), Into::into);
    Some(dir.join("stack.env"))
}

fn reachable(hostport: &str) -> bool {
    hostport
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok())
}

/// The stack, or `None` after printing why the test is skipped (panics in CI).
/// Waits while tests of another file use it.
#[track_caller]
pub fn stack(test: &str) -> Option<Stack> {
    let file = std::panic::Location::caller().file();
    let mut vars = BTreeMap::new();
    if let Some(text) = stack_env_file().and_then(|f| std::fs::read_to_string(f).ok()) {
        for line in text.lines() {
            if let Some((k, v)) = line.split_once('=')
                && !k.trim_start().starts_with('#')
            {
                vars.insert(
                    k.trim().to_string(),
                    v.trim().trim_matches('"').trim_matches('\'').to_string(),
                );
            }
        }
    }
    for key in ["KAFKA_BOOTSTRAP", "SQS_ENDPOINT", "CONNECT_URL"] {
        if let Ok(v) = std::env::var(key) {
            vars.insert(key.to_string(), v);
        }
    }
    let kafka = vars.get("KAFKA_BOOTSTRAP").cloned().unwrap_or_default();
    if !kafka.is_empty() && reachable(&kafka) {
        return Some(Stack {
            vars,
            _gate: Arc::new(GateTicket::enter(file)),
        });
    }
    let why = format!(
        "{test}: the local stack is not running (Kafka at `{kafka}` unreachable); start it with `scripts/dev-stack install && scripts/dev-stack start`"
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why} — in CI a missing stack is a failure");
    }
    eprintln!("\n!!!!!!!! SKIPPED {why}\n");
    None
}

/// The stack's tool venv Python (`MBS_TOOLS_PYTHON` in stack.env), when it
/// has `openapi_spec_validator`.
pub fn tools_python() -> Option<String> {
    let mut py = std::env::var("MBS_TOOLS_PYTHON").ok();
    if py.is_none()
        && let Some(text) = stack_env_file().and_then(|f| std::fs::read_to_string(f).ok())
    {
        py = text
            .lines()
            .find_map(|l| l.strip_prefix("MBS_TOOLS_PYTHON="))
            .map(|v| v.trim().trim_matches('"').trim_matches('\'').to_string());
    }
    let py = py.filter(|p| !p.is_empty())?;
    let ok = std::process::Command::new(&py)
        .args(["-c", "import openapi_spec_validator"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(py)
}

/// Skips loudly outside CI; fails in CI.
pub fn skip_or_fail(what: &str) {
    let why = format!("{what} is not installed; run `scripts/dev-stack install`");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{why} — in CI a missing tool is a failure");
    }
    eprintln!("\n!!!!!!!! SKIPPED {why}\n");
}

/// The repository root (scenario paths in tests are relative to it).
pub fn repo() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the `mbscenario` binary from the repository root with the stack's
/// variables, `MBS_RUN_ID` and `extra` environment variables (which win):
/// (exit code, stdout, stderr).
pub fn run_bin(
    stack: &Stack,
    args: &[&str],
    run_id: &str,
    extra: &[(&str, &str)],
) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mbscenario"));
    cmd.args(args).current_dir(repo()).env("MBS_RUN_ID", run_id);
    for (k, v) in &stack.vars {
        cmd.env(k, v);
    }
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The one JSON report written into `dir`.
pub fn json_report(dir: &std::path::Path) -> serde_json::Value {
    let json = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("a JSON report");
    serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap()
}

/// Runs the `mbscenario` binary from the repository root with this
/// process's environment: (exit code, stdout, stderr).
pub fn cli(args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mbscenario"))
        .current_dir(repo())
        .args(args)
        .output()
        .expect("the binary runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Loads `yaml` as if it were the file `at` (relative to the repository, so
/// the paths in it resolve from there), with exactly `vars` as variables;
/// invalid YAML panics with the rendered diagnostics.
pub fn scenario_yaml(
    at: &str,
    yaml: &str,
    vars: &[(&str, &str)],
) -> mbscenario::scenario::Scenario {
    use mbscenario::scenario::{LoadOptions, SourceFile, Vars};
    let path = repo().join(at);
    let shown = path
        .file_name()
        .map_or_else(|| at.to_string(), |n| n.to_string_lossy().into_owned());
    let opts = LoadOptions {
        vars: Vars::fixed(
            vars.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        ..LoadOptions::default()
    };
    mbscenario::scenario::load_source(SourceFile::new(&shown, path, yaml.to_string()), &opts)
        .unwrap_or_else(|d| panic!("{}", d.render_plain()))
}

/// Loads a scenario file (shown by its file name) with no variables set.
pub fn scenario_file(path: &std::path::Path) -> mbscenario::scenario::Scenario {
    use mbscenario::scenario::{LoadOptions, Vars};
    let opts = LoadOptions {
        vars: Vars::fixed(BTreeMap::new()),
        ..LoadOptions::default()
    };
    let shown = path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    mbscenario::scenario::load_file(path, &shown, &opts)
        .unwrap_or_else(|d| panic!("{}", d.render_plain()))
}
