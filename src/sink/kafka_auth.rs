//! The Kafka client's configuration from a scenario's target: bootstrap,
//! producer properties, then `targets.kafka.security` turned into
//! librdkafka's TLS/SASL properties with secrets read from the environment
//! variables the scenario names (here, at client creation — never stored
//! in the scenario, the plan or a report).
//!
//! [`AuthContext`] is the client context of every Kafka client we build
//! (producer and admin): it captures authentication and TLS errors so a
//! wrong password fails the run at once with librdkafka's reason, and for
//! Amazon MSK IAM it answers librdkafka's OAUTHBEARER token refreshes with
//! a token signed by the AWS credential chain.

use std::error::Error;
use std::sync::Mutex;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::client::{ClientContext, OAuthToken};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::types::RDKafkaErrorCode as Code;

use crate::scenario::model::{KafkaSecurity, Sasl, Targets};

/// Why a Kafka client's security settings could not be resolved, or an MSK
/// IAM token not signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KafkaAuthError {
    /// A variable named under `targets.kafka.security` is not set.
    #[error("`{var}` (targets.kafka.security.{key}) is not set in the environment")]
    Unset { var: String, key: &'static str },
    #[error("AWS_MSK_IAM needs a region: set `targets.kafka.security.sasl.region` or AWS_REGION")]
    NoRegion,
    #[error("AWS_MSK_IAM: no AWS credential provider could be set up")]
    NoCredentials,
    #[error("the MSK IAM signer panicked")]
    SignerPanicked,
    #[error("cannot sign an MSK IAM token: {0}")]
    Sign(String),
}

/// The client configuration of `t`'s Kafka target, secrets resolved.
pub fn client_config(t: &Targets) -> Result<ClientConfig, KafkaAuthError> {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &t.kafka_bootstrap);
    for (k, v) in &t.producer {
        config.set(k, v);
    }
    if let Some(s) = &t.kafka_security {
        apply(&mut config, s)?;
    }
    Ok(config)
}

fn env(var: &str, key: &'static str) -> Result<String, KafkaAuthError> {
    std::env::var(var).map_err(|_| KafkaAuthError::Unset {
        var: var.to_string(),
        key,
    })
}

fn apply(config: &mut ClientConfig, s: &KafkaSecurity) -> Result<(), KafkaAuthError> {
    config.set("security.protocol", s.protocol);
    let path = |p: &std::path::Path| p.to_string_lossy().into_owned();
    if let Some(ca) = &s.ca_file {
        config.set("ssl.ca.location", path(ca));
    }
    if let Some(cert) = &s.cert_file {
        config.set("ssl.certificate.location", path(cert));
    }
    if let Some(key) = &s.key_file {
        config.set("ssl.key.location", path(key));
    }
    if let Some(var) = &s.key_password_env {
        config.set("ssl.key.password", env(var, "tls.key_password_env")?);
    }
    if s.protocol.ends_with("SSL") {
        config.set(
            "ssl.endpoint.identification.algorithm",
            if s.verify_hostname { "https" } else { "none" },
        );
    }
    match &s.sasl {
        Some(Sasl::Password {
            mechanism,
            username_env,
            password_env,
        }) => {
            config.set("sasl.mechanisms", *mechanism);
            config.set("sasl.username", env(username_env, "sasl.username_env")?);
            config.set("sasl.password", env(password_env, "sasl.password_env")?);
        }
        Some(Sasl::MskIam { .. }) => {
            config.set("sasl.mechanisms", "OAUTHBEARER");
        }
        None => {}
    }
    Ok(())
}

/// Amazon MSK IAM signing settings, resolved for the token callback.
#[derive(Debug, Clone)]
pub struct MskIam {
    region: String,
    credentials: aws_sdk_sqs::config::SharedCredentialsProvider,
    runtime: tokio::runtime::Handle,
}

impl MskIam {
    /// The MSK IAM settings of `t`, when it uses them. The region is the
    /// mechanism's, else `targets.sqs.region`, else the AWS config chain's.
    /// Call inside the tokio runtime: token refreshes run on it.
    pub async fn of(t: &Targets) -> Result<Option<Self>, KafkaAuthError> {
        let Some(Sasl::MskIam { region, profile }) =
            t.kafka_security.as_ref().and_then(|s| s.sasl.as_ref())
        else {
            return Ok(None);
        };
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(p) = profile {
            loader = loader.profile_name(p);
        }
        let config = loader.load().await;
        let region = region
            .clone()
            .or_else(|| t.sqs_region.clone())
            .or_else(|| config.region().map(ToString::to_string))
            .ok_or(KafkaAuthError::NoRegion)?;
        let credentials = config
            .credentials_provider()
            .ok_or(KafkaAuthError::NoCredentials)?;
        Ok(Some(Self {
            region,
            credentials,
            runtime: tokio::runtime::Handle::current(),
        }))
    }

    /// A fresh token: base64url of a SigV4-presigned `kafka-cluster:Connect`
    /// request, and when it expires (ms since the epoch).
    fn token(&self) -> Result<(String, i64), KafkaAuthError> {
        let region = aws_config::Region::new(self.region.clone());
        let signing = aws_msk_iam_sasl_signer::generate_auth_token_from_credentials_provider(
            region,
            self.credentials.clone(),
        );
        // librdkafka calls from its own threads; a scoped thread keeps
        // `block_on` legal even if a call ever comes from a runtime thread.
        std::thread::scope(|scope| {
            scope
                .spawn(|| self.runtime.block_on(signing))
                .join()
                .map_err(|_| KafkaAuthError::SignerPanicked)?
                .map_err(|e| KafkaAuthError::Sign(e.to_string()))
        })
    }
}

/// The client context of our Kafka clients.
#[derive(Default)]
pub struct AuthContext {
    msk: Option<MskIam>,
    /// The last authentication / TLS failure librdkafka reported.
    auth_error: Mutex<Option<String>>,
}

impl AuthContext {
    pub fn new(msk: Option<MskIam>) -> Self {
        Self {
            msk,
            auth_error: Mutex::new(None),
        }
    }

    /// The last authentication or TLS failure, if any.
    pub fn auth_error(&self) -> Option<String> {
        self.auth_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl ClientContext for AuthContext {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn error(&self, error: KafkaError, reason: &str) {
        if is_auth_failure(&error, reason) {
            let mut last = self.auth_error.lock().unwrap_or_else(|p| p.into_inner());
            // Said once per distinct reason (librdkafka repeats it on every reconnect).
            if last.as_deref() != Some(reason) {
                tracing::warn!(event = "KafkaAuthFailed", "librdkafka: {reason}");
            }
            *last = Some(reason.to_string());
        } else {
            // Connection churn (brokers down, timeouts) shows in the send
            // outcomes already; here only for debugging.
            tracing::debug!(event = "KafkaClientError", "librdkafka: {error}: {reason}");
        }
    }

    fn generate_oauth_token(
        &self,
        _oauthbearer_config: Option<&str>,
    ) -> Result<OAuthToken, Box<dyn Error>> {
        let msk = self.msk.as_ref().ok_or(
            "OAUTHBEARER without AWS_MSK_IAM: configure it through `targets.kafka.security`",
        )?;
        let (token, lifetime_ms) = msk.token()?;
        Ok(OAuthToken {
            token,
            principal_name: String::new(),
            lifetime_ms,
        })
    }
}

/// Authentication and TLS handshake failures: retrying will not help.
pub fn is_auth_failure(error: &KafkaError, reason: &str) -> bool {
    let code = error.rdkafka_error_code();
    matches!(
        code,
        Some(RDKafkaErrorCode::Authentication | RDKafkaErrorCode::SaslAuthenticationFailed)
    ) || matches!(code, Some(Code::SSL))
        || reason.contains("SASL authentication error")
        || reason.contains("SSL handshake failed")
}

/// How long the pre-run check waits for the brokers' metadata.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(15);

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn msk_iam_tokens_are_presigned_connect_requests() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let msk = MskIam {
            region: "eu-west-1".into(),
            credentials: aws_sdk_sqs::config::SharedCredentialsProvider::new(
                aws_sdk_sqs::config::Credentials::new(
                    "AKIDMSKTEST",
                    "not-a-secret",
                    None,
                    None,
                    "t",
                ),
            ),
            runtime: runtime.handle().clone(),
        };
        // From a plain thread, as librdkafka calls it.
        let (token, expires_ms) = std::thread::spawn(move || msk.token())
            .join()
            .unwrap()
            .unwrap();
        let url = String::from_utf8(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&token)
                .unwrap(),
        )
        .unwrap();
        assert!(
            url.starts_with("https://kafka.eu-west-1.amazonaws.com/?"),
            "{url}"
        );
        assert!(url.contains("Action=kafka-cluster%3AConnect"), "{url}");
        assert!(url.contains("X-Amz-Credential=AKIDMSKTEST%2F"), "{url}");
        assert!(!url.contains("not-a-secret"));
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        assert!(expires_ms > now_ms, "{expires_ms} ≤ {now_ms}");
    }

    #[test]
    fn secrets_come_from_the_named_variables_only() {
        use crate::scenario::model::{KafkaSecurity, Sasl};
        let t = Targets {
            kafka_bootstrap: "b:9094".into(),
            producer: vec![],
            kafka_security: Some(KafkaSecurity {
                protocol: "SASL_SSL",
                ca_file: None,
                cert_file: None,
                key_file: None,
                key_password_env: None,
                verify_hostname: false,
                sasl: Some(Sasl::Password {
                    mechanism: "SCRAM-SHA-256",
                    username_env: "MBS_TEST_SURELY_UNSET_USER".into(),
                    password_env: "MBS_TEST_SURELY_UNSET_PASSWORD".into(),
                }),
            }),
            schema_registry: None,
            connect_url: String::new(),
            connect_access: Default::default(),
            sqs_endpoint: None,
            sqs_region: None,
            sqs_profile: None,
            sqs_keys: None,
            sqs_batch_concurrency: 1,
        };
        let err = client_config(&t).unwrap_err().to_string();
        assert_eq!(
            err,
            "`MBS_TEST_SURELY_UNSET_USER` (targets.kafka.security.sasl.username_env) is not set in the environment"
        );
    }
}
