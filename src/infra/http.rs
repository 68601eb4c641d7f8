//! What the HTTP clients (Schema Registry, Kafka Connect) share: one error
//! type that separates "retry" from "refused", and the request/answer path.

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;

/// Credentials, resolved from the environment variables the scenario names.
#[derive(Clone, Default)]
pub enum Auth {
    #[default]
    None,
    /// `user:password` (Confluent's `basic.auth.user.info` form).
    Basic {
        user: String,
        password: String,
    },
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    // Never print a secret, even in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => write!(f, "None"),
            Auth::Basic { user, .. } => write!(f, "Basic({user}:***)"),
            Auth::Bearer(_) => write!(f, "Bearer(***)"),
        }
    }
}

impl Auth {
    /// Adds the credentials to a request.
    pub fn apply(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match self {
            Auth::None => req,
            Auth::Basic { user, password } => req.basic_auth(user, Some(password)),
            Auth::Bearer(token) => req.bearer_auth(token),
        }
    }
}

/// Why an HTTP client (Schema Registry, Kafka Connect) could not be built:
/// its URL or its CA file. `what` names the service in URL messages.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("`{url}` is not a valid {what} URL: {reason}")]
    Url {
        url: String,
        what: &'static str,
        reason: String,
    },
    #[error("`{url}` cannot be used as a {what} base URL")]
    NotBase { url: String, what: &'static str },
    #[error("cannot read the CA file {}: {error}", .path.display())]
    CaFile {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
    #[error("{} is not a PEM certificate bundle: {error}", .path.display())]
    NotPem {
        path: std::path::PathBuf,
        error: reqwest::Error,
    },
    #[error("cannot build the HTTP client: {0}")]
    Build(reqwest::Error),
}

/// An HTTP client with a per-request timeout that also trusts the CA
/// certificates of `ca_file` (PEM), besides the system roots.
pub fn client(
    request_timeout: std::time::Duration,
    ca_file: Option<&std::path::Path>,
) -> Result<reqwest::Client, ClientError> {
    let mut b = reqwest::Client::builder().timeout(request_timeout);
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|error| ClientError::CaFile {
            path: path.to_path_buf(),
            error,
        })?;
        let certs =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|error| ClientError::NotPem {
                path: path.to_path_buf(),
                error,
            })?;
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    b.build().map_err(ClientError::Build)
}

/// What a request ended with, when it did not succeed.
#[derive(Debug, Clone, PartialEq)]
pub enum HttpError {
    /// No HTTP answer (connection refused, timeout) or a 5xx: retry.
    Unavailable(String),
    /// A 5xx answer: usually worth retrying, but a client may know better
    /// (Kafka Connect reports config errors as 500 with an `error_code`).
    Server {
        status: u16,
        error_code: Option<i64>,
        message: String,
    },
    /// 401/403.
    Auth { status: u16, message: String },
    /// The server's TLS certificate is not trusted (or not valid for its
    /// name): retrying cannot help.
    Tls(String),
    /// Any other refusal, with the registry's own error code and message.
    Refused {
        status: u16,
        error_code: Option<i64>,
        message: String,
    },
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Unavailable(m) => write!(f, "{m}"),
            HttpError::Server {
                status, message, ..
            } => write!(f, "HTTP {status}: {message}"),
            HttpError::Auth { status, message } => {
                write!(f, "HTTP {status} (authentication failed): {message}")
            }
            HttpError::Tls(m) => write!(
                f,
                "TLS: {m} (trust a private CA with the target's `ca_file`)"
            ),
            HttpError::Refused {
                status,
                error_code,
                message,
            } => match error_code {
                Some(code) => write!(f, "HTTP {status}, error_code {code}: {message}"),
                None => write!(f, "HTTP {status}: {message}"),
            },
        }
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error_code: Option<i64>,
    message: Option<String>,
}

/// Sends `req` and reads a JSON answer (`Value::Null` for an empty body).
/// No answer or 5xx → `Unavailable`; 401/403 → `Auth`; other 4xx →
/// `Refused` with the server's `error_code` and `message` verbatim.
pub async fn send(req: reqwest::RequestBuilder, url: &reqwest::Url) -> Result<Value, HttpError> {
    let resp = req.send().await.map_err(|e| {
        let m = describe_send_error(&e);
        if m.contains("certificate") {
            HttpError::Tls(m)
        } else {
            HttpError::Unavailable(m)
        }
    })?;
    let status = resp.status();
    let text = resp
        .text()
        .await
        .map_err(|e| HttpError::Unavailable(format!("reading the answer: {e}")))?;
    if status.is_success() {
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        return serde_json::from_str(&text).map_err(|e| {
            HttpError::Unavailable(format!(
                "the answer from {url} is not JSON ({e}): {}",
                clip(&text)
            ))
        });
    }
    let parsed: Option<ErrorBody> = serde_json::from_str(&text).ok();
    let (error_code, message) = match parsed {
        Some(b) => (b.error_code, b.message.unwrap_or_else(|| clip(&text))),
        None => (None, clip(&text)),
    };
    Err(match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => HttpError::Auth {
            status: status.as_u16(),
            message,
        },
        s if s.is_server_error() => HttpError::Server {
            status: s.as_u16(),
            error_code,
            message,
        },
        s => HttpError::Refused {
            status: s.as_u16(),
            error_code,
            message,
        },
    })
}

/// reqwest's top-level message hides the cause ("error sending request");
/// the innermost source says "Connection refused".
pub fn describe_send_error(e: &reqwest::Error) -> String {
    let mut msg = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    let mut innermost = None;
    while let Some(s) = source {
        innermost = Some(s.to_string());
        source = s.source();
    }
    if let Some(inner) = innermost {
        msg.push_str(": ");
        msg.push_str(&inner);
    }
    msg
}

/// A server's answer shortened for one error line.
pub fn clip(text: &str) -> String {
    let t = text.trim();
    if t.len() > 300 {
        let mut end = 300;
        while !t.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &t[..end])
    } else {
        t.to_string()
    }
}

/// Parses `url` as a base URL whose path segments can be extended.
pub fn base_url(url: &str, what: &'static str) -> Result<reqwest::Url, ClientError> {
    let mut base = reqwest::Url::parse(url).map_err(|e| ClientError::Url {
        url: url.to_string(),
        what,
        reason: e.to_string(),
    })?;
    if base.cannot_be_a_base() {
        return Err(ClientError::NotBase {
            url: url.to_string(),
            what,
        });
    }
    // Path prefixes (`https://host/registry`) are kept: segments are appended.
    if let Ok(mut segs) = base.path_segments_mut() {
        segs.pop_if_empty();
    }
    Ok(base)
}

/// `base` with `segments` appended, each percent-encoded as one segment.
pub fn join(base: &reqwest::Url, segments: &[&str]) -> reqwest::Url {
    let mut url = base.clone();
    if let Ok(mut segs) = url.path_segments_mut() {
        segs.extend(segments);
    }
    url
}
