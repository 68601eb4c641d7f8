//! Infra setup and teardown steps, each tagged with `type:`.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::scalars::{DurationStr, PropValue};

/// One provisioning step. Steps run in order and are idempotent.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SetupStepSpec {
    /// Register Avro schemas in the Schema Registry.
    RegisterSchemas {
        /// A folder of `.avsc` files (relative to the scenario). Use this or `files`.
        #[serde(default)]
        path: Option<String>,
        /// Explicit `.avsc` files (relative to the scenario).
        #[serde(default)]
        files: Option<Vec<String>>,
        /// How subjects are named. Default `topic_name` (`<topic>-value`).
        #[serde(default)]
        subject_strategy: Option<SubjectStrategy>,
        /// Compatibility level to set per subject and check before registering.
        #[serde(default)]
        compatibility: Option<Compatibility>,
    },
    /// Create Kafka topics (or check existing ones).
    EnsureTopics {
        /// Topics to ensure.
        #[schemars(length(min = 1))]
        topics: Vec<TopicSpec>,
    },
    /// Create an SQS queue (or check the existing one).
    CreateQueue {
        /// Queue name; FIFO queues end with `.fifo`.
        name: String,
        /// Create a FIFO queue.
        #[serde(default)]
        fifo: Option<bool>,
        /// SQS queue attributes (`VisibilityTimeout`, …).
        #[serde(default)]
        attributes: IndexMap<String, PropValue>,
        /// Dead-letter queue with a redrive policy.
        #[serde(default)]
        dead_letter: Option<DeadLetterSpec>,
        /// Purge the queue before the run.
        #[serde(default)]
        purge: Option<bool>,
    },
    /// Apply a Kafka Connect connector config and wait for it.
    ApplyConnector {
        /// Connector name.
        name: String,
        /// JSON file with the connector config (relative to the scenario). Use this or `config`.
        #[serde(default)]
        config_file: Option<String>,
        /// Inline connector config. `${…}` variables are resolved when it is applied.
        #[serde(default)]
        config: Option<IndexMap<String, PropValue>>,
        /// Wait until the connector and its tasks reach a state.
        #[serde(default)]
        wait: Option<WaitSpec>,
    },
}

/// A Kafka topic to ensure.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicSpec {
    /// Topic name.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Partitions. Default 1.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub partitions: Option<u32>,
    /// Replication factor. Default 1.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub replication_factor: Option<u16>,
    /// Topic configs (`retention.ms`, …).
    #[serde(default)]
    pub config: IndexMap<String, PropValue>,
}

/// Dead-letter queue settings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterSpec {
    /// Name of the dead-letter queue (created if missing).
    pub name: String,
    /// Receives before a message moves to the dead-letter queue. Default 5.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub max_receive_count: Option<u32>,
}

/// Connector readiness wait.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitSpec {
    /// State to wait for. Default `running`.
    #[serde(default)]
    pub state: Option<ConnectorState>,
    /// Give up after this long. Default `60s`.
    #[serde(default)]
    pub timeout: Option<DurationStr>,
}

/// Connector states that can be waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorState {
    Running,
    Paused,
}

/// Schema Registry subject naming.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubjectStrategy {
    /// `<topic>-value`
    TopicName,
    /// `<record full name>`
    RecordName,
    /// `<topic>-<record full name>`
    TopicRecordName,
}

/// Schema Registry compatibility levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Compatibility {
    None,
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

/// One clean-up step.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TeardownStepSpec {
    /// Delete a connector.
    DeleteConnector {
        /// Connector name.
        name: String,
    },
    /// Pause a connector.
    PauseConnector {
        /// Connector name.
        name: String,
    },
    /// Delete Kafka topics.
    DeleteTopics {
        /// Topic names.
        topics: Vec<String>,
    },
    /// Delete an SQS queue.
    DeleteQueue {
        /// Queue name.
        name: String,
    },
    /// Purge an SQS queue.
    PurgeQueue {
        /// Queue name.
        name: String,
    },
}
