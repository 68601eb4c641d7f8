//! The sinks of a run: a Kafka producer checked against the brokers before
//! anything is sent and an SQS client only when a phase sends there, or the
//! `--sink null|file:DIR|avro:DIR` stand-ins.

use std::sync::Arc;

use anyhow::Context as _;

use crate::cli::SinkArg;
use crate::failure::Failure;
use crate::plan::Plan;
use crate::scenario::model::Mode;
use crate::sink::{SinkHandle, Sinks, file::FileSink};

/// The sink `--sink` puts in place of Kafka and SQS (`virtual` never gets here).
pub(super) fn stand_in(arg: &SinkArg, plan: &Plan) -> Result<Sinks, Failure> {
    let folder = |dir: &std::path::Path| format!("cannot create sink folder {}", dir.display());
    Ok(match arg {
        SinkArg::File(dir) => Sinks::both(SinkHandle::File(Arc::new(
            FileSink::new(dir).with_context(|| folder(dir))?,
        ))),
        SinkArg::Avro(dir) => {
            // The .avsc as written (logical types and defaults kept), compacted.
            let schemas = plan
                .specs
                .iter()
                .map(|s| {
                    std::fs::read_to_string(&s.schema_file.resolved)
                        .ok()
                        .and_then(|t| crate::infra::registry::schema_text(&t).ok())
                        .unwrap_or_else(|| s.schema.canonical_form())
                })
                .collect();
            Sinks::both(SinkHandle::AvroFile(Arc::new(
                crate::sink::avro_file::AvroFileSink::new(dir, schemas)
                    .with_context(|| folder(dir))?,
            )))
        }
        SinkArg::Null | SinkArg::Virtual { .. } => Sinks::both(SinkHandle::Null),
    })
}

/// The Kafka and SQS sinks of the routes the phases use (a route no phase
/// takes gets no client, so a Kafka-only run needs no AWS credentials).
pub(super) async fn real_sinks(plan: &Plan) -> Result<Sinks, Failure> {
    let t = &plan.targets;
    let kafka = if plan.uses(Mode::KafkaViaConnect) {
        kafka_sink(t).await?
    } else {
        SinkHandle::Unavailable("no phase sends to Kafka")
    };
    if !plan.uses(Mode::DirectSqs) {
        let sqs = SinkHandle::Unavailable("no phase sends to SQS directly");
        return Ok(Sinks { kafka, sqs });
    }
    let settings = crate::sink::sqs::SqsSettings::of(t);
    let sqs = match crate::sink::sqs::SqsSink::new(&settings).await {
        Ok(s) => SinkHandle::Sqs(Arc::new(
            s.with_batch_concurrency(t.sqs_batch_concurrency as usize),
        )),
        Err(e) => return Err(Failure::infra(format!("cannot set up SQS: {e}"))),
    };
    Ok(Sinks { kafka, sqs })
}

/// The Kafka producer, checked against the brokers: bad properties are an
/// invalid scenario (2), failed authentication or TLS an infrastructure
/// failure (3) before anything is sent; brokers that do not answer yet are
/// only a warning (they may come up, and sends are retried).
async fn kafka_sink(t: &crate::scenario::model::Targets) -> Result<SinkHandle, Failure> {
    let sink = crate::sink::kafka::KafkaSink::for_target(t)
        .await
        .map_err(|e| {
            Failure::invalid(format!(
                "cannot create the Kafka producer for {}: {e}",
                t.kafka_bootstrap
            ))
            .help("check `targets.kafka.producer` and `targets.kafka.security`")
        })?;
    match sink.check().await {
        Ok(()) => {}
        Err((true, reason)) => {
            let what = if reason.contains("SSL") {
                "TLS handshake failed"
            } else {
                "authentication failed"
            };
            return Err(Failure::infra(format!(
                "Kafka {}: {what}: {reason}",
                t.kafka_bootstrap
            ))
            .help(
                "check `targets.kafka.security` (mechanism, the credentials in the variables it names, certificates)",
            ));
        }
        Err((false, e)) => crate::say!(
            "warning: Kafka {} did not answer a metadata request: {e}; sending anyway",
            t.kafka_bootstrap
        ),
    }
    Ok(SinkHandle::Kafka(Arc::new(sink)))
}
