//! Backend diagnostics: the Connect connectors' states (with a failed task's
//! trace) and the SQS queues' depths, captured at each phase end and at the
//! end of the run, so a reader can tell "the sink was saturated" (messages
//! waiting, tasks running) from "the pipeline lost data" (queue drained,
//! arrivals missing) or "the connector died" (a FAILED task).

use std::time::Duration;

use serde::Serialize;

use crate::infra::connect::{ConnectClient, trace_head};
use crate::infra::queue::{QueueError, Queues};
use crate::scenario::model::SetupStep;

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Snapshot {
    /// `end of phase plateau`, `end of run`.
    pub at: String,
    pub connectors: Vec<ConnectorState>,
    pub queues: Vec<QueueState>,
    /// What could not be read (a service down is itself a finding).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ConnectorState {
    pub name: String,
    pub state: String,
    pub tasks: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct QueueState {
    pub queue: String,
    pub dead_letter: bool,
    pub visible: u64,
    pub in_flight: u64,
}

/// What to look at: connectors applied in setup, queues of streams and their DLQs.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    pub connectors: Vec<String>,
    /// (queue, is a dead-letter queue).
    pub queues: Vec<(String, bool)>,
}

impl Targets {
    /// The connectors and queues of the planned setup steps, and the queues
    /// the planned streams are counted at.
    pub fn of(plan: &crate::plan::Plan) -> Self {
        let mut t = Self::default();
        for planned in &plan.setup {
            match &planned.step {
                SetupStep::ApplyConnector { name, .. } => t.connectors.push(name.clone()),
                SetupStep::CreateQueue {
                    name, dead_letter, ..
                } => {
                    t.queues.push((name.clone(), false));
                    if let Some(dl) = dead_letter {
                        t.queues.push((dl.name.clone(), true));
                    }
                }
                _ => {}
            }
        }
        for s in &plan.streams {
            if let Some(q) = &s.queue
                && !t.queues.iter().any(|(n, _)| n == q)
            {
                t.queues.push((q.clone(), false));
            }
        }
        t
    }
}

/// Reads the current state of every target.
pub async fn capture(
    at: &str,
    targets: &Targets,
    connect: Option<&ConnectClient>,
    queues: Option<&Queues>,
) -> Snapshot {
    let mut snap = Snapshot {
        at: at.to_string(),
        connectors: Vec::new(),
        queues: Vec::new(),
        errors: Vec::new(),
    };
    if let Some(c) = connect {
        for name in &targets.connectors {
            match tokio::time::timeout(Duration::from_secs(5), c.status(name)).await {
                Ok(Ok(Some(s))) => {
                    let trace = s
                        .tasks
                        .iter()
                        .find_map(|t| t.trace.clone())
                        .or(s.connector.trace.clone())
                        .map(|t| trace_head(&t, 4));
                    snap.connectors.push(ConnectorState {
                        name: name.clone(),
                        state: s.connector.state.clone(),
                        tasks: s
                            .tasks
                            .iter()
                            .map(|t| format!("{} {}", t.id, t.state))
                            .collect(),
                        trace,
                    });
                }
                Ok(Ok(None)) => snap.errors.push(format!("connector {name} does not exist")),
                Ok(Err(e)) => snap.errors.push(format!("connector {name}: {e}")),
                Err(_) => snap
                    .errors
                    .push(format!("connector {name}: no answer within 5s")),
            }
        }
    }
    if let Some(q) = queues {
        for (name, dead_letter) in &targets.queues {
            match read_queue(q, name).await {
                Ok(Some((visible, in_flight))) => snap.queues.push(QueueState {
                    queue: name.clone(),
                    dead_letter: *dead_letter,
                    visible,
                    in_flight,
                }),
                Ok(None) => snap.errors.push(format!("queue {name} does not exist")),
                Err(e) => snap.errors.push(format!("queue {name}: {e}")),
            }
        }
    }
    snap
}

pub(crate) async fn read_queue(q: &Queues, name: &str) -> Result<Option<(u64, u64)>, QueueError> {
    let Some(url) = q.url(name).await? else {
        return Ok(None);
    };
    let num = |v: Option<String>| v.and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    let visible = q.attribute(&url, "ApproximateNumberOfMessages").await?;
    let in_flight = q
        .attribute(&url, "ApproximateNumberOfMessagesNotVisible")
        .await?;
    Ok(Some((num(visible), num(in_flight))))
}

/// Queue depths of the last snapshot (the end of the run).
pub fn final_depths(backend: &[Snapshot]) -> Vec<crate::check::QueueDepth> {
    backend
        .last()
        .map(|s| {
            s.queues
                .iter()
                .map(|q| crate::check::QueueDepth {
                    queue: q.queue.clone(),
                    dead_letter: q.dead_letter,
                    depth: q.visible + q.in_flight,
                })
                .collect()
        })
        .unwrap_or_default()
}
