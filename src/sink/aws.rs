//! AWS settings for SQS: endpoint, region and credentials, resolved the way
//! the AWS CLI and SDKs do (`aws-config`'s default chain: environment,
//! shared config and credentials files with `AWS_PROFILE` or
//! `targets.sqs.profile`, SSO, web identity — IRSA on Kubernetes —, container
//! and instance metadata), unless the scenario names environment variables
//! holding static keys.
//!
//! Credentials are resolved once, before anything is sent, so a missing
//! profile or an expired session is one clear error rather than a failure
//! per message. Against an emulator (`targets.sqs.endpoint`) with nothing
//! configured at all, the conventional `test`/`test` keys are used without
//! consulting the chain (whose instance-metadata probe would only time out).

use std::time::Duration;

use aws_sdk_sqs::config::{Credentials, ProvideCredentials, Region};

use crate::scenario::model::{AwsKeys, Targets};

/// How long resolving credentials may take (SSO and web identity are network calls).
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(20);
/// The region when neither the scenario nor the chain names one.
pub const FALLBACK_REGION: &str = "us-east-1";

/// Connection settings of the SQS client.
#[derive(Debug, Clone, Default)]
pub struct SqsSettings {
    pub endpoint: Option<String>,
    /// `None`: from the chain (`AWS_REGION`, the profile), else [`FALLBACK_REGION`].
    pub region: Option<String>,
    /// Named profile of the shared config files.
    pub profile: Option<String>,
    /// Static keys from the environment variables the scenario names.
    pub keys: Option<AwsKeys>,
}

impl SqsSettings {
    pub fn of(t: &Targets) -> Self {
        Self {
            endpoint: t.sqs_endpoint.clone(),
            region: t.sqs_region.clone(),
            profile: t.sqs_profile.clone(),
            keys: t.sqs_keys.clone(),
        }
    }

    /// Where credentials come from, for messages and `plan`: what the
    /// scenario says, never a secret, and not the environment (a plan is
    /// the same on every machine).
    pub fn credential_source(&self) -> String {
        match (&self.keys, &self.profile) {
            (Some(k), _) => format!(
                "static keys from ${} / ${}{}",
                k.access_key_id_env,
                k.secret_access_key_env,
                k.session_token_env
                    .as_ref()
                    .map(|t| format!(" / ${t}"))
                    .unwrap_or_default()
            ),
            (None, Some(p)) => format!("profile `{p}` (AWS config chain)"),
            (None, None) if self.endpoint.is_some() => {
                "AWS default chain; emulator test keys when no AWS configuration exists".into()
            }
            (None, None) => "AWS default credential chain".into(),
        }
    }

    /// An emulator endpoint and no sign of any AWS configuration.
    fn emulator_defaults(&self) -> bool {
        const HINTS: [&str; 6] = [
            "AWS_ACCESS_KEY_ID",
            "AWS_PROFILE",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_CONFIG_FILE",
        ];
        let home_files = std::env::var_os("HOME").is_some_and(|h| {
            let aws = std::path::Path::new(&h).join(".aws");
            aws.join("credentials").exists() || aws.join("config").exists()
        });
        self.endpoint.is_some()
            && self.keys.is_none()
            && self.profile.is_none()
            && !home_files
            && std::env::var_os("AWS_SHARED_CREDENTIALS_FILE").is_none()
            && HINTS.iter().all(|v| std::env::var_os(v).is_none())
    }
}

/// Why the SQS client has no credentials. Messages name the variable or the
/// chain that was asked, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    /// A variable named under `targets.sqs.credentials` is not set.
    #[error("`{var}` (targets.sqs.credentials.{key}) is not set in the environment")]
    Unset { var: String, key: &'static str },
    /// The chain set up no credential provider at all.
    #[error("no AWS credentials for SQS ({chain})")]
    NoProvider { chain: String },
    /// The provider answered with an error (its context chain in `reason`).
    #[error("no AWS credentials for SQS ({chain}): {reason}")]
    Unresolved { chain: String, reason: String },
    #[error(
        "no AWS credentials for SQS ({chain}): resolving them took longer than {}s",
        RESOLVE_TIMEOUT.as_secs()
    )]
    TimedOut { chain: String },
}

/// Reads the static keys the scenario names. Errors name the variable,
/// never its value.
fn static_keys(k: &AwsKeys) -> Result<Credentials, AwsError> {
    let read = |var: &str, key: &'static str| {
        std::env::var(var).map_err(|_| AwsError::Unset {
            var: var.to_string(),
            key,
        })
    };
    let id = read(&k.access_key_id_env, "access_key_id_env")?;
    let secret = read(&k.secret_access_key_env, "secret_access_key_env")?;
    let token = match &k.session_token_env {
        Some(v) => Some(read(v, "session_token_env")?),
        None => None,
    };
    Ok(Credentials::new(
        id,
        secret,
        token,
        None,
        "scenario-named-env",
    ))
}

/// The SDK configuration with credentials checked.
pub async fn sdk_config(s: &SqsSettings) -> Result<aws_config::SdkConfig, AwsError> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(p) = &s.profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = &s.region {
        loader = loader.region(Region::new(r.clone()));
    }
    if let Some(e) = &s.endpoint {
        loader = loader.endpoint_url(e);
    }
    // The SDK sets no read timeout: a hung endpoint would hold a send (and
    // its in-flight budget) forever. An attempt that takes this long is
    // retried, then failed and counted.
    loader = loader.timeout_config(
        aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(5))
            .operation_attempt_timeout(SQS_ATTEMPT_TIMEOUT)
            .build(),
    );
    if let Some(k) = &s.keys {
        loader = loader.credentials_provider(static_keys(k)?);
    } else if s.emulator_defaults() {
        loader = loader.credentials_provider(Credentials::new(
            "test",
            "test",
            None,
            None,
            "emulator-default",
        ));
    }
    let mut config = loader.load().await;
    if config.region().is_none() {
        config = config
            .into_builder()
            .region(Region::new(FALLBACK_REGION))
            .build();
    }
    let chain = s.credential_source();
    let Some(provider) = config.credentials_provider() else {
        return Err(AwsError::NoProvider { chain });
    };
    match tokio::time::timeout(RESOLVE_TIMEOUT, provider.provide_credentials()).await {
        Ok(Ok(c)) => {
            // From a profile, SSO or a role: values the scenario never named.
            crate::telemetry::secrets::register(c.secret_access_key());
            if let Some(t) = c.session_token() {
                crate::telemetry::secrets::register(t);
            }
            Ok(config)
        }
        Ok(Err(e)) => Err(AwsError::Unresolved {
            chain,
            reason: aws_sdk_sqs::error::DisplayErrorContext(&e).to_string(),
        }),
        Err(_) => Err(AwsError::TimedOut { chain }),
    }
}

/// How long one SQS call may take before it is retried (long polls wait 1 s).
pub const SQS_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// An SQS client with checked credentials.
pub async fn client(s: &SqsSettings) -> Result<aws_sdk_sqs::Client, AwsError> {
    Ok(aws_sdk_sqs::Client::new(&sdk_config(s).await?))
}
