//! `mbscenario run`: plan → engine → summary. Infra setup, real Kafka/SQS
//! sinks, assertions and reports plug in here as they are built.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;

use crate::cli::SinkArg;
use crate::engine::{self, Shutdown};
use crate::exit::Exit;
use crate::plan::Plan;
use crate::scenario::Scenario;
use crate::sink::{SinkHandle, Sinks, file::FileSink};

pub fn run(
    file: &Path,
    scenario: &Scenario,
    sink: Option<SinkArg>,
    grace: Duration,
    summary_json: Option<&Path>,
) -> anyhow::Result<Exit> {
    let sinks = match sink {
        Some(SinkArg::Null) => Sinks::both(SinkHandle::Null),
        Some(SinkArg::File(dir)) => Sinks::both(SinkHandle::File(std::sync::Arc::new(
            FileSink::new(&dir)
                .with_context(|| format!("cannot create sink folder {}", dir.display()))?,
        ))),
        None => match real_sinks(scenario) {
            Ok(s) => s,
            Err(exit) => return Ok(exit),
        },
    };
    let plan = Plan::compile(scenario);
    let streams = match engine::prepare::streams(scenario, scenario.seed, None) {
        Ok(s) => s,
        Err((stream, e)) => {
            eprintln!("error: stream `{stream}` cannot generate records: {e}");
            return Ok(Exit::Invalid);
        }
    };
    eprintln!(
        "running {}: {} phase(s), {} planned, sink {}",
        plan.scenario,
        plan.phases.len(),
        crate::scenario::units::format_duration(plan.total_duration),
        sinks.kafka.name()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let summary = runtime.block_on(async {
        let shutdown = Shutdown::new(grace);
        shutdown.listen_for_signals();
        engine::run_with_progress(&plan, streams, sinks, &shutdown, true).await
    });
    print!("{}", summary.render_text());
    if let Some(path) = summary_json {
        let text =
            serde_json::to_string_pretty(&summary).context("cannot serialize the summary")?;
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if !scenario.assertions.is_empty() {
        eprintln!(
            "note: assertions are not evaluated yet (reports issue); exit code reflects the run only"
        );
    }
    if let Some(fatal) = &summary.fatal {
        eprintln!("error: the run was stopped: {fatal}");
        if let Some(at) = summary
            .fatal_error
            .as_ref()
            .and_then(|e| super::expr_location(file, scenario, e))
        {
            eprintln!("{at}");
        }
        eprintln!(
            "  = help: fix the override in the scenario; `mbscenario sample` shows records without sending them"
        );
        return Ok(Exit::Invalid);
    }
    Ok(if summary.interrupted {
        Exit::Failure
    } else {
        Exit::Passed
    })
}

/// Kafka for `kafka_via_connect` phases, SQS for `direct_sqs` phases.
fn real_sinks(scenario: &Scenario) -> Result<Sinks, Exit> {
    let t = &scenario.targets;
    let kafka = match crate::sink::kafka::KafkaSink::new(&t.kafka_bootstrap, &t.producer) {
        Ok(k) => SinkHandle::Kafka(std::sync::Arc::new(k)),
        Err(e) => {
            eprintln!(
                "error: cannot create the Kafka producer for {}: {e}",
                t.kafka_bootstrap
            );
            eprintln!(
                "  = help: check `targets.kafka.producer` (librdkafka property names and values)"
            );
            return Err(Exit::Invalid);
        }
    };
    let settings = crate::sink::sqs::SqsSettings {
        endpoint: t.sqs_endpoint.clone(),
        region: t.sqs_region.clone(),
    };
    let sqs = match crate::sink::sqs::SqsSink::new(&settings) {
        Ok(s) => SinkHandle::Sqs(std::sync::Arc::new(s)),
        Err(e) => {
            eprintln!("error: cannot set up SQS: {e}");
            return Err(Exit::Failure);
        }
    };
    Ok(Sinks { kafka, sqs })
}
