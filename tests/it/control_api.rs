//! The control plane end to end: a real `mbscenario run` process steered over
//! HTTP and with `mbscenario ctl`, its Prometheus endpoint scraped, its JSON
//! logs parsed, token checks on a non-loopback bind, and the OpenAPI document
//! validated against the responses the server actually gives.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_mbscenario");
const TOKEN: &str = "c0ffee-0123456789abcdef-steer-token";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/control/steer.yaml")
}

/// A running `mbscenario run` with its stderr collected line by line.
struct RunProc {
    child: Child,
    stderr: Arc<Mutex<Vec<String>>>,
    dir: PathBuf,
}

impl RunProc {
    fn start(name: &str, args: &[&str], envs: &[(&str, &str)]) -> RunProc {
        let dir = std::env::temp_dir().join(format!("mbs-control-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut cmd = Command::new(BIN);
        cmd.arg("run")
            .arg(fixture())
            .args(args)
            .args([
                "--report-dir",
                dir.join("report").to_str().unwrap(),
                "--grace",
                "2s",
            ])
            .env_remove("MBSCENARIO_CONTROL_TOKEN")
            .env_remove("LOG_JSON")
            .envs(envs.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        RunProc { child, stderr, dir }
    }

    fn lines(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// The address after `marker` in a stderr line (e.g. `control API on http://`).
    fn addr(&self, marker: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            for l in self.lines() {
                if let Some(rest) = l.split(marker).nth(1) {
                    return rest.split([' ', '/']).next().unwrap().to_string();
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no `{marker}` line; stderr: {:#?}", self.lines());
    }

    fn wait(mut self) -> (i32, Vec<String>, PathBuf) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                return (status.code().unwrap_or(-1), self.lines(), self.dir.clone());
            }
            assert!(
                Instant::now() < deadline,
                "run did not end: {:#?}",
                self.lines()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for RunProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn get(base: &str, path: &str) -> (u16, Value) {
    let r = http()
        .get(format!("http://{base}{path}"))
        .send()
        .await
        .unwrap();
    let code = r.status().as_u16();
    (code, r.json().await.unwrap_or(Value::Null))
}

async fn post(base: &str, path: &str, body: Value) -> (u16, Value) {
    let r = http()
        .post(format!("http://{base}{path}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let code = r.status().as_u16();
    (code, r.json().await.unwrap_or(Value::Null))
}

async fn acked(base: &str, stream: usize) -> u64 {
    let (_, s) = get(base, "/status").await;
    s["streams"][stream]["counts"]["acked"].as_u64().unwrap()
}

async fn wait_ready(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(base, "/ready").await.0 != 200 {
        assert!(Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn ctl(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("ctl")
        .args(args)
        .env_remove("MBSCENARIO_CONTROL_TOKEN")
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn sleep(ms: u64) -> tokio::time::Sleep {
    tokio::time::sleep(Duration::from_millis(ms))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_steered_over_http_and_ctl_and_reports_it() {
    let out_dir = std::env::temp_dir().join(format!("mbs-control-out-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out_dir);
    let sink = format!("file:{}", out_dir.display());
    let run = RunProc::start(
        "steer",
        &[
            "--sink",
            &sink,
            "--control",
            "127.0.0.1:0",
            "--metrics",
            "127.0.0.1:0",
        ],
        &[("LOG_JSON", "true")],
    );
    let base = run.addr("control API on http://");
    let metrics = run.addr("metrics on http://");
    wait_ready(&base).await;
    assert_eq!(get(&base, "/healthz").await, (200, json!({"status": "ok"})));
    let (code, st) = get(&base, "/status").await;
    assert_eq!(code, 200);
    assert_eq!(st["state"], "running");
    assert_eq!(st["phase"]["name"], "long");
    assert_eq!(st["streams"][0]["target_rate"], 50.0);

    // Rate: 1000/s split over the two streams (equal shares).
    let (code, a) = post(&base, "/rate", json!({"rate": "1000/s"})).await;
    assert_eq!(code, 200, "{a}");
    assert_eq!(a["applied"]["action"], "rate");
    sleep(500).await;
    let before = acked(&base, 0).await + acked(&base, 1).await;
    sleep(2000).await;
    let after = acked(&base, 0).await + acked(&base, 1).await;
    // The plan's 100/s would give ~200; loosely more than half the new rate.
    assert!(after - before > 1000, "{before} → {after} in 2 s");
    let (_, st) = get(&base, "/status").await;
    assert_eq!(st["streams"][1]["target_rate"], 500.0);
    assert_eq!(st["streams"][1]["rate_overridden"], true);

    // Pause one stream: its count stops, the other's goes on; resume restarts it.
    assert_eq!(
        post(&base, "/pause", json!({"stream": "plain"})).await.0,
        200
    );
    sleep(500).await;
    let (p1, c1) = (acked(&base, 1).await, acked(&base, 0).await);
    sleep(1000).await;
    let (p2, c2) = (acked(&base, 1).await, acked(&base, 0).await);
    assert_eq!(p1, p2, "paused stream still sent");
    assert!(c2 > c1 + 200, "cards stalled: {c1} → {c2}");
    assert_eq!(post(&base, "/resume", json!({})).await.0, 200);
    sleep(1000).await;
    assert!(
        acked(&base, 1).await > p2 + 200,
        "resume did not restart `plain`"
    );

    // Mode: cards goes direct to SQS; plain has no queue → 409 with the reason.
    let (code, a) = post(
        &base,
        "/mode",
        json!({"mode": "direct_sqs", "stream": "cards"}),
    )
    .await;
    assert_eq!(code, 200, "{a}");
    let (code, e) = post(&base, "/mode", json!({"mode": "direct_sqs"})).await;
    assert_eq!(code, 409);
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("`plain` has no `queue:`"),
        "{e}"
    );
    assert_eq!(
        post(&base, "/rate", json!({"rate": 5, "reset": true}))
            .await
            .0,
        400
    );
    assert_eq!(post(&base, "/rate", json!({"rate": "fast"})).await.0, 400);
    assert_eq!(
        post(&base, "/workers", json!({"workers": 2, "stream": "cards"}))
            .await
            .0,
        400
    );

    // ctl mirrors the API with readable output and exit codes.
    let addr = ["--addr", base.as_str()];
    let (code, out, err) = ctl(&[&["workers", "8"][..], &addr].concat(), &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "workers 4 → 8 until phase `long` ends");
    let (code, out, _) = ctl(&[&["rate", "--reset"][..], &addr].concat(), &[]);
    assert_eq!(code, 0);
    assert!(out.contains("back to the planned rate"), "{out}");
    sleep(1200).await;
    let (code, out, err) = ctl(&[&["status"][..], &addr].concat(), &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("phase long"), "{out}");
    assert!(out.contains("workers 8 (planned 4)"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("cards") && l.contains("direct_sqs*")),
        "{out}"
    );
    assert!(out.contains("changes:"), "{out}");
    let (code, _, err) = ctl(&[&["pause", "--stream", "nope"][..], &addr].concat(), &[]);
    assert_eq!(code, 2);
    assert!(err.contains("(404): no stream named `nope`"), "{err}");

    // Metrics: documented names and labels, with live values.
    let text = http()
        .get(format!("http://{metrics}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |prefix: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` in\n{text}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(
        value(r#"mbscenario_records_sent_total{phase="long",stream="cards",sink="file"}"#) > 1000.0
    );
    assert!(
        value(r#"mbscenario_records_acked_total{phase="long",stream="plain",sink="file"}"#) > 500.0
    );
    assert!(value(r#"mbscenario_records_scheduled_total{phase="long",stream="cards"}"#) > 1000.0);
    assert_eq!(
        value(r#"mbscenario_records_dropped_total{phase="long",stream="cards"}"#),
        0.0
    );
    assert!(
        value(
            r#"mbscenario_send_latency_seconds_bucket{phase="long",stream="cards",sink="file",le="+Inf"}"#
        ) > 0.0
    );
    assert!(value(r#"mbscenario_schedule_lag_seconds_count{phase="long",stream="plain"}"#) > 0.0);
    assert_eq!(
        value(r#"mbscenario_target_rate_per_second{stream="cards"}"#),
        50.0
    );
    assert!(value(r#"mbscenario_achieved_rate_per_second{stream="cards"}"#) > 0.0);
    assert_eq!(value(r#"mbscenario_workers{phase="long"}"#), 8.0);
    assert_eq!(value(r#"mbscenario_phase_active{phase="long"}"#), 1.0);
    assert_eq!(
        value(r#"mbscenario_steering_changes_total{action="rate"}"#),
        2.0
    );

    // Stop: graceful, the report records every change and is marked steered.
    let (code, _) = post(&base, "/stop", json!({})).await;
    assert_eq!(code, 200);
    let (code, lines, dir) = run.wait();
    // Like Ctrl-C: a run stopped before its plan ended is not a pass (exit 3).
    assert_eq!(code, 3, "{lines:#?}");
    let report_file = std::fs::read_dir(dir.join("report"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&report_file).unwrap()).unwrap();
    assert_eq!(report["run"]["steered"], true);
    assert_eq!(report["run"]["interrupted"], true);
    let actions: Vec<&str> = report["run"]["steering"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["rate", "pause", "resume", "mode", "workers", "rate", "stop"]
    );
    let md = std::fs::read_to_string(report_file.with_extension("md")).unwrap();
    assert!(md.contains("**Steered at runtime** (7 change(s)"), "{md}");
    assert!(
        md.contains("| mode | cards | stream `cards` switched to direct_sqs"),
        "{md}"
    );
    // The mode switch rerouted: SQS-route lines exist, all from `cards`.
    let sqs = std::fs::read_to_string(out_dir.join("sqs.jsonl")).unwrap();
    assert!(
        sqs.lines().count() > 40,
        "{} direct sends",
        sqs.lines().count()
    );
    assert!(
        sqs.lines().all(|l| l.contains("\"q-steer\"")),
        "{}",
        &sqs[..300]
    );

    // JSON logs: one object per line with the documented fields.
    let events: Vec<Value> = lines
        .iter()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "PhaseStarted" && e["phase"] == "long")
    );
    assert!(events.iter().any(|e| e["event"] == "SteeringApplied"
        && e["action"] == "mode"
        && e["stream"] == "cards"
        && e["level"] == "INFO"));
    assert!(events.iter().any(|e| e["event"] == "RunFinished"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_loopback_binds_need_a_token_that_never_leaks() {
    let (code, lines, _) = RunProc::start(
        "notoken",
        &["--sink", "null", "--control", "0.0.0.0:0"],
        &[],
    )
    .wait();
    assert_eq!(code, 2);
    assert!(
        lines.iter().any(|l| l.contains("needs a bearer token")),
        "{lines:#?}"
    );
    let (code, lines, _) = RunProc::start(
        "shorttoken",
        &["--sink", "null", "--control", "0.0.0.0:0"],
        &[("MBSCENARIO_CONTROL_TOKEN", "abc")],
    )
    .wait();
    assert_eq!(code, 2);
    assert!(
        lines.iter().any(|l| l.contains("use at least 16")),
        "{lines:#?}"
    );

    let run = RunProc::start(
        "token",
        &["--sink", "null", "--control", "0.0.0.0:0"],
        &[("MBSCENARIO_CONTROL_TOKEN", TOKEN)],
    );
    let port = run
        .addr("control API on http://")
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    let base = format!("127.0.0.1:{port}");
    wait_ready(&base).await;
    let send = |path: &str, auth: Option<&str>| {
        let mut r = http().get(format!("http://{base}{path}"));
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.send()
    };
    let r = send("/status", None).await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        send("/status", Some("Bearer wrong-token-0123456789"))
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        send("/openapi.json", None).await.unwrap().status().as_u16(),
        401
    );
    assert_eq!(
        send("/status", Some(&format!("Bearer {TOKEN}")))
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert_eq!(send("/healthz", None).await.unwrap().status().as_u16(), 200);
    assert_eq!(send("/ready", None).await.unwrap().status().as_u16(), 200);
    let (code, _, err) = ctl(&["status", "--addr", &base], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("(401)") && err.contains("MBSCENARIO_CONTROL_TOKEN"),
        "{err}"
    );
    let (code, out, err) = ctl(
        &["stop", "--addr", &base],
        &[("MBSCENARIO_CONTROL_TOKEN", TOKEN)],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("stopping"), "{out}");
    let (_, lines, dir) = run.wait();
    let mut everything = lines.join("\n");
    for f in std::fs::read_dir(dir.join("report")).unwrap() {
        everything.push_str(&std::fs::read_to_string(f.unwrap().path()).unwrap());
    }
    assert!(everything.contains("bearer token required"));
    assert!(!everything.contains(TOKEN), "the token leaked");
}
