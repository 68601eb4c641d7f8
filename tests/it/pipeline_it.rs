//! End to end with the real binary against the real local stack:
//! - the CI variant of the ramp scenario travels Kafka → Kafka Connect (SQS
//!   sink) → SQS and direct to SQS, and every message is counted at the queue;
//! - a direct-SQS scenario passes its `arrivals` assertion, and fails with
//!   exit 1 and per-phase missing counts when the test steals messages from
//!   the queue while it runs.

use crate::support;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use support::{json_report as report, repo};

fn mbscenario(stack: &support::Stack, args: &[&str], run_id: &str) -> (i32, String, String) {
    support::run_bin(stack, args, run_id, &[])
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mbs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn ramp_ci_travels_kafka_connect_sqs_and_every_message_is_counted() {
    let Some(stack) =
        support::stack("ramp_ci_travels_kafka_connect_sqs_and_every_message_is_counted")
    else {
        return;
    };
    let dir = temp_dir("ramp-ci");
    // A fixed id keeps the snapshot stable; setup is idempotent and purges.
    let run_id = "it".to_string();
    let (code, stdout, stderr) = mbscenario(
        &stack,
        &[
            "run",
            "scenarios/ramp-ci.yaml",
            "--teardown",
            "--report-dir",
            dir.to_str().unwrap(),
        ],
        &run_id,
    );
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let r = report(&dir);
    assert_eq!(r["passed"], true);
    // A real report, with backend snapshots and arrivals, matches the committed schema.
    let schema: Value = serde_json::from_str(&mbscenario::ops::report_schema_json()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&r)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let acked = r["run"]["totals"]["acked"].as_u64().unwrap();
    assert_eq!(acked, r["planned_messages"].as_u64().unwrap());
    let q = &r["arrivals"]["queues"][0];
    assert_eq!(q["queue"], format!("mb-ci-{run_id}").as_str());
    assert_eq!(
        (q["expected"].as_u64(), q["arrived"].as_u64()),
        (Some(acked), Some(acked))
    );
    assert_eq!(q["duplicates"], 0);
    // The Kafka phases' messages reached the queue through the Connect sink.
    let cells = r["arrivals"]["cells"].as_array().unwrap();
    for phase in ["warmup", "plateau", "direct"] {
        let c = cells.iter().find(|c| c["phase"] == phase).expect(phase);
        assert!(c["arrived"].as_u64().unwrap() > 0, "{phase}: {c}");
        assert_eq!(c["missing"], 0, "{phase}");
    }
    let end = r["backend"].as_array().unwrap().last().unwrap();
    assert_eq!(end["connectors"][0]["state"], "RUNNING");
    assert!(stderr.contains("teardown[0] delete_connector"), "{stderr}");
    assert!(stdout.contains("| 1 | arrivals at"), "{stdout}");
    snapshot_with_shapes(&r);
    std::fs::remove_dir_all(&dir).ok();
}

/// The real report snapshotted; values that depend on the machine and the
/// moment are masked, each only after its shape is checked.
fn snapshot_with_shapes(r: &Value) {
    use insta::internals::Content;
    fn rfc3339(v: Content, _: insta::internals::ContentPath<'_>) -> Content {
        let s = v.as_str().unwrap_or_default();
        assert!(humantime::parse_rfc3339(s).is_ok(), "not RFC 3339: {s}");
        Content::from("[rfc3339]")
    }
    fn duration(v: Content, _: insta::internals::ContentPath<'_>) -> Content {
        let s = v.as_str().unwrap_or_default();
        let d = humantime::parse_duration(s).unwrap_or_else(|e| panic!("not a duration: {s}: {e}"));
        assert!(!d.is_zero(), "duration must be positive: {s}");
        Content::from("[duration]")
    }
    fn count(v: Content, _: insta::internals::ContentPath<'_>) -> Content {
        assert!(v.as_u64().is_some(), "not a count: {v:?}");
        Content::from("[count]")
    }
    fn rate(v: Content, _: insta::internals::ContentPath<'_>) -> Content {
        assert!(v.as_f64().is_some_and(|f| f >= 0.0), "not a rate: {v:?}");
        Content::from("[rate]")
    }
    fn percentiles(v: Content, _: insta::internals::ContentPath<'_>) -> Content {
        let Content::Map(fields) = &v else {
            panic!("not percentiles: {v:?}")
        };
        let get = |k: &str| {
            fields
                .iter()
                .find(|(n, _)| n.as_str() == Some(k))
                .and_then(|(_, c)| c.as_u64())
                .unwrap()
        };
        let (count, p50, p99, max) = (get("count"), get("p50_us"), get("p99_us"), get("max_us"));
        assert!(
            count > 0 && p50 <= p99 && p99 <= max,
            "percentiles out of order: {v:?}"
        );
        Content::from("[percentiles]")
    }
    fn latency_text(v: Content, _: insta::internals::ContentPath<'_>) -> Content {
        let s = v.as_str().unwrap_or_default();
        assert!(
            s.starts_with("p99 = ") && (s.ends_with("ms") || s.ends_with('s') || s.ends_with("µs")),
            "{s}"
        );
        Content::from("[p99]")
    }
    insta::assert_json_snapshot!("ramp_ci_real_report", r, {
        ".started_at" => insta::dynamic_redaction(rfc3339),
        ".tool" => "[tool]",
        ".run.elapsed" => insta::dynamic_redaction(duration),
        ".run.phases[].latency" => insta::dynamic_redaction(percentiles),
        ".run.phases[].streams[].latency" => insta::dynamic_redaction(percentiles),
        ".run.phases[].streams[].schedule_lag" => insta::dynamic_redaction(percentiles),
        ".run.phases[].achieved_rate" => insta::dynamic_redaction(rate),
        // One entry per second of the plan, plus any second of the drain in
        // which late acks landed (machine-dependent).
        ".run.timeline" => insta::dynamic_redaction(|v: Content, _: insta::internals::ContentPath<'_>| {
            let seconds = v.as_slice().map_or(0, <[Content]>::len);
            assert!((23..=30).contains(&seconds), "timeline of {seconds} seconds");
            Content::from("[timeline]")
        }),
        ".arrivals.cells[].end_to_end" => insta::dynamic_redaction(percentiles),
        ".arrivals.cells[].late" => insta::dynamic_redaction(count),
        // Arrivals per second of the real run: every acked message is in one second.
        ".arrivals.per_second" => insta::dynamic_redaction(|v: Content, _: insta::internals::ContentPath<'_>| {
            let seconds = v.as_slice().unwrap_or(&[]);
            assert!(seconds.len() >= 20, "arrivals over {} seconds", seconds.len());
            Content::from("[per second]")
        }),
        ".arrivals.end_to_end_by_phase[]" => insta::dynamic_redaction(percentiles),
        ".arrivals.end_to_end" => insta::dynamic_redaction(percentiles),
        ".verdicts[1].observed" => insta::dynamic_redaction(|v: Content, _: insta::internals::ContentPath<'_>| {
            assert!(v.as_str().unwrap_or_default().ends_with("in phase plateau"));
            Content::from("[throughput]")
        }),
        ".verdicts[2].observed" => insta::dynamic_redaction(latency_text),
        ".verdicts[3].observed" => insta::dynamic_redaction(latency_text),
        ".verdicts[1].details" => "[per-phase rates]",
        ".backend[].queues[].visible" => insta::dynamic_redaction(count),
        ".backend[].queues[].in_flight" => insta::dynamic_redaction(count),
    });
}

/// ramp.yaml's `direct` phase as written (steps 100/s, then 300/s; 8 workers;
/// direct_sqs), shortened from 30 s to 16 s, with every message counted.
const RAMP_DIRECT: &str = "name: ramp-direct
seed: 42
targets:
  sqs: { endpoint: \"${SQS_ENDPOINT}\", region: us-east-1 }
setup:
  - { type: create_queue, name: \"mbs-direct-${MBS_RUN_ID}\", purge: true }
teardown:
  - { type: delete_queue, name: \"mbs-direct-${MBS_RUN_ID}\" }
streams:
  - { name: cards, schema: SCHEMA, schema_id: 1, queue: \"mbs-direct-${MBS_RUN_ID}\" }
phases:
  - name: direct
    duration: 16s
    rate: { type: steps, steps: [ { at: 0s, rate: 100/s }, { at: 6s, rate: 300/s } ] }
    workers: 8
    mode: direct_sqs
assertions:
  - { type: arrivals, queue: \"mbs-direct-${MBS_RUN_ID}\", expect: all_acked, tolerance: 0, within: 60s }
  - { type: dropped, max: 0 }
  - { type: errors, max: 0 }
report: { dir: reports/, formats: [json] }
";

#[test]
fn ramp_direct_phase_at_300_per_second_with_8_workers_drops_nothing() {
    let Some(stack) =
        support::stack("ramp_direct_phase_at_300_per_second_with_8_workers_drops_nothing")
    else {
        return;
    };
    let dir = temp_dir("ramp-direct");
    let scenario = dir.join("ramp-direct.yaml");
    let schema = repo().join("schemas/pokemon_card.avsc");
    std::fs::write(
        &scenario,
        RAMP_DIRECT.replace("SCHEMA", &schema.display().to_string()),
    )
    .unwrap();
    let run_id = format!("d{}", std::process::id());
    let out = dir.join("out");
    let (code, stdout, stderr) = mbscenario(
        &stack,
        &[
            "run",
            scenario.to_str().unwrap(),
            "--teardown",
            "--report-dir",
            out.to_str().unwrap(),
        ],
        &run_id,
    );
    std::fs::remove_file(&scenario).ok();
    let r = report(&out);
    let c = &r["run"]["phases"][0]["counts"];
    // 6 s at 100/s + 10 s at 300/s.
    assert_eq!(c["scheduled"], 3_600, "{c}");
    assert_eq!(
        c["dropped"], 0,
        "8 workers at 300/s against LocalStack: {c}"
    );
    assert_eq!(c["acked"], 3_600, "{c}");
    let q = &r["arrivals"]["queues"][0];
    assert_eq!(q["arrived"], 3_600, "{q}");
    assert_eq!(q["missing"], 0, "{q}");
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
}

const DIRECT: &str = "name: direct-count
seed: 5
targets:
  sqs: { endpoint: \"${SQS_ENDPOINT}\", region: us-east-1 }
setup:
  - { type: create_queue, name: \"mbs-count-${MBS_RUN_ID}\", purge: true }
teardown:
  - { type: delete_queue, name: \"mbs-count-${MBS_RUN_ID}\" }
streams:
  - { name: cards, schema: SCHEMA, schema_id: 1, queue: \"mbs-count-${MBS_RUN_ID}\" }
phases:
  - { name: first, duration: 3s, rate: 40/s, mode: direct_sqs }
  - { name: second, duration: 3s, rate: 40/s }
assertions:
  - { type: arrivals, queue: \"mbs-count-${MBS_RUN_ID}\", expect: all_acked, tolerance: 0, within: 10s }
report: { dir: reports/, formats: [json, markdown] }
";

/// Receives and deletes messages until stopped; returns the event ids taken.
///
/// The visibility timeout outlasts the whole run (phases + the 10 s arrival
/// window), so a message a thief received can never become visible again and
/// also reach the run's collector, however slowly the thief gets to delete it
/// on a loaded machine (with 2 s, a delete that came late let the message be
/// counted on both sides, and `missing == stolen` failed at random).
async fn steal(
    client: aws_sdk_sqs::Client,
    url: String,
    stop: Arc<Mutex<bool>>,
) -> HashSet<String> {
    let mut taken = HashSet::new();
    while !*stop.lock().unwrap() {
        let r = match client
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .visibility_timeout(120)
            .message_attribute_names("All")
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => {
                // After `--teardown` the queue is gone: no busy loop of errors.
                eprintln!(
                    "THIEF receive error: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(&e)
                );
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                continue;
            }
        };
        for m in r.messages.unwrap_or_default() {
            let id = m
                .message_attributes
                .as_ref()
                .and_then(|a| a.get("event_id"))
                .and_then(|v| v.string_value.clone())
                .unwrap();
            // Taken at receive: the message stays invisible to everyone else
            // for the rest of the run, deleted or not.
            taken.insert(id);
            if let Err(e) = client
                .delete_message()
                .queue_url(&url)
                .receipt_handle(m.receipt_handle.unwrap())
                .send()
                .await
            {
                eprintln!(
                    "THIEF delete error: {}",
                    aws_sdk_sqs::error::DisplayErrorContext(&e)
                );
            }
        }
    }
    taken
}

#[test]
fn arrivals_pass_and_messages_deleted_out_of_band_fail_with_exit_1() {
    let Some(stack) =
        support::stack("arrivals_pass_and_messages_deleted_out_of_band_fail_with_exit_1")
    else {
        return;
    };
    let dir = temp_dir("direct-count");
    // Outside the repo, so a failed run leaves nothing that other tests glob.
    let scenario = dir.join("direct-count.yaml");
    let schema = repo().join("schemas/pokemon_card.avsc");
    std::fs::write(
        &scenario,
        DIRECT.replace("SCHEMA", &schema.display().to_string()),
    )
    .unwrap();
    let scenario_arg = scenario.to_str().unwrap().to_string();
    let run_id = format!("{}", std::process::id());

    // Untouched: every message arrives, the assertion passes.
    let pass_dir = dir.join("pass");
    let (code, stdout, stderr) = mbscenario(
        &stack,
        &[
            "run",
            &scenario_arg,
            "--report-dir",
            pass_dir.to_str().unwrap(),
        ],
        &run_id,
    );
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let q = &report(&pass_dir)["arrivals"]["queues"][0];
    assert_eq!(q["arrived"], q["expected"], "{q}");
    assert!(q["arrived"].as_u64().unwrap() >= 230, "{q}");

    // A competing consumer deletes messages while the run goes on.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = rt
        .block_on(mbscenario::sink::sqs::client(
            &mbscenario::sink::sqs::SqsSettings {
                endpoint: Some(stack.get("SQS_ENDPOINT").to_string()),
                region: Some("us-east-1".into()),
                ..Default::default()
            },
        ))
        .unwrap();
    let url = rt
        .block_on(
            client
                .get_queue_url()
                .queue_name(format!("mbs-count-{run_id}"))
                .send(),
        )
        .unwrap()
        .queue_url
        .unwrap();
    let stop = Arc::new(Mutex::new(false));
    let thieves: Vec<_> = (0..4)
        .map(|_| rt.spawn(steal(client.clone(), url.clone(), stop.clone())))
        .collect();
    let fail_dir = dir.join("fail");
    let (code, stdout, stderr) = mbscenario(
        &stack,
        &[
            "run",
            &scenario_arg,
            "--teardown",
            "--report-dir",
            fail_dir.to_str().unwrap(),
        ],
        &run_id,
    );
    *stop.lock().unwrap() = true;
    let stolen: HashSet<String> = rt.block_on(async {
        let mut all = HashSet::new();
        for t in thieves {
            all.extend(t.await.unwrap());
        }
        all
    });
    std::fs::remove_file(&scenario).ok();
    assert!(!stolen.is_empty(), "the competing consumer took nothing");
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let r = report(&fail_dir);
    assert_eq!(r["passed"], false);
    let q = &r["arrivals"]["queues"][0];
    assert_eq!(
        q["missing"].as_u64().unwrap(),
        stolen.len() as u64,
        "missing (report) vs taken by the competing consumers (test): {q}"
    );
    // Every acknowledged send either arrived or was stolen (a send that
    // failed under load is not expected at the queue, and shows as an error).
    let expected = q["expected"].as_u64().unwrap();
    assert_eq!(
        q["arrived"].as_u64().unwrap() + stolen.len() as u64,
        expected,
        "arrived (report) + {} taken by the competing consumers (test) vs expected: {q}",
        stolen.len()
    );
    assert!(expected >= 230, "{q}");
    // Missing per phase adds up, and the verdict names the phases.
    let cells = r["arrivals"]["cells"].as_array().unwrap();
    let per_phase: u64 = cells.iter().map(|c| c["missing"].as_u64().unwrap()).sum();
    assert_eq!(per_phase, stolen.len() as u64);
    let verdict = &r["verdicts"][0];
    assert_eq!(verdict["status"], "failed");
    let details = verdict["details"].to_string();
    for c in cells.iter().filter(|c| c["missing"].as_u64().unwrap() > 0) {
        let phase = c["phase"].as_str().unwrap();
        assert!(
            details.contains(&format!("phase {phase} stream cards")),
            "{details}"
        );
    }
    assert!(stdout.contains("**FAIL**"), "{stdout}");
    std::fs::remove_dir_all(&dir).ok();
}
