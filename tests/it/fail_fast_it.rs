//! Fail fast when the pipeline is broken: a sink connector whose task
//! FAILED (here: the AvroConverter cannot find the schema id the records
//! carry) means the missing messages cannot arrive, so `run` stops settling
//! instead of waiting out the window, says why, and the report keeps the
//! reason. Real Kafka, Connect, Schema Registry and LocalStack.

use crate::support;

/// A scenario whose records carry a schema id the registry never saw, through a
/// real sink connector configured with `converter` (extra connector config lines
/// indented as under `config:`), `within: 10m` for arrivals.
fn broken_records_scenario(
    stack: &support::Stack,
    dir: &std::path::Path,
    name: &str,
    connector_config: &str,
    extra_teardown_topics: &str,
) -> std::path::PathBuf {
    let repo = support::repo();
    let path = dir.join("s.yaml");
    std::fs::write(
        &path,
        format!(
            "name: {name}
targets:
  kafka: {{ bootstrap: \"{kafka}\" }}
  connect: {{ url: \"{connect}\" }}
  sqs: {{ endpoint: \"{sqs}\" }}
setup:
  - {{ type: ensure_topics, topics: [{{ name: {name} }}] }}
  - {{ type: create_queue, name: {name} }}
  - type: apply_connector
    name: {name}
    config_file: {connector}
    config:
      value.converter: io.confluent.connect.avro.AvroConverter
{connector_config}    wait: {{ state: running, timeout: 60s }}
teardown:
  - {{ type: delete_connector, name: {name} }}
  - {{ type: delete_queue, name: {name} }}
  - {{ type: delete_topics, topics: [{name}{extra_teardown_topics}] }}
streams:
  # No registry: records carry a pinned schema id the registry never saw.
  - {{ name: c, schema: {schema}, schema_id: 987654, topic: {name}, queue: {name} }}
phases:
  - {{ name: p, duration: 2s, rate: 20/s }}
assertions:
  - {{ type: arrivals, queue: {name}, expect: all_acked, tolerance: 0, within: 10m }}
",
            kafka = stack.get("KAFKA_BOOTSTRAP"),
            connect = stack.get("CONNECT_URL"),
            sqs = stack.get("SQS_ENDPOINT"),
            connector = repo.join("connectors/sqs-sink.json").display(),
            schema = repo.join("schemas/pokemon_card.avsc").display(),
        ),
    )
    .unwrap();
    path
}

/// `run FILE --teardown` with the reports in `dir/r`: ((exit, stdout,
/// stderr), the reports folder).
fn run_with_teardown(
    stack: &support::Stack,
    path: &std::path::Path,
    dir: &std::path::Path,
    run_id: &str,
) -> ((i32, String, String), std::path::PathBuf) {
    let reports = dir.join("r");
    let out = support::run_bin(
        stack,
        &[
            "run",
            path.to_str().unwrap(),
            "--teardown",
            "--report-dir",
            reports.to_str().unwrap(),
        ],
        run_id,
        &[],
    );
    (out, reports)
}

#[test]
fn a_failed_connector_ends_settling_with_its_reason() {
    let Some(stack) = support::stack("a_failed_connector_ends_settling_with_its_reason") else {
        return;
    };
    if stack.get("SQS_SINK_SCHEMA_REGISTRY_URL").is_empty() {
        support::skip_or_fail("the Schema Registry of the dev stack");
        return;
    }
    let id = std::process::id();
    let dir = std::env::temp_dir().join(format!("mbs-fail-fast-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = broken_records_scenario(&stack, &dir, &format!("mbs-ff-{id}"), "", "");
    let (out, reports) = run_with_teardown(&stack, &path, &dir, &format!("ff{id}"));
    assert_eq!(out.0, 1, "stdout:\n{}\nstderr:\n{}", out.1, out.2);
    assert!(
        out.2
            .contains("settling: stopped waiting: connector `mbs-ff-")
            && out.2.contains("FAILED"),
        "{}",
        out.2
    );
    let report = support::json_report(&reports);
    let errors = report["arrivals"]["collector_errors"].to_string();
    assert!(
        errors.contains("arrivals stopped being awaited"),
        "{errors}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Teardown is bounded: against a Connect that does not answer, `delete_connector`
/// gives up after its 15 s (it used to retry for 2 minutes), and a Ctrl-C during
/// teardown stops it at once. The run's own result is kept (the report is written
/// before teardown); teardown's failure makes the exit 3.
#[test]
fn teardown_is_bounded_and_stops_on_a_signal() {
    let Some(stack) = support::stack("teardown_is_bounded_and_stops_on_a_signal") else {
        return;
    };
    let id = std::process::id();
    let dir = std::env::temp_dir().join(format!("mbs-teardown-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.yaml");
    std::fs::write(
        &path,
        format!(
            "name: teardown
targets:
  kafka: {{ bootstrap: \"{kafka}\" }}
  connect: {{ url: \"http://127.0.0.1:9\" }}
teardown:
  - {{ type: delete_connector, name: mbs-td-{id} }}
streams:
  - {{ name: c, schema: {schema}, schema_id: 1, topic: mbs-td-{id} }}
phases:
  - {{ name: p, duration: 1s, rate: 10/s }}
",
            kafka = stack.get("KAFKA_BOOTSTRAP"),
            schema = support::repo().join("schemas/pokemon_card.avsc").display(),
        ),
    )
    .unwrap();
    let args = |case: &str| {
        vec![
            "run".to_string(),
            path.display().to_string(),
            "--teardown".into(),
            "--no-arrivals".into(),
            "--report-dir".into(),
            dir.join(case).display().to_string(),
        ]
    };
    let spawn = |case: &str| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mbscenario"));
        cmd.args(args(case))
            .current_dir(support::repo())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        for (k, v) in &stack.vars {
            cmd.env(k, v);
        }
        cmd.spawn().unwrap()
    };

    // Unanswered: the step's own bound.
    let started = std::time::Instant::now();
    let out = spawn("bound").wait_with_output().unwrap();
    let took = started.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("teardown"), "{err}");
    assert!(
        took < std::time::Duration::from_secs(45),
        "teardown took {took:?}:\n{err}"
    );
    assert!(
        dir.join("bound").read_dir().unwrap().count() >= 4,
        "the report was written first"
    );

    // A signal during teardown: it stops within a couple of seconds.
    let mut child = spawn("signal");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    loop {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the run reaches its report");
        let report_written = line.starts_with("report: ") && line.ends_with(".junit.xml");
        seen.push(line);
        if report_written {
            break;
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(500)); // inside teardown now
    let signalled = std::time::Instant::now();
    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    let took = signalled.elapsed();
    seen.extend(rx.try_iter());
    let err = seen.join("\n");
    assert_eq!(status.code(), Some(3), "{err}");
    assert!(
        took < std::time::Duration::from_secs(3),
        "exit {took:?} after the signal:\n{err}"
    );
    assert!(err.contains("teardown stopped (signal)"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// With `errors.tolerance: all` the same broken records do not fail the task:
/// Connect routes them to its dead-letter topic. The run sees that topic grow,
/// stops settling (instead of waiting out `within: 10m`) and says why.
#[test]
fn dead_lettered_records_end_settling_with_the_reason() {
    let Some(stack) = support::stack("dead_lettered_records_end_settling_with_the_reason") else {
        return;
    };
    if stack.get("SQS_SINK_SCHEMA_REGISTRY_URL").is_empty() {
        support::skip_or_fail("the Schema Registry of the dev stack");
        return;
    }
    let id = std::process::id();
    let dir = std::env::temp_dir().join(format!("mbs-dlq-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    let name = format!("mbs-dl-{id}");
    let path = broken_records_scenario(
        &stack,
        &dir,
        &name,
        &format!(
            "      errors.tolerance: all\n      errors.deadletterqueue.topic.name: {name}-dlq\n      errors.deadletterqueue.topic.replication.factor: \"1\"\n"
        ),
        &format!(", {name}-dlq"),
    );
    let started = std::time::Instant::now();
    let (out, reports) = run_with_teardown(&stack, &path, &dir, &format!("dl{id}"));
    let took = started.elapsed();
    assert_eq!(out.0, 1, "stdout:\n{}\nstderr:\n{}", out.1, out.2);
    assert!(
        out.2
            .contains(&format!("dead-letter topic `mbs-dl-{id}-dlq` grew by")),
        "{}",
        out.2
    );
    assert!(took < std::time::Duration::from_secs(120), "took {took:?}");
    let report = support::json_report(&reports);
    let errors = report["arrivals"]["collector_errors"].to_string();
    assert!(errors.contains("dead-letter topic"), "{errors}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The connector fails while the phase still sends: the cause is said at
/// once (not only when settling starts), and settling then does not wait.
#[test]
fn a_connector_failing_during_a_phase_is_said_at_once() {
    let Some(stack) = support::stack("a_connector_failing_during_a_phase_is_said_at_once") else {
        return;
    };
    if stack.get("SQS_SINK_SCHEMA_REGISTRY_URL").is_empty() {
        support::skip_or_fail("the Schema Registry of the dev stack");
        return;
    }
    let id = std::process::id();
    let dir = std::env::temp_dir().join(format!("mbs-fail-early-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = broken_records_scenario(&stack, &dir, &format!("mbs-fe-{id}"), "", "");
    // The same broken records, sent for 12 s instead of 2 s.
    let yaml = std::fs::read_to_string(&path).unwrap();
    assert!(yaml.contains("duration: 2s"), "{yaml}");
    std::fs::write(&path, yaml.replace("duration: 2s", "duration: 12s")).unwrap();
    let (out, _) = run_with_teardown(&stack, &path, &dir, &format!("fe{id}"));
    assert_eq!(out.0, 1, "stdout:\n{}\nstderr:\n{}", out.1, out.2);
    let said = out
        .2
        .find("warning: connector `mbs-fe-")
        .unwrap_or_else(|| panic!("no early warning:\n{}", out.2));
    let settling = out.2.find("settling: waiting").expect("settling starts");
    assert!(said < settling, "warned only after the phase:\n{}", out.2);
    assert!(out.2[said..].contains("FAILED"), "{}", out.2);
    assert!(
        out.2
            .contains("settling: stopped waiting: connector `mbs-fe-"),
        "{}",
        out.2
    );
    let _ = std::fs::remove_dir_all(&dir);
}
