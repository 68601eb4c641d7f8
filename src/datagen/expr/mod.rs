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
//! - [`sandbox`]: the engine (limits, no I/O) and the built-in functions
//! - `native`: the fast path — same functions, same draws, no interpreter
//! - `fake`: the `fake::` module
//! - `value`: Avro ⇄ Rhai conversion and path look-ups
//!
//! Determinism: expressions draw only from the record's own [`RecordRng`] (after the
//! generator has drawn the record), so the record after overrides is still a pure
//! function of `(seed, stream, n)`, whichever evaluator runs it and in whatever order.
//! Expressions are user input: every failure (syntax, unknown function, runtime error,
//! a limit, a type mismatch) is an [`ExprError`], never a panic.

mod compile;
mod fake;
mod native;
pub mod sandbox;
mod value;

use std::sync::Arc;

use apache_avro::Schema;
use apache_avro::types::Value;
use rhai::{AST, Dynamic, Engine, EvalAltResult, INT, Module, Scope};

use crate::datagen::seed::RecordRng;
use value::Types;

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

/// Applies a stream's overrides to records. One per worker: it owns its engine (whose
/// random functions are wired to this evaluator's RNG slot) and a reused scope.
pub struct OverrideEvaluator {
    compiled: Arc<CompiledOverrides>,
    engine: Engine,
    scope: Scope<'static>,
    slot: sandbox::SharedRng,
}

impl std::fmt::Debug for OverrideEvaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OverrideEvaluator")
            .field("stream", &self.compiled.stream)
            .finish_non_exhaustive()
    }
}

impl OverrideEvaluator {
    pub fn new(compiled: Arc<CompiledOverrides>) -> Self {
        let slot = sandbox::idle_slot();
        let engine = sandbox::build_engine(&slot, &compiled.modules);
        Self {
            compiled,
            engine,
            scope: Scope::new(),
            slot,
        }
    }

    /// Runs every override on `record` in order; each sees the effect of the ones before.
    /// An override whose field sits inside an absent (null) optional record is skipped:
    /// there is no field to replace. Stops at the first error.
    pub fn apply(
        &mut self,
        record: &mut Value,
        ctx: &EvalCtx<'_>,
        rng: &mut RecordRng,
    ) -> Result<(), ExprError> {
        self.run(Fields::Record(record), ctx, rng)
    }

    /// [`Self::apply`] for a record written without a value tree (see
    /// [`CompiledOverrides::detached_fields`]): `slots[i]` is override `i`'s
    /// field — its generated value when the override reads `default`, any
    /// value otherwise — or `None` where the field is absent in this record
    /// (that override is skipped, as `apply` skips it). On success each
    /// present slot holds the override's result, coerced to the field's type.
    /// The same draws, in the same order, as `apply`.
    pub fn apply_detached(
        &mut self,
        slots: &mut [Option<Value>],
        ctx: &EvalCtx<'_>,
        rng: &mut RecordRng,
    ) -> Result<(), ExprError> {
        self.run(Fields::Slots(slots), ctx, rng)
    }

    fn run(
        &mut self,
        mut fields: Fields<'_>,
        ctx: &EvalCtx<'_>,
        rng: &mut RecordRng,
    ) -> Result<(), ExprError> {
        let Self {
            compiled,
            engine,
            scope,
            slot,
        } = self;
        // One scope per record, set up at the first override that needs Rhai:
        // `seq`, `phase` and `t` once, then each override sets `default` and
        // `record` and drops whatever variables the one before defined.
        let mut base = None;
        for (i, o) in compiled.overrides.iter().enumerate() {
            if let Some(native) = &o.native {
                let Some(field) = fields.slot(i, o) else {
                    continue;
                };
                let result = native
                    .eval(rng)
                    .map_err(|e| runtime_error(compiled, o, ctx, &e))?;
                store(compiled, o, field, result, ctx)?;
                continue;
            }
            let base = *base.get_or_insert_with(|| {
                scope.clear();
                scope.push("default", ()).push("record", ());
                push_ctx(scope, ctx);
                scope.len()
            });
            scope.rewind(base);
            let whole = fields.whole(o);
            let Some(field) = fields.slot(i, o) else {
                continue;
            };
            sandbox::with_record_rng(slot, rng, || {
                apply_one(compiled, engine, scope, o, whole, field, ctx)
            })?;
        }
        Ok(())
    }
}

/// Where the overrides' fields are: in a record value, or handed over one by one.
enum Fields<'a> {
    /// A whole record: each override's field is looked up by its path.
    Record(&'a mut Value),
    /// One slot per override, by index (`None`: absent in this record).
    Slots(&'a mut [Option<Value>]),
}

impl Fields<'_> {
    /// The `record` an expression sees (converted only for those that can name it).
    fn whole(&self, o: &CompiledOverride) -> Dynamic {
        match self {
            Fields::Record(record) if o.uses_record => value::to_dynamic(record),
            _ => Dynamic::UNIT,
        }
    }

    /// Override `i`'s field, `None` where the record has none.
    fn slot(&mut self, i: usize, o: &CompiledOverride) -> Option<&mut Value> {
        match self {
            Fields::Record(record) => value::field_mut(record, &o.path),
            Fields::Slots(slots) => slots.get_mut(i)?.as_mut(),
        }
    }
}

impl OverrideEvaluator {
    /// Evaluates the key expression on the finished record: `record`, `seq`,
    /// `phase` and `t` are in scope, random functions draw from the record's
    /// RNG (so the key is a pure function of seed, stream and n). `()` means
    /// no key; strings are used as they are, anything else as its text.
    pub fn key(
        &mut self,
        record: &Value,
        ctx: &EvalCtx<'_>,
        rng: &mut RecordRng,
    ) -> Result<Option<String>, ExprError> {
        let Self {
            compiled,
            engine,
            scope,
            slot,
        } = self;
        let Some((expr, ast, native)) = &compiled.key else {
            return Ok(None);
        };
        let failed = |e: Box<EvalAltResult>| ExprError::Runtime {
            stream: compiled.stream.clone(),
            field: KEY_FIELD.into(),
            seq: ctx.seq,
            expr: expr.clone(),
            message: describe_eval_error(&e),
        };
        let v = match native {
            Some(native) => native.eval(rng).map_err(failed)?,
            None => sandbox::with_record_rng(slot, rng, || {
                scope.clear();
                scope.push("record", value::to_dynamic(record));
                push_ctx(scope, ctx);
                engine
                    .eval_ast_with_scope::<Dynamic>(scope, ast)
                    .map_err(failed)
            })?,
        };
        Ok(if v.is_unit() {
            None
        } else if v.is_string() {
            Some(v.into_string().unwrap_or_default())
        } else {
            Some(v.to_string())
        })
    }
}

/// `seq`, `phase` and `t`: what every expression sees besides the record.
/// Constants: overrides of one record share them, so none may change them
/// for the next (a `let` of the same name still shadows).
fn push_ctx(scope: &mut Scope<'static>, ctx: &EvalCtx<'_>) {
    scope
        // Sequence numbers beyond i64::MAX cannot occur in practice; saturate rather than wrap.
        .push_constant("seq", INT::try_from(ctx.seq).unwrap_or(INT::MAX))
        .push_constant("phase", ctx.phase.to_owned())
        .push_constant("t", ctx.t_ms);
}

fn apply_one(
    compiled: &CompiledOverrides,
    engine: &Engine,
    scope: &mut Scope<'static>,
    o: &CompiledOverride,
    whole: Dynamic,
    slot: &mut Value,
    ctx: &EvalCtx<'_>,
) -> Result<(), ExprError> {
    let default = if o.uses_default {
        value::to_dynamic(slot)
    } else {
        Dynamic::UNIT
    };
    scope.set_value("default", default);
    scope.set_value("record", whole);
    let result = engine
        .eval_ast_with_scope::<Dynamic>(scope, &o.ast)
        .map_err(|e| runtime_error(compiled, o, ctx, &e))?;
    store(compiled, o, slot, result, ctx)
}

fn runtime_error(
    compiled: &CompiledOverrides,
    o: &CompiledOverride,
    ctx: &EvalCtx<'_>,
    e: &EvalAltResult,
) -> ExprError {
    ExprError::Runtime {
        stream: compiled.stream.clone(),
        field: o.field.clone(),
        seq: ctx.seq,
        expr: o.expr.clone(),
        message: describe_eval_error(e),
    }
}

/// Coerces an override's result to its field's type and stores it there.
fn store(
    compiled: &CompiledOverrides,
    o: &CompiledOverride,
    slot: &mut Value,
    result: Dynamic,
    ctx: &EvalCtx<'_>,
) -> Result<(), ExprError> {
    *slot = compiled.types.coerce(&o.schema, result).map_err(|m| {
        ExprError::TypeMismatch(Box::new(TypeMismatch {
            stream: compiled.stream.clone(),
            field: o.field.clone(),
            seq: ctx.seq,
            expr: o.expr.clone(),
            expected: m.expected,
            actual: m.actual,
            detail: m.detail,
        }))
    })?;
    Ok(())
}

/// Rhai's message, with the sandbox limits spelled out (Rhai says only "Too many
/// operations", which does not tell the user what to change).
fn describe_eval_error(err: &EvalAltResult) -> String {
    let hint = match err.unwrap_inner() {
        EvalAltResult::ErrorTooManyOperations(_) => format!(
            " (an expression may run at most {} operations: is there an endless loop?)",
            sandbox::MAX_OPERATIONS
        ),
        EvalAltResult::ErrorDataTooLarge(..) => format!(
            " (limits: strings {} bytes, arrays {} items, maps {} entries)",
            sandbox::MAX_STRING_SIZE,
            sandbox::MAX_ARRAY_SIZE,
            sandbox::MAX_MAP_SIZE
        ),
        EvalAltResult::ErrorStackOverflow(_) => format!(
            " (function calls may nest at most {} deep)",
            sandbox::MAX_CALL_LEVELS
        ),
        _ => String::new(),
    };
    format!("{err}{hint}")
}
