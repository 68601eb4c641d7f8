//! One function per command; glue between the CLI, the library and stdout.
//! Each returns an [`Outcome`]: an exit code when the command did its job
//! (whatever it found), a [`crate::failure::Failure`] when it could not.
//!
//! - [`run`]: the run harness, stage by stage (its module doc is the map)
//! - [`finish`]: verdicts → report → files → exit code (real, virtual and merged runs)
//! - [`virtual_run`]: the paused-clock run; [`shard`]: `--start-at`
//! - [`infra`]: `setup` / `teardown`; [`merge`]: `report merge`; [`ctl`]: the
//!   control API's client; [`sample`], [`init`]

pub mod ctl;
pub mod finish;
pub mod infra;
pub mod init;
pub mod merge;
pub mod run;
pub mod sample;
pub mod shard;
pub mod virtual_run;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;

use crate::cli::{Cli, Color, Command, GateArgs, PlanFormat, ReportCommand, ScenarioArgs};
use crate::exit::Exit;
use crate::failure::Outcome;
use crate::plan::{Plan, describe::describe};
use crate::scenario::{self, Diagnostics, LoadOptions, Scenario, ValidateOptions, Vars};

/// Runs a parsed command line.
pub fn dispatch(cli: Cli) -> Outcome {
    // `--color` wins; `auto` means a terminal and no `NO_COLOR` (https://no-color.org).
    let fancy = match cli.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    crate::telemetry::logs::init(
        crate::telemetry::logs::LogFormat::resolve(cli.log_format),
        fancy,
    );
    match cli.command {
        Command::Validate { files, args } => Ok(validate(&files, &args, fancy)),
        Command::Plan {
            file,
            format,
            per_second,
            shard,
            args,
        } => Ok(plan(&file, format, per_second, shard, &args, fancy)),
        Command::Sample {
            file,
            stream,
            count,
            from,
            format,
            args,
        } => {
            let Ok(scenario) = load(&file, &args, fancy) else {
                return Ok(Exit::Invalid);
            };
            let mut out = std::io::stdout().lock();
            Ok(sample::sample(
                &file,
                &scenario,
                stream.as_deref(),
                from,
                count,
                format,
                &mut out,
            ))
        }
        Command::Schema { report } => {
            println!(
                "{}",
                if report {
                    report_schema_json()
                } else {
                    schema_json()
                }
            );
            Ok(Exit::Passed)
        }
        Command::Run(args) => {
            // Flags first: a bad combination needs no scenario to be reported.
            let opts = run::RunOptions::resolve(&args)?;
            let Ok(scenario) = load(&args.file, &args.args, fancy) else {
                return Ok(Exit::Invalid);
            };
            run::run(&args.file, &scenario, &opts)
        }
        Command::Report {
            command:
                ReportCommand::Compare {
                    base,
                    current,
                    gate,
                },
        } => Ok(compare(&base, &current, &gate)),
        Command::Report {
            command:
                ReportCommand::Merge {
                    reports,
                    scenario,
                    report_dir,
                    args,
                },
        } => Ok(merge::merge(
            &reports,
            scenario.as_deref(),
            report_dir.as_deref(),
            &args,
            fancy,
        )),
        Command::Ctl {
            action,
            addr,
            token,
            json,
        } => Ok(ctl::ctl(&action, &addr, token.as_deref(), json)),
        Command::Init {
            output,
            schema,
            topic,
            queue,
            force,
        } => Ok(init::init(&init::InitOptions {
            output,
            schema,
            topic,
            queue,
            force,
        })),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "mbscenario", &mut std::io::stdout());
            Ok(Exit::Passed)
        }
        Command::Setup { file, infra, args } => {
            let Ok(scenario) = load(&file, &args, fancy) else {
                return Ok(Exit::Invalid);
            };
            infra::setup_cmd(&scenario, &infra::options(&infra, &args))
        }
        Command::Teardown { file, infra, args } => {
            let Ok(scenario) = load(&file, &args, fancy) else {
                return Ok(Exit::Invalid);
            };
            infra::teardown_cmd(&scenario, &infra::options(&infra, &args))
        }
    }
}

/// The JSON Schema of the JSON report (committed as `docs/report.schema.json`).
pub fn report_schema_json() -> String {
    // The report as written: every field is always there, so no defaults
    // (reading back is lenient, see `Report`; that is not what a file promises).
    let mut settings = schemars::generate::SchemaSettings::default().for_serialize();
    settings
        .transforms
        .push(Box::new(schemars::transform::RecursiveTransform(
            |s: &mut schemars::Schema| {
                s.remove("default");
            },
        )));
    let schema = settings
        .into_generator()
        .into_root_schema_for::<crate::report::Report>();
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}

/// The scenario JSON Schema, pretty-printed with a trailing newline-free body.
pub fn schema_json() -> String {
    serde_json::to_string_pretty(&scenario::editor_schema::editor_schema()).unwrap_or_default()
}

pub(crate) fn options(args: &ScenarioArgs) -> LoadOptions {
    let vars: BTreeMap<String, String> = args.set.iter().cloned().collect();
    LoadOptions {
        vars: Vars::from_env(vars),
        validate: ValidateOptions { seed: args.seed },
    }
}

/// Loads a scenario, printing its diagnostics on failure.
pub(crate) fn load(file: &Path, args: &ScenarioArgs, fancy: bool) -> Result<Scenario, Diagnostics> {
    let shown = file.display().to_string();
    scenario::load_file(file, &shown, &options(args))
        .inspect(crate::telemetry::secrets::register_scenario)
        .inspect_err(|d| print_diagnostics(d, fancy))
}

fn print_diagnostics(d: &Diagnostics, fancy: bool) {
    if crate::telemetry::logs::is_json() {
        // One event per problem, located, instead of rendered text.
        for item in &d.items {
            let (line, col) = item.span.map_or((0, 0), |s| (s.line, s.col));
            tracing::error!(
                event = "Diagnostic",
                file = %d.file.name,
                line,
                col,
                pointer = %item.pointer,
                help = item.help.as_deref().unwrap_or_default(),
                "{}",
                item.message
            );
        }
        return;
    }
    // Source excerpts quote the file: a URL with pasted credentials is masked.
    if fancy {
        eprint!("{}", mask(&d.render_fancy()));
        eprintln!(
            "{}: {} problem(s); nothing was run",
            d.file.name,
            d.error_count()
        );
    } else {
        eprint!("{}", mask(&d.render_plain()));
    }
}

fn validate(files: &[std::path::PathBuf], args: &ScenarioArgs, fancy: bool) -> Exit {
    let mut worst = Exit::Passed;
    for f in files {
        match load(f, args, fancy) {
            Ok(s) => {
                let plan = Plan::compile(&s);
                println!(
                    "{}: ok ({} stream{}, {} phase{}, {} messages planned)",
                    f.display(),
                    s.streams.len(),
                    if s.streams.len() == 1 { "" } else { "s" },
                    s.phases.len(),
                    if s.phases.len() == 1 { "" } else { "s" },
                    crate::plan::describe::group(plan.expected_messages)
                );
            }
            Err(_) => worst = Exit::Invalid,
        }
    }
    worst
}

use crate::telemetry::secrets::mask;

fn plan(
    file: &Path,
    format: PlanFormat,
    per_second: bool,
    shard: Option<crate::plan::Shard>,
    args: &ScenarioArgs,
    fancy: bool,
) -> Exit {
    let Ok(s) = load(file, args, fancy) else {
        return Exit::Invalid;
    };
    let plan = match shard {
        Some(sh) => Plan::compile(&s).for_shard(sh),
        None => Plan::compile(&s),
    };
    match format {
        PlanFormat::Text => print!("{}", mask(&describe(&plan, per_second))),
        PlanFormat::Json => println!(
            "{}",
            mask(&serde_json::to_string_pretty(&plan).unwrap_or_default())
        ),
    }
    Exit::Passed
}

/// `  --> FILE:LINE:COL` for an override failing at run time, when known.
/// `specs`: the validated streams (`Plan::specs`, or a scenario's streams).
pub(crate) fn expr_location(
    file: &Path,
    specs: &[crate::scenario::model::Stream],
    err: &crate::datagen::expr::ExprError,
) -> Option<String> {
    use crate::datagen::expr::ExprError;
    let (stream, field) = match err {
        ExprError::Runtime { stream, field, .. } => (stream.as_str(), field.as_str()),
        ExprError::TypeMismatch(m) => (m.stream.as_str(), m.field.as_str()),
        _ => return None,
    };
    let at = specs
        .iter()
        .find(|s| s.name == stream)?
        .override_location(field)?;
    Some(format!("  --> {}:{at}", file.display()))
}

pub(crate) fn bounds(g: &GateArgs) -> crate::report::compare::Bounds {
    crate::report::compare::Bounds {
        max_regression: g.max_regression,
        latency_floor: g.latency_floor,
        allow_steered: g.allow_steered,
    }
}

/// `mbscenario report compare`.
fn compare(base: &Path, current: &Path, gate: &GateArgs) -> Exit {
    let read = |p: &Path| finish::read_report(p);
    let (b, c) = match (read(base), read(current)) {
        (Ok(b), Ok(c)) => (b, c),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return Exit::Invalid;
        }
    };
    match crate::report::compare::compare(&b, &c, bounds(gate)) {
        Ok(cmp) => {
            print!("{}", crate::report::compare::render(&cmp));
            if cmp.regressions() == 0 {
                Exit::Passed
            } else {
                Exit::AssertionFailed
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Invalid
        }
    }
}
