//! Assertions (pass/fail checks), each tagged with `type:`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::scalars::{AmountSpec, DurationStr};

/// A check evaluated after the run; any failure makes the exit code 1.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AssertionSpec {
    /// Messages counted at an SQS queue by event id.
    Arrivals {
        /// Queue where arrivals are counted.
        queue: String,
        /// `all_acked` (every acknowledged send) or an absolute count. Default `all_acked`.
        #[serde(default)]
        expect: Option<ExpectSpec>,
        /// Allowed shortfall: a count or a percentage. Default 0.
        #[serde(default)]
        tolerance: Option<AmountSpec>,
        /// Settle time after the last phase. Default `30s`.
        #[serde(default)]
        within: Option<DurationStr>,
        /// Check one phase only.
        #[serde(default)]
        phase: Option<String>,
    },
    /// Achieved send rate.
    Throughput {
        /// Phase to check. Default: every rate-limited phase.
        #[serde(default)]
        phase: Option<String>,
        /// Stream to check. Default: all streams together.
        #[serde(default)]
        stream: Option<String>,
        /// Floor: a percentage of the target (`95%`) or an absolute rate (`190/s`).
        min: String,
    },
    /// The rate a `seek` phase found sustainable.
    SustainableRate {
        /// The `seek` phase. Default: the scenario's only one.
        #[serde(default)]
        phase: Option<String>,
        /// Floor, e.g. `2k/s`.
        min: String,
    },
    /// Latency percentile bound.
    Latency {
        /// `send_ack` (producer acknowledgement) or `end_to_end` (send → arrival at SQS: the queue's `SentTimestamp`, not our receive).
        metric: LatencyMetric,
        /// Percentile: `p50`, `p99`, `p99.9`.
        percentile: String,
        /// Upper bound.
        max: DurationStr,
        /// Check one phase only.
        #[serde(default)]
        phase: Option<String>,
    },
    /// Failed sends.
    Errors {
        /// A count or a percentage of scheduled messages.
        max: AmountSpec,
        /// Check one phase only.
        #[serde(default)]
        phase: Option<String>,
    },
    /// Scheduled messages dropped because no worker was free.
    Dropped {
        /// A count or a percentage of scheduled messages.
        max: AmountSpec,
        /// Check one phase only.
        #[serde(default)]
        phase: Option<String>,
    },
    /// Messages that arrived more than once.
    Duplicates {
        /// A count or a percentage of arrivals.
        max: AmountSpec,
        /// Queue where arrivals are counted. Default: every counted queue.
        #[serde(default)]
        queue: Option<String>,
    },
    /// Depth of a queue (or its dead-letter queue) at the end of the run.
    QueueDepth {
        /// Queue name.
        queue: String,
        /// Check the queue's dead-letter queue instead.
        #[serde(default)]
        dead_letter: Option<bool>,
        /// Maximum number of visible + in-flight messages.
        max: u64,
    },
}

/// What an `arrivals` assertion expects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ExpectSpec {
    /// An absolute number of messages.
    Count(u64),
    /// `all_acked`: every acknowledged send must arrive.
    Keyword(ExpectKeyword),
}

/// Keyword values of `expect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExpectKeyword {
    AllAcked,
}

/// Latency metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LatencyMetric {
    SendAck,
    EndToEnd,
}
