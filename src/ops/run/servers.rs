//! `run --control` / `--metrics`: the checks before a run and the HTTP
//! servers beside it (the API itself lives in [`crate::control`]).

use std::sync::Arc;

use super::RunOptions;
use crate::cli::SinkArg;
use crate::engine;
use crate::failure::Failure;

/// Checks `--control` / `--control-token` / `--metrics` before anything runs.
pub fn check_control(
    sink: Option<&SinkArg>,
    control: Option<crate::control::ListenAddr>,
    token: Option<&str>,
    metrics: Option<crate::control::ListenAddr>,
) -> Result<Option<crate::control::Token>, String> {
    let token = token
        .filter(|t| !t.trim().is_empty())
        .map(crate::control::Token::new)
        .transpose()?;
    if matches!(sink, Some(SinkArg::Virtual { .. })) && (control.is_some() || metrics.is_some()) {
        return Err("--control and --metrics need a real-time run; the virtual clock runs the whole scenario in a moment".into());
    }
    if let Some(addr) = control
        && !addr.is_loopback()
        && token.is_none()
    {
        return Err(format!(
            "--control {addr} is reachable from other machines, so it needs a bearer token: set MBSCENARIO_CONTROL_TOKEN (or --control-token), e.g. to the output of `openssl rand -hex 32`, or bind a loopback address such as 127.0.0.1:{}",
            addr.0.port()
        ));
    }
    Ok(token)
}

/// Starts the control API and/or the metrics endpoint; they stop with `done`.
pub async fn start_servers(
    opts: &RunOptions,
    steering: &Arc<engine::Steering>,
    done: &tokio_util::sync::CancellationToken,
) -> Result<(), Failure> {
    if opts.metrics.is_some() {
        crate::telemetry::metrics::install()
            .map_err(|e| Failure::infra(format!("cannot start the metrics exporter: {e}")))?;
    }
    if let Some(addr) = opts.control {
        let router = crate::control::api::router(crate::control::api::ApiState {
            steering: steering.clone(),
            token: opts.control_token.clone(),
        });
        match crate::control::api::serve(addr, router, done.clone()).await {
            Ok((local, _)) => {
                eprintln!(
                    "control API on http://{local} ({}); `mbscenario ctl status --addr {local}`",
                    if opts.control_token.is_some() {
                        "bearer token required"
                    } else {
                        "loopback only, no token"
                    }
                );
                tracing::info!(event = "ControlListening", addr = %local, "control API listening");
            }
            Err(e) => {
                return Err(Failure::invalid(format!(
                    "cannot listen on {addr} for the control API: {e}"
                ))
                .help("pick another address with --control HOST:PORT"));
            }
        }
    }
    // The same fixed address serves both from the control router.
    let shared_port = opts
        .metrics
        .is_some_and(|m| m.0.port() != 0 && Some(m) == opts.control);
    if shared_port {
        eprintln!(
            "metrics on http://{}/metrics",
            opts.control.map(|c| c.to_string()).unwrap_or_default()
        );
    }
    if let Some(addr) = opts.metrics
        && !shared_port
    {
        match crate::control::api::serve(addr, crate::control::api::metrics_router(), done.clone())
            .await
        {
            Ok((local, _)) => {
                eprintln!("metrics on http://{local}/metrics");
                tracing::info!(event = "MetricsListening", addr = %local, "metrics listening");
            }
            Err(e) => {
                return Err(
                    Failure::invalid(format!("cannot listen on {addr} for metrics: {e}"))
                        .help("pick another address with --metrics HOST:PORT"),
                );
            }
        }
    }
    Ok(())
}
