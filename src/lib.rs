//! mbscenario: declarative load scenarios for Kafka → Kafka Connect → SQS pipelines.
//!
//! Map of the crate (data flows top to bottom):
//!
//! ```text
//! scenario.yaml
//!   └─ scenario::load_file ── YAML with spans → JSON-Schema check → ScenarioSpec
//!                             → validate → Scenario           (no network)
//!        └─ plan::Plan::compile ── phases with offsets, rate curves,
//!                                  infra steps, assertions      (pure)
//!             └─ `mbscenario plan` prints plan::describe
//! ```
//!
//! - [`scenario`]: the file format, located diagnostics, validation
//! - [`plan`]: the immutable timed plan and its text form
//! - [`datagen`]: record *n* of a stream as a pure function of (seed, stream, n)
//! - [`encode`]: Confluent wire format for Kafka payloads
//! - [`engine`]: the run: schedule → workers → sinks → recorder → RunSummary
//! - [`sink`]: the destinations — Kafka, SQS, memory, file, Avro files, null
//! - [`infra`]: setup/teardown of schemas, topics, queues, connectors
//! - [`collect`]: arrivals counted at SQS (event ids decode to stream and
//!   record number; bitmaps, no per-message table); [`check`]: assertions →
//!   verdicts; [`report`]: JSON / Markdown / HTML / JUnit, compare
//! - [`stats`]: the latency histogram and percentiles — a leaf that `engine`,
//!   `collect` and `report` share, so none of them imports another for it
//! - [`control`]: the runtime control API; [`telemetry`]: metrics and logs
//! - [`cli`]: clap types; [`ops`]: one function per command (`ops::run` is the
//!   run harness, stage by stage); [`exit`]: exit codes; [`failure`]: the one
//!   error type of the commands, printed once by `main`

pub mod check;
pub mod cli;
pub mod collect;
pub mod control;
pub mod datagen;
pub mod encode;
pub mod engine;
pub mod exit;
pub mod failure;
pub mod infra;
pub mod ops;
pub mod plan;
pub mod report;
pub mod scenario;
pub mod sink;
pub mod stats;
pub mod telemetry;
