//! `Scenario`: what a valid scenario file *means*. Units are parsed, paths are
//! resolved against the scenario's folder, defaults are filled in, references
//! between blocks are checked and Avro schemas are loaded. Building one does no
//! network I/O; it only reads the files the scenario names.
//!
//! This file holds the scenario, its streams, phases, setup/teardown steps
//! and assertions; the [`Targets`] (services and their credentials) are in
//! `model/targets.rs` and re-exported here.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

pub use super::spec::ReportFormat;
pub use super::spec::assertions::LatencyMetric;
pub use super::spec::setup::{Compatibility, ConnectorState, SubjectStrategy};
use super::units::Amount;

mod targets;
pub use targets::{AwsKeys, ConnectAccess, KafkaSecurity, Registry, Sasl, Targets};

/// Seed used when neither the file nor `--seed` gives one; printed in every plan.
pub const DEFAULT_SEED: u64 = 1;
/// Workers of the first phase when it does not say.
pub const DEFAULT_WORKERS: u32 = 4;
/// Most workers (lanes) a phase may have, in the file and through steering.
pub const MAX_WORKERS: u32 = 10_000;
/// Most phase × stream combinations in a run: each keeps latency histograms
/// (about 1.4 MB) from the first message to the report.
pub const MAX_PHASE_STREAMS: usize = 512;
/// Messages a phase may have outstanding at once unless it says.
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 10_000;
/// Upper bound of `max_in_flight` (each outstanding message holds its payload).
pub const MAX_IN_FLIGHT_LIMIT: u32 = 1_000_000;

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: Option<String>,
    pub seed: u64,
    pub seed_origin: SeedOrigin,
    pub targets: Targets,
    pub setup: Vec<SetupStep>,
    pub teardown: Vec<TeardownStep>,
    pub streams: Vec<Stream>,
    pub phases: Vec<Phase>,
    pub assertions: Vec<Assertion>,
    pub report: ReportConfig,
    /// Folder the scenario's relative paths were resolved against.
    pub base_dir: PathBuf,
}

/// Where the seed came from (shown in the plan so runs can be reproduced).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SeedOrigin {
    File,
    CommandLine,
    Default,
}

/// Delivery path of a phase.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    KafkaViaConnect,
    DirectSqs,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::KafkaViaConnect => "kafka_via_connect",
            Mode::DirectSqs => "direct_sqs",
        }
    }
}

/// A file path as written in the scenario plus where it resolved to.
#[derive(Debug, Clone, Serialize)]
pub struct FileRef {
    /// As written (relative to the scenario); shown in plans and reports.
    pub written: String,
    #[serde(skip)]
    pub resolved: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Stream {
    pub name: String,
    pub schema_file: FileRef,
    pub schema: Arc<apache_avro::Schema>,
    /// Full name of the top-level record (`namespace.Name`).
    pub record_name: String,
    pub schema_id: Option<u32>,
    pub topic: String,
    pub topic_is_default: bool,
    pub queue: Option<String>,
    pub key: Key,
    pub headers: Vec<(String, String)>,
    pub weight: f64,
    pub imports: Vec<Import>,
    pub overrides: Vec<Override>,
    /// Overrides and imported modules compiled once at load time (`None` without overrides).
    pub compiled: Option<Arc<crate::datagen::expr::CompiledOverrides>>,
    /// Recorded rows replayed instead of random generation.
    pub replay: Option<Replay>,
}

/// A loaded replay file.
#[derive(Debug, Clone)]
pub struct Replay {
    pub file: FileRef,
    pub source: Arc<crate::datagen::ReplaySource>,
}

impl Stream {
    /// How many records the stream can produce at most (`Some` for replays that stop at the end).
    pub fn record_limit(&self) -> Option<u64> {
        let r = self.replay.as_ref()?;
        (r.source.on_end() == crate::datagen::OnEnd::Stop).then(|| r.source.len() as u64)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Key {
    None,
    Random,
    Field { path: Vec<String> },
    Expr { expr: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct Import {
    /// Module name used in expressions (`pokemon` for `generators/pokemon.rhai`).
    pub module: String,
    pub file: FileRef,
}

#[derive(Debug, Clone, Serialize)]
pub struct Override {
    pub path: Vec<String>,
    pub expr: String,
    /// Avro type of the field, for display (`string`, `long`, `union[null,string]`).
    pub field_type: String,
    /// `line:col` of the expression in the scenario file, for run-time errors.
    #[serde(skip)]
    pub at: Option<String>,
}

impl Stream {
    /// Where the override of `field` (`a.b`) is written, as `line:col`.
    pub fn override_location(&self, field: &str) -> Option<&str> {
        self.overrides
            .iter()
            .find(|o| o.path.join(".") == field)
            .and_then(|o| o.at.as_deref())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    pub name: String,
    pub duration: Duration,
    pub load: Load,
    pub workers: u32,
    /// Messages outstanding at once (waiting for a lane or for their answer).
    pub max_in_flight: u32,
    pub mode: Mode,
    /// Indices into [`Scenario::streams`] of the streams active in this phase.
    pub streams: Vec<usize>,
}

/// Open model (a rate shape) or closed model (`max`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Load {
    Rate(RateShape),
    Max,
}

/// Rate shapes in messages per second, offsets from the phase start.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "shape", rename_all = "snake_case")]
pub enum RateShape {
    Constant {
        rate: f64,
    },
    Ramp {
        from: f64,
        to: f64,
    },
    Steps {
        steps: Vec<(Duration, f64)>,
    },
    Idle,
    /// Goal seeking (see [`Seek`]); planned at `from`, steered at run time.
    Seek(Seek),
}

/// A goal-seeking phase: the levels it may try and what makes one sustainable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Seek {
    pub from: f64,
    pub max: f64,
    pub factor: f64,
    #[serde(with = "serde_duration")]
    pub hold: Duration,
    /// Stop bisecting when (bad − good) / good is at most this (a fraction).
    pub precision: f64,
    /// Highest p99 (end to end when arrivals are counted, else send → ack).
    #[serde(with = "serde_opt_duration")]
    pub p99: Option<Duration>,
    pub dropped: Amount,
    pub errors: Amount,
}

impl Seek {
    /// Levels climbed at most (from `from` by `factor`, the last one at `max`).
    pub fn max_climb(&self) -> u32 {
        let mut n = 1;
        let mut r = self.from;
        while r < self.max && n < 64 {
            r = (r * self.factor).min(self.max);
            n += 1;
        }
        n
    }

    /// Bisection steps at most after a failed level.
    pub fn max_bisect(&self) -> u32 {
        // The widest bracket is one factor step: good × factor.
        let mut gap = self.factor - 1.0;
        let mut n = 0;
        while gap > self.precision && n < 64 {
            gap /= 2.0;
            n += 1;
        }
        n
    }

    /// The longest the search can take: every level held, and a recovery pause
    /// (at most one hold) after each failed one.
    pub fn worst_case(&self) -> Duration {
        let levels = self.max_climb() + self.max_bisect();
        self.hold.saturating_mul(levels) + self.hold.saturating_mul(self.max_bisect() + 1)
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SetupStep {
    RegisterSchemas {
        schemas: Vec<SchemaFile>,
        subject_strategy: SubjectStrategy,
        compatibility: Option<Compatibility>,
    },
    EnsureTopics {
        topics: Vec<Topic>,
    },
    CreateQueue {
        name: String,
        fifo: bool,
        attributes: Vec<(String, String)>,
        dead_letter: Option<DeadLetter>,
        purge: bool,
    },
    ApplyConnector {
        name: String,
        config: ConnectorConfig,
        wait: Option<ConnectorWait>,
    },
}

/// An `.avsc` file to register, with its top-level record's full name.
#[derive(Debug, Clone, Serialize)]
pub struct SchemaFile {
    pub file: FileRef,
    pub record_name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Topic {
    pub name: String,
    pub partitions: u32,
    pub replication_factor: u16,
    pub config: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    pub name: String,
    pub max_receive_count: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum ConnectorConfig {
    File {
        file: FileRef,
        config: Vec<(String, String)>,
    },
    Inline {
        config: Vec<(String, String)>,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct ConnectorWait {
    pub state: ConnectorState,
    #[serde(with = "crate::scenario::model::serde_duration")]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TeardownStep {
    DeleteConnector { name: String },
    PauseConnector { name: String },
    DeleteTopics { topics: Vec<String> },
    DeleteQueue { name: String },
    PurgeQueue { name: String },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Assertion {
    Arrivals {
        queue: String,
        expect: Expect,
        tolerance: Amount,
        #[serde(with = "serde_duration")]
        within: Duration,
        phase: Option<String>,
    },
    Throughput {
        phase: Option<String>,
        stream: Option<String>,
        min: ThroughputFloor,
    },
    SustainableRate {
        phase: Option<String>,
        min: f64,
    },
    Latency {
        metric: LatencyMetric,
        percentile: f64,
        #[serde(with = "serde_duration")]
        max: Duration,
        phase: Option<String>,
    },
    Errors {
        max: Amount,
        phase: Option<String>,
    },
    Dropped {
        max: Amount,
        phase: Option<String>,
    },
    Duplicates {
        max: Amount,
        queue: Option<String>,
    },
    QueueDepth {
        queue: String,
        dead_letter: bool,
        max: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    AllAcked,
    Count(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ThroughputFloor {
    /// Percentage of the planned rate.
    PercentOfTarget(f64),
    /// Messages per second.
    Absolute(f64),
}

#[derive(Debug, Clone, Serialize)]
pub struct ReportConfig {
    pub dir: String,
    pub formats: Vec<ReportFormat>,
}

/// Durations serialize as humantime strings (`1m30s`) in JSON output.
pub mod serde_duration {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::scenario::units::format_duration(*d))
    }

    /// Reads what [`serialize`] wrote (reports read back by `report compare`/`merge`).
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        crate::scenario::units::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

/// Optional durations, as [`serde_duration`] (`null` when absent).
pub mod serde_opt_duration {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&crate::scenario::units::format_duration(*d)),
            None => s.serialize_none(),
        }
    }
}
