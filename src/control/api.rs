//! Routes of the control API (axum).
//!
//! | method | path | body | answer |
//! |--------|------|------|--------|
//! | GET  | `/healthz` | – | 200 always (no token needed) |
//! | GET  | `/ready` | – | 200 while phases run, else 503 (no token needed) |
//! | GET  | `/status` | – | [`crate::engine::status::Status`] |
//! | POST | `/rate` | [`RateRequest`] | [`Applied`] |
//! | POST | `/pause`, `/resume` | [`ScopeRequest`] (optional) | [`Applied`] |
//! | POST | `/workers` | [`WorkersRequest`] | [`Applied`] |
//! | POST | `/mode` | [`ModeRequest`] | [`Applied`] |
//! | POST | `/stop` | – | [`Applied`] |
//! | GET  | `/openapi.json` | – | the OpenAPI 3.1 document |
//! | GET  | `/metrics` | – | Prometheus text (with `--metrics`) |
//!
//! Refusals are JSON [`ApiError`]s: 400 malformed or out of range, 401 no or
//! wrong token, 404 unknown stream, 409 valid but not applicable now.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::de::DeserializeOwned;

use super::auth::Token;
use super::wire::{
    ApiError, Applied, Health, ModeRequest, RateRequest, Ready, ScopeRequest, WorkersRequest,
};
use crate::engine::Steering;
use crate::engine::status::status;
use crate::engine::steering::{Command, RunState, SteerError};

#[derive(Debug, Clone)]
pub struct ApiState {
    pub steering: Arc<Steering>,
    pub token: Option<Token>,
}

/// The router; every route but `/healthz` and `/ready` needs the token when one is set.
pub fn router(state: ApiState) -> Router {
    let state = Arc::new(state);
    let guarded = Router::new()
        .route("/status", get(get_status))
        .route("/rate", post(post_rate))
        .route("/pause", post(post_pause))
        .route("/resume", post(post_resume))
        .route("/workers", post(post_workers))
        .route("/mode", post(post_mode))
        .route("/stop", post(post_stop))
        .route("/openapi.json", get(get_openapi))
        .route("/metrics", get(get_metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/healthz", get(get_health))
        .route("/ready", get(get_ready))
        .merge(guarded)
        .fallback(not_found)
        .with_state(state)
}

/// A router serving only `/metrics` (for `--metrics ADDR`).
pub fn metrics_router() -> Router {
    Router::new()
        .route("/metrics", get(get_metrics))
        .fallback(not_found)
}

type Shared = State<Arc<ApiState>>;

/// A refused request: status and reason, answered as an [`ApiError`].
#[derive(Debug)]
pub struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (
            self.0,
            axum::Json(ApiError {
                error: self.1,
                status: self.0.as_u16(),
            }),
        )
            .into_response()
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    Refusal(status, message.into()).into_response()
}

async fn require_token(State(state): Shared, req: Request, next: Next) -> Response {
    if let Some(token) = &state.token {
        let header = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if !token.accepts(header) {
            let mut r = error(
                StatusCode::UNAUTHORIZED,
                "missing or wrong bearer token: send `Authorization: Bearer <token>` (mbscenario ctl reads MBSCENARIO_CONTROL_TOKEN)",
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            return r;
        }
    }
    next.run(req).await
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no such endpoint; GET /openapi.json lists them",
    )
}

async fn get_health() -> axum::Json<Health> {
    axum::Json(Health {
        status: "ok".into(),
    })
}

async fn get_ready(State(state): Shared) -> Response {
    let s = state.steering.state();
    let ready = s == RunState::Running;
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(Ready { ready, state: s })).into_response()
}

async fn get_status(State(state): Shared) -> Response {
    axum::Json(status(&state.steering)).into_response()
}

async fn get_openapi() -> Response {
    axum::Json(super::openapi::document()).into_response()
}

async fn get_metrics() -> Response {
    match crate::telemetry::metrics::handle() {
        Some(h) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            h.render(),
        )
            .into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "metrics are off: start the run with --metrics ADDR",
        ),
    }
}

/// Parses a JSON body; an empty body is the type's default.
fn body<T: DeserializeOwned + Default>(bytes: &Bytes) -> Result<T, Refusal> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| {
        Refusal(
            StatusCode::BAD_REQUEST,
            format!("the request body is not valid: {e}"),
        )
    })
}

fn apply(state: &ApiState, cmd: Command, stream: Option<&str>) -> Response {
    match state.steering.apply(cmd, stream) {
        Ok(event) => axum::Json(Applied { applied: event }).into_response(),
        Err(e) => {
            let code = match e {
                SteerError::UnknownStream { .. } => StatusCode::NOT_FOUND,
                SteerError::Invalid(_) => StatusCode::BAD_REQUEST,
                SteerError::Conflict(_) => StatusCode::CONFLICT,
            };
            error(code, e.to_string())
        }
    }
}

fn reset_or<T>(reset: bool, value: Option<T>, what: &str) -> Result<Option<T>, Refusal> {
    match (reset, value) {
        (true, None) => Ok(None),
        (false, Some(v)) => Ok(Some(v)),
        (true, Some(_)) => Err(Refusal(
            StatusCode::BAD_REQUEST,
            format!("give either `{what}` or `reset: true`, not both"),
        )),
        (false, None) => Err(Refusal(
            StatusCode::BAD_REQUEST,
            format!("missing `{what}` (or `reset: true` to go back to the plan)"),
        )),
    }
}

async fn post_rate(State(state): Shared, bytes: Bytes) -> Result<Response, Refusal> {
    let req: RateRequest = body(&bytes)?;
    let rate = reset_or(req.reset, req.rate, "rate")?
        .map(|r| r.per_second())
        .transpose()
        .map_err(|e| {
            Refusal(
                StatusCode::BAD_REQUEST,
                format!("{e}; {}", crate::scenario::units::RATE_HELP),
            )
        })?;
    Ok(apply(&state, Command::Rate(rate), req.stream.as_deref()))
}

async fn post_workers(State(state): Shared, bytes: Bytes) -> Result<Response, Refusal> {
    let req: WorkersRequest = body(&bytes)?;
    let n = reset_or(req.reset, req.workers, "workers")?;
    Ok(apply(&state, Command::Workers(n), req.stream.as_deref()))
}

async fn post_mode(State(state): Shared, bytes: Bytes) -> Result<Response, Refusal> {
    let req: ModeRequest = body(&bytes)?;
    let m = reset_or(req.reset, req.mode, "mode")?;
    Ok(apply(&state, Command::Mode(m), req.stream.as_deref()))
}

fn scoped(state: &ApiState, bytes: &Bytes, cmd: Command) -> Result<Response, Refusal> {
    let req: ScopeRequest = body(bytes)?;
    Ok(apply(state, cmd, req.stream.as_deref()))
}

async fn post_pause(State(state): Shared, bytes: Bytes) -> Result<Response, Refusal> {
    scoped(&state, &bytes, Command::Pause)
}

async fn post_resume(State(state): Shared, bytes: Bytes) -> Result<Response, Refusal> {
    scoped(&state, &bytes, Command::Resume)
}

async fn post_stop(State(state): Shared, bytes: Bytes) -> Result<Response, Refusal> {
    scoped(&state, &bytes, Command::Stop)
}

/// Binds `addr` now (so a busy port is reported before the run starts) and
/// serves `router` until `shutdown` is cancelled.
pub async fn serve(
    addr: super::ListenAddr,
    router: Router,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr.0).await?;
    let local = listener.local_addr()?;
    let handle = tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
    });
    Ok((local, handle))
}
