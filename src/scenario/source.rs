//! The scenario file as text, and its YAML parsed into a JSON value plus a
//! pointer → span index.
//!
//! YAML is read with `saphyr-parser`'s event API rather than `serde_yaml`
//! because every later stage needs the *location* of every node: JSON-Schema
//! and semantic errors are reported as `file:line:col` by looking the failing
//! JSON pointer up in [`SpanIndex`]. All YAML handling lives in this module
//! (this file: the document, its span index and [`parse`]; `source/builder.rs`:
//! the event → value builder) so the parser can be swapped without touching
//! validation.
//!
//! Scalars are resolved with the YAML 1.2 core schema (null, bool, int, float,
//! string); quoted and block scalars are always strings. `${VAR:-default}`
//! interpolation happens per scalar before type resolution (see
//! [`super::interpolate`]). Anchors, aliases and `<<` merge keys are supported.

use std::collections::HashMap;

use saphyr_parser::Parser;
use serde_json::Value;

use super::diagnostic::{Diagnostic, Span};
pub use super::file::SourceFile;
use super::interpolate::Vars;

mod builder;
use builder::Builder;

/// Where each node of the document is: value spans and, for mapping entries,
/// key spans (unknown-key errors point at the key, not the value).
#[derive(Debug, Default, Clone)]
pub struct SpanIndex {
    values: HashMap<String, Span>,
    keys: HashMap<String, Span>,
}

impl SpanIndex {
    /// The span of the node at `pointer`, or of its closest located ancestor.
    pub fn value(&self, pointer: &str) -> Option<Span> {
        let mut p = pointer;
        loop {
            if let Some(s) = self.values.get(p) {
                return Some(*s);
            }
            let cut = p.rfind('/')?;
            p = &p[..cut];
        }
    }

    /// The span of the key of the entry at `pointer`, falling back to its value.
    pub fn key(&self, pointer: &str) -> Option<Span> {
        self.keys
            .get(pointer)
            .copied()
            .or_else(|| self.value(pointer))
    }
}

/// A parsed document: the data as JSON plus where each node came from.
#[derive(Debug, Clone)]
pub struct Document {
    pub value: Value,
    pub spans: SpanIndex,
}

/// How many nodes alias expansion may add to a document: far above any real
/// scenario (a few thousand nodes), far below what a "billion laughs" file
/// (nested aliases, each level multiplying the last) would need in memory.
pub const ALIAS_NODE_BUDGET: u64 = 100_000;

/// Parses `file` as a single YAML document. All problems are returned together.
pub fn parse(file: &SourceFile, vars: &Vars) -> Result<Document, Vec<Diagnostic>> {
    let mut b = Builder::new(file, vars);
    for item in Parser::new_from_str(&file.text) {
        match item {
            Ok((event, span)) => b.on_event(event, span),
            Err(e) => {
                let m = e.marker();
                let span = file.span_at(m.line(), m.col(), 1);
                b.diags.push(
                    Diagnostic::error("", format!("YAML syntax error: {}", e.info()))
                        .with_span(span)
                        .with_help(
                            "check indentation, a missing `:` or an unclosed quote or bracket near here",
                        ),
                );
                return Err(b.diags);
            }
        }
    }
    if b.documents > 1 {
        b.diags.push(
            Diagnostic::error("", "the file holds more than one YAML document")
                .with_help("a scenario is one document: remove the extra `---` separators"),
        );
    }
    if !b.diags.is_empty() {
        return Err(b.diags);
    }
    Ok(Document {
        value: b.root.unwrap_or(Value::Null),
        spans: b.spans,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Result<Document, Vec<Diagnostic>> {
        let file = SourceFile::new("t.yaml", "t.yaml", text.to_string());
        parse(&file, &Vars::fixed(Default::default()))
    }

    #[test]
    fn resolves_core_schema_scalars() {
        let d =
            doc("a: 1\nb: 1.5\nc: true\nd: ~\ne: '1'\nf: 250/s\ng: 0x10\nh: -3\ni: 1e3\n").unwrap();
        assert_eq!(
            d.value,
            serde_json::json!({"a":1,"b":1.5,"c":true,"d":null,"e":"1","f":"250/s","g":16,"h":-3,"i":1000.0})
        );
    }

    #[test]
    fn records_key_and_value_spans() {
        let d = doc("name: x\nphases:\n  - name: a\n    rate: 5/s\n").unwrap();
        let v = d.spans.value("/phases/0/rate").unwrap();
        assert_eq!((v.line, v.col), (4, 11));
        let k = d.spans.key("/phases/0/rate").unwrap();
        assert_eq!((k.line, k.col), (4, 5));
        // Unknown pointers fall back to the closest ancestor.
        assert_eq!(d.spans.value("/phases/0/rate/to"), Some(v));
    }

    #[test]
    fn reports_duplicate_keys_and_nan() {
        let errs = doc("a: 1\na: 2\nb: .nan\n").unwrap_err();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(errs[0].message.contains("duplicate key"));
        assert!(errs[1].message.contains("NaN"));
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let d = doc("base: &b {workers: 4, mode: direct_sqs}\np:\n  <<: *b\n  workers: 8\nq: *b\n")
            .unwrap();
        assert_eq!(
            d.value["p"],
            serde_json::json!({"workers": 8, "mode": "direct_sqs"})
        );
        assert_eq!(d.value["q"]["workers"], 4);
    }

    #[test]
    fn syntax_error_is_located() {
        let errs = doc("a: [1, 2\nb: 3\n").unwrap_err();
        assert_eq!(errs.len(), 1);
        assert!(errs[0].span.is_some());
    }

    #[test]
    fn missing_env_var_points_inside_the_scalar() {
        let errs = doc("url: http://${HOST}:1\n").unwrap_err();
        let s = errs[0].span.unwrap();
        assert_eq!((s.line, s.col, s.end - s.start), (1, 13, 7));
    }

    #[test]
    fn overrides_are_not_interpolated() {
        let d = doc("streams:\n  - overrides:\n      a: '`x${y}`'\n").unwrap();
        assert_eq!(d.value["streams"][0]["overrides"]["a"], "`x${y}`");
    }
}
