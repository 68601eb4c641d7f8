//! The native fast path: overrides that are only calls of built-in functions on
//! constant arguments run as plain Rust, without Rhai's interpreter.
//!
//! ```text
//!   Rhai AST (already compiled, already checked)
//!     └─ Native::from_ast        a single expression made only of
//!          ├─ constants            42  1.5  "x"  true  ["a", "b"]  [60, 25]
//!          ├─ built-in calls       uniform normal exponential pick weighted uuid bool format
//!          ├─ fake:: calls         fake::city() … (the no-argument ones)
//!          └─ module calls         m::f() of an import whose `fn f() { … }` is itself one
//!                                  such expression, `global::NAME` read from the module
//!        └─ anything else → None: the override stays on Rhai
//!   Native::eval(&mut RecordRng)  the same functions Rhai calls (`sandbox`, `fake`), the
//!                                 same argument order, so the same draws and values
//! ```
//!
//! Why: most overrides look like `ramp.yaml`'s (`format("user-{}", uniform(1, 5000))`,
//! `pokemon::name()`), and for them Rhai's per-call function resolution, scope handling
//! and argument cloning cost several times the draw itself.
//!
//! The contract is "same value as Rhai, or not native": a shape is accepted only where
//! Rhai's own rules leave no doubt about which function runs (no user function of the
//! same name, exact arities and argument types of the registered built-ins), and
//! [`Native::from_ast`] tries the expression once on a throwaway RNG, so any argument
//! error is left for Rhai to report in its words. Tests compare both paths record by
//! record.

use std::borrow::Cow;

use rhai::{AST, ASTFlags, Array, Dynamic, Engine, Expr, FnAccess, FnCallExpr, Stmt};

use super::fake::STRING_FNS;
use super::sandbox::{self, Fallible};
use crate::datagen::seed::{RecordRng, StreamSeed};

/// An expression the fast path can evaluate.
#[derive(Debug, Clone)]
pub(super) enum Native {
    Const(Dynamic),
    Call(Builtin, Vec<Native>),
}

/// The built-ins the fast path knows, with the arities Rhai registers them with.
#[derive(Debug, Clone, Copy)]
pub(super) enum Builtin {
    Uniform,
    Normal,
    Exponential,
    Pick,
    Weighted,
    Uuid,
    Bool,
    /// `format(template, a, b, …)`: 0 to 4 arguments after the template.
    Format,
    /// A no-argument `fake::` function.
    Fake(super::fake::StringFn),
}

impl Builtin {
    /// The global built-in called `name` with `arity` arguments.
    fn global(name: &str, arity: usize) -> Option<Builtin> {
        let (builtin, expected) = match name {
            "uniform" => (Builtin::Uniform, 2),
            "normal" => (Builtin::Normal, 2),
            "exponential" => (Builtin::Exponential, 1),
            "pick" => (Builtin::Pick, 1),
            "weighted" => (Builtin::Weighted, 2),
            "uuid" => (Builtin::Uuid, 0),
            "bool" => (Builtin::Bool, 1),
            "format" if (1..=5).contains(&arity) => return Some(Builtin::Format),
            _ => return None,
        };
        (arity == expected).then_some(builtin)
    }

    fn fake(name: &str, arity: usize) -> Option<Builtin> {
        let (_, f) = STRING_FNS.iter().find(|(n, _)| *n == name)?;
        (arity == 0).then_some(Builtin::Fake(*f))
    }

    fn call(self, rng: &mut RecordRng, args: &[Cow<'_, Dynamic>]) -> Fallible<Dynamic> {
        let arg = |i: usize| args[i].as_ref();
        // Rhai resolves `pick(items: Array)` etc. by type: any other argument type is
        // "function not found" there, so it must be an error here too.
        let array = |i: usize| {
            arg(i)
                .read_lock::<Array>()
                .ok_or_else(|| Box::<rhai::EvalAltResult>::from("not an array"))
        };
        Ok(match self {
            Builtin::Uniform => sandbox::uniform(rng, arg(0), arg(1))?,
            Builtin::Normal => sandbox::normal(rng, arg(0), arg(1))?.into(),
            Builtin::Exponential => sandbox::exponential(rng, arg(0))?.into(),
            Builtin::Pick => sandbox::pick(rng, &*array(0)?)?,
            Builtin::Weighted => sandbox::weighted(rng, &*array(0)?, &*array(1)?)?,
            Builtin::Uuid => sandbox::uuid(rng).into(),
            Builtin::Bool => sandbox::chance(rng, arg(0))?.into(),
            Builtin::Format => {
                let template = arg(0)
                    .read_lock::<rhai::ImmutableString>()
                    .ok_or_else(|| Box::<rhai::EvalAltResult>::from("not a string"))?;
                let rest: Vec<Dynamic> = args[1..].iter().map(|a| a.as_ref().clone()).collect();
                sandbox::format_args(&template, &rest)?.into()
            }
            Builtin::Fake(f) => f(rng).into(),
        })
    }
}

/// An imported module, as the fast path needs it: its source and AST (for its
/// functions' bodies and its constants).
pub(super) struct Import<'a> {
    pub name: &'a str,
    pub source: &'a str,
    pub ast: &'a AST,
}

impl Native {
    /// The fast form of `ast`, or `None` when any part of it needs Rhai.
    pub(super) fn from_ast(engine: &Engine, ast: &AST, imports: &[Import<'_>]) -> Option<Native> {
        if ast.iter_fn_def().next().is_some() {
            return None;
        }
        let native = top(engine, ast, imports, None)?;
        // Constant arguments make any argument error certain: leave it to Rhai.
        let mut probe = StreamSeed::new(0, "mbscenario/expr/native-probe").record_rng(0);
        native.eval(&mut probe).ok().map(drop)?;
        Some(native)
    }

    /// Evaluates the expression on the record's RNG.
    pub(super) fn eval(&self, rng: &mut RecordRng) -> Fallible<Dynamic> {
        match self {
            Native::Const(v) => Ok(v.clone()),
            Native::Call(f, args) => {
                // Arguments left to right, as Rhai evaluates them; constants borrowed
                // (a constant array is not cloned per call).
                let mut values = Vec::with_capacity(args.len());
                for a in args {
                    values.push(match a {
                        Native::Const(v) => Cow::Borrowed(v),
                        call => Cow::Owned(call.eval(rng)?),
                    });
                }
                f.call(rng, &values)
            }
        }
    }
}

/// The AST's one statement, when it is an expression.
fn top(
    engine: &Engine,
    ast: &AST,
    imports: &[Import<'_>],
    module: Option<&Import<'_>>,
) -> Option<Native> {
    match ast.statements() {
        [Stmt::Expr(e)] => translate(engine, e, imports, module),
        // A bare call at statement level is its own statement kind.
        [Stmt::FnCall(call, _)] => translate_call(engine, call, imports, module),
        _ => None,
    }
}

/// `expr` as a [`Native`]; `module` is the import whose function body this is (its
/// `global::` constants are visible, and its own functions shadow the built-ins).
fn translate(
    engine: &Engine,
    expr: &Expr,
    imports: &[Import<'_>],
    module: Option<&Import<'_>>,
) -> Option<Native> {
    match expr {
        Expr::DynamicConstant(v, _) => Some(Native::Const((**v).clone())),
        Expr::Unit(_) => Some(Native::Const(Dynamic::UNIT)),
        Expr::BoolConstant(b, _) => Some(Native::Const((*b).into())),
        Expr::IntegerConstant(i, _) => Some(Native::Const((*i).into())),
        Expr::FloatConstant(f, _) => Some(Native::Const((**f).into())),
        Expr::StringConstant(s, _) => Some(Native::Const(s.clone().into())),
        Expr::Array(items, _) => {
            // Only arrays of constants: the whole array is then one constant.
            let mut array = Array::with_capacity(items.len());
            for item in items.iter() {
                match translate(engine, item, imports, module)? {
                    Native::Const(v) => array.push(v),
                    Native::Call(..) => return None,
                }
            }
            Some(Native::Const(array.into()))
        }
        Expr::Variable(var, _, _) => {
            // `global::NAME` inside an imported module's function: the module's constant.
            let (_, name, namespace, _) = var.as_ref();
            let module = module?;
            if namespace.path.len() != 1 || namespace.root() != "global" {
                return None;
            }
            global_constant(engine, module, name).map(Native::Const)
        }
        Expr::FnCall(call, _) => translate_call(engine, call, imports, module),
        _ => None,
    }
}

fn translate_call(
    engine: &Engine,
    call: &FnCallExpr,
    imports: &[Import<'_>],
    module: Option<&Import<'_>>,
) -> Option<Native> {
    if call.capture_parent_scope || call.op_token.is_some() {
        return None;
    }
    let args = call
        .args
        .iter()
        .map(|a| translate(engine, a, imports, module))
        .collect::<Option<Vec<_>>>()?;
    let builtin = match call.namespace.path.as_slice() {
        [] => {
            // A module's own function of this name would win over the built-in.
            if module.is_some_and(|m| defines(m.ast, &call.name)) {
                return None;
            }
            Builtin::global(&call.name, args.len())?
        }
        [ns] if ns.as_str() == "fake" => Builtin::fake(&call.name, args.len())?,
        [ns] if module.is_none() && args.is_empty() => {
            let import = imports.iter().find(|i| i.name == ns.as_str())?;
            return module_function(engine, import, &call.name, imports);
        }
        _ => return None,
    };
    Some(Native::Call(builtin, args))
}

/// The value `global::name` has inside the module's functions: its top-level
/// `const name = <constant>;`. Only for modules whose top level is nothing but such
/// constants, so no statement can have changed what a function sees.
fn global_constant(engine: &Engine, module: &Import<'_>, name: &str) -> Option<Dynamic> {
    let mut value = None;
    for stmt in module.ast.statements() {
        let Stmt::Var(var, flags, _) = stmt else {
            return None;
        };
        let (ident, expr, _) = var.as_ref();
        if !flags.contains(ASTFlags::CONSTANT) {
            return None;
        }
        if ident.as_str() == name {
            // No module context: a constant defined from another constant stays on Rhai.
            match translate(engine, expr, &[], None)? {
                Native::Const(v) => value = Some(v),
                Native::Call(..) => return None,
            }
        }
    }
    value
}

/// Whether the module's source defines a function called `name` (any arity).
fn defines(ast: &AST, name: &str) -> bool {
    ast.iter_fn_def().any(|f| f.name.as_str() == name)
}

/// `m::f()`: the body of the import's public, parameterless `fn f() { <expression> }`.
fn module_function(
    engine: &Engine,
    import: &Import<'_>,
    name: &str,
    imports: &[Import<'_>],
) -> Option<Native> {
    let mut defs = import.ast.iter_fn_def().filter(|f| f.name.as_str() == name);
    let def = defs.next()?;
    if defs.next().is_some() || !def.params.is_empty() || def.access != FnAccess::Public {
        return None;
    }
    // Rhai keeps the body's statements out of reach (its type is private), but not
    // its position: take the source between the braces and parse it as one expression.
    let body = between(
        import.source,
        def.body.start_position(),
        def.body.end_position(),
    )?;
    let ast = engine.compile_expression(body).ok()?;
    if ast.iter_fn_def().next().is_some() {
        return None;
    }
    top(engine, &ast, imports, Some(import))
}

/// The text strictly between two positions (`{` and `}`) of `source`.
fn between(source: &str, start: rhai::Position, end: rhai::Position) -> Option<&str> {
    let offset = |p: rhai::Position| -> Option<usize> {
        let (line, col) = (p.line()?, p.position()?);
        let line_start: usize = source
            .split_inclusive('\n')
            .take(line - 1)
            .map(str::len)
            .sum();
        let rest = source.get(line_start..)?;
        // Columns count characters, 1-based.
        rest.char_indices()
            .nth(col - 1)
            .map(|(i, _)| line_start + i)
    };
    let (open, close) = (offset(start)?, offset(end)?);
    if source.get(open..=open)? != "{" || source.get(close..=close)? != "}" {
        return None;
    }
    source.get(open + 1..close)
}
