//! `ScenarioSpec`: the scenario file exactly as the user wrote it.
//!
//! These types are the single source of truth for the file format: serde reads
//! them, schemars turns them (and their doc comments) into the JSON Schema that
//! editors and `mbscenario schema` use, and `validate` turns them into the
//! meaningful [`crate::scenario::model::Scenario`]. Values with units stay
//! strings here ([`RateStr`], [`DurationStr`], …); they are parsed during
//! validation so that every mistake can be reported with its location.
//!
//! - [`mod@self`]: top level, targets, streams, phases, report
//! - [`setup`]: infra setup and teardown steps
//! - [`assertions`]: pass/fail checks
//! - [`scalars`]: unit-carrying string newtypes and their schemas

pub mod assertions;
pub mod scalars;
pub mod setup;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use assertions::AssertionSpec;
pub use scalars::{AmountSpec, DurationStr, PropValue, RateStr};
pub use setup::{SetupStepSpec, TeardownStepSpec};

/// A load scenario: what to provision, which records to generate, how fast, and what must hold.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "mbscenario scenario")]
pub struct ScenarioSpec {
    /// Short identifier of the scenario, used in report file names.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Free text shown in plans and reports.
    #[serde(default)]
    pub description: Option<String>,
    /// Seed of the record generator: the same seed gives the same messages. Overridable with `--seed`.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Endpoints of the services. Defaults are the local stack's (Kafka localhost:9092, registry :8081, Connect :8083, SQS :4566).
    #[serde(default)]
    pub targets: TargetsSpec,
    /// Provisioning steps, run in order by `mbscenario setup` and before `run` (unless `--no-setup`). Each step is idempotent.
    #[serde(default)]
    pub setup: Vec<SetupStepSpec>,
    /// Clean-up steps, run by `mbscenario teardown` or `run --teardown`.
    #[serde(default)]
    pub teardown: Vec<TeardownStepSpec>,
    /// Record streams: which Avro schema feeds which topic/queue, and how fields are generated.
    #[schemars(length(min = 1))]
    pub streams: Vec<StreamSpec>,
    /// Phases, run one after another.
    #[schemars(length(min = 1))]
    pub phases: Vec<PhaseSpec>,
    /// Checks that decide the exit code.
    #[serde(default)]
    pub assertions: Vec<AssertionSpec>,
    /// Where and how the report is written.
    #[serde(default)]
    pub report: Option<ReportSpec>,
}

/// Service endpoints. `${VAR:-default}` interpolation works in every value.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetsSpec {
    /// Kafka brokers and producer settings.
    #[serde(default)]
    pub kafka: Option<KafkaTargetSpec>,
    /// Confluent-compatible Schema Registry. Without it, streams pin `schema_id`.
    #[serde(default)]
    pub schema_registry: Option<RegistryTargetSpec>,
    /// Kafka Connect REST endpoint.
    #[serde(default)]
    pub connect: Option<ConnectTargetSpec>,
    /// SQS endpoint and region.
    #[serde(default)]
    pub sqs: Option<SqsTargetSpec>,
}

/// Kafka connection.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KafkaTargetSpec {
    /// Comma-separated `host:port` list. Default `localhost:9092`.
    #[serde(default)]
    pub bootstrap: Option<String>,
    /// librdkafka producer properties passed through as-is (`acks`, `compression.type`, `linger.ms`, …).
    /// Secrets (`sasl.password`, `ssl.key.password`, …) are refused here: use `security`.
    #[serde(default)]
    pub producer: IndexMap<String, PropValue>,
    /// TLS and SASL. Default: plaintext.
    #[serde(default)]
    pub security: Option<KafkaSecuritySpec>,
}

/// How the Kafka client authenticates and encrypts.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KafkaSecuritySpec {
    /// `plaintext`, `ssl`, `sasl_plaintext` or `sasl_ssl`. Default: `sasl_ssl` with `sasl`,
    /// else `ssl` with `tls`, else `plaintext`.
    #[serde(default)]
    pub protocol: Option<KafkaProtocolSpec>,
    /// TLS settings (system trust roots unless `ca_file`).
    #[serde(default)]
    pub tls: Option<KafkaTlsSpec>,
    /// SASL settings.
    #[serde(default)]
    pub sasl: Option<KafkaSaslSpec>,
}

/// Kafka `security.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KafkaProtocolSpec {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

/// TLS to the brokers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KafkaTlsSpec {
    /// PEM file of the CA certificate(s) to trust, relative to the scenario. Default: system roots.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// PEM client certificate (mutual TLS), relative to the scenario.
    #[serde(default)]
    pub cert_file: Option<String>,
    /// PEM private key of `cert_file`, relative to the scenario.
    #[serde(default)]
    pub key_file: Option<String>,
    /// Environment variable holding the password of an encrypted `key_file`.
    #[serde(default)]
    pub key_password_env: Option<String>,
    /// Check that the broker certificate names the host connected to. Default `true`.
    #[serde(default)]
    pub verify_hostname: Option<bool>,
}

/// SASL authentication.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KafkaSaslSpec {
    /// `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512` or `AWS_MSK_IAM` (OAUTHBEARER with an MSK IAM
    /// token signed by the AWS credential chain).
    pub mechanism: String,
    /// Environment variable holding the user name (PLAIN, SCRAM).
    #[serde(default)]
    pub username_env: Option<String>,
    /// Environment variable holding the password (PLAIN, SCRAM).
    #[serde(default)]
    pub password_env: Option<String>,
    /// AWS_MSK_IAM: the cluster's region. Default: `targets.sqs.region`, else the AWS config chain's.
    #[serde(default)]
    pub region: Option<String>,
    /// AWS_MSK_IAM: profile of the shared AWS config files. Default: the default chain.
    #[serde(default)]
    pub profile: Option<String>,
}

/// Schema Registry connection.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryTargetSpec {
    /// Base URL, e.g. `http://localhost:8081`.
    pub url: String,
    /// Name of the environment variable holding `user:password` for basic auth.
    #[serde(default)]
    pub basic_auth_env: Option<String>,
    /// Name of the environment variable holding a bearer token.
    #[serde(default)]
    pub bearer_token_env: Option<String>,
    /// PEM CA certificate(s) to trust besides the system roots (an `https` registry with a private CA).
    #[serde(default)]
    pub ca_file: Option<String>,
}

/// The Kafka Connect REST API.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectTargetSpec {
    /// Base URL, e.g. `http://localhost:8083`.
    pub url: String,
    /// Name of the environment variable holding `user:password` for basic auth.
    #[serde(default)]
    pub basic_auth_env: Option<String>,
    /// Name of the environment variable holding a bearer token.
    #[serde(default)]
    pub bearer_token_env: Option<String>,
    /// PEM CA certificate(s) to trust besides the system roots.
    #[serde(default)]
    pub ca_file: Option<String>,
}

/// SQS connection.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SqsTargetSpec {
    /// Endpoint URL (LocalStack: `http://localhost:4566`). Omit for real AWS.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// AWS region. Default: the AWS config chain's (`AWS_REGION`, the profile's), else `us-east-1`.
    #[serde(default)]
    pub region: Option<String>,
    /// Profile of the shared AWS config/credentials files (as `AWS_PROFILE`). Default: the
    /// AWS default credential chain (environment, `AWS_PROFILE`, SSO, web identity, container
    /// and instance roles).
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub profile: Option<String>,
    /// Static keys read from the environment variables named here (never write keys in a scenario).
    #[serde(default)]
    pub credentials: Option<AwsKeysSpec>,
    /// `SendMessageBatch` calls in flight at once per queue (direct_sqs). Default 16.
    #[serde(default)]
    #[schemars(range(min = 1, max = 1024))]
    pub batch_concurrency: Option<u32>,
}

/// Environment variables holding static AWS keys.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AwsKeysSpec {
    /// Variable holding the access key id.
    #[schemars(length(min = 1))]
    pub access_key_id_env: String,
    /// Variable holding the secret access key.
    #[schemars(length(min = 1))]
    pub secret_access_key_env: String,
    /// Variable holding a session token (temporary credentials).
    #[serde(default)]
    pub session_token_env: Option<String>,
}

/// One stream of records generated from an Avro schema.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamSpec {
    /// Unique stream name; part of the seed of every record (`record n = f(seed, stream, n)`).
    #[schemars(length(min = 1))]
    pub name: String,
    /// Path of the `.avsc` file, relative to the scenario file.
    pub schema: String,
    /// Schema id to put in the Confluent wire format when no registry is configured.
    #[serde(default)]
    pub schema_id: Option<u32>,
    /// Kafka topic (mode `kafka_via_connect`). Default `events.<record name>`.
    #[serde(default)]
    pub topic: Option<String>,
    /// SQS queue name: target in mode `direct_sqs`, and where arrivals are counted.
    #[serde(default)]
    pub queue: Option<String>,
    /// How the Kafka key (and FIFO group id) is chosen. Default: no key.
    #[serde(default)]
    pub key: Option<KeySpec>,
    /// Extra static headers / message attributes.
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// Share of the phase rate relative to the other active streams. Default 1.
    #[serde(default)]
    #[schemars(range(min = 0.0))]
    pub weight: Option<f64>,
    /// Rhai modules (paths relative to the scenario), usable as `<file stem>::fn()`.
    #[serde(default)]
    pub imports: Vec<String>,
    /// Field path (`a.b.c`) → Rhai expression, evaluated in order.
    #[serde(default)]
    pub overrides: IndexMap<String, String>,
    /// Take records from a CSV or JSON-lines file instead of generating them (overrides still apply).
    #[serde(default)]
    pub replay: Option<ReplaySpec>,
}

/// A recorded data file replayed as the stream's records.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaySpec {
    /// `.csv` (header row = field names) or `.jsonl` / `.ndjson` (one JSON object per line), relative to the scenario.
    pub file: String,
    /// What happens after the last row: `loop` (start again) or `stop` (the stream sends no more). Default `loop`.
    #[serde(default)]
    pub on_end: Option<OnEndSpec>,
}

/// End-of-file behaviour of a replayed stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnEndSpec {
    Loop,
    Stop,
}

/// Kafka key selection: one of `field`, `expr` or `type: random`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum KeySpec {
    /// Use the value of a (top-level or nested `a.b`) record field.
    Field {
        /// Field path.
        field: String,
    },
    /// Use the result of a Rhai expression.
    Expr {
        /// Rhai expression.
        expr: String,
    },
    /// A random UUID key (deterministic per record), or no key.
    Kind {
        /// `random` or `none`.
        #[serde(rename = "type")]
        kind: KeyKind,
    },
}

/// Key kinds that need no argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    Random,
    None,
}

/// A period of the run with one rate shape, worker count and delivery mode.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhaseSpec {
    /// Unique phase name.
    #[schemars(length(min = 1))]
    pub name: String,
    /// How long the phase lasts (humantime: `30s`, `1m30s`).
    pub duration: DurationStr,
    /// Total rate of all active streams: `250/s`, `max`, or a shape object.
    pub rate: RateSpec,
    /// Lanes that build and submit messages (and the senders of a `max` phase). A lane is not held while a message waits for its acknowledgement. Inherited; default 4.
    #[serde(default)]
    #[schemars(range(min = 1, max = 10000))]
    pub workers: Option<u32>,
    /// Messages the phase may have outstanding at once (waiting for a lane or for their acknowledgement); a due message that finds it exhausted is counted as dropped. Inherited; default 10000.
    #[serde(default)]
    #[schemars(range(min = 1, max = 1000000))]
    pub max_in_flight: Option<u32>,
    /// Delivery path. Inherited by later phases; default `kafka_via_connect`.
    #[serde(default)]
    pub mode: Option<ModeSpec>,
    /// Restrict the phase to these streams. Default: all streams.
    #[serde(default)]
    pub streams: Option<Vec<String>>,
}

/// Delivery path of a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModeSpec {
    /// generator → Kafka → Kafka Connect SQS sink → SQS.
    KafkaViaConnect,
    /// generator → SQS directly.
    DirectSqs,
}

/// A rate: the shorthand string (`250/s`, `0/s`, `max`) or a shape object.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RateSpec {
    /// `250/s` (constant), `0/s` (idle) or `max` (closed model).
    Shorthand(RateStr),
    /// A rate shape tagged with `type`.
    Shape(RateShapeSpec),
}

/// Rate shapes.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum RateShapeSpec {
    /// The same rate for the whole phase.
    Constant {
        /// Rate, e.g. `250/s`.
        rate: RateStr,
    },
    /// Linear change from `from` to `to` over the phase (up or down, from or to `0/s`).
    Ramp {
        /// Rate at the start of the phase.
        from: RateStr,
        /// Rate at the end of the phase.
        to: RateStr,
    },
    /// Piecewise-constant rates; the first step is at `0s`.
    Steps {
        /// Steps in increasing `at` order.
        #[schemars(length(min = 1))]
        steps: Vec<StepSpec>,
    },
    /// No messages (same as `0/s`).
    Idle {},
    /// Closed model: every worker sends back-to-back (capacity probe).
    Max {},
    /// Goal seeking: find the highest rate the pipeline sustains. Levels rise from
    /// `from` by `factor` until one breaks a bound of `until` (or `max` is reached),
    /// then bisect between the last good and the first bad level; each level is held
    /// for `hold`. The rest of the phase runs at the rate found.
    Seek {
        /// First level, e.g. `100/s`.
        from: RateStr,
        /// Highest level tried, e.g. `50k/s`.
        max: RateStr,
        /// Growth between levels while none has failed (default 2).
        #[serde(default)]
        factor: Option<f64>,
        /// How long each level runs before it is judged (default `20s`).
        #[serde(default)]
        hold: Option<DurationStr>,
        /// Bisection stops when first bad and last good are this close (default `2.5%`).
        #[serde(default)]
        precision: Option<String>,
        /// What "sustainable" means; every level must also keep its backlog flat.
        #[serde(default)]
        until: Option<SeekUntilSpec>,
    },
}

/// The bounds a `seek` level must keep (beside a backlog that does not grow).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeekUntilSpec {
    /// Highest p99 latency: end to end (send → arrival at the queue) when arrivals are
    /// counted, else send → ack. E.g. `2s`.
    #[serde(default)]
    pub p99: Option<DurationStr>,
    /// Most messages dropped in a level (count or percentage, default `0.1%`).
    #[serde(default)]
    pub dropped: Option<AmountSpec>,
    /// Most failed sends in a level (count or percentage, default `0`).
    #[serde(default)]
    pub errors: Option<AmountSpec>,
}

/// One step of a `steps` rate.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// Offset from the phase start.
    pub at: DurationStr,
    /// Rate from `at` until the next step.
    pub rate: RateStr,
}

/// Report output.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportSpec {
    /// Folder for report files, relative to the working directory. Default `reports/`.
    #[serde(default)]
    pub dir: Option<String>,
    /// Formats to write. Default: all.
    #[serde(default)]
    pub formats: Option<Vec<ReportFormat>>,
}

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    Json,
    Markdown,
    Html,
    Junit,
}
