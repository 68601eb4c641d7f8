//! Infrastructure setup and teardown from the scenario's `setup:` and
//! `teardown:` blocks.
//!
//! ```text
//! setup::run ── for each step, in file order, each retried until its service answers:
//!   register_schemas → registry.rs  (Schema Registry REST; ids per stream)
//!   ensure_topics    → topics.rs    (rdkafka AdminClient; mismatches reported)
//!   create_queue     → queue.rs     (aws-sdk-sqs; DLQ + redrive; purge)
//!   apply_connector  → template.rs  (${topics}, ${queue.url}, env) → connect.rs
//!                                   (PUT config, wait RUNNING, FAILED → trace)
//! teardown::run ── delete/pause connector, delete topics/queues, purge; every
//!                  step is tried, "already gone" is success
//! ```
//!
//! Readiness ([`retry`]): a service that does not answer is retried with
//! backoff up to the setup timeout, printing "waiting for …" lines; then
//! [`InfraError::Unreachable`] names the service, endpoint and step (exit 3).

pub mod clients;
pub mod connect;
pub mod follow;
pub mod http;
pub mod queue;
pub mod registry;
pub mod retry;
pub mod setup;
pub mod teardown;
pub mod template;
pub mod topics;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::scenario::Vars;

pub use setup::SetupOutcome;

/// Default for how long each step waits for its service.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// Why setup or teardown stopped.
#[derive(Debug, Clone, thiserror::Error)]
pub enum InfraError {
    #[error(
        "{step}: {service} at {endpoint} did not answer within {} ({tries} attempts); last error: {last}",
        crate::scenario::units::format_elapsed(*waited)
    )]
    Unreachable {
        service: String,
        endpoint: String,
        step: String,
        waited: Duration,
        tries: u32,
        last: String,
    },
    #[error("{step}: {message}")]
    Rejected {
        step: String,
        message: String,
        help: Option<String>,
    },
}

impl InfraError {
    pub fn rejected(step: &str, message: &str, help: Option<String>) -> Self {
        InfraError::Rejected {
            step: step.to_string(),
            message: message.to_string(),
            help,
        }
    }

    /// How to fix it, for the `= help:` line.
    pub fn help(&self) -> Option<String> {
        match self {
            InfraError::Unreachable { service, .. } => Some(format!(
                "start {service} (`scripts/dev-stack start`, or `docker compose up -d`) or fix its URL under `targets:`; `--setup-timeout` waits longer"
            )),
            InfraError::Rejected { help, .. } => help.clone(),
        }
    }
}

/// Settings shared by setup and teardown.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long each step waits for its service to answer.
    pub timeout: Duration,
    /// `--set` values and the environment, for connector templates and credentials.
    pub vars: Vars,
    pub progress: Progress,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            vars: Vars::from_env(Default::default()),
            progress: Progress::stderr(),
        }
    }
}

/// Progress lines (`setup[1] ensure_topics: events.x created`): on stderr
/// for the CLI, captured in tests.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    stderr: bool,
    captured: Option<Arc<Mutex<Vec<String>>>>,
}

impl Progress {
    pub fn stderr() -> Self {
        Self {
            stderr: true,
            captured: None,
        }
    }

    pub fn quiet() -> Self {
        Self::default()
    }

    /// Keeps the lines in memory; read them with [`Progress::lines`].
    pub fn capture() -> Self {
        Self {
            stderr: false,
            captured: Some(Arc::default()),
        }
    }

    pub fn line(&self, text: &str) {
        if self.stderr {
            if crate::telemetry::logs::is_json() {
                tracing::info!(event = "InfraProgressed", "{text}");
            } else {
                eprintln!("{text}");
            }
        }
        if let Some(c) = &self.captured {
            c.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(text.to_string());
        }
    }

    pub fn lines(&self) -> Vec<String> {
        self.captured
            .as_ref()
            .map(|c| c.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .unwrap_or_default()
    }
}
