//! The one masking layer for secret values.
//!
//! ```text
//!   register_scenario(&Scenario)   every value a scenario's `*_env` keys name, the user
//!                                  info of every target URL, the AWS chain's env keys
//!   register(value)                anything resolved later (AWS profile/SSO credentials)
//!        │
//!        ▼
//!   mask(text)   each registered value → `***`, then URL user info → `***@`
//!        ├─ every log line on stderr, ours and dependencies' at any level
//!        │   (the subscriber writes through [`MaskedStderr`])
//!        ├─ console lines (`say!`), the run summary, verdicts and `plan` on stdout
//!        └─ report files before they are written
//! ```
//!
//! Values shorter than [`MIN_LEN`] are not masked by value: masking `test` (the
//! emulators' usual key) would garble every line that names a test queue, and a
//! real secret is longer. URL user info is masked whatever its length.

use std::borrow::Cow;
use std::io::Write;
use std::sync::RwLock;

use crate::scenario::Scenario;
use crate::scenario::model::Sasl;

/// Shortest value masked by value.
pub const MIN_LEN: usize = 8;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Environment variables of the AWS default chain that hold secrets.
const AWS_SECRET_VARS: [&str; 2] = ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"];

/// Masks `value` from now on, wherever it appears in output.
pub fn register(value: &str) {
    let value = value.trim();
    if value.chars().count() < MIN_LEN {
        return;
    }
    let mut all = SECRETS.write().unwrap_or_else(|p| p.into_inner());
    if !all.iter().any(|s| s == value) {
        all.push(value.to_string());
        // Longest first, so a secret containing another is masked whole.
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// The value of environment variable `name`, registered, if set.
pub fn register_env(name: &str) {
    if let Ok(v) = std::env::var(name) {
        register(&v);
        // `user:password` variables: each half too.
        if let Some((user, password)) = v.split_once(':') {
            register(user);
            register(password);
        }
    }
}

/// User info of a URL (`scheme://user:password@host`): the pair and the password.
pub fn register_url(url: &str) {
    let Some((_, rest)) = url.split_once("://") else {
        return;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if let Some((userinfo, _)) = authority.rsplit_once('@') {
        register(userinfo);
        if let Some((_, password)) = userinfo.split_once(':') {
            register(password);
        }
    }
}

/// Everything secret a scenario refers to: called once it is loaded, before
/// anything is resolved or logged.
pub fn register_scenario(s: &Scenario) {
    let t = &s.targets;
    for var in AWS_SECRET_VARS {
        register_env(var);
    }
    if let Some(k) = &t.sqs_keys {
        register_env(&k.secret_access_key_env);
        if let Some(v) = &k.session_token_env {
            register_env(v);
        }
    }
    if let Some(sec) = &t.kafka_security {
        if let Some(v) = &sec.key_password_env {
            register_env(v);
        }
        if let Some(Sasl::Password { password_env, .. }) = &sec.sasl {
            register_env(password_env);
        }
    }
    if let Some(r) = &t.schema_registry {
        register_url(&r.url);
        r.basic_auth_env.iter().for_each(|v| register_env(v));
        r.bearer_token_env.iter().for_each(|v| register_env(v));
    }
    register_url(&t.connect_url);
    let c = &t.connect_access;
    c.basic_auth_env.iter().for_each(|v| register_env(v));
    c.bearer_token_env.iter().for_each(|v| register_env(v));
    if let Some(e) = &t.sqs_endpoint {
        register_url(e);
    }
    register_url(&t.kafka_bootstrap);
}

/// `text` with every registered secret and every URL's user info masked.
pub fn mask(text: &str) -> Cow<'_, str> {
    let all = SECRETS.read().unwrap_or_else(|p| p.into_inner());
    let by_value = all.iter().any(|s| text.contains(s.as_str()));
    if !by_value && !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    for s in all.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "***");
        }
    }
    Cow::Owned(super::logs::redact_text(&out))
}

/// The log subscriber's writer: one event per writer, masked, then written to
/// stderr in one piece.
#[derive(Default)]
pub struct MaskedStderr {
    buf: Vec<u8>,
}

impl Write for MaskedStderr {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.buf);
        let masked = mask(&text);
        let result = std::io::stderr().lock().write_all(masked.as_bytes());
        self.buf.clear();
        result
    }
}

impl Drop for MaskedStderr {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_and_url_user_info_are_masked() {
        register("hunter2-secret");
        register("test"); // too short to mask by value
        register_url("https://svc-user:url-pass-9@registry.example/x");
        let text = "auth hunter2-secret at https://svc-user:url-pass-9@registry.example/x, test";
        let masked = mask(text);
        assert!(!masked.contains("hunter2-secret"), "{masked}");
        assert!(!masked.contains("url-pass-9"), "{masked}");
        assert!(
            masked.contains("https://***@registry.example/x"),
            "{masked}"
        );
        assert!(masked.contains("test"), "{masked}");
        // Percent-decoded or bare, the password is gone too.
        assert_eq!(mask("password=url-pass-9"), "password=***");
        assert_eq!(mask("nothing here"), "nothing here");
    }
}
