//! Running compiled overrides on records: [`OverrideEvaluator`], one per
//! worker, with its own engine and scope. `apply` works on a record's value
//! tree, `apply_detached` on fields handed over alone (records written with
//! holes); both run the same loop, so the same draws in the same order.

use std::sync::Arc;

use apache_avro::types::Value;
use rhai::{Dynamic, Engine, EvalAltResult, INT, Scope};

use super::{CompiledOverride, CompiledOverrides, EvalCtx, ExprError, KEY_FIELD, TypeMismatch};
use super::{sandbox, value};
use crate::datagen::seed::RecordRng;

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
pub(super) fn describe_eval_error(err: &EvalAltResult) -> String {
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
