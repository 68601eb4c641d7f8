//! Bearer tokens for the control API.
//!
//! The token is kept in a type whose `Debug`/`Display` print `***`, so it
//! cannot leak into logs, errors or reports by accident. Requests are checked
//! by comparing SHA-256 digests in constant time (`subtle`): neither the
//! content nor the length of the token is revealed by response timing.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Shortest accepted token: guessing must be hopeless.
pub const MIN_LEN: usize = 16;

#[derive(Clone)]
pub struct Token {
    digest: [u8; 32],
    secret: String,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(***)")
    }
}

impl Token {
    /// A token from `--control-token` / `MBSCENARIO_CONTROL_TOKEN`.
    pub fn new(secret: &str) -> Result<Self, String> {
        let secret = secret.trim();
        if secret.len() < MIN_LEN {
            return Err(format!(
                "the control token is {} characters long; use at least {MIN_LEN} (e.g. `openssl rand -hex 32`)",
                secret.len()
            ));
        }
        if secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("the control token contains whitespace or control characters; it travels in an HTTP header".into());
        }
        Ok(Self {
            digest: Sha256::digest(secret.as_bytes()).into(),
            secret: secret.to_string(),
        })
    }

    /// Whether an `Authorization` header value carries this token.
    pub fn accepts(&self, header: Option<&str>) -> bool {
        let presented = header
            .and_then(|h| {
                let (scheme, rest) = h.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then_some(rest.trim())
            })
            .unwrap_or("");
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        bool::from(digest.ct_eq(&self.digest))
    }

    /// The header value a client sends.
    pub fn header(&self) -> String {
        format!("Bearer {}", self.secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_and_never_printed() {
        let t = Token::new("0123456789abcdef-secret").unwrap();
        assert!(t.accepts(Some("Bearer 0123456789abcdef-secret")));
        assert!(t.accepts(Some("bearer   0123456789abcdef-secret ")));
        assert!(!t.accepts(Some("Bearer 0123456789abcdef-secreT")));
        assert!(!t.accepts(Some("Basic 0123456789abcdef-secret")));
        assert!(!t.accepts(Some("0123456789abcdef-secret")));
        assert!(!t.accepts(None));
        assert_eq!(format!("{t:?}"), "Token(***)");
        assert!(Token::new("short").unwrap_err().contains("at least 16"));
    }
}
