//! SQS queues (aws-sdk-sqs): create standard or FIFO queues with
//! attributes, an optional dead-letter queue wired with a redrive policy,
//! URL lookup, purge and delete. `CreateQueue` is idempotent in SQS when the
//! attributes match; when they do not, the differences are reported.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{DisplayErrorContext, SdkError};
use aws_sdk_sqs::types::QueueAttributeName;

use crate::scenario::model::DeadLetter;

/// A queue as the scenario wants it.
#[derive(Debug, Clone)]
pub struct QueueSpec<'a> {
    pub name: &'a str,
    pub fifo: bool,
    pub attributes: &'a [(String, String)],
    pub dead_letter: Option<&'a DeadLetter>,
}

/// What went wrong with an SQS call.
#[derive(Debug, Clone, PartialEq)]
pub enum QueueError {
    /// No answer: retry.
    Unavailable(String),
    /// The service answered and refused.
    Refused(String),
}

impl std::fmt::Display for QueueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueueError::Unavailable(m) | QueueError::Refused(m) => f.write_str(m),
        }
    }
}

fn classify<E>(e: SdkError<E, HttpResponse>) -> QueueError
where
    E: std::error::Error + 'static,
{
    let transient = matches!(e, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_))
        || matches!(&e, SdkError::ResponseError(_))
        || e.raw_response()
            .is_some_and(|r| r.status().is_server_error());
    let text = DisplayErrorContext(&e).to_string();
    if transient {
        QueueError::Unavailable(text)
    } else {
        QueueError::Refused(text)
    }
}

/// Whether an SQS error names this error code (codes are the same across
/// the JSON and query protocols; emulators spell some with a prefix).
fn is_code(e: &QueueError, code: &str) -> bool {
    matches!(e, QueueError::Refused(m) if m.contains(code))
}

pub struct Queues {
    client: Client,
}

/// What ensuring a queue did.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueOutcome {
    pub url: String,
    pub dead_letter_url: Option<String>,
}

impl Queues {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// A cheap call that fails while SQS does not answer.
    pub async fn ping(&self) -> Result<(), QueueError> {
        self.client
            .list_queues()
            .max_results(1)
            .send()
            .await
            .map(drop)
            .map_err(classify)
    }

    /// URL of `name`, `None` when it does not exist.
    pub async fn url(&self, name: &str) -> Result<Option<String>, QueueError> {
        match self.client.get_queue_url().queue_name(name).send().await {
            Ok(r) => Ok(r.queue_url),
            Err(e) => {
                let e = classify(e);
                if is_code(&e, "NonExistentQueue") || is_code(&e, "QueueDoesNotExist") {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Creates the queue (and its dead-letter queue first), or checks the
    /// existing one. Differences in attributes are an error listing them.
    pub async fn ensure(&self, spec: &QueueSpec<'_>) -> Result<QueueOutcome, QueueError> {
        let mut attrs: Vec<(String, String)> = spec.attributes.to_vec();
        if spec.fifo && !attrs.iter().any(|(k, _)| k == "FifoQueue") {
            attrs.push(("FifoQueue".into(), "true".into()));
        }
        let mut dead_letter_url = None;
        if let Some(dl) = spec.dead_letter {
            let mut dl_attrs = Vec::new();
            if spec.fifo {
                dl_attrs.push(("FifoQueue".to_string(), "true".to_string()));
            }
            let url = self.create(&dl.name, &dl_attrs).await?;
            let arn = self.attribute(&url, "QueueArn").await?.ok_or_else(|| {
                QueueError::Refused(format!("queue `{}` reports no QueueArn", dl.name))
            })?;
            attrs.push((
                "RedrivePolicy".into(),
                serde_json::json!({
                    "deadLetterTargetArn": arn,
                    "maxReceiveCount": dl.max_receive_count.to_string(),
                })
                .to_string(),
            ));
            dead_letter_url = Some(url);
        }
        let url = self.create(spec.name, &attrs).await?;
        Ok(QueueOutcome {
            url,
            dead_letter_url,
        })
    }

    async fn create(&self, name: &str, attrs: &[(String, String)]) -> Result<String, QueueError> {
        let mut req = self.client.create_queue().queue_name(name);
        for (k, v) in attrs {
            req = req.attributes(QueueAttributeName::from(k.as_str()), v);
        }
        match req.send().await.map_err(classify) {
            Ok(r) => r
                .queue_url
                .ok_or_else(|| QueueError::Refused(format!("creating `{name}` returned no URL"))),
            Err(e) if is_code(&e, "QueueAlreadyExists") || is_code(&e, "QueueNameExists") => {
                Err(QueueError::Refused(self.differences(name, attrs).await))
            }
            Err(e) => Err(e),
        }
    }

    /// Why an existing queue's attributes differ from `wanted`.
    async fn differences(&self, name: &str, wanted: &[(String, String)]) -> String {
        let Ok(Some(url)) = self.url(name).await else {
            return format!("queue `{name}` exists with different attributes");
        };
        let mut diffs = Vec::new();
        for (k, want) in wanted {
            let have = self.attribute(&url, k).await.ok().flatten();
            if !same_attribute(k, have.as_deref(), want) {
                diffs.push(format!(
                    "{k} is {}, the scenario asks for {want}",
                    have.as_deref().unwrap_or("unset")
                ));
            }
        }
        if diffs.is_empty() {
            format!("queue `{name}` exists with different attributes")
        } else {
            format!(
                "queue `{name}` exists with different attributes: {}",
                diffs.join("; ")
            )
        }
    }

    pub async fn attribute(&self, url: &str, name: &str) -> Result<Option<String>, QueueError> {
        let attr = QueueAttributeName::from(name);
        let r = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(attr.clone())
            .send()
            .await
            .map_err(classify)?;
        Ok(r.attributes.and_then(|mut m| m.remove(&attr)))
    }

    /// Visible + in-flight + delayed messages (approximate counts, exact on emulators).
    pub async fn depth(&self, url: &str) -> Result<u64, QueueError> {
        let mut total = 0;
        for a in [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ] {
            total += self
                .attribute(url, a)
                .await?
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
        Ok(total)
    }

    /// Purges `name`; `false` when it does not exist. SQS allows one purge a
    /// minute: a purge already in progress counts as done.
    pub async fn purge(&self, name: &str) -> Result<bool, QueueError> {
        let Some(url) = self.url(name).await? else {
            return Ok(false);
        };
        match self.client.purge_queue().queue_url(url).send().await {
            Ok(_) => Ok(true),
            Err(e) => {
                let e = classify(e);
                if is_code(&e, "PurgeQueueInProgress") {
                    Ok(true)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Deletes `name`; `false` when it was already gone.
    pub async fn delete(&self, name: &str) -> Result<bool, QueueError> {
        let Some(url) = self.url(name).await? else {
            return Ok(false);
        };
        self.client
            .delete_queue()
            .queue_url(url)
            .send()
            .await
            .map(|_| true)
            .map_err(classify)
    }
}

/// Attribute values compare as SQS returns them: JSON policies by value.
fn same_attribute(key: &str, have: Option<&str>, want: &str) -> bool {
    let Some(have) = have else { return false };
    if key == "RedrivePolicy" || key == "Policy" || key == "RedriveAllowPolicy" {
        let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).ok();
        // maxReceiveCount comes back as a number or a string depending on the service.
        let norm = |v: Option<serde_json::Value>| {
            v.map(|mut v| {
                if let Some(m) = v.get_mut("maxReceiveCount") {
                    *m = serde_json::Value::String(
                        m.as_str().map_or_else(|| m.to_string(), str::to_string),
                    );
                }
                v
            })
        };
        return norm(parse(have)) == norm(parse(want));
    }
    have == want
}

#[cfg(test)]
mod tests {
    use super::same_attribute;

    #[test]
    fn redrive_policies_compare_by_value() {
        let a = r#"{"deadLetterTargetArn":"arn:x","maxReceiveCount":5}"#;
        let b = r#"{"maxReceiveCount":"5","deadLetterTargetArn":"arn:x"}"#;
        assert!(same_attribute("RedrivePolicy", Some(a), b));
        assert!(!same_attribute(
            "RedrivePolicy",
            Some(a),
            r#"{"deadLetterTargetArn":"arn:x","maxReceiveCount":"6"}"#
        ));
        assert!(same_attribute("VisibilityTimeout", Some("30"), "30"));
        assert!(!same_attribute("VisibilityTimeout", None, "30"));
    }
}
