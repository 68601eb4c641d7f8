//! Service clients built on first use from the plan's targets, so a scenario that
//! only creates a queue never needs a broker, and retry wrappers that turn
//! each client's errors into readiness decisions.

use std::time::Duration;

use super::connect::ConnectClient;
use super::http::HttpError;
use super::queue::{QueueError, Queues};
use super::registry::{Auth, RegistryClient};
use super::retry::{Attempt, Target, until_ready};
use super::topics::{Topics, TopicsError};
use super::{InfraError, Options};
use crate::plan::Plan;

/// Per-request timeout of the HTTP clients (readiness retries around it).
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// The service clients of one setup, follow or teardown walk. Each accessor
/// returns its client with the [`Target`] that the retries around a call
/// name in progress lines and errors (service, endpoint, step).
pub struct Clients<'a> {
    pub plan: &'a Plan,
    pub opts: &'a Options,
    registry: Option<RegistryClient>,
    connect: Option<ConnectClient>,
    topics: Option<Topics>,
    queues: Option<Queues>,
    /// SQS has no URL of its own without an endpoint: the region stands in.
    sqs_endpoint: String,
}

/// A client and the target its calls retry against.
pub type At<'s, C> = (&'s C, Target<'s>);

impl<'a> Clients<'a> {
    pub fn new(plan: &'a Plan, opts: &'a Options) -> Self {
        let t = &plan.targets;
        let sqs_endpoint = t.sqs_endpoint.clone().unwrap_or_else(|| {
            format!(
                "AWS SQS {}",
                t.sqs_region
                    .as_deref()
                    .unwrap_or("(region from the AWS config)")
            )
        });
        Self {
            plan,
            opts,
            registry: None,
            connect: None,
            topics: None,
            queues: None,
            sqs_endpoint,
        }
    }

    pub fn registry<'s>(&'s mut self, step: &'s str) -> Result<At<'s, RegistryClient>, InfraError> {
        let client = match self.registry.take() {
            Some(c) => c,
            None => {
                let Some(r) = &self.plan.targets.schema_registry else {
                    return Err(InfraError::rejected(
                        step,
                        "no Schema Registry is configured",
                        Some("add `targets.schema_registry.url`".into()),
                    ));
                };
                let auth = http_auth(
                    "targets.schema_registry",
                    &r.basic_auth_env,
                    &r.bearer_token_env,
                    &self.opts.vars,
                )
                .map_err(|(m, h)| InfraError::rejected(step, &m, Some(h)))?;
                RegistryClient::with_ca(&r.url, auth, HTTP_TIMEOUT, r.ca_file.as_deref()).map_err(
                    |e| {
                        InfraError::rejected(
                            step,
                            &e.to_string(),
                            Some("fix `targets.schema_registry.url`".into()),
                        )
                    },
                )?
            }
        };
        let client = &*self.registry.insert(client);
        Ok((client, at("Schema Registry", client.url(), step)))
    }

    pub fn connect<'s>(&'s mut self, step: &'s str) -> Result<At<'s, ConnectClient>, InfraError> {
        let client = match self.connect.take() {
            Some(c) => c,
            None => connect_client(&self.plan.targets, &self.opts.vars, HTTP_TIMEOUT)
                .map_err(|(m, h)| InfraError::rejected(step, &m, Some(h)))?,
        };
        let client = &*self.connect.insert(client);
        Ok((client, at("Kafka Connect", client.url(), step)))
    }

    pub async fn topics<'s>(&'s mut self, step: &'s str) -> Result<At<'s, Topics>, InfraError> {
        let client = match self.topics.take() {
            Some(c) => c,
            None => Topics::for_target(&self.plan.targets).await.map_err(|e| {
                InfraError::rejected(
                    step,
                    &e.to_string(),
                    Some("check `targets.kafka.producer` and `targets.kafka.security`".into()),
                )
            })?,
        };
        let client = &*self.topics.insert(client);
        Ok((client, at("Kafka", client.bootstrap(), step)))
    }

    pub async fn queues<'s>(&'s mut self, step: &'s str) -> Result<At<'s, Queues>, InfraError> {
        let client = match self.queues.take() {
            Some(c) => c,
            None => {
                let settings = crate::sink::sqs::SqsSettings::of(&self.plan.targets);
                let client = crate::sink::sqs::client(&settings)
                    .await
                    .map_err(|e| InfraError::rejected(step, &e.to_string(), None))?;
                Queues::new(client)
            }
        };
        let client = &*self.queues.insert(client);
        Ok((client, at("SQS", &self.sqs_endpoint, step)))
    }
}

fn at<'s>(service: &'s str, endpoint: &'s str, step: &'s str) -> Target<'s> {
    Target {
        service,
        endpoint,
        step,
    }
}

/// The Kafka Connect client of `t`: its URL, credentials and CA file.
/// Errors are (message, help).
pub fn connect_client(
    t: &crate::scenario::model::Targets,
    vars: &crate::scenario::Vars,
    timeout: Duration,
) -> Result<ConnectClient, (String, String)> {
    let a = &t.connect_access;
    let auth = http_auth(
        "targets.connect",
        &a.basic_auth_env,
        &a.bearer_token_env,
        vars,
    )?;
    ConnectClient::with_auth(&t.connect_url, auth, timeout, a.ca_file.as_deref()).map_err(|e| {
        (
            e.to_string(),
            "fix `targets.connect.url` / `ca_file`".into(),
        )
    })
}

/// Credentials from the variables a target names (`{what}.basic_auth_env`
/// holds `user:password`, `{what}.bearer_token_env` a token).
fn http_auth(
    what: &str,
    basic_auth_env: &Option<String>,
    bearer_token_env: &Option<String>,
    vars: &crate::scenario::Vars,
) -> Result<Auth, (String, String)> {
    if let Some(var) = basic_auth_env {
        let Some(v) = vars.get(var) else {
            return Err((
                format!("`{var}` ({what}.basic_auth_env) is not set"),
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
    if let Some(var) = bearer_token_env {
        return match vars.get(var) {
            Some(t) if !t.is_empty() => Ok(Auth::Bearer(t)),
            _ => Err((
                format!("`{var}` ({what}.bearer_token_env) is not set"),
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
            match e {
                // Whatever the step would suggest, a 401/403 is about credentials.
                HttpError::Auth { .. } => Some(format!(
                    "check the credentials in the variables named by `basic_auth_env` (user:password) or `bearer_token_env` of {}",
                    target.service
                )),
                _ => help.map(str::to_string),
            },
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
    Fut: std::future::Future<Output = Result<T, TopicsError>>,
{
    retry(target, opts, call, |e: TopicsError| {
        let m = e.to_string();
        if e.is_transient() {
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
