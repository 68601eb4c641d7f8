//! The scenario file as text, and its YAML parsed into a JSON value plus a
//! pointer → span index.
//!
//! YAML is read with `saphyr-parser`'s event API rather than `serde_yaml`
//! because every later stage needs the *location* of every node: JSON-Schema
//! and semantic errors are reported as `file:line:col` by looking the failing
//! JSON pointer up in [`SpanIndex`]. All YAML handling lives in this file so
//! the parser can be swapped without touching validation.
//!
//! Scalars are resolved with the YAML 1.2 core schema (null, bool, int, float,
//! string); quoted and block scalars are always strings. `${VAR:-default}`
//! interpolation happens per scalar before type resolution (see
//! [`super::interpolate`]). Anchors, aliases and `<<` merge keys are supported.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span as YSpan};
use serde_json::{Map, Value};

use super::diagnostic::{Diagnostic, Span, pointer_push};
pub use super::file::SourceFile;
use super::interpolate::{Vars, interpolate};
use super::scalar::resolve_plain;

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

/// Which pointers are exempt from `${VAR}` interpolation (Rhai code and
/// connector configs, which are resolved later with their own variables).
fn skip_interpolation(pointer: &str) -> bool {
    let segs: Vec<&str> = pointer.split('/').collect();
    matches!(segs.as_slice(), ["", "streams", _, "overrides", ..])
        || matches!(segs.as_slice(), ["", "streams", _, "key", "expr"])
        || matches!(segs.as_slice(), ["", "setup", _, "config", ..])
}

enum Frame {
    Map {
        pointer: String,
        start: Span,
        anchor: usize,
        map: Map<String, Value>,
        pending_key: Option<(String, Span)>,
        merges: Vec<Value>,
    },
    Seq {
        pointer: String,
        start: Span,
        anchor: usize,
        items: Vec<Value>,
    },
}

struct Builder<'a> {
    file: &'a SourceFile,
    vars: &'a Vars,
    stack: Vec<Frame>,
    /// Anchored values and their size in nodes.
    anchors: HashMap<usize, (Value, u64)>,
    /// Nodes added by alias expansion so far (see [`ALIAS_NODE_BUDGET`]).
    alias_nodes: u64,
    spans: SpanIndex,
    diags: Vec<Diagnostic>,
    root: Option<Value>,
    documents: usize,
}

/// How many nodes alias expansion may add to a document: far above any real
/// scenario (a few thousand nodes), far below what a "billion laughs" file
/// (nested aliases, each level multiplying the last) would need in memory.
pub const ALIAS_NODE_BUDGET: u64 = 100_000;

/// Nodes in `v` (scalars count one; a container one plus its children).
fn nodes(v: &Value) -> u64 {
    match v {
        Value::Array(a) => 1 + a.iter().map(nodes).sum::<u64>(),
        Value::Object(m) => 1 + m.values().map(nodes).sum::<u64>(),
        _ => 1,
    }
}

/// Parses `file` as a single YAML document. All problems are returned together.
pub fn parse(file: &SourceFile, vars: &Vars) -> Result<Document, Vec<Diagnostic>> {
    let mut b = Builder {
        file,
        vars,
        stack: Vec::new(),
        anchors: HashMap::new(),
        alias_nodes: 0,
        spans: SpanIndex::default(),
        diags: Vec::new(),
        root: None,
        documents: 0,
    };
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

impl Builder<'_> {
    fn on_event(&mut self, event: Event<'_>, yspan: YSpan) {
        let span = self.file.span_of(&yspan);
        match event {
            Event::DocumentStart(_) => self.documents += 1,
            Event::Scalar(text, style, anchor, tag) => {
                if let Some(Frame::Map {
                    pending_key: pending @ None,
                    map,
                    pointer,
                    ..
                }) = self.stack.last_mut()
                {
                    let key = text.to_string();
                    let key_ptr = pointer_push(pointer, &key);
                    if map.contains_key(&key) {
                        self.diags.push(
                            Diagnostic::error(key_ptr.clone(), format!("duplicate key `{key}`"))
                                .with_span(span)
                                .with_help("each key may appear once per mapping: remove or rename one of them"),
                        );
                    }
                    self.spans.keys.insert(key_ptr, span);
                    *pending = Some((key, span));
                    return;
                }
                let pointer = self.child_pointer();
                let verbatim = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let value = self.scalar(&pointer, &text, style, verbatim, span);
                if anchor > 0 {
                    self.anchors.insert(anchor, (value.clone(), 1));
                }
                self.spans.values.insert(pointer, span);
                self.attach(value);
            }
            Event::MappingStart(anchor, _) | Event::SequenceStart(anchor, _) => {
                if self.key_expected() {
                    self.diags.push(
                        Diagnostic::error(
                            self.parent_pointer(),
                            "complex (non-scalar) mapping keys are not supported",
                        )
                        .with_span(span)
                        .with_help("use a plain string as the key"),
                    );
                }
                let pointer = self.child_pointer();
                let frame = if matches!(event, Event::MappingStart(..)) {
                    Frame::Map {
                        pointer,
                        start: span,
                        anchor,
                        map: Map::new(),
                        pending_key: None,
                        merges: Vec::new(),
                    }
                } else {
                    Frame::Seq {
                        pointer,
                        start: span,
                        anchor,
                        items: Vec::new(),
                    }
                };
                self.stack.push(frame);
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let Some(frame) = self.stack.pop() else {
                    return;
                };
                let (pointer, start, anchor, value) = match frame {
                    Frame::Map {
                        pointer,
                        start,
                        anchor,
                        mut map,
                        merges,
                        ..
                    } => {
                        // `<<` merges: explicit keys win, earlier merges win over later ones.
                        for merged in merges {
                            if let Value::Object(m) = merged {
                                for (k, v) in m {
                                    map.entry(k).or_insert(v);
                                }
                            }
                        }
                        (pointer, start, anchor, Value::Object(map))
                    }
                    Frame::Seq {
                        pointer,
                        start,
                        anchor,
                        items,
                    } => (pointer, start, anchor, Value::Array(items)),
                };
                let full = Span {
                    end: span.end.max(start.end),
                    ..start
                };
                self.spans.values.insert(pointer, full);
                if anchor > 0 {
                    let size = nodes(&value);
                    self.anchors.insert(anchor, (value.clone(), size));
                }
                self.attach(value);
            }
            Event::Alias(id) => {
                let pointer = self.child_pointer();
                let (value, size) = self.anchors.get(&id).cloned().unwrap_or((Value::Null, 1));
                let within = self.alias_nodes.saturating_add(size) <= ALIAS_NODE_BUDGET;
                if within {
                    self.alias_nodes += size;
                } else if self.alias_nodes <= ALIAS_NODE_BUDGET {
                    // Said once; later aliases expand to nothing.
                    self.alias_nodes = ALIAS_NODE_BUDGET + 1;
                    self.diags.push(
                        Diagnostic::error(
                            pointer.clone(),
                            format!(
                                "aliases expand to more than {ALIAS_NODE_BUDGET} nodes (nested anchors multiplying each other)"
                            ),
                        )
                        .with_span(span)
                        .with_help("a scenario needs far fewer: flatten the anchors, or write the values out"),
                    );
                }
                self.spans.values.insert(pointer, span);
                self.attach(if within { value } else { Value::Null });
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
    }

    fn key_expected(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Frame::Map {
                pending_key: None,
                ..
            })
        )
    }

    fn parent_pointer(&self) -> String {
        match self.stack.last() {
            Some(Frame::Map { pointer, .. } | Frame::Seq { pointer, .. }) => pointer.clone(),
            None => String::new(),
        }
    }

    /// Pointer of the node about to be attached to the current container.
    fn child_pointer(&self) -> String {
        match self.stack.last() {
            Some(Frame::Map {
                pointer,
                pending_key: Some((k, _)),
                ..
            }) => pointer_push(pointer, k),
            Some(Frame::Map { pointer, .. }) => pointer.clone(),
            Some(Frame::Seq { pointer, items, .. }) => format!("{pointer}/{}", items.len()),
            None => String::new(),
        }
    }

    fn attach(&mut self, value: Value) {
        match self.stack.last_mut() {
            Some(Frame::Map {
                map,
                pending_key,
                merges,
                ..
            }) => {
                if let Some((key, _)) = pending_key.take() {
                    if key == "<<" {
                        match value {
                            Value::Array(items) => merges.extend(items),
                            other => merges.push(other),
                        }
                    } else {
                        map.insert(key, value);
                    }
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(value),
            None => {
                if self.root.is_none() {
                    self.root = Some(value);
                }
            }
        }
    }

    fn scalar(
        &mut self,
        pointer: &str,
        raw: &str,
        style: ScalarStyle,
        verbatim: bool,
        span: Span,
    ) -> Value {
        let text = if skip_interpolation(pointer) {
            raw.to_string()
        } else {
            match interpolate(raw, self.vars) {
                Ok(t) => t,
                Err(missing) => {
                    for m in missing {
                        self.diags.push(
                            Diagnostic::error(
                                pointer,
                                format!("environment variable `{}` is not set", m.name),
                            )
                            .with_span(self.sub_span(span, raw, style, m.range))
                            .with_help(format!(
                                "set {0} in the environment, pass `--set {0}=VALUE`, or give a default: `${{{0}:-value}}`",
                                m.name
                            )),
                        );
                    }
                    return Value::Null;
                }
            }
        };
        if style != ScalarStyle::Plain || verbatim {
            return Value::String(text);
        }
        match resolve_plain(&text) {
            Ok(v) => v,
            Err(what) => {
                self.diags.push(
                    Diagnostic::error(
                        pointer,
                        format!("`{text}` is {what}, which cannot be used here"),
                    )
                    .with_span(span)
                    .with_help("use a finite number, or quote the value to make it a string"),
                );
                Value::Null
            }
        }
    }

    /// Narrows a scalar's span to a byte range inside it when the scalar is
    /// written verbatim in the source (plain, single line).
    fn sub_span(
        &self,
        span: Span,
        raw: &str,
        style: ScalarStyle,
        range: std::ops::Range<usize>,
    ) -> Span {
        let offset = match style {
            ScalarStyle::Plain => 0,
            ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => 1,
            _ => return span,
        };
        let start = span.start + offset;
        if self.file.text.get(start..start + raw.len()) == Some(raw) {
            let prefix = &raw[..range.start];
            Span {
                start: start + range.start,
                end: start + range.end,
                line: span.line,
                col: span.col + offset + prefix.chars().count(),
            }
        } else {
            span
        }
    }
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
