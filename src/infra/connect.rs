//! Kafka Connect REST client: apply a connector config, wait for a state,
//! surface a failed task's trace, pause/resume/delete.
//!
//! Endpoints (Kafka Connect REST API): `GET /` (version, for readiness),
//! `PUT /connectors/{name}/config` (201 created / 200 updated),
//! `GET /connectors/{name}/config`, `GET /connectors/{name}/status`,
//! `PUT /connectors/{name}/pause|resume` (202), `DELETE /connectors/{name}`
//! (204). A 409 means the worker group is rebalancing: retry.

use std::time::Duration;

use indexmap::IndexMap;
use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use super::http::{Auth, ClientError, HttpError, base_url, join, send};
use crate::scenario::model::ConnectorState;

/// How often the status is polled while waiting for a state.
pub const POLL_EVERY: Duration = Duration::from_millis(500);

pub struct ConnectClient {
    base: reqwest::Url,
    http: reqwest::Client,
    auth: Auth,
}

/// `GET /connectors/{name}/status`.
#[derive(Debug, Clone, Deserialize)]
pub struct Status {
    pub connector: StateEntry,
    #[serde(default)]
    pub tasks: Vec<TaskState>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StateEntry {
    pub state: String,
    #[serde(default)]
    pub worker_id: Option<String>,
    #[serde(default)]
    pub trace: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TaskState {
    pub id: u32,
    pub state: String,
    #[serde(default)]
    pub trace: Option<String>,
}

/// Whether a status has reached the wanted state, is still on its way, or failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Progressing {
    Reached,
    Pending(String),
    /// What failed (`connector` / `task 0`) and its Java stack trace.
    Failed {
        what: String,
        trace: String,
    },
}

impl Status {
    pub fn assess(&self, wanted: ConnectorState) -> Progressing {
        let want = match wanted {
            ConnectorState::Running => "RUNNING",
            ConnectorState::Paused => "PAUSED",
        };
        if self.connector.state == "FAILED" {
            return Progressing::Failed {
                what: "connector".into(),
                trace: self.connector.trace.clone().unwrap_or_default(),
            };
        }
        if let Some(t) = self.tasks.iter().find(|t| t.state == "FAILED") {
            return Progressing::Failed {
                what: format!("task {}", t.id),
                trace: t.trace.clone().unwrap_or_default(),
            };
        }
        if self.connector.state == want
            && !self.tasks.is_empty()
            && self.tasks.iter().all(|t| t.state == want)
        {
            return Progressing::Reached;
        }
        Progressing::Pending(self.summary())
    }

    /// `connector RUNNING, tasks: 0 RUNNING, 1 UNASSIGNED`.
    pub fn summary(&self) -> String {
        let tasks: Vec<String> = self
            .tasks
            .iter()
            .map(|t| format!("{} {}", t.id, t.state))
            .collect();
        format!(
            "connector {}, tasks: {}",
            self.connector.state,
            if tasks.is_empty() {
                "none yet".to_string()
            } else {
                tasks.join(", ")
            }
        )
    }
}

impl ConnectClient {
    pub fn new(url: &str, request_timeout: Duration) -> Result<Self, ClientError> {
        Self::with_auth(url, Auth::None, request_timeout, None)
    }

    /// A client sending `auth` with every request and also trusting the CA
    /// certificates of `ca_file` (a REST API behind TLS and basic auth).
    pub fn with_auth(
        url: &str,
        auth: Auth,
        request_timeout: Duration,
        ca_file: Option<&std::path::Path>,
    ) -> Result<Self, ClientError> {
        let base = base_url(url, "Kafka Connect")?;
        let http = super::http::client(request_timeout, ca_file)?;
        Ok(Self { base, http, auth })
    }

    pub fn url(&self) -> &str {
        self.base.as_str()
    }

    /// The worker's version (`GET /`), to see that the REST API is up.
    pub async fn version(&self) -> Result<String, HttpError> {
        let v = self.call(Method::GET, &[], None).await?;
        Ok(v.get("version")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string())
    }

    /// Creates or reconfigures `name`. Returns `true` when it was created.
    pub async fn put_config(
        &self,
        name: &str,
        config: &IndexMap<String, String>,
    ) -> Result<bool, HttpError> {
        let url = join(&self.base, &["connectors", name, "config"]);
        let req = self
            .auth
            .apply(self.http.request(Method::PUT, url.clone()))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(serde_json::to_string(config).unwrap_or_default());
        // `send` hides the status of successful answers, so ask whether the
        // connector existed just before (good enough for a progress line).
        let existed = self.config(name).await?.is_some();
        classify(send(req, &url).await).map(|_| !existed)
    }

    /// The connector's current config, `None` when it does not exist.
    pub async fn config(&self, name: &str) -> Result<Option<IndexMap<String, String>>, HttpError> {
        match self
            .call(Method::GET, &["connectors", name, "config"], None)
            .await
        {
            Ok(v) => Ok(Some(serde_json::from_value(v).map_err(|e| {
                HttpError::Unavailable(format!("unexpected connector config answer: {e}"))
            })?)),
            Err(HttpError::Refused { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The connector's status, `None` when it does not exist (yet).
    pub async fn status(&self, name: &str) -> Result<Option<Status>, HttpError> {
        match self
            .call(Method::GET, &["connectors", name, "status"], None)
            .await
        {
            Ok(v) => Ok(Some(serde_json::from_value(v).map_err(|e| {
                HttpError::Unavailable(format!("unexpected connector status answer: {e}"))
            })?)),
            Err(HttpError::Refused { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Pauses `name`; `false` when it does not exist.
    pub async fn pause(&self, name: &str) -> Result<bool, HttpError> {
        self.existing(Method::PUT, &["connectors", name, "pause"])
            .await
    }

    /// Resumes `name`; `false` when it does not exist.
    pub async fn resume(&self, name: &str) -> Result<bool, HttpError> {
        self.existing(Method::PUT, &["connectors", name, "resume"])
            .await
    }

    /// Deletes `name`; `false` when it was already gone.
    pub async fn delete(&self, name: &str) -> Result<bool, HttpError> {
        self.existing(Method::DELETE, &["connectors", name]).await
    }

    async fn existing(&self, method: Method, segments: &[&str]) -> Result<bool, HttpError> {
        match self.call(method, segments, None).await {
            Ok(_) => Ok(true),
            Err(HttpError::Refused { status: 404, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn call(
        &self,
        method: Method,
        segments: &[&str],
        payload: Option<Value>,
    ) -> Result<Value, HttpError> {
        let url = join(&self.base, segments);
        let mut req = self.auth.apply(
            self.http
                .request(method, url.clone())
                .header(reqwest::header::ACCEPT, "application/json"),
        );
        if let Some(p) = payload {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(p.to_string());
        }
        classify(send(req, &url).await)
    }
}

/// Connect-specific meaning of error answers.
fn classify(res: Result<Value, HttpError>) -> Result<Value, HttpError> {
    match res {
        // Rebalancing: the documented answer is 409 "try again".
        Err(HttpError::Refused {
            status: 409,
            message,
            ..
        }) => Err(HttpError::Unavailable(format!(
            "HTTP 409 (worker group rebalancing): {message}"
        ))),
        // Connect answers config errors (unknown class, bad values) with 500
        // and an `error_code`; retrying cannot fix those.
        Err(HttpError::Server {
            status: 500,
            error_code: Some(code),
            message,
        }) => Err(HttpError::Refused {
            status: 500,
            error_code: Some(code),
            message,
        }),
        other => other,
    }
}

/// The first lines of a Java stack trace: the exception and its causes are
/// what users need; the full trace stays in the Connect worker log.
pub fn trace_head(trace: &str, lines: usize) -> String {
    let mut out: Vec<&str> = Vec::new();
    for line in trace.lines() {
        let t = line.trim_start();
        let keep = out.len() < lines || t.starts_with("Caused by:");
        if keep && !(out.len() >= lines && t.starts_with("at ")) {
            out.push(line);
        }
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(json: &str) -> Status {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn running_needs_the_connector_and_every_task() {
        let s = status(
            r#"{"name":"s","connector":{"state":"RUNNING","worker_id":"w"},"tasks":[{"id":0,"state":"RUNNING","worker_id":"w"},{"id":1,"state":"UNASSIGNED","worker_id":"w"}],"type":"sink"}"#,
        );
        assert_eq!(
            s.assess(ConnectorState::Running),
            Progressing::Pending("connector RUNNING, tasks: 0 RUNNING, 1 UNASSIGNED".into())
        );
        let s = status(r#"{"name":"s","connector":{"state":"RUNNING"},"tasks":[]}"#);
        assert!(matches!(
            s.assess(ConnectorState::Running),
            Progressing::Pending(_)
        ));
        let s = status(
            r#"{"name":"s","connector":{"state":"PAUSED"},"tasks":[{"id":0,"state":"PAUSED"}]}"#,
        );
        assert_eq!(s.assess(ConnectorState::Paused), Progressing::Reached);
    }

    #[test]
    fn a_failed_task_carries_its_trace() {
        let s = status(
            r#"{"name":"s","connector":{"state":"RUNNING"},"tasks":[{"id":0,"state":"FAILED","trace":"org.apache.kafka.connect.errors.ConnectException: boom\n\tat A.b(A.java:1)"}]}"#,
        );
        match s.assess(ConnectorState::Running) {
            Progressing::Failed { what, trace } => {
                assert_eq!(what, "task 0");
                assert!(trace.contains("ConnectException: boom"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn trace_head_keeps_causes() {
        let trace = "E: top\n\tat a(A.java:1)\n\tat b(B.java:2)\n\tat c(C.java:3)\nCaused by: X: root\n\tat d(D.java:4)";
        let head = trace_head(trace, 2);
        assert_eq!(head, "E: top\n\tat a(A.java:1)\nCaused by: X: root");
    }
}
