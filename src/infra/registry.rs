//! Confluent Schema Registry client (REST API v1).
//!
//! Only the endpoints setup needs, each as documented:
//! - `POST /subjects/{s}` — is this schema already registered? (`404` with
//!   `error_code` 40401 subject / 40403 schema not found means no)
//! - `POST /compatibility/subjects/{s}/versions/latest?verbose=true`
//! - `PUT /config/{s}` — per-subject compatibility level
//! - `POST /subjects/{s}/versions` — register, answers `{"id": N}`;
//!   re-registering the same schema returns the same id
//! - `GET /schemas/ids/{id}`
//!
//! Requests carry `application/vnd.schemaregistry.v1+json`. Errors keep the
//! registry's `error_code` and `message` verbatim. Ids are cached per
//! (subject, schema) for the run.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::http::{ClientError, HttpError, base_url, join, send};
use crate::scenario::model::Compatibility;

pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";
const ACCEPT: &str = "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json; qs=0.9, application/json; qs=0.5";

pub use super::http::Auth;

/// Result of a compatibility check.
#[derive(Debug, Clone, PartialEq)]
pub enum Compat {
    Compatible,
    /// The subject has no versions yet, so there is nothing to be incompatible with.
    NewSubject,
    Incompatible {
        messages: Vec<String>,
    },
}

pub struct RegistryClient {
    base: reqwest::Url,
    http: reqwest::Client,
    auth: Auth,
    ids: Mutex<HashMap<(String, String), u32>>,
}

impl RegistryClient {
    pub fn new(url: &str, auth: Auth, request_timeout: Duration) -> Result<Self, ClientError> {
        Self::with_ca(url, auth, request_timeout, None)
    }

    /// Like [`Self::new`], also trusting the CA certificates of `ca_file`.
    pub fn with_ca(
        url: &str,
        auth: Auth,
        request_timeout: Duration,
        ca_file: Option<&std::path::Path>,
    ) -> Result<Self, ClientError> {
        let base = base_url(url, "Schema Registry")?;
        let http = super::http::client(request_timeout, ca_file)?;
        Ok(Self {
            base,
            http,
            auth,
            ids: Mutex::new(HashMap::new()),
        })
    }

    pub fn url(&self) -> &str {
        self.base.as_str()
    }

    /// Id of `schema` under `subject`, or `None` when it is not registered there.
    pub async fn lookup(&self, subject: &str, schema: &str) -> Result<Option<u32>, HttpError> {
        if let Some(id) = self.cached(subject, schema) {
            return Ok(Some(id));
        }
        match self
            .call(
                Method::POST,
                &["subjects", subject],
                &[],
                Some(body(schema)),
            )
            .await
        {
            Ok(v) => {
                let id = id_of(&v)?;
                self.cache(subject, schema, id);
                Ok(Some(id))
            }
            Err(HttpError::Refused {
                status: 404,
                error_code: Some(40401 | 40403) | None,
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Checks `schema` against the latest version of `subject`.
    pub async fn check_compatibility(
        &self,
        subject: &str,
        schema: &str,
    ) -> Result<Compat, HttpError> {
        let res = self
            .call(
                Method::POST,
                &["compatibility", "subjects", subject, "versions", "latest"],
                &[("verbose", "true")],
                Some(body(schema)),
            )
            .await;
        match res {
            Ok(v) => {
                let ok = v
                    .get("is_compatible")
                    .and_then(Value::as_bool)
                    .ok_or_else(|| {
                        HttpError::Unavailable(format!(
                            "unexpected compatibility answer (no `is_compatible`): {v}"
                        ))
                    })?;
                if ok {
                    Ok(Compat::Compatible)
                } else {
                    let messages = v
                        .get("messages")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_string))
                                .collect()
                        })
                        .unwrap_or_default();
                    Ok(Compat::Incompatible { messages })
                }
            }
            Err(HttpError::Refused {
                status: 404,
                error_code: Some(40401 | 40402) | None,
                ..
            }) => Ok(Compat::NewSubject),
            Err(e) => Err(e),
        }
    }

    /// Sets the compatibility level of `subject`.
    pub async fn set_compatibility(
        &self,
        subject: &str,
        level: Compatibility,
    ) -> Result<(), HttpError> {
        self.call(
            Method::PUT,
            &["config", subject],
            &[],
            Some(json!({ "compatibility": level_name(level) })),
        )
        .await
        .map(drop)
    }

    /// Registers `schema` under `subject` (idempotent) and returns its id.
    pub async fn register(&self, subject: &str, schema: &str) -> Result<u32, HttpError> {
        if let Some(id) = self.cached(subject, schema) {
            return Ok(id);
        }
        let v = self
            .call(
                Method::POST,
                &["subjects", subject, "versions"],
                &[],
                Some(body(schema)),
            )
            .await?;
        let id = id_of(&v)?;
        self.cache(subject, schema, id);
        Ok(id)
    }

    /// The schema text registered under `id`.
    pub async fn schema_by_id(&self, id: u32) -> Result<String, HttpError> {
        let v = self
            .call(Method::GET, &["schemas", "ids", &id.to_string()], &[], None)
            .await?;
        v.get("schema")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| HttpError::Unavailable(format!("unexpected answer: {v}")))
    }

    fn cached(&self, subject: &str, schema: &str) -> Option<u32> {
        let ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        ids.get(&(subject.to_string(), schema.to_string())).copied()
    }

    fn cache(&self, subject: &str, schema: &str, id: u32) {
        let mut ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        ids.insert((subject.to_string(), schema.to_string()), id);
    }

    async fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        payload: Option<Value>,
    ) -> Result<Value, HttpError> {
        // Each segment is percent-encoded: a subject with `/` stays one segment.
        let mut url = join(&self.base, segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut req = self
            .http
            .request(method, url.clone())
            .header(reqwest::header::ACCEPT, ACCEPT);
        req = self.auth.apply(req);
        if let Some(p) = payload {
            req = req
                .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
                .body(p.to_string());
        }
        send(req, &url).await
    }
}

/// Request body for schema endpoints. Avro is the registry's default type,
/// so `schemaType` is omitted (older registries reject unknown fields).
fn body(schema: &str) -> Value {
    json!({ "schema": schema })
}

fn id_of(v: &Value) -> Result<u32, HttpError> {
    v.get("id")
        .and_then(Value::as_u64)
        .and_then(|id| u32::try_from(id).ok())
        .ok_or_else(|| HttpError::Unavailable(format!("the answer has no schema id: {v}")))
}

/// Registry spelling of a compatibility level.
pub fn level_name(level: Compatibility) -> &'static str {
    match level {
        Compatibility::None => "NONE",
        Compatibility::Backward => "BACKWARD",
        Compatibility::BackwardTransitive => "BACKWARD_TRANSITIVE",
        Compatibility::Forward => "FORWARD",
        Compatibility::ForwardTransitive => "FORWARD_TRANSITIVE",
        Compatibility::Full => "FULL",
        Compatibility::FullTransitive => "FULL_TRANSITIVE",
    }
}

/// The schema text sent for an `.avsc` file: its JSON, compacted. Docs and
/// defaults are kept (the registry's compatibility rules depend on defaults).
pub fn schema_text(avsc: &str) -> Result<String, String> {
    let v: Value = serde_json::from_str(avsc).map_err(|e| format!("not JSON: {e}"))?;
    Ok(v.to_string())
}
