//! `${VAR}` / `${VAR:-default}` interpolation of scalar values.
//!
//! Runs on each YAML scalar *before* its type is resolved, so
//! `seed: ${SEED:-42}` is still an integer. `$$` is a literal `$`. Names are
//! shell-like identifiers; anything else inside `${…}` (such as the connector
//! template variable `${queue.mb-events.url}`) is left untouched for later
//! stages. Rhai expressions (`overrides`, `key.expr`) and inline connector
//! configs are never interpolated here: Rhai uses `${…}` inside backtick
//! strings, and connector configs are resolved when the connector is applied.

use std::collections::BTreeMap;

/// Where variable values come from: `--set` values first, then the process
/// environment (or a fixed map in tests, so results are reproducible).
#[derive(Debug, Clone, Default)]
pub struct Vars {
    overrides: BTreeMap<String, String>,
    use_env: bool,
    /// Names looked up so far (shared by clones): `--set` keys nothing
    /// asked for are typos.
    used: std::sync::Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>,
}

impl Vars {
    /// Variables from the process environment plus explicit overrides.
    pub fn from_env(overrides: BTreeMap<String, String>) -> Self {
        Self {
            overrides,
            use_env: true,
            used: Default::default(),
        }
    }

    /// Only the given variables; the environment is ignored.
    pub fn fixed(vars: BTreeMap<String, String>) -> Self {
        Self {
            overrides: vars,
            use_env: false,
            used: Default::default(),
        }
    }

    /// The explicit (`--set`) names nothing has looked up so far. A fixed
    /// map (tests) stands for a whole environment, where unused names are normal.
    pub fn unused_overrides(&self) -> Vec<String> {
        if !self.use_env {
            return Vec::new();
        }
        let used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        self.overrides
            .keys()
            .filter(|k| !used.contains(*k))
            .cloned()
            .collect()
    }

    /// Every name looked up so far.
    pub fn used_names(&self) -> Vec<String> {
        self.used
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// Whether `name` was given explicitly (`--set`), not from the environment.
    pub fn is_override(&self, name: &str) -> bool {
        self.overrides.contains_key(name)
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.used
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string());
        if let Some(v) = self.overrides.get(name) {
            return Some(v.clone());
        }
        if self.use_env {
            return std::env::var(name).ok();
        }
        None
    }
}

/// A variable reference that could not be resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Unresolved {
    pub name: String,
    /// Byte range of `${…}` inside the scalar.
    pub range: std::ops::Range<usize>,
}

/// Interpolates `text`. Returns the new text, or every unresolved reference.
pub fn interpolate(text: &str, vars: &Vars) -> Result<String, Vec<Unresolved>> {
    interpolate_with(text, is_identifier, |name| vars.get(name))
}

/// Interpolation with a caller-chosen name grammar and lookup (connector
/// templates also accept dotted names such as `queue.mb-events.url`).
/// References whose name `accepts` rejects are copied through unchanged.
pub fn interpolate_with(
    text: &str,
    accepts: impl Fn(&str) -> bool,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, Vec<Unresolved>> {
    if !text.contains('$') {
        return Ok(text.to_string());
    }
    let mut out = String::with_capacity(text.len());
    let mut missing = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'$') {
            out.push('$');
            i += 2;
            continue;
        }
        if bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'{') {
            if let Some(close) = text[i + 2..].find('}') {
                let inner = &text[i + 2..i + 2 + close];
                let (name, default) = match inner.find(":-") {
                    Some(p) => (&inner[..p], Some(&inner[p + 2..])),
                    None => (inner, None),
                };
                if accepts(name) {
                    let end = i + 3 + close;
                    match lookup(name).filter(|v| !v.is_empty() || default.is_none()) {
                        Some(v) => out.push_str(&v),
                        None => match default {
                            Some(d) => out.push_str(d),
                            None => missing.push(Unresolved {
                                name: name.to_string(),
                                range: i..end,
                            }),
                        },
                    }
                    i = end;
                    continue;
                }
            }
        }
        // Copy one whole UTF-8 character.
        let ch_len = text[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&text[i..i + ch_len]);
        i += ch_len;
    }
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(missing)
    }
}

pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        Vars::fixed(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn substitutes_defaults_and_escapes() {
        let v = vars(&[("HOST", "kafka"), ("EMPTY", "")]);
        assert_eq!(interpolate("${HOST}:9092", &v).unwrap(), "kafka:9092");
        assert_eq!(interpolate("${PORT:-9092}", &v).unwrap(), "9092");
        assert_eq!(interpolate("${HOST:-x}", &v).unwrap(), "kafka");
        // Like the shell, `:-` also replaces an empty value.
        assert_eq!(interpolate("${EMPTY:-d}", &v).unwrap(), "d");
        assert_eq!(interpolate("${EMPTY}", &v).unwrap(), "");
        assert_eq!(interpolate("cost $$5", &v).unwrap(), "cost $5");
        assert_eq!(interpolate("ünï ${HOST}", &v).unwrap(), "ünï kafka");
    }

    #[test]
    fn leaves_template_variables_alone() {
        let v = vars(&[]);
        assert_eq!(
            interpolate("${queue.mb-events.url}", &v).unwrap(),
            "${queue.mb-events.url}"
        );
        assert_eq!(interpolate("${unterminated", &v).unwrap(), "${unterminated");
    }

    #[test]
    fn reports_every_missing_variable_with_its_range() {
        let v = vars(&[]);
        let err = interpolate("a ${ONE} b ${TWO}", &v).unwrap_err();
        assert_eq!(
            err,
            vec![
                Unresolved {
                    name: "ONE".into(),
                    range: 2..8
                },
                Unresolved {
                    name: "TWO".into(),
                    range: 11..17
                }
            ]
        );
    }
}
