//! Dead letters while settling: messages that went to a dead-letter queue or
//! topic will not arrive, so waiting for them is pointless.
//!
//! ```text
//!   DeadLetters::before_run(plan, queues)   depth of every SQS dead-letter queue
//!                                           (planned create_queue … dead_letter) and end
//!                                           offset of every Connect DLQ topic (planned
//!                                           errors.deadletterqueue.topic.name)
//!   watch(…)  every 2 s while settling: one grew → the reason, and settling ends
//! ```

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::infra::queue::Queues;
use crate::plan::Plan;
use crate::report::backend::read_queue;
use crate::scenario::model::{ConnectorConfig, SetupStep};

const DLQ_TOPIC: &str = "errors.deadletterqueue.topic.name";

/// The dead letters of a run and how many each held when it started.
pub(super) struct DeadLetters {
    /// (queue, messages at the start).
    queues: Vec<(String, u64)>,
    /// (topic, records at the start).
    topics: Vec<(String, i64)>,
    kafka: Option<rdkafka::ClientConfig>,
}

impl DeadLetters {
    /// Reads how many each dead letter of the planned setup holds now.
    pub(super) async fn before_run(plan: &Plan, queues: Option<&Queues>) -> Self {
        let (queue_names, topic_names) = sources(plan);
        let mut out = DeadLetters {
            queues: Vec::new(),
            topics: Vec::new(),
            kafka: None,
        };
        if let Some(q) = queues {
            for name in queue_names {
                let depth = sqs_depth(q, &name).await.unwrap_or(0);
                out.queues.push((name, depth));
            }
        }
        if !topic_names.is_empty() {
            out.kafka = crate::sink::kafka_auth::client_config(&plan.targets)
                .ok()
                .map(|mut c| {
                    c.set("group.id", "mbscenario-dead-letters");
                    c
                });
            let ends = topic_ends(out.kafka.clone(), topic_names.clone()).await;
            out.topics = topic_names
                .into_iter()
                .zip(ends)
                .map(|(topic, end)| (topic, end.unwrap_or(0)))
                .collect();
        }
        out
    }

    pub(super) fn is_empty(&self) -> bool {
        self.queues.is_empty() && self.topics.is_empty()
    }

    /// Polls every 2 s until `give_up`; a dead letter that grew records why and
    /// cancels `give_up`.
    pub(super) async fn watch(
        &self,
        queues: Option<&Queues>,
        why: &std::sync::Mutex<Option<String>>,
        give_up: &tokio_util::sync::CancellationToken,
    ) {
        if self.is_empty() {
            return give_up.cancelled().await;
        }
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                _ = give_up.cancelled() => return,
            }
            if let Some(reason) = self.grown(queues).await {
                let mut w = why.lock().unwrap_or_else(|p| p.into_inner());
                w.get_or_insert(reason);
                give_up.cancel();
                return;
            }
        }
    }

    async fn grown(&self, queues: Option<&Queues>) -> Option<String> {
        if let Some(q) = queues {
            for (name, start) in &self.queues {
                if let Some(now) = sqs_depth(q, name).await
                    && now > *start
                {
                    return Some(format!(
                        "dead-letter queue `{name}` grew by {} message(s) during the run: \
                         the pipeline gave up on them",
                        now - start
                    ));
                }
            }
        }
        if !self.topics.is_empty() {
            let names: Vec<String> = self.topics.iter().map(|(t, _)| t.clone()).collect();
            let ends = topic_ends(self.kafka.clone(), names).await;
            for ((name, start), end) in self.topics.iter().zip(ends) {
                if let Some(end) = end
                    && end > *start
                {
                    return Some(format!(
                        "Kafka Connect's dead-letter topic `{name}` grew by {} record(s) during \
                         the run: the sink connector could not convert or deliver them",
                        end - start
                    ));
                }
            }
        }
        None
    }
}

/// The dead letters of the planned setup steps, in step order: (SQS
/// dead-letter queues of `create_queue`, Connect DLQ topics of the
/// connectors' configs).
fn sources(plan: &Plan) -> (Vec<String>, Vec<String>) {
    let (mut queues, mut topics) = (Vec::new(), Vec::new());
    for planned in &plan.setup {
        match &planned.step {
            SetupStep::CreateQueue {
                dead_letter: Some(dl),
                ..
            } => queues.push(dl.name.clone()),
            SetupStep::ApplyConnector { config, .. } => {
                let (ConnectorConfig::File { config, .. } | ConnectorConfig::Inline { config }) =
                    config;
                for (k, v) in config {
                    // A templated name is left alone: it resolves only at setup.
                    if k == DLQ_TOPIC && !v.is_empty() && !v.contains("${") {
                        topics.push(v.clone());
                    }
                }
            }
            _ => {}
        }
    }
    (queues, topics)
}

/// Messages in a queue (visible and in flight), if it can be read.
async fn sqs_depth(q: &Queues, name: &str) -> Option<u64> {
    match tokio::time::timeout(Duration::from_secs(5), read_queue(q, name)).await {
        Ok(Ok(Some((visible, in_flight)))) => Some(visible + in_flight),
        _ => None,
    }
}

/// Records in each topic (sum of high watermarks over partitions); `None` for
/// a topic that does not exist (yet) or cannot be read.
async fn topic_ends(
    config: Option<rdkafka::ClientConfig>,
    topics: Vec<String>,
) -> Vec<Option<i64>> {
    let n = topics.len();
    let Some(config) = config else {
        return vec![None; n];
    };
    tokio::task::spawn_blocking(move || {
        let Ok(consumer) = config.create::<BaseConsumer>() else {
            return vec![None; topics.len()];
        };
        let timeout = Duration::from_secs(3);
        topics
            .iter()
            .map(|t| {
                let md = consumer.fetch_metadata(Some(t), timeout).ok()?;
                let topic = md.topics().first().filter(|t| t.error().is_none())?;
                let mut sum = 0;
                for p in topic.partitions() {
                    sum += consumer.fetch_watermarks(t, p.id(), timeout).ok()?.1;
                }
                Some(sum)
            })
            .collect()
    })
    .await
    .unwrap_or_else(|_| vec![None; n])
}

#[cfg(test)]
mod tests {
    /// The planned dead-letter queue and DLQ topic are watched; a templated
    /// topic name (resolved only at setup) is not.
    #[test]
    fn dead_letters_come_from_the_planned_setup() {
        let yaml = "name: d
streams:
  - { name: c, schema: schemas/pokemon_card.avsc, schema_id: 1, queue: q }
phases:
  - { name: a, duration: 1s, rate: 1/s }
setup:
  - { type: create_queue, name: q, dead_letter: { name: q-dlq, max_receive_count: 3 } }
  - type: apply_connector
    name: s
    config:
      errors.deadletterqueue.topic.name: s-dlq
  - type: apply_connector
    name: t
    config:
      errors.deadletterqueue.topic.name: \"${connector.name}-dlq\"
";
        let s = crate::scenario::load_source(
            crate::scenario::SourceFile::new(
                "d.yaml",
                std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/d.yaml")),
                yaml.into(),
            ),
            &crate::scenario::LoadOptions::default(),
        )
        .unwrap();
        let plan = crate::plan::Plan::compile(&s);
        assert_eq!(
            super::sources(&plan),
            (vec!["q-dlq".to_string()], vec!["s-dlq".to_string()])
        );
    }
}
