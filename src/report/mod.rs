//! The run report: one model, several renderings.
//!
//! ```text
//! Plan + RunSummary + Accounting + verdicts + backend snapshots
//!   └─ Report (versioned, stable field order)
//!        ├─ JSON        (machines; `report compare` reads it)
//!        ├─ markdown.rs (people; the console summary is its verdict table)
//!        └─ files.rs    (report.dir/<scenario>-<time>.{json,md})
//! ```
//!
//! Everything time-dependent (start time, durations measured on the wall
//! clock) lives in a few named fields, so snapshot tests can redact exactly
//! those and a virtual-clock run is byte-identical.

pub mod backend;
pub mod compare;
pub mod files;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod merge;
pub mod merge_arrivals;
pub mod merge_error;
pub mod merge_state;

use serde::{Deserialize, Serialize};

use crate::check::{Status, Verdict};
use crate::collect::Accounting;
use crate::engine::RunSummary;
use crate::plan::Plan;

/// Bumped when a field changes meaning or disappears (additions keep it).
pub const REPORT_VERSION: u32 = 1;

// Read back with every field optional (`serde(default)`): a field added
// later keeps `REPORT_VERSION`, so an older report of the same version
// lacks it and must still read.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct Report {
    pub report_version: u32,
    pub tool: String,
    pub scenario: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub seed: u64,
    /// RFC 3339 wall-clock start (the Unix epoch in virtual-clock runs).
    pub started_at: String,
    /// `kafka+sqs`, `null`, `file`, or `virtual`.
    pub sink: String,
    pub passed: bool,
    pub planned_messages: u64,
    pub run: RunSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arrivals: Option<Accounting>,
    pub verdicts: Vec<Verdict>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backend: Vec<backend::Snapshot>,
    /// The regression gate's result when the run had `--baseline`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<compare::Comparison>,
    /// This report is shard I of N of a run (`run --shard`); `merge` holds
    /// what `report merge` needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::plan::Shard>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merge: Option<merge_state::MergeState>,
    /// The shard reports this report was merged from (`report merge`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<merge::Source>,
}

/// Inputs of a report.
pub struct Parts<'a> {
    pub plan: &'a Plan,
    pub description: Option<String>,
    pub started_at: std::time::SystemTime,
    pub sink: &'a str,
    pub summary: RunSummary,
    pub accounting: Option<Accounting>,
    pub verdicts: Vec<Verdict>,
    pub backend: Vec<backend::Snapshot>,
}

impl Report {
    pub fn new(p: Parts<'_>) -> Self {
        let passed = crate::check::passed(&p.verdicts)
            && !p.summary.interrupted
            && p.summary.fatal.is_none();
        Self {
            report_version: REPORT_VERSION,
            tool: format!("mbscenario {}", env!("CARGO_PKG_VERSION")),
            scenario: p.plan.scenario.clone(),
            description: p.description,
            seed: p.plan.seed,
            started_at: humantime::format_rfc3339_seconds(p.started_at).to_string(),
            sink: p.sink.to_string(),
            passed,
            planned_messages: p.plan.expected_messages,
            shard: p.plan.shard,
            merge: merge_state::MergeState::of(
                p.plan,
                &p.summary,
                p.accounting.as_ref(),
                p.started_at,
            ),
            merged_from: Vec::new(),
            run: p.summary,
            arrivals: p.accounting,
            verdicts: p.verdicts,
            backend: p.backend,
            baseline: None,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    pub fn failed_verdicts(&self) -> impl Iterator<Item = &Verdict> {
        self.verdicts.iter().filter(|v| v.status == Status::Failed)
    }
}
