//! Overrides and key expressions are evaluated on a sample of the records
//! each phase will send — the first [`SAMPLE`] sequence numbers of every
//! phase × stream, with the phase name and planned time they will see — so
//! an unknown function, a result of the wrong type or a runtime error
//! (division by zero, an index out of range) is a located error from
//! `validate`, and `run` stops before any setup touches the network.
//! Deterministic: the same records every time (record n = f(seed, stream, n)).

use super::Ctx;
use crate::datagen::expr::{EvalCtx, ExprError, KEY_FIELD};
use crate::datagen::{Evaluators, StreamRecords};
use crate::plan::Plan;
use crate::scenario::Scenario;
use crate::scenario::diagnostic::pointer_push;

/// Records evaluated per phase × stream.
pub const SAMPLE: u64 = 64;

/// Every stream's record generator can be built from its schema (recursion
/// that never ends, duplicate type names, sizes beyond the limits): what
/// `run` would otherwise find only when it starts.
pub(super) fn generators(cx: &mut Ctx<'_>, scenario: &Scenario) {
    for (i, stream) in scenario.streams.iter().enumerate() {
        if let Err(e) = StreamRecords::new(stream, scenario.seed) {
            cx.error(
                &format!("/streams/{i}/schema"),
                format!(
                    "schema `{}` cannot be generated: {e}",
                    stream.schema_file.written
                ),
                "fix the Avro schema (or pick another one for this stream)",
            );
        }
    }
}

pub(super) fn overrides(cx: &mut Ctx<'_>, scenario: &Scenario) {
    let with_exprs: Vec<usize> = (0..scenario.streams.len())
        .filter(|&i| scenario.streams[i].compiled.is_some())
        .collect();
    if with_exprs.is_empty() {
        return;
    }
    let plan = Plan::compile(scenario);
    for i in with_exprs {
        let stream = &scenario.streams[i];
        let Ok(records) = StreamRecords::new(stream, scenario.seed) else {
            continue; // the generator's own errors are reported elsewhere
        };
        let mut evaluators = Evaluators::default();
        'phases: for phase in &plan.phases {
            for ps in phase.streams.iter().filter(|ps| ps.stream == i) {
                // After a closed-model phase of a replay the numbering is only
                // known at run time: sample from 0 then.
                let first = ps.first_seq.unwrap_or(0);
                let count = ps
                    .curve
                    .as_ref()
                    .map_or(SAMPLE, |c| c.event_count().min(SAMPLE));
                let count = stream
                    .record_limit()
                    .map_or(count, |l| count.min(l.saturating_sub(first)));
                for n in 0..count {
                    let offset = ps
                        .curve
                        .as_ref()
                        .and_then(|c| c.arrival_offset(n))
                        .unwrap_or_default();
                    let ctx = EvalCtx {
                        seq: first + n,
                        phase: &phase.name,
                        t_ms: i64::try_from((phase.offset + offset).as_millis())
                            .unwrap_or(i64::MAX),
                    };
                    if let Err(e) = records.record_with(first + n, 0, &mut evaluators, &ctx) {
                        report(cx, i, &phase.name, e);
                        break 'phases; // one error per stream: the rest are usually the same
                    }
                }
            }
        }
    }
}

fn report(cx: &mut Ctx<'_>, stream: usize, phase: &str, e: ExprError) {
    let field = match &e {
        ExprError::Runtime { field, .. } => field.clone(),
        ExprError::TypeMismatch(m) => m.field.clone(),
        _ => String::new(),
    };
    let base = format!("/streams/{stream}");
    let pointer = if field == KEY_FIELD {
        format!("{base}/key/expr")
    } else if field.is_empty() {
        format!("{base}/overrides")
    } else {
        pointer_push(&format!("{base}/overrides"), &field)
    };
    cx.error(
        &pointer,
        format!("{e} (found by evaluating the first records of phase `{phase}`)"),
        "`validate` runs every override on the first 64 records of each phase; fix the expression (built-in functions: docs/scenario-format.md)",
    );
}
