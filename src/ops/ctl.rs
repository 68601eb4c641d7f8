//! `mbscenario ctl`: the control API from the command line.
//!
//! Exit codes follow the rest of the tool: 0 done, 2 the request was refused
//! (bad value, unknown stream, not applicable now, wrong token), 3 the run
//! cannot be reached.
//!
//! [`ctl`]: [`request`] (what to send) → `call` → a refusal said with its
//! help → `print_answer` ([`render_status`]: `status_head`, `stream_table`,
//! `status_tail`).

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::Value;

use crate::cli::{CtlAction, ModeArg};
use crate::control::wire::{
    Applied, ModeRequest, RateInput, RateRequest, ScopeRequest, WorkersRequest,
};
use crate::engine::status::Status;
use crate::exit::Exit;
use crate::scenario::model::Mode;
use crate::scenario::units::{format_number, format_rate};

/// What a `ctl` invocation asks for: method, path, body.
pub fn request(action: &CtlAction) -> (&'static str, &'static str, Option<Value>) {
    match action {
        CtlAction::Status => ("GET", "/status", None),
        CtlAction::Rate {
            rate,
            stream,
            reset,
        } => (
            "POST",
            "/rate",
            json(&RateRequest {
                rate: rate.clone().map(|r| match r.trim().parse::<f64>() {
                    Ok(n) => RateInput::PerSecond(n),
                    Err(_) => RateInput::Text(r),
                }),
                stream: stream.clone(),
                reset: *reset,
            }),
        ),
        CtlAction::Pause { stream } => (
            "POST",
            "/pause",
            json(&ScopeRequest {
                stream: stream.clone(),
            }),
        ),
        CtlAction::Resume { stream } => (
            "POST",
            "/resume",
            json(&ScopeRequest {
                stream: stream.clone(),
            }),
        ),
        CtlAction::Workers { workers, reset } => (
            "POST",
            "/workers",
            json(&WorkersRequest {
                workers: *workers,
                stream: None,
                reset: *reset,
            }),
        ),
        CtlAction::Mode {
            mode,
            stream,
            reset,
        } => (
            "POST",
            "/mode",
            json(&ModeRequest {
                mode: mode.map(|m| match m {
                    ModeArg::KafkaViaConnect => Mode::KafkaViaConnect,
                    ModeArg::DirectSqs => Mode::DirectSqs,
                }),
                stream: stream.clone(),
                reset: *reset,
            }),
        ),
        CtlAction::Stop => ("POST", "/stop", json(&ScopeRequest::default())),
    }
}

fn json<T: serde::Serialize>(v: &T) -> Option<Value> {
    serde_json::to_value(v).ok()
}

fn base_url(addr: &str) -> String {
    let a = addr.trim().trim_end_matches('/');
    if a.starts_with("http://") || a.starts_with("https://") {
        a.to_string()
    } else if a.parse::<u16>().is_ok() {
        format!("http://127.0.0.1:{a}")
    } else {
        format!("http://{a}")
    }
}

/// Runs one `ctl` action; prints the answer; returns the exit code.
pub fn ctl(action: &CtlAction, addr: &str, token: Option<&str>, raw_json: bool) -> Exit {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Failure;
        }
    };
    let base = base_url(addr);
    let answer = rt.block_on(call(&base, request(action), token));
    let (status, text) = match answer {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!(
                "  = help: start the run with `--control {}` (or pass --addr / MBSCENARIO_CONTROL_ADDR)",
                addr
            );
            return Exit::Failure;
        }
    };
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
    if !(200..300).contains(&status) {
        let msg = value["error"].as_str().map_or(text.as_str(), |s| s);
        eprintln!("error: the run refused ({status}): {msg}");
        if status == 401 {
            eprintln!(
                "  = help: set MBSCENARIO_CONTROL_TOKEN (or --token) to the run's --control-token"
            );
        }
        return Exit::Invalid;
    }
    if raw_json {
        println!("{}", serde_json::to_string_pretty(&value).unwrap_or(text));
        return Exit::Passed;
    }
    print_answer(action, &base, value)
}

/// Sends one request (method, path, body) to the control API at `base`:
/// (HTTP status, body text), or why the run could not be reached.
async fn call(
    base: &str,
    (method, path, body): (&str, &str, Option<Value>),
    token: Option<&str>,
) -> Result<(u16, String), String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let url = format!("{base}{path}");
    let mut req = match method {
        "GET" => client.get(&url),
        _ => client.post(&url),
    };
    if let Some(t) = token {
        req = req.bearer_auth(t.trim());
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.map_err(|e| {
        format!(
            "cannot reach the run's control API at {base}: {}",
            crate::infra::http::clip(&e.to_string())
        )
    })?;
    let status = resp.status().as_u16();
    let text = resp.text().await.map_err(|e| e.to_string())?;
    Ok((status, text))
}

/// Prints an accepted answer as text: the status table, or what was applied.
fn print_answer(action: &CtlAction, base: &str, value: Value) -> Exit {
    match action {
        CtlAction::Status => match serde_json::from_value::<Status>(value) {
            Ok(s) => print!("{}", render_status(&s)),
            Err(e) => {
                eprintln!("error: unexpected status answer from {base}: {e}");
                return Exit::Failure;
            }
        },
        _ => match serde_json::from_value::<Applied>(value) {
            Ok(a) => println!("{}", a.applied.detail),
            Err(e) => {
                eprintln!("error: unexpected answer from {base}: {e}");
                return Exit::Failure;
            }
        },
    }
    Exit::Passed
}

/// The status as a few readable lines and a table.
pub fn render_status(s: &Status) -> String {
    let mut out = String::new();
    status_head(&mut out, s);
    stream_table(&mut out, s);
    status_tail(&mut out, s);
    out
}

/// Scenario, run state and the current phase.
fn status_head(out: &mut String, s: &Status) {
    let state = match s.state {
        crate::engine::steering::RunState::Starting => "starting",
        crate::engine::steering::RunState::Running => "running",
        crate::engine::steering::RunState::Finished => "finished",
    };
    let _ = write!(
        out,
        "{} · {state} · {:.1}s elapsed",
        s.scenario, s.elapsed_s
    );
    if s.steered {
        let _ = write!(out, " · steered ({} change(s))", s.events.len());
    }
    out.push('\n');
    if let Some(p) = &s.phase {
        let _ = write!(
            out,
            "phase {} · {:.1}s in, {:.1}s left · {} · workers {}",
            p.name,
            p.elapsed_s,
            p.remaining_s,
            if p.load == "max" { "flat out" } else { "rate" },
            p.workers
        );
        if p.workers != p.planned_workers {
            let _ = write!(out, " (planned {})", p.planned_workers);
        }
        out.push('\n');
    }
}

/// One row per stream, columns aligned; `*` marks what was changed at runtime.
fn stream_table(out: &mut String, s: &Status) {
    let rows: Vec<[String; 8]> = s
        .streams
        .iter()
        .map(|st| {
            let mark = |b: bool| if b { "*" } else { "" };
            [
                format!("{}{}", st.name, if st.paused { " (paused)" } else { "" }),
                format!("{}{}", st.mode, mark(st.mode_overridden)),
                st.target_rate.map_or("max".into(), |r| {
                    format!("{}{}", format_rate(r), mark(st.rate_overridden))
                }),
                format_rate(st.achieved_rate),
                st.counts.acked.to_string(),
                st.counts.failed.to_string(),
                st.counts.dropped.to_string(),
                st.counts.in_flight.to_string(),
            ]
        })
        .collect();
    let head = [
        "stream",
        "mode",
        "target",
        "achieved",
        "acked",
        "failed",
        "dropped",
        "in flight",
    ];
    let mut widths: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let _ = writeln!(out, "{}", line(head.to_vec()));
    for r in &rows {
        let _ = writeln!(out, "{}", line(r.iter().map(String::as_str).collect()));
    }
}

/// Totals, errors by kind, and the changes made at runtime.
fn status_tail(out: &mut String, s: &Status) {
    let t = &s.totals;
    let _ = writeln!(
        out,
        "total: {} scheduled, {} acked, {} failed, {} dropped, {} in flight",
        t.scheduled, t.acked, t.failed, t.dropped, t.in_flight
    );
    if !t.errors.is_empty() {
        let errs: Vec<String> = t.errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(out, "errors: {}", errs.join(", "));
    }
    if s.streams
        .iter()
        .any(|x| x.mode_overridden || x.rate_overridden)
    {
        let _ = writeln!(out, "(* changed at runtime)");
    }
    if !s.events.is_empty() {
        let _ = writeln!(out, "changes:");
        for e in &s.events {
            let _ = writeln!(
                out,
                "  {:>7}s {:<8} {}",
                format_number(e.at_s),
                e.action,
                e.detail
            );
        }
    }
}
