//! Where a scenario sends and how it gets in: the [`Targets`] block
//! (Kafka bootstrap and client properties, Schema Registry, Kafka Connect,
//! SQS) with the credentials each names. Only the names of the environment
//! variables that hold secrets are kept, and URLs are serialized redacted.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Targets {
    pub kafka_bootstrap: String,
    /// librdkafka properties in file order.
    pub producer: Vec<(String, String)>,
    /// TLS / SASL of the Kafka client (`None`: plaintext).
    pub kafka_security: Option<KafkaSecurity>,
    /// `None` when the scenario neither configures a registry nor registers schemas.
    pub schema_registry: Option<Registry>,
    #[serde(serialize_with = "redacted")]
    pub connect_url: String,
    pub connect_access: ConnectAccess,
    #[serde(serialize_with = "redacted_opt")]
    pub sqs_endpoint: Option<String>,
    /// `None`: the AWS config chain's region (else us-east-1).
    pub sqs_region: Option<String>,
    /// Named profile of the shared AWS config files.
    pub sqs_profile: Option<String>,
    /// Static keys from environment variables the scenario names.
    pub sqs_keys: Option<AwsKeys>,
    /// Concurrent `SendMessageBatch` calls per queue.
    pub sqs_batch_concurrency: u32,
}

/// Kafka client security, checked: files resolved, variables named (values
/// are read when the client is built, never stored here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KafkaSecurity {
    /// librdkafka `security.protocol`: `SSL`, `SASL_SSL`, `SASL_PLAINTEXT` or `PLAINTEXT`.
    pub protocol: &'static str,
    pub ca_file: Option<std::path::PathBuf>,
    pub cert_file: Option<std::path::PathBuf>,
    pub key_file: Option<std::path::PathBuf>,
    pub key_password_env: Option<String>,
    pub verify_hostname: bool,
    pub sasl: Option<Sasl>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Sasl {
    /// PLAIN or SCRAM-SHA-256/512, with the variables holding user and password.
    Password {
        mechanism: &'static str,
        username_env: String,
        password_env: String,
    },
    /// OAUTHBEARER with Amazon MSK IAM tokens.
    MskIam {
        region: Option<String>,
        profile: Option<String>,
    },
}

/// Names of the environment variables holding static AWS keys (never the keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AwsKeys {
    pub access_key_id_env: String,
    pub secret_access_key_env: String,
    pub session_token_env: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Registry {
    #[serde(serialize_with = "redacted")]
    pub url: String,
    pub basic_auth_env: Option<String>,
    pub bearer_token_env: Option<String>,
    /// PEM CA certificate(s) to trust besides the system roots.
    pub ca_file: Option<std::path::PathBuf>,
}

/// How the Kafka Connect REST API is reached besides its URL.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConnectAccess {
    pub basic_auth_env: Option<String>,
    pub bearer_token_env: Option<String>,
    pub ca_file: Option<std::path::PathBuf>,
}

/// URLs in serialized plans and reports: user info and secret-looking query
/// parameters masked (`https://***@host/…`).
fn redacted<S: serde::Serializer>(url: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::telemetry::logs::redact_url(url))
}

fn redacted_opt<S: serde::Serializer>(url: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match url {
        Some(u) => redacted(u, s),
        None => s.serialize_none(),
    }
}
