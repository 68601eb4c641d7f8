//! The real sinks of a run: a Kafka producer checked against the brokers
//! before anything is sent, and an SQS client only when a phase sends there.

use crate::exit::Exit;
use crate::scenario::Scenario;
use crate::sink::SinkHandle;
use crate::sink::Sinks;

/// The Kafka and SQS sinks of the routes the phases use (a route no phase
/// takes gets no client, so a Kafka-only run needs no AWS credentials).
pub(super) async fn real_sinks(scenario: &Scenario) -> Result<Sinks, Exit> {
    let t = &scenario.targets;
    let uses = |mode| scenario.phases.iter().any(|p| p.mode == mode);
    let kafka = if uses(crate::scenario::model::Mode::KafkaViaConnect) {
        kafka_sink(t).await?
    } else {
        SinkHandle::Unavailable("no phase sends to Kafka")
    };
    if !uses(crate::scenario::model::Mode::DirectSqs) {
        let sqs = SinkHandle::Unavailable("no phase sends to SQS directly");
        return Ok(Sinks { kafka, sqs });
    }
    let settings = crate::sink::sqs::SqsSettings::of(t);
    let sqs = match crate::sink::sqs::SqsSink::new(&settings).await {
        Ok(s) => SinkHandle::Sqs(std::sync::Arc::new(
            s.with_batch_concurrency(t.sqs_batch_concurrency as usize),
        )),
        Err(e) => {
            crate::say!("error: cannot set up SQS: {e}");
            return Err(Exit::Failure);
        }
    };
    Ok(Sinks { kafka, sqs })
}

/// The Kafka producer, checked against the brokers: bad properties are an
/// invalid scenario (2), failed authentication or TLS an infrastructure
/// failure (3) before anything is sent; brokers that do not answer yet are
/// only a warning (they may come up, and sends are retried).
async fn kafka_sink(t: &crate::scenario::model::Targets) -> Result<SinkHandle, Exit> {
    let sink = match crate::sink::kafka::KafkaSink::for_target(t).await {
        Ok(k) => k,
        Err(e) => {
            crate::say!(
                "error: cannot create the Kafka producer for {}: {e}",
                t.kafka_bootstrap
            );
            crate::say!("  = help: check `targets.kafka.producer` and `targets.kafka.security`");
            return Err(Exit::Invalid);
        }
    };
    match sink.check().await {
        Ok(()) => {}
        Err((true, reason)) => {
            let what = if reason.contains("SSL") {
                "TLS handshake failed"
            } else {
                "authentication failed"
            };
            crate::say!("error: Kafka {}: {what}: {reason}", t.kafka_bootstrap);
            crate::say!(
                "  = help: check `targets.kafka.security` (mechanism, the credentials in the variables it names, certificates)"
            );
            return Err(Exit::Failure);
        }
        Err((false, e)) => crate::say!(
            "warning: Kafka {} did not answer a metadata request: {e}; sending anyway",
            t.kafka_bootstrap
        ),
    }
    Ok(SinkHandle::Kafka(std::sync::Arc::new(sink)))
}
