//! The parts of [`super::CompiledOverrides::compile`]: a stream's imported
//! modules, then each override against the schema.

use super::evaluate::describe_eval_error;
use super::*;
use rhai::Scope;

/// The stream's imported Rhai modules, each compiled by an engine that knows
/// the modules imported before it (so later imports may build on earlier
/// ones), with their sources and ASTs for the native fast path; problems go
/// to `errors`.
#[allow(clippy::type_complexity)]
pub(super) fn modules(
    stream: &impl OverrideSource,
    slot: &sandbox::SharedRng,
    errors: &mut Vec<ExprError>,
) -> (Vec<(String, Arc<Module>)>, Vec<(String, AST)>) {
    let name = stream.stream_name();
    let mut modules: Vec<(String, Arc<Module>)> = Vec::new();
    let mut sources: Vec<(String, AST)> = Vec::new();
    for (module_name, written, resolved) in stream.imports() {
        let fail = |message: String| ExprError::Module {
            stream: name.to_string(),
            module: module_name.to_string(),
            file: written.to_string(),
            message,
        };
        if module_name == "fake" || modules.iter().any(|(m, _)| *m == module_name) {
            errors.push(fail(format!(
                "the module name `{module_name}` is already taken (built-in or imported twice)"
            )));
            continue;
        }
        let source = match std::fs::read_to_string(resolved) {
            Ok(s) => s,
            Err(e) => {
                errors.push(fail(format!("cannot read the file: {e}")));
                continue;
            }
        };
        let engine = sandbox::build_engine(slot, &modules);
        let module = engine
            .compile(&source)
            .map_err(|e| e.to_string())
            .and_then(|ast| {
                Module::eval_ast_as_new(Scope::new(), &ast, &engine)
                    .map(|m| (m, ast))
                    .map_err(|e| describe_eval_error(&e))
            });
        match module {
            Ok((m, ast)) => {
                modules.push((module_name.to_string(), m.into()));
                sources.push((source, ast));
            }
            Err(message) => errors.push(fail(message)),
        }
    }
    (modules, sources)
}

/// One override: its field must exist in the schema, its expression must
/// compile; `fast` finds its native form where there is one.
pub(super) fn one_override(
    stream: &str,
    types: &Types,
    engine: &Engine,
    fast: &impl Fn(&AST) -> Option<native::Native>,
    path: &[String],
    expr: &str,
) -> Result<CompiledOverride, ExprError> {
    let field = path.join(".");
    let Some(schema) = types.field(path) else {
        return Err(ExprError::UnknownField {
            stream: stream.to_string(),
            field,
        });
    };
    match engine.compile(expr) {
        Ok(ast) => Ok(CompiledOverride {
            native: fast(&ast),
            path: path.to_vec(),
            field,
            uses_record: expr.contains("record"),
            uses_default: expr.contains("default"),
            expr: expr.to_string(),
            ast,
            schema: schema.clone(),
        }),
        Err(e) => Err(ExprError::Syntax {
            stream: stream.to_string(),
            field,
            expr: expr.to_string(),
            message: e.to_string(),
        }),
    }
}
