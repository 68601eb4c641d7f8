//! YAML events → JSON value: the [`Builder`] that [`super::parse`] feeds
//! `saphyr-parser`'s events to. It keeps a stack of open mappings and
//! sequences, records the span of every value and key in the
//! [`SpanIndex`], interpolates `${VAR}` and resolves plain scalars, expands
//! anchors, aliases (within [`ALIAS_NODE_BUDGET`]) and `<<` merge keys, and
//! collects every problem as a located [`Diagnostic`].

use std::collections::HashMap;

use saphyr_parser::{Event, ScalarStyle, Span as YSpan};
use serde_json::{Map, Value};

use super::super::diagnostic::{Diagnostic, Span, pointer_push};
use super::super::interpolate::{Vars, interpolate};
use super::super::scalar::resolve_plain;
use super::{ALIAS_NODE_BUDGET, SourceFile, SpanIndex};

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

pub(super) struct Builder<'a> {
    file: &'a SourceFile,
    vars: &'a Vars,
    stack: Vec<Frame>,
    /// Anchored values and their size in nodes.
    anchors: HashMap<usize, (Value, u64)>,
    /// Nodes added by alias expansion so far (see [`ALIAS_NODE_BUDGET`]).
    alias_nodes: u64,
    pub(super) spans: SpanIndex,
    pub(super) diags: Vec<Diagnostic>,
    pub(super) root: Option<Value>,
    pub(super) documents: usize,
}

/// Nodes in `v` (scalars count one; a container one plus its children).
fn nodes(v: &Value) -> u64 {
    match v {
        Value::Array(a) => 1 + a.iter().map(nodes).sum::<u64>(),
        Value::Object(m) => 1 + m.values().map(nodes).sum::<u64>(),
        _ => 1,
    }
}

impl<'a> Builder<'a> {
    pub(super) fn new(file: &'a SourceFile, vars: &'a Vars) -> Self {
        Builder {
            file,
            vars,
            stack: Vec::new(),
            anchors: HashMap::new(),
            alias_nodes: 0,
            spans: SpanIndex::default(),
            diags: Vec::new(),
            root: None,
            documents: 0,
        }
    }

    pub(super) fn on_event(&mut self, event: Event<'_>, yspan: YSpan) {
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
