//! Service clients built on first use from `targets:`, so a scenario that
//! only creates a queue never needs a broker, and retry wrappers that turn
//! each client's errors into readiness decisions.

use std::time::Duration;

use super::connect::ConnectClient;
use super::http::HttpError;
use super::queue::{QueueError, Queues};
use super::registry::{Auth, RegistryClient};
use super::retry::{Attempt, Target, until_ready};
use super::topics::{Topics, is_transient};
use super::{InfraError, Options};
use crate::scenario::Scenario;

/// Per-request timeout of the HTTP clients (readiness retries around it).
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Clients<'a> {
    pub scenario: &'a Scenario,
    pub opts: &'a Options,
    registry: Option<RegistryClient>,
    connect: Option<ConnectClient>,
    topics: Option<Topics>,
    queues: Option<Queues>,
}

impl<'a> Clients<'a> {
    pub fn new(scenario: &'a Scenario, opts: &'a Options) -> Self {
        Self {
            scenario,
            opts,
            registry: None,
            connect: None,
            topics: None,
            queues: None,
        }
    }

    pub fn registry(&mut self, step: &str) -> Result<&RegistryClient, InfraError> {
        let client = match self.registry.take() {
            Some(c) => c,
            None => {
                let Some(r) = &self.scenario.targets.schema_registry else {
                    return Err(InfraError::rejected(
                        step,
                        "no Schema Registry is configured",
                        Some("add `targets.schema_registry.url`".into()),
                    ));
                };
                let auth = registry_auth(r, &self.opts.vars)
                    .map_err(|(m, h)| InfraError::rejected(step, &m, Some(h)))?;
                RegistryClient::new(&r.url, auth, HTTP_TIMEOUT).map_err(|e| {
                    InfraError::rejected(step, &e, Some("fix `targets.schema_registry.url`".into()))
                })?
            }
        };
        Ok(self.registry.insert(client))
    }

    pub fn connect(&mut self, step: &str) -> Result<&ConnectClient, InfraError> {
        let client = match self.connect.take() {
            Some(c) => c,
            None => {
                let url = &self.scenario.targets.connect_url;
                ConnectClient::new(url, HTTP_TIMEOUT).map_err(|e| {
                    InfraError::rejected(step, &e, Some("fix `targets.connect.url`".into()))
                })?
            }
        };
        Ok(self.connect.insert(client))
    }

    pub async fn topics(&mut self, step: &str) -> Result<&Topics, InfraError> {
        let client = match self.topics.take() {
            Some(c) => c,
            None => {
                let t = &self.scenario.targets;
                Topics::for_target(t).await.map_err(|e| {
                    InfraError::rejected(
                        step,
                        &e,
                        Some("check `targets.kafka.producer` and `targets.kafka.security`".into()),
                    )
                })?
            }
        };
        Ok(self.topics.insert(client))
    }

    pub async fn queues(&mut self, step: &str) -> Result<&Queues, InfraError> {
        let client = match self.queues.take() {
            Some(c) => c,
            None => {
                let t = &self.scenario.targets;
                let settings = crate::sink::sqs::SqsSettings::of(t);
                let client = crate::sink::sqs::client(&settings)
                    .await
                    .map_err(|e: String| InfraError::rejected(step, &e, None))?;
                Queues::new(client)
            }
        };
        Ok(self.queues.insert(client))
    }

    pub fn sqs_endpoint(&self) -> String {
        let t = &self.scenario.targets;
        t.sqs_endpoint.clone().unwrap_or_else(|| {
            format!(
                "AWS SQS {}",
                t.sqs_region
                    .as_deref()
                    .unwrap_or("(region from the AWS config)")
            )
        })
    }
}

fn registry_auth(
    r: &crate::scenario::model::Registry,
    vars: &crate::scenario::Vars,
) -> Result<Auth, (String, String)> {
    if let Some(var) = &r.basic_auth_env {
        let Some(v) = vars.get(var) else {
            return Err((
                format!("`{var}` (targets.schema_registry.basic_auth_env) is not set"),
                format!("export {var}=user:password"),
            ));
        };
        let Some((user, password)) = v.split_once(':') else {
            return Err((
                format!("`{var}` must be `user:password`"),
                format!("export {var}=user:password"),
            ));
        };
        return Ok(Auth::Basic {
            user: user.to_string(),
            password: password.to_string(),
        });
    }
    if let Some(var) = &r.bearer_token_env {
        return match vars.get(var) {
            Some(t) if !t.is_empty() => Ok(Auth::Bearer(t)),
            _ => Err((
                format!("`{var}` (targets.schema_registry.bearer_token_env) is not set"),
                format!("export {var}=<token>"),
            )),
        };
    }
    Ok(Auth::None)
}

/// Retries `call` until it succeeds or `decide` calls its error final.
async fn retry<T, E, F, Fut>(
    target: &Target<'_>,
    opts: &Options,
    mut call: F,
    decide: impl Fn(E) -> Attempt<T>,
) -> Result<T, InfraError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    until_ready(target, opts.timeout, &opts.progress, || {
        let fut = call();
        let decide = &decide;
        async move { fut.await.map_or_else(decide, Attempt::Done) }
    })
    .await
}

/// Retries an HTTP call while the service is unavailable (no answer, 5xx).
pub async fn http<T, F, Fut>(
    target: &Target<'_>,
    opts: &Options,
    help: Option<&str>,
    call: F,
) -> Result<T, InfraError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, HttpError>>,
{
    retry(target, opts, call, |e| match e {
        HttpError::Unavailable(m) => Attempt::Transient(m),
        e @ HttpError::Server { .. } => Attempt::Transient(e.to_string()),
        e => Attempt::Fatal(InfraError::rejected(
            target.step,
            &format!("{}: {e}", target.service),
            help.map(str::to_string).or_else(|| match e {
                HttpError::Auth { .. } => Some(
                    "set the variable named by targets.schema_registry.basic_auth_env (user:password) or bearer_token_env".into(),
                ),
                _ => None,
            }),
        )),
    })
    .await
}

/// Retries an SQS call while SQS does not answer.
pub async fn sqs<T, F, Fut>(target: &Target<'_>, opts: &Options, call: F) -> Result<T, InfraError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, QueueError>>,
{
    retry(target, opts, call, |e| match e {
        QueueError::Unavailable(m) => Attempt::Transient(m),
        QueueError::Refused(m) => Attempt::Fatal(InfraError::rejected(
            target.step,
            &format!("SQS: {m}"),
            None,
        )),
    })
    .await
}

/// Retries a Kafka admin call while no broker answers.
pub async fn kafka<T, F, Fut>(target: &Target<'_>, opts: &Options, call: F) -> Result<T, InfraError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    retry(target, opts, call, |m: String| {
        if is_transient(&m) {
            Attempt::Transient(m)
        } else {
            Attempt::Fatal(InfraError::rejected(
                target.step,
                &format!("Kafka: {m}"),
                None,
            ))
        }
    })
    .await
}
