//! Text of setup / teardown steps and assertions for `mbscenario plan`.

use std::fmt::Write as _;

use super::Plan;
use crate::scenario::model::{
    Assertion, ConnectorConfig, DeadLetter, Expect, LatencyMetric, SetupStep, TeardownStep,
    ThroughputFloor, Topic,
};
use crate::scenario::units::{format_duration, format_number, format_rate};

use super::describe::group;

pub(super) fn setup_text(step: &SetupStep, subjects: &[(String, String)]) -> String {
    match step {
        SetupStep::RegisterSchemas {
            subject_strategy,
            compatibility,
            ..
        } => {
            let compat = compatibility
                .map(|c| format!(", compatibility {}", snake(&format!("{c:?}"))))
                .unwrap_or_default();
            let list = subjects
                .iter()
                .map(|(f, s)| format!("{f} → {s}"))
                .collect::<Vec<_>>()
                .join("; ");
            format!(
                "register_schemas  {list} (subjects by {}{compat})",
                snake(&format!("{subject_strategy:?}"))
            )
        }
        SetupStep::EnsureTopics { topics } => format!(
            "ensure_topics     {}",
            topics.iter().map(topic_text).collect::<Vec<_>>().join("; ")
        ),
        SetupStep::CreateQueue {
            name,
            fifo,
            attributes,
            dead_letter,
            purge,
        } => format!(
            "create_queue      {name} ({})",
            queue_text(*fifo, attributes, dead_letter.as_ref(), *purge)
        ),
        SetupStep::ApplyConnector { name, config, wait } => {
            let from = connector_source_text(config);
            let wait = wait
                .as_ref()
                .map(|w| {
                    format!(
                        "; wait until {} (timeout {})",
                        format!("{:?}", w.state).to_lowercase(),
                        format_duration(w.timeout)
                    )
                })
                .unwrap_or_default();
            format!("apply_connector   {name} {from}{wait}")
        }
    }
}

/// `name (N partitions, replication R, k=v…)` of an `ensure_topics` step.
fn topic_text(t: &Topic) -> String {
    let mut s = format!(
        "{} ({} partition{}, replication {}",
        t.name,
        t.partitions,
        if t.partitions == 1 { "" } else { "s" },
        t.replication_factor
    );
    for (k, v) in &t.config {
        let _ = write!(s, ", {k}={v}");
    }
    s.push(')');
    s
}

/// What a `create_queue` step makes (inside its parentheses): kind,
/// attributes, dead-letter queue, purge.
fn queue_text(
    fifo: bool,
    attributes: &[(String, String)],
    dead_letter: Option<&DeadLetter>,
    purge: bool,
) -> String {
    let mut s = String::from(if fifo { "fifo" } else { "standard" });
    for (k, v) in attributes {
        let _ = write!(s, ", {k}={v}");
    }
    if let Some(d) = dead_letter {
        let _ = write!(
            s,
            ", dead letters to {} after {} receives",
            d.name, d.max_receive_count
        );
    }
    if purge {
        s.push_str(", purged before the run");
    }
    s
}

/// Where an `apply_connector` step's config comes from: its file (and class) or inline.
fn connector_source_text(config: &ConnectorConfig) -> String {
    match config {
        ConnectorConfig::File { file, config } => {
            let class = config
                .iter()
                .find(|(k, _)| k == "connector.class")
                .map(|(_, v)| format!(", class {v}"))
                .unwrap_or_default();
            format!("from {}{class}", file.written)
        }
        ConnectorConfig::Inline { config } => {
            format!("inline config ({} settings)", config.len())
        }
    }
}

pub(super) fn teardown_text(s: &TeardownStep) -> String {
    match s {
        TeardownStep::DeleteConnector { name } => format!("delete_connector  {name}"),
        TeardownStep::PauseConnector { name } => format!("pause_connector   {name}"),
        TeardownStep::DeleteTopics { topics } => format!("delete_topics     {}", topics.join(", ")),
        TeardownStep::DeleteQueue { name } => format!("delete_queue      {name}"),
        TeardownStep::PurgeQueue { name } => format!("purge_queue       {name}"),
    }
}

fn scope(phase: &Option<String>) -> String {
    phase
        .as_ref()
        .map_or("the whole run".into(), |p| format!("phase {p}"))
}

pub fn assertion_text(a: &Assertion, plan: &Plan) -> String {
    match a {
        Assertion::Arrivals {
            queue,
            expect,
            tolerance,
            within,
            phase,
        } => {
            let what = match expect {
                Expect::AllAcked => "every acknowledged message".to_string(),
                Expect::Count(n) => format!("{} messages", group(*n)),
            };
            format!(
                "arrivals at {queue}: {what} of {}, tolerance {tolerance}, settling up to {} after the last phase",
                scope(phase),
                format_duration(*within)
            )
        }
        Assertion::SustainableRate { phase, min } => format!(
            "sustainable rate found by seek phase {} ≥ {}",
            phase.as_deref().unwrap_or("?"),
            format_rate(*min)
        ),
        Assertion::Throughput { phase, stream, min } => {
            let who = stream
                .as_ref()
                .map(|s| format!(" of stream {s}"))
                .unwrap_or_default();
            let bound = throughput_bound(plan, phase.as_deref(), min);
            format!("throughput{who} of {} {bound}", scope(phase))
        }
        Assertion::Latency {
            metric,
            percentile,
            max,
            phase,
        } => {
            let m = match metric {
                LatencyMetric::SendAck => "send→ack latency (from the scheduled instant)",
                LatencyMetric::EndToEnd => "end-to-end latency (send → arrival at SQS)",
            };
            format!(
                "{m} p{} of {} ≤ {}",
                format_number(*percentile),
                scope(phase),
                format_duration(*max)
            )
        }
        Assertion::Errors { max, phase } => format!("failed sends in {} ≤ {max}", scope(phase)),
        Assertion::Dropped { max, phase } => {
            format!(
                "dropped (in-flight budget exhausted) in {} ≤ {max}",
                scope(phase)
            )
        }
        Assertion::Duplicates { max, queue } => format!(
            "duplicate arrivals{} ≤ {max}",
            queue
                .as_ref()
                .map(|q| format!(" at {q}"))
                .unwrap_or_default()
        ),
        Assertion::QueueDepth {
            queue,
            dead_letter,
            max,
        } => format!(
            "{}depth of {queue} at the end ≤ {max}",
            if *dead_letter { "dead-letter " } else { "" }
        ),
    }
}

/// The floor of a throughput assertion; a percentage of target is resolved
/// to a rate per rate-limited phase it covers.
fn throughput_bound(plan: &Plan, phase: Option<&str>, min: &ThroughputFloor) -> String {
    let targets: Vec<&super::PlanPhase> = match phase {
        Some(name) => plan.phase(name).into_iter().collect(),
        None => plan
            .phases
            .iter()
            .filter(|p| p.expected_messages.is_some())
            .collect(),
    };
    match min {
        ThroughputFloor::Absolute(r) => format!("≥ {}", format_rate(*r)),
        ThroughputFloor::PercentOfTarget(pct) => {
            let resolved: Vec<String> = targets
                .iter()
                .filter(|p| p.expected_messages.is_some())
                .map(|p| {
                    let avg = p.expected_messages.unwrap_or(0) as f64 / p.duration.as_secs_f64();
                    format!("{} ≥ {}", p.name, format_rate(avg * pct / 100.0))
                })
                .collect();
            format!(
                "≥ {}% of target ({})",
                format_number(*pct),
                resolved.join(", ")
            )
        }
    }
}

fn snake(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
