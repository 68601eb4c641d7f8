//! Log output: tracing events as human lines (default) or JSON lines
//! (`--log-format json` or `LOG_JSON=true`) on stderr, filtered by
//! `RUST_LOG` (default `info` for mbscenario, `warn` for libraries).
//!
//! Events carry the fields `event`, `phase`, `stream`, `sink`, `worker` where
//! they apply. Nothing that can hold a credential is logged as is: endpoints
//! go through [`redact_url`], tokens are never logged.

use tracing_subscriber::EnvFilter;

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

impl LogFormat {
    /// `--log-format` wins; otherwise `LOG_JSON=true|1` selects JSON.
    pub fn resolve(flag: Option<LogFormat>) -> LogFormat {
        flag.unwrap_or_else(|| {
            match std::env::var("LOG_JSON").map(|v| v.trim().to_ascii_lowercase()) {
                Ok(v) if v == "true" || v == "1" || v == "yes" => LogFormat::Json,
                _ => LogFormat::Human,
            }
        })
    }
}

static JSON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether log lines are JSON: then progress lines go through tracing too,
/// so stderr stays one JSON object per line.
pub fn is_json() -> bool {
    JSON.load(std::sync::atomic::Ordering::Relaxed)
}

/// A console line for people (`eprintln!` in human mode); with
/// `--log-format json` the same text as a JSON log event, so stderr stays one
/// JSON object per line. Lines starting `error:` / `warning:` keep that level.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        let text = format!($($arg)*);
        $crate::telemetry::logs::console(&text);
    }};
}

/// See [`say!`].
pub fn console(text: &str) {
    let text = &*super::secrets::mask(text);
    if !is_json() {
        eprintln!("{text}");
        return;
    }
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let t = line.trim_start();
        if let Some(m) = t.strip_prefix("error: ") {
            tracing::error!(event = "Console", "{m}");
        } else if let Some(m) = t.strip_prefix("warning: ") {
            tracing::warn!(event = "Console", "{m}");
        } else {
            tracing::info!(event = "Console", "{t}");
        }
    }
}

/// Installs the global subscriber (once; later calls are ignored).
/// `ansi`: colour in human lines (`--color`, `NO_COLOR` and the terminal decide).
pub fn init(format: LogFormat, ansi: bool) {
    JSON.store(
        format == LogFormat::Json,
        std::sync::atomic::Ordering::Relaxed,
    );
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,mbscenario=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(super::secrets::MaskedStderr::default);
    let _ = match format {
        LogFormat::Json => builder
            .with_ansi(false)
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
        LogFormat::Human => builder
            .with_target(false)
            .with_ansi(ansi)
            .compact()
            .try_init(),
    };
}

/// `scheme://user:password@host/path?token=…` → `scheme://***@host/path?token=***`:
/// user info and secret-looking query parameters are masked.
pub fn redact_url(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let mut out = match head.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = match rest.find('/') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            match authority.rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://***@{host}{path}"),
                None => head.to_string(),
            }
        }
        None => head.to_string(),
    };
    if let Some(q) = query {
        let parts: Vec<String> = q
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if is_secret_name(k) => format!("{k}=***"),
                _ => kv.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&parts.join("&"));
    }
    out
}

/// Masks the user info of every URL inside free text (error messages quote
/// URLs verbatim): `… (https://u:p@host/x)` → `… (https://***@host/x)`.
pub fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| {
                c == '/'
                    || c == '?'
                    || c == '#'
                    || c.is_whitespace()
                    || c == ')'
                    || c == '"'
                    || c == '\''
            })
            .unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(at) => {
                out.push_str("***");
                out.push_str(&tail[at..end]);
            }
            None => out.push_str(&tail[..end]),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Names that usually hold credentials (header names, config keys, query keys).
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "token",
        "authorization",
        "api_key",
        "apikey",
        "credential",
        "sasl.jaas",
    ]
    .iter()
    .any(|s| n.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_are_masked() {
        assert_eq!(
            redact_url("https://bob:hunter2@registry.example:8081/subjects?x=1&access_token=abc"),
            "https://***@registry.example:8081/subjects?x=1&access_token=***"
        );
        assert_eq!(redact_url("http://localhost:8083"), "http://localhost:8083");
        assert_eq!(redact_url("kafka:9092"), "kafka:9092");
        assert_eq!(
            redact_text(
                "error sending request for url (http://a:b@h:1/x) and https://c@d, ftp://e"
            ),
            "error sending request for url (http://***@h:1/x) and https://***@d, ftp://e"
        );
        assert!(is_secret_name("sasl.password"));
        assert!(is_secret_name("Authorization"));
        assert!(!is_secret_name("bootstrap.servers"));
    }
}
