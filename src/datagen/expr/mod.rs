//! Field overrides: Rhai expressions that replace generated values.
//!
//! ```text
//!   Stream.overrides + imports
//!     └─ CompiledOverrides::compile(&stream)    once per stream; Send + Sync, share it
//!          ├─ each `.rhai` import ─▶ Module (run once, as `<module>::fn()`)
//!          └─ each override ─▶ AST + the field's schema
//!                              + a native form when it is built-in calls on constants
//!   OverrideEvaluator::new(Arc<CompiledOverrides>)  one per worker: its own Engine + Scope
//!     └─ apply(&mut record, &EvalCtx, &mut rng)  per record, overrides in file order:
//!          native form ─▶ eval on the record's RNG              ─┐
//!          else scope {default, record, seq, phase, t} ─▶ Rhai ─┴▶ coerce to the field's type
//!     └─ apply_detached(&mut slots, …)  the same on fields handed over alone, for
//!          records written without a value tree (`datagen::holes`; overrides that
//!          read neither `record` nor a key expression: see `detached_fields`)
//! ```
//!
//! - `compile`: the parts of compiling: imported modules, then each override
//! - `evaluate`: [`OverrideEvaluator`], running them per record (on a value tree or on
//!   fields handed over alone)
//! - [`sandbox`]: the engine (limits, no I/O) and the built-in functions
//! - `native`: the fast path — same functions, same draws, no interpreter
//! - `fake`: the `fake::` module
//! - `value`: Avro ⇄ Rhai conversion and path look-ups
//!
//! Determinism: expressions draw only from the record's own [`RecordRng`](crate::datagen::RecordRng) (after the
//! generator has drawn the record), so the record after overrides is still a pure
//! function of `(seed, stream, n)`, whichever evaluator runs it and in whatever order.
//! Expressions are user input: every failure (syntax, unknown function, runtime error,
//! a limit, a type mismatch) is an [`ExprError`], never a panic.

mod compile;
mod evaluate;
mod fake;
mod native;
pub mod sandbox;
mod value;

use std::sync::Arc;

use apache_avro::Schema;
use rhai::{AST, Engine, Module};

use value::Types;

pub use evaluate::OverrideEvaluator;

/// Why an override could not be compiled or evaluated. Every variant names the stream,
/// and those about one override name its field path and expression.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExprError {
    #[error(
        "stream `{stream}`, {}: cannot compile `{expr}`: {message}",
        what(field)
    )]
    Syntax {
        stream: String,
        field: String,
        expr: String,
        message: String,
    },
    #[error("stream `{stream}`, override `{field}`: the schema has no field at this path")]
    UnknownField { stream: String, field: String },
    #[error("stream `{stream}`: import `{module}` ({file}): {message}")]
    Module {
        stream: String,
        module: String,
        file: String,
        message: String,
    },
    #[error("stream `{stream}`: schema cannot be used for overrides: {message}")]
    Schema { stream: String, message: String },
    #[error(
        "stream `{stream}`, {}, record {seq}: `{expr}` failed: {message}",
        what(field)
    )]
    Runtime {
        stream: String,
        field: String,
        seq: u64,
        expr: String,
        message: String,
    },
    /// Boxed: it is the largest variant, and errors travel by value on the hot path.
    #[error(transparent)]
    TypeMismatch(Box<TypeMismatch>),
}

/// An expression's result does not fit its field's Avro type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "stream `{stream}`, override `{field}`, record {seq}: `{expr}` returned {actual}, \
     but the field is Avro {expected}{}",
    detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
)]
pub struct TypeMismatch {
    pub stream: String,
    pub field: String,
    pub seq: u64,
    pub expr: String,
    /// The field's type as written in messages: `int`, `enum Status`, `union[null,string]`.
    pub expected: String,
    /// The Rhai type of the result: `string`, `i64`, `()`.
    pub actual: String,
    /// More about the mismatch, e.g. the enum's symbols.
    pub detail: Option<String>,
}

/// What an expression can see besides the record: `seq`, `phase` and `t`.
#[derive(Debug, Clone, Copy)]
pub struct EvalCtx<'a> {
    /// The record's sequence number `n` within its stream.
    pub seq: u64,
    /// Name of the phase the record is sent in.
    pub phase: &'a str,
    /// Milliseconds since the run started.
    pub t_ms: i64,
}

#[derive(Debug)]
struct CompiledOverride {
    path: Vec<String>,
    /// `a.b.c`, for messages.
    field: String,
    expr: String,
    ast: AST,
    schema: Schema,
    /// Building the `record` map costs a whole-record conversion; skip it for
    /// expressions that cannot mention it.
    uses_record: bool,
    /// Whether the expression may read `default` (else it is not converted).
    uses_default: bool,
    /// The same expression without Rhai, when it is simple enough (see [`native`]).
    native: Option<native::Native>,
}

/// A stream's overrides and imported modules, compiled once. `Send + Sync`: share one
/// `Arc` between the workers of the stream.
#[derive(Debug)]
pub struct CompiledOverrides {
    stream: String,
    overrides: Vec<CompiledOverride>,
    /// `key: { expr: … }`: evaluated after the overrides, sees the final record.
    key: Option<(String, AST, Option<native::Native>)>,
    modules: Vec<(String, Arc<Module>)>,
    types: Types,
}

/// What a stream's overrides are compiled from. The scenario's `Stream`
/// implements it, so this module needs nothing from `scenario`.
pub trait OverrideSource {
    fn stream_name(&self) -> &str;
    fn schema(&self) -> &apache_avro::Schema;
    /// (module name, file as written, file path) per import, in order.
    fn imports(&self) -> Vec<(&str, &str, &std::path::Path)>;
    /// (field path, expression) per override, in order.
    fn overrides(&self) -> Vec<(&[String], &str)>;
    /// The key expression, when the key is computed.
    fn key_expr(&self) -> Option<&str>;
}

impl CompiledOverrides {
    /// Compiles every import and override of `stream`, reporting all problems at once.
    /// Imported files are read here, never at evaluation time.
    pub fn compile(stream: &impl OverrideSource) -> Result<CompiledOverrides, Vec<ExprError>> {
        let mut errors = Vec::new();
        let name = stream.stream_name();
        let types = Types::new(stream.schema()).map_err(|message| {
            vec![ExprError::Schema {
                stream: name.to_string(),
                message,
            }]
        })?;

        let slot = sandbox::idle_slot();
        let (modules, sources) = compile::modules(stream, &slot, &mut errors);

        let engine = sandbox::build_engine(&slot, &modules);
        let imports: Vec<native::Import<'_>> = modules
            .iter()
            .zip(&sources)
            .map(|((name, _), (source, ast))| native::Import { name, source, ast })
            .collect();
        let fast = |ast: &AST| native::Native::from_ast(&engine, ast, &imports);
        let sources = stream.overrides();
        let mut overrides = Vec::with_capacity(sources.len());
        for (path, expr) in sources {
            match compile::one_override(name, &types, &engine, &fast, path, expr) {
                Ok(o) => overrides.push(o),
                Err(e) => errors.push(e),
            }
        }
        let mut key = None;
        if let Some(expr) = stream.key_expr() {
            match engine.compile(expr) {
                Ok(ast) => {
                    let native = fast(&ast);
                    key = Some((expr.to_string(), ast, native));
                }
                Err(e) => errors.push(ExprError::Syntax {
                    stream: name.to_string(),
                    field: KEY_FIELD.into(),
                    expr: expr.to_string(),
                    message: e.to_string(),
                }),
            }
        }
        drop(imports);
        if errors.is_empty() {
            Ok(CompiledOverrides {
                stream: name.to_string(),
                overrides,
                key,
                modules,
                types,
            })
        } else {
            Err(errors)
        }
    }

    /// The stream these overrides belong to.
    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// Number of compiled overrides.
    pub fn len(&self) -> usize {
        self.overrides.len()
    }

    pub fn is_empty(&self) -> bool {
        self.overrides.is_empty()
    }

    /// How many of the overrides (and the key expression) run on the native fast
    /// path instead of Rhai (see `native.rs`).
    pub fn native_len(&self) -> usize {
        let key = self.key.as_ref().is_some_and(|(_, _, n)| n.is_some());
        self.overrides.iter().filter(|o| o.native.is_some()).count() + usize::from(key)
    }

    /// The same overrides with every expression on Rhai: what the fast path is
    /// checked against, and measured against.
    pub fn without_native(mut self) -> Self {
        self.overrides.iter_mut().for_each(|o| o.native = None);
        if let Some((_, _, native)) = &mut self.key {
            *native = None;
        }
        self
    }

    /// Each override's field path and whether it reads `default`, when the
    /// overrides can run on fields handed over alone
    /// ([`OverrideEvaluator::apply_detached`]): none may read `record` and
    /// there is no key expression (both need the whole record). `None` otherwise.
    pub fn detached_fields(&self) -> Option<Vec<(&[String], bool)>> {
        if self.key.is_some() || self.overrides.iter().any(|o| o.uses_record) {
            return None;
        }
        Some(
            self.overrides
                .iter()
                .map(|o| (o.path.as_slice(), o.uses_default))
                .collect(),
        )
    }

    /// Whether the stream's Kafka key is an expression.
    pub fn has_key(&self) -> bool {
        self.key.is_some()
    }
}

/// "override `a.b`", or "key expression" for the key.
fn what(field: &str) -> String {
    if field == KEY_FIELD {
        "key expression".into()
    } else {
        format!("override `{field}`")
    }
}

/// The `field` name errors of the key expression carry.
pub const KEY_FIELD: &str = "(key)";
