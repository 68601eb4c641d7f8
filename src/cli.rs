//! Command-line interface types (clap). Behaviour lives in [`crate::ops`].

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Declarative load scenarios for Kafka → Kafka Connect → SQS pipelines.
///
/// Exit codes: 0 passed, 1 an assertion failed, 2 invalid scenario or usage,
/// 3 infrastructure or runtime failure.
#[derive(Debug, Parser)]
#[command(name = "mbscenario", version, about, long_about = None)]
pub struct Cli {
    /// When to draw diagnostics with colour and source graphics.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    pub color: Color,
    /// Log lines as human text (default) or JSON lines (also `LOG_JSON=true`).
    #[arg(long, value_enum, global = true)]
    pub log_format: Option<crate::telemetry::logs::LogFormat>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// Graphical on a terminal, plain text otherwise.
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SampleFormat {
    Json,
    Hex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
}

/// Options that change how a scenario file is read.
#[derive(Debug, Clone, clap::Args)]
pub struct ScenarioArgs {
    /// Set a variable for `${VAR}` interpolation (wins over the environment).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub set: Vec<(String, String)>,
    /// Override the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
}

// `Run` carries most flags; the enum is parsed once per process, so its size
// does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check scenario files; report every problem with file:line:col.
    Validate {
        /// Scenario files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        args: ScenarioArgs,
    },
    /// Print the timed plan: phases, rates, expected counts, infra steps, assertions.
    Plan {
        /// Scenario file.
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
        format: PlanFormat,
        /// Add the second-by-second target table (text format).
        #[arg(long)]
        per_second: bool,
        /// The plan of one shard (`INDEX/COUNT`) of a sharded run.
        #[arg(long, value_name = "INDEX/COUNT")]
        shard: Option<crate::plan::Shard>,
        #[command(flatten)]
        args: ScenarioArgs,
    },
    /// Print the scenario JSON Schema (for editors: yaml-language-server).
    Schema {
        /// Print the JSON Schema of the JSON report instead.
        #[arg(long)]
        report: bool,
    },
    /// Print generated records of a stream (deterministic: same seed, same records).
    Sample {
        /// Scenario file.
        file: PathBuf,
        /// Stream to sample. Default: the first stream.
        #[arg(long)]
        stream: Option<String>,
        /// Number of records.
        #[arg(short = 'n', long, default_value_t = 5)]
        count: u64,
        /// First sequence number.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Output: JSON lines (the direct-SQS body) or hex of the Kafka payload (Confluent wire format).
        #[arg(long, value_enum, default_value_t = SampleFormat::Json)]
        format: SampleFormat,
        #[command(flatten)]
        args: ScenarioArgs,
    },
    /// Run a scenario: setup, phases against Kafka/SQS (or `--sink null|file:DIR|avro:DIR|virtual`),
    /// arrival counting at the queues, assertions, reports.
    Run(RunArgs),
    /// Steer a run started with `--control`: status, rate, pause, resume, workers, mode, stop.
    Ctl {
        #[command(subcommand)]
        action: CtlAction,
        /// Control API address of the run.
        #[arg(long, global = true, env = "MBSCENARIO_CONTROL_ADDR", default_value = DEFAULT_CONTROL_ADDR)]
        addr: String,
        /// Bearer token (prefer the environment variable: command lines are visible to other users).
        #[arg(
            long,
            global = true,
            env = "MBSCENARIO_CONTROL_TOKEN",
            hide_env_values = true
        )]
        token: Option<String>,
        /// Print the API's JSON answer instead of text.
        #[arg(long, global = true)]
        json: bool,
    },
    /// Work with reports: `report compare BASE.json CURRENT.json`, `report merge SHARD.json…`.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Write a commented starter scenario that validates (plus the JSON Schema for editors and,
    /// without --schema, an example Avro schema).
    Init {
        /// The scenario file to write.
        #[arg(long, short, default_value = "scenario.yaml")]
        output: PathBuf,
        /// Your Avro schema (.avsc); default: an example one written beside the scenario.
        #[arg(long, value_name = "FILE.avsc")]
        schema: Option<PathBuf>,
        /// Kafka topic.
        #[arg(long)]
        topic: Option<String>,
        /// SQS queue (arrivals are counted there).
        #[arg(long)]
        queue: Option<String>,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
    /// Print a shell completion script: `mbscenario completions bash > /etc/bash_completion.d/mbscenario`
    /// (zsh: into a directory of `$fpath` as `_mbscenario`; fish: `~/.config/fish/completions/`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Run the scenario's `setup:` steps: schemas, topics, queues, connectors.
    Setup {
        /// Scenario file.
        file: PathBuf,
        #[command(flatten)]
        infra: InfraArgs,
        #[command(flatten)]
        args: ScenarioArgs,
    },
    /// Run the scenario's `teardown:` steps.
    Teardown {
        /// Scenario file.
        file: PathBuf,
        #[command(flatten)]
        infra: InfraArgs,
        #[command(flatten)]
        args: ScenarioArgs,
    },
}

/// `mbscenario run`'s flags, as typed; `ops::run::RunOptions::resolve` turns
/// them (and how they interact) into what the run does.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Scenario file.
    pub file: PathBuf,
    /// Send to `null` (discard), `file:DIR` (JSON lines per route), `avro:DIR`
    /// (Avro container file per topic) or `virtual` (paused clock: the whole
    /// run in a moment; `virtual:5000/s` models a pipeline of that capacity)
    /// instead of Kafka/SQS.
    #[arg(long, value_name = "null|file:DIR|avro:DIR|virtual[:CAPACITY]", value_parser = parse_sink)]
    pub sink: Option<SinkArg>,
    /// How long in-flight sends may finish after the last phase or Ctrl-C / SIGTERM;
    /// after a Ctrl-C it also bounds settling and `--teardown` (a second Ctrl-C
    /// stops at once).
    #[arg(long, default_value = "10s", value_parser = parse_grace)]
    pub grace: std::time::Duration,
    /// Also write the run summary as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Compare with this earlier JSON report; a regression fails the run (exit 1).
    #[arg(long, value_name = "BASE.json")]
    pub baseline: Option<PathBuf>,
    #[command(flatten)]
    pub gate: GateArgs,
    /// Write the report here instead of the scenario's `report.dir`.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// Skip the scenario's `setup:` steps (the infrastructure is already there).
    #[arg(long)]
    pub no_setup: bool,
    /// Do not count arrivals at the queues (someone else consumes them); arrival
    /// assertions are then skipped.
    #[arg(long)]
    pub no_arrivals: bool,
    /// Run the scenario's `teardown:` steps after the run (each step retries for
    /// at most 15 s; Ctrl-C stops it).
    #[arg(long)]
    pub teardown: bool,
    #[command(flatten)]
    pub infra: InfraArgs,
    #[command(flatten)]
    pub control: ControlArgs,
    #[command(flatten)]
    pub shard: ShardArgs,
    #[command(flatten)]
    pub args: ScenarioArgs,
}

/// Where `run --control` listens without an address, and where `ctl` looks.
pub const DEFAULT_CONTROL_ADDR: &str = "127.0.0.1:7979";

/// The control plane of `run`.
#[derive(Debug, Clone, clap::Args)]
pub struct ControlArgs {
    /// Serve the control API (status, rate, pause, resume, workers, mode, stop) on
    /// ADDR: `PORT` (loopback), `HOST:PORT`; a non-loopback address needs a token.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = DEFAULT_CONTROL_ADDR)]
    pub control: Option<crate::control::ListenAddr>,
    /// Bearer token the control API requires (prefer the environment variable).
    #[arg(
        long,
        env = "MBSCENARIO_CONTROL_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub control_token: Option<String>,
    /// Serve Prometheus metrics at http://ADDR/metrics (`PORT` binds loopback).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<crate::control::ListenAddr>,
}

/// `mbscenario ctl` actions.
#[derive(Debug, Clone, Subcommand)]
pub enum CtlAction {
    /// Phase, per-stream target and achieved rates, counts, errors, changes so far.
    Status,
    /// Set the rate (`500/s`, `15k/min` or a number of msgs/s) until the phase ends.
    Rate {
        /// The rate; omit with --reset.
        #[arg(required_unless_present = "reset")]
        rate: Option<String>,
        /// Only this stream (default: the phase, split by the streams' shares).
        #[arg(long)]
        stream: Option<String>,
        /// Back to the planned rate.
        #[arg(long, conflicts_with = "rate")]
        reset: bool,
    },
    /// Stop scheduling (one stream or all) until resumed.
    Pause {
        #[arg(long)]
        stream: Option<String>,
    },
    /// Resume at the plan's current point.
    Resume {
        #[arg(long)]
        stream: Option<String>,
    },
    /// Resize the phase's workers until it ends.
    Workers {
        #[arg(required_unless_present = "reset")]
        workers: Option<u32>,
        /// Back to the planned worker count.
        #[arg(long, conflicts_with = "workers")]
        reset: bool,
    },
    /// Switch the delivery mode until the phase ends.
    Mode {
        #[arg(required_unless_present = "reset", value_enum)]
        mode: Option<ModeArg>,
        #[arg(long)]
        stream: Option<String>,
        /// Back to the planned mode.
        #[arg(long, conflicts_with = "mode")]
        reset: bool,
    },
    /// Stop the run gracefully (the report is still written).
    Stop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum ModeArg {
    KafkaViaConnect,
    DirectSqs,
}

/// Sharded runs (many machines acting as one generator).
#[derive(Debug, Clone, clap::Args)]
pub struct ShardArgs {
    /// Run shard INDEX of COUNT (0-based): the records n ≡ INDEX (mod COUNT) of
    /// every stream, at the unsharded run's instants. Shard 0 runs the setup;
    /// the others wait until it is in place.
    #[arg(long, value_name = "INDEX/COUNT", conflicts_with = "shards")]
    pub shard: Option<crate::plan::Shard>,
    /// Number of shards, with the index from JOB_COMPLETION_INDEX (Kubernetes
    /// Indexed Jobs).
    #[arg(long, value_name = "COUNT")]
    pub shards: Option<u32>,
    /// Start the first phase at this wall-clock time (RFC 3339), so shards on
    /// many machines start together; setup happens before it.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub start_at: Option<std::time::SystemTime>,
}

fn parse_time(s: &str) -> Result<std::time::SystemTime, String> {
    humantime::parse_rfc3339_weak(s.trim()).map_err(|e| {
        format!("`{s}` is not an RFC 3339 time ({e}); e.g. `2026-11-22T14:00:00Z` or `date -u -d '+2 min' +%FT%TZ`")
    })
}

/// Report tools.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Compare two JSON reports phase by phase: throughput and p99 latencies.
    /// Exit 1 when CURRENT is worse than BASE beyond --max-regression.
    Compare {
        /// The baseline report (JSON).
        base: PathBuf,
        /// The report to check (JSON).
        current: PathBuf,
        #[command(flatten)]
        gate: GateArgs,
    },
    /// Merge the reports of the shards of one run (`run --shard I/N`) into one
    /// report, as if one process had run; assertions are evaluated again.
    Merge {
        /// Shard reports (JSON), one per shard.
        #[arg(required = true)]
        reports: Vec<PathBuf>,
        /// The scenario the shards ran (default: the path recorded in the reports).
        #[arg(long, value_name = "FILE")]
        scenario: Option<PathBuf>,
        /// Write the merged report here instead of the scenario's `report.dir`.
        #[arg(long, value_name = "DIR")]
        report_dir: Option<PathBuf>,
        #[command(flatten)]
        args: ScenarioArgs,
    },
}

/// Bounds of the regression gate.
#[derive(Debug, Clone, clap::Args)]
pub struct GateArgs {
    /// Largest allowed worsening: throughput drop or p99 latency rise, in percent.
    #[arg(long, default_value = "10%", value_parser = parse_percent)]
    pub max_regression: f64,
    /// Latency changes smaller than this are noise, never a regression.
    #[arg(long, default_value = "1ms", value_parser = parse_grace)]
    pub latency_floor: std::time::Duration,
    /// Compare even when a report was steered at runtime (its numbers do not
    /// follow the scenario alone).
    #[arg(long)]
    pub allow_steered: bool,
}

fn parse_percent(s: &str) -> Result<f64, String> {
    let t = s.trim().trim_end_matches('%');
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("`{s}` is not a percentage; e.g. `10%`")),
    }
}

/// Options of the commands that talk to the infrastructure.
#[derive(Debug, Clone, clap::Args)]
pub struct InfraArgs {
    /// How long each setup/teardown step waits for its service to answer.
    #[arg(long, default_value = "2m", value_parser = parse_grace)]
    pub setup_timeout: std::time::Duration,
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got `{s}`")),
    }
}

/// `--sink` values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkArg {
    Null,
    File(PathBuf),
    /// Avro object container files per topic (Kafka route), JSON lines for SQS.
    Avro(PathBuf),
    /// Paused clock, instant acks, every acked message counted as arrived:
    /// the whole run in a moment, for previews and snapshot tests. With a
    /// capacity (`virtual:5000/s`) the modelled pipeline serves at most that
    /// many messages per second and queues the rest (what `seek` phases probe).
    Virtual {
        capacity: Option<NotNan>,
    },
}

/// A positive, finite msgs/s value that can be compared for equality.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NotNan(pub f64);

impl Eq for NotNan {}

fn parse_sink(s: &str) -> Result<SinkArg, String> {
    match s {
        "null" => Ok(SinkArg::Null),
        "virtual" => Ok(SinkArg::Virtual { capacity: None }),
        _ if s.starts_with("virtual:") => {
            let text = &s["virtual:".len()..];
            match crate::scenario::units::parse_rate(text) {
                Ok(crate::scenario::units::RateValue::PerSecond(v)) if v > 0.0 && v.is_finite() => {
                    Ok(SinkArg::Virtual {
                        capacity: Some(NotNan(v)),
                    })
                }
                _ => Err(format!(
                    "`virtual:` takes the modelled pipeline's capacity, e.g. `virtual:5000/s` (got `{text}`)"
                )),
            }
        }
        _ => match (s.strip_prefix("file:"), s.strip_prefix("avro:")) {
            (Some(dir), _) if !dir.is_empty() => Ok(SinkArg::File(PathBuf::from(dir))),
            (_, Some(dir)) if !dir.is_empty() => Ok(SinkArg::Avro(PathBuf::from(dir))),
            _ => Err(format!(
                "expected `null`, `virtual`, `virtual:CAPACITY/s`, `file:DIR` or `avro:DIR`, got `{s}`"
            )),
        },
    }
}

fn parse_grace(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("`{s}` is not a duration ({e}); e.g. `10s`"))
}
