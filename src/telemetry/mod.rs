//! Telemetry: the typed vocabulary of what mbscenario tells the outside.
//!
//! - [`metrics`]: Prometheus metric names (`mbscenario_<noun>_<unit>[_total]`,
//!   labels phase / stream / sink / error_kind only) and the engine's
//!   pre-resolved handles; the exporter behind `run --metrics ADDR`.
//! - [`logs`]: tracing subscriber setup (human or JSON lines) and redaction
//!   of credentials in anything logged.
//! - [`secrets`]: the one masking layer — secret values registered from the
//!   scenario, masked in logs (all levels, all crates), console, stdout and reports.
//!
//! Events are named `<Noun><PastVerb>` in the `event` field
//! (`PhaseStarted`, `SendFailed`, `SteeringApplied`, …).

pub mod logs;
pub mod metrics;
pub mod secrets;
