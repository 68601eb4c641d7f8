//! The Rhai engine every override runs in: limits, no I/O, and the built-in functions.
//!
//! ```text
//!   build_engine(slot, modules)
//!     ├─ packages     Rhai's standard library minus sleep, clock and debugging
//!     ├─ limits       operations, string/array/map sizes, call and expression depth
//!     ├─ no I/O       print/debug dropped, `eval` disabled, no module resolver
//!     ├─ `default`    a reserved word in Rhai, re-tokenized as a plain identifier
//!     ├─ random fns   uniform normal exponential pick weighted uuid bool   (use the slot)
//!     ├─ pure fns     round pad format
//!     ├─ fake::       names, places, words                                  (fake.rs)
//!     └─ imports      each compiled `.rhai` module as `<name>::`
//! ```
//!
//! Randomness comes from an `RngSlot` shared by the engine's closures. While
//! [`super::OverrideEvaluator::apply`] runs, the slot holds the caller's own
//! [`RecordRng`] (swapped in, swapped back out), so every value an expression draws
//! comes from the record's keystream and is a pure function of `(seed, stream, n)`.
//! Outside `apply` (module load time) the slot is idle and random functions fail,
//! because a value drawn then would belong to no record.
//!
//! All draws go through [`crate::datagen::draw`], never `rand`'s range APIs, so a `rand`
//! upgrade cannot change generated data.

use std::sync::{Arc, Mutex, PoisonError};

use rhai::{Array, Dynamic, Engine, EvalAltResult, FLOAT, INT, ImmutableString, Module};

use crate::datagen::draw;
use crate::datagen::seed::{RecordRng, StreamSeed};

/// Operations one evaluation may run: generous for real expressions (a few hundred),
/// small enough that `loop {}` fails in milliseconds.
pub const MAX_OPERATIONS: u64 = 100_000;
/// Longest string (bytes) an expression may build.
pub const MAX_STRING_SIZE: usize = 64 * 1024;
/// Most items in one array an expression may build.
pub const MAX_ARRAY_SIZE: usize = 10_000;
/// Most entries in one object map an expression may build.
pub const MAX_MAP_SIZE: usize = 10_000;
/// Deepest function-call nesting; keeps recursion well inside a worker's stack.
pub const MAX_CALL_LEVELS: usize = 32;
/// Deepest expression nesting at parse time (top level, inside functions).
pub const MAX_EXPR_DEPTH: (usize, usize) = (64, 32);
/// Widest `pad(x, width)`: zero-padding is for ids, not for building big strings.
const MAX_PAD_WIDTH: INT = 1_000;
/// Largest `n` of `fake::words(n)` / `fake::lorem(n)`.
pub(super) const MAX_WORDS: INT = 1_000;

pub(super) type Fallible<T> = Result<T, Box<EvalAltResult>>;

/// Where the random functions find the current record's RNG.
pub(super) struct RngSlot {
    rng: RecordRng,
    /// True only while `apply` has swapped the record's RNG in.
    active: bool,
}

pub(super) type SharedRng = Arc<Mutex<RngSlot>>;

/// An idle slot. Its placeholder RNG is never drawn from (the slot is inactive whenever
/// it holds it); it exists because swapping needs a value to swap with.
pub(super) fn idle_slot() -> SharedRng {
    Arc::new(Mutex::new(RngSlot {
        rng: StreamSeed::new(0, "mbscenario/expr/idle").record_rng(0),
        active: false,
    }))
}

/// Swaps the caller's RNG into the slot, runs `f`, and swaps it back, whatever `f` returns.
pub(super) fn with_record_rng<T>(
    slot: &SharedRng,
    rng: &mut RecordRng,
    f: impl FnOnce() -> T,
) -> T {
    {
        let mut guard = slot.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::swap(&mut guard.rng, rng);
        guard.active = true;
    }
    let out = f();
    let mut guard = slot.lock().unwrap_or_else(PoisonError::into_inner);
    std::mem::swap(&mut guard.rng, rng);
    guard.active = false;
    out
}

/// Runs `f` on the record's RNG, or fails when no record is being generated.
pub(super) fn draw_with<T>(slot: &SharedRng, f: impl FnOnce(&mut RecordRng) -> T) -> Fallible<T> {
    // Poisoning cannot leave the RNG half-updated in a way that matters (the draw
    // helpers do not panic), so a poisoned lock is simply taken over.
    let mut guard = slot.lock().unwrap_or_else(PoisonError::into_inner);
    if !guard.active {
        return Err(
            "random functions can only be used while a record is generated, \
                    not at the top level of an imported module"
                .into(),
        );
    }
    Ok(f(&mut guard.rng))
}

/// A sandboxed engine with the built-ins, `fake::` and the given imported modules.
pub(super) fn build_engine(slot: &SharedRng, modules: &[(String, Arc<Module>)]) -> Engine {
    let mut engine = Engine::new_raw();
    register_packages(&mut engine);
    engine
        .set_max_operations(MAX_OPERATIONS)
        .set_max_string_size(MAX_STRING_SIZE)
        .set_max_array_size(MAX_ARRAY_SIZE)
        .set_max_map_size(MAX_MAP_SIZE)
        .set_max_call_levels(MAX_CALL_LEVELS)
        .set_max_expr_depths(MAX_EXPR_DEPTH.0, MAX_EXPR_DEPTH.1)
        // Workers write records, not logs: script output would interleave on stdout.
        .on_print(|_| {})
        .on_debug(|_, _, _| {})
        // Imports are resolved once at compile time; `import "…"` must not reach the disk.
        .set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new())
        .disable_symbol("eval");
    // `default` is reserved in Rhai, but it is the name users expect for the generated
    // value, so the tokenizer hands it to the parser as an ordinary variable name.
    #[allow(deprecated)] // "volatile", not deprecated: see `Engine::on_parse_token`.
    engine.on_parse_token(|token, _, _| match token {
        rhai::Token::Reserved(word) if word.as_str() == "default" => rhai::Token::Identifier(word),
        other => other,
    });
    register_random(&mut engine, slot);
    register_pure(&mut engine);
    engine.register_static_module("fake", super::fake::module(slot).into());
    for (name, module) in modules {
        engine.register_static_module(name, module.clone());
    }
    engine
}

/// Rhai's standard library minus what would break the sandbox or determinism:
/// `LanguageCorePackage` (`sleep` would stall a worker beyond any operation limit,
/// `parse_json`), `BasicTimePackage` (`timestamp()` reads the clock) and
/// `DebuggingPackage` (call stacks are of no use in a one-line expression).
fn register_packages(engine: &mut Engine) {
    use rhai::packages::{
        ArithmeticPackage, BasicArrayPackage, BasicBlobPackage, BasicFnPackage,
        BasicIteratorPackage, BasicMapPackage, BasicMathPackage, BasicStringPackage,
        BitFieldPackage, LogicPackage, MoreStringPackage, Package,
    };
    for module in [
        ArithmeticPackage::new().as_shared_module(),
        BasicStringPackage::new().as_shared_module(),
        BasicIteratorPackage::new().as_shared_module(),
        BasicFnPackage::new().as_shared_module(),
        LogicPackage::new().as_shared_module(),
        BasicMathPackage::new().as_shared_module(),
        BasicArrayPackage::new().as_shared_module(),
        BasicBlobPackage::new().as_shared_module(),
        BasicMapPackage::new().as_shared_module(),
        MoreStringPackage::new().as_shared_module(),
        BitFieldPackage::new().as_shared_module(),
    ] {
        engine.register_global_module(module);
    }
}

/// A number argument as `f64` (ints widen), or a readable error naming the function.
fn number(value: &Dynamic, function: &str) -> Fallible<f64> {
    if let Ok(i) = value.as_int() {
        // i64 → f64 rounds above 2^53; that is what a float argument means.
        Ok(i as f64)
    } else if let Ok(f) = value.as_float() {
        Ok(f)
    } else {
        Err(format!("{function}: expected a number, got {}", value.type_name()).into())
    }
}

fn register_random(engine: &mut Engine, slot: &SharedRng) {
    let s = slot.clone();
    engine.register_fn("uniform", move |a: Dynamic, b: Dynamic| {
        draw_with(&s, |rng| uniform(rng, &a, &b))?
    });
    let s = slot.clone();
    engine.register_fn("normal", move |mean: Dynamic, sd: Dynamic| {
        draw_with(&s, |rng| normal(rng, &mean, &sd))?
    });
    let s = slot.clone();
    engine.register_fn("exponential", move |lambda: Dynamic| {
        draw_with(&s, |rng| exponential(rng, &lambda))?
    });
    let s = slot.clone();
    engine.register_fn("pick", move |items: Array| {
        draw_with(&s, |rng| pick(rng, &items))?
    });
    let s = slot.clone();
    engine.register_fn("weighted", move |items: Array, weights: Array| {
        draw_with(&s, |rng| weighted(rng, &items, &weights))?
    });
    let s = slot.clone();
    engine.register_fn("uuid", move || draw_with(&s, uuid));
    let s = slot.clone();
    engine.register_fn("bool", move |p: Dynamic| {
        draw_with(&s, |rng| chance(rng, &p))?
    });
}

// The random built-ins themselves, on the record's RNG. Rhai reaches them through the
// slot (above); the native fast path (`super::native`) calls them directly, so both
// draw exactly the same values.

/// `uniform(a, b)`: an int in `a..=b` when both are ints, otherwise a float in `[a, b)`.
pub(super) fn uniform(rng: &mut RecordRng, a: &Dynamic, b: &Dynamic) -> Fallible<Dynamic> {
    if let (Ok(lo), Ok(hi)) = (a.as_int(), b.as_int()) {
        if lo > hi {
            return Err(
                format!("uniform: lower bound {lo} is greater than upper bound {hi}").into(),
            );
        }
        return Ok(draw::range_i64(rng, lo, hi).into());
    }
    let (lo, hi) = (number(a, "uniform")?, number(b, "uniform")?);
    if !(lo <= hi && lo.is_finite() && hi.is_finite()) {
        return Err(format!("uniform: bounds must be finite with {lo} ≤ {hi}").into());
    }
    let u = draw::unit_f64(rng);
    Ok((lo + u * (hi - lo)).into())
}

/// `normal(mean, sd)`: Box–Muller with exactly two draws.
pub(super) fn normal(rng: &mut RecordRng, mean: &Dynamic, sd: &Dynamic) -> Fallible<FLOAT> {
    let (mean, sd) = (number(mean, "normal")?, number(sd, "normal")?);
    if !(sd >= 0.0 && sd.is_finite() && mean.is_finite()) {
        return Err(format!("normal: sd must be a finite number ≥ 0, got {sd}").into());
    }
    // `1 - u` keeps the logarithm's argument in (0, 1].
    let (u1, u2) = (draw::unit_f64(rng), draw::unit_f64(rng));
    let z = (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    Ok(mean + sd * z)
}

/// `exponential(lambda)`.
pub(super) fn exponential(rng: &mut RecordRng, lambda: &Dynamic) -> Fallible<FLOAT> {
    let lambda = number(lambda, "exponential")?;
    if !(lambda > 0.0 && lambda.is_finite()) {
        return Err(format!("exponential: lambda must be > 0, got {lambda}").into());
    }
    let u = draw::unit_f64(rng);
    Ok(-(1.0 - u).ln() / lambda)
}

/// `pick(items)`: one item, uniformly.
pub(super) fn pick(rng: &mut RecordRng, items: &Array) -> Fallible<Dynamic> {
    if items.is_empty() {
        return Err("pick: the array is empty".into());
    }
    let index = draw::below(rng, items.len() as u64);
    Ok(items[usize::try_from(index).unwrap_or(0)].clone())
}

/// `uuid()`: a random (version 4) UUID.
pub(super) fn uuid(rng: &mut RecordRng) -> ImmutableString {
    let bytes = draw::bytes(rng, 16);
    let mut raw = [0u8; 16];
    raw.copy_from_slice(&bytes);
    uuid::Builder::from_random_bytes(raw)
        .into_uuid()
        .to_string()
        .into()
}

/// `bool(p)`: true with probability `p`.
pub(super) fn chance(rng: &mut RecordRng, p: &Dynamic) -> Fallible<bool> {
    let p = number(p, "bool")?;
    if !(0.0..=1.0).contains(&p) {
        return Err(format!("bool: probability must be between 0 and 1, got {p}").into());
    }
    Ok(draw::chance(rng, p))
}

/// `weighted(items, weights)`: one item, chosen with probability proportional to its weight.
pub(super) fn weighted(rng: &mut RecordRng, items: &Array, weights: &Array) -> Fallible<Dynamic> {
    if items.is_empty() || items.len() != weights.len() {
        return Err(format!(
            "weighted: needs as many weights as items (got {} items, {} weights), at least one",
            items.len(),
            weights.len()
        )
        .into());
    }
    // Read in passes rather than collected (per record, so the allocation
    // counts): every weight a number, then every number valid, as before.
    let weight = |w: &Dynamic| number(w, "weighted");
    for w in weights {
        weight(w)?;
    }
    let mut total = 0.0;
    for w in weights {
        let w = weight(w)?;
        if !(w >= 0.0 && w.is_finite()) {
            return Err("weighted: weights must be finite numbers ≥ 0".into());
        }
        total += w;
    }
    if total <= 0.0 {
        return Err("weighted: at least one weight must be > 0".into());
    }
    let target = draw::unit_f64(rng) * total;
    let mut acc = 0.0;
    // Rounding can leave `target` a hair above the running sum: then the last
    // item with a positive weight.
    let mut last = 0;
    for (i, (item, w)) in items.iter().zip(weights).enumerate() {
        let w = weight(w)?;
        acc += w;
        if target < acc {
            return Ok(item.clone());
        }
        if w > 0.0 {
            last = i;
        }
    }
    Ok(items[last].clone())
}

fn register_pure(engine: &mut Engine) {
    engine.register_fn("round", |x: FLOAT, digits: INT| -> Fallible<FLOAT> {
        if !(0..=15).contains(&digits) {
            return Err(format!("round: digits must be between 0 and 15, got {digits}").into());
        }
        let scale = 10f64.powi(i32::try_from(digits).unwrap_or(0));
        Ok((x * scale).round() / scale)
    });
    // Ints are already round at any number of digits.
    engine.register_fn("round", |x: INT, _digits: INT| x);

    engine.register_fn(
        "pad",
        |x: Dynamic, width: INT| -> Fallible<ImmutableString> {
            if !(0..=MAX_PAD_WIDTH).contains(&width) {
                return Err(format!(
                    "pad: width must be between 0 and {MAX_PAD_WIDTH}, got {width}"
                )
                .into());
            }
            let width = usize::try_from(width).unwrap_or(0);
            if let Ok(i) = x.as_int() {
                return Ok(format!("{i:0width$}").into());
            }
            let text = x.to_string();
            let missing = width.saturating_sub(text.chars().count());
            Ok(format!("{}{text}", "0".repeat(missing)).into())
        },
    );

    engine.register_fn("format", |t: ImmutableString| format_args(&t, &[]));
    engine.register_fn("format", |t: ImmutableString, a: Dynamic| {
        format_args(&t, &[a])
    });
    engine.register_fn("format", |t: ImmutableString, a: Dynamic, b: Dynamic| {
        format_args(&t, &[a, b])
    });
    engine.register_fn(
        "format",
        |t: ImmutableString, a: Dynamic, b: Dynamic, c: Dynamic| format_args(&t, &[a, b, c]),
    );
    engine.register_fn(
        "format",
        |t: ImmutableString, a: Dynamic, b: Dynamic, c: Dynamic, d: Dynamic| {
            format_args(&t, &[a, b, c, d])
        },
    );
}

/// Replaces each `{}` in `template` by the next argument (`{{` and `}}` are literal braces).
pub(super) fn format_args(template: &str, args: &[Dynamic]) -> Fallible<ImmutableString> {
    let mut out = String::with_capacity(template.len() + 16 * args.len());
    let mut next = args.iter();
    let mut used = 0;
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('{', Some('}')) => {
                chars.next();
                let arg = next.next().ok_or_else(|| {
                    format!(
                        "format: `{template}` has more `{{}}` than the {} argument(s) given",
                        args.len()
                    )
                })?;
                used += 1;
                // Strings copied as they are; other values as `to_string` writes
                // them, without a String of their own.
                match arg.read_lock::<ImmutableString>() {
                    Some(text) => out.push_str(&text),
                    None => {
                        use std::fmt::Write as _;
                        let _ = write!(out, "{arg}");
                    }
                }
            }
            ('{', Some('{')) | ('}', Some('}')) => {
                chars.next();
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    if used < args.len() {
        return Err(format!(
            "format: `{template}` has {used} `{{}}` but {} argument(s) were given",
            args.len()
        )
        .into());
    }
    Ok(out.into())
}
