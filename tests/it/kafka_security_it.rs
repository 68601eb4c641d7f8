//! Kafka behind TLS and SASL, against the dev stack's real Apache Kafka
//! (its SASL_SSL listener with SCRAM-SHA-512 and PLAIN users, and its mTLS
//! listener; CA, certificates and users made by `scripts/dev-stack`): the
//! example scenarios under `scenarios/secure/` set up their topic and
//! produce through them, the topic holds every acknowledged record, a wrong
//! password fails fast with exit 3, and no secret appears in any output.

use crate::support;

use std::path::Path;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

/// Records in `topic`, read over the plaintext listener (offsets, all partitions).
fn records_in(bootstrap: &str, topic: &str) -> i64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "mbs-security-it")
        .create()
        .unwrap();
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    md.topics()[0]
        .partitions()
        .iter()
        .map(|p| {
            let (lo, hi) = consumer
                .fetch_watermarks(topic, p.id(), Duration::from_secs(10))
                .unwrap();
            hi - lo
        })
        .sum()
}

fn all_output(out: &(i32, String, String), report_dir: &Path) -> String {
    let mut text = format!("{}\n{}", out.1, out.2);
    if let Ok(entries) = std::fs::read_dir(report_dir) {
        for e in entries.filter_map(Result::ok) {
            text.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
        }
    }
    text
}

struct Secrets(Vec<String>);

impl Secrets {
    fn assert_absent(&self, what: &str, text: &str) {
        for s in &self.0 {
            assert!(
                !text.contains(s.as_str()),
                "{what}: a secret leaked into the output"
            );
        }
    }
}

#[test]
fn scenarios_produce_through_sasl_ssl_and_mtls_and_keep_secrets() {
    let Some(stack) = support::stack("scenarios_produce_through_sasl_ssl_and_mtls") else {
        return;
    };
    if stack.get("KAFKA_SASL_SSL_BOOTSTRAP").is_empty() {
        support::skip_or_fail("the dev stack's secured Kafka listeners (restart it)");
        return;
    }
    let plain = stack.get("KAFKA_BOOTSTRAP").to_string();
    let secrets = Secrets(
        [
            "KAFKA_SCRAM_PASSWORD",
            "KAFKA_PLAIN_PASSWORD",
            "KAFKA_TLS_CLIENT_KEY_PASSWORD",
        ]
        .iter()
        .map(|k| stack.get(k).to_string())
        .collect(),
    );
    let run_id = format!("sec{}", std::process::id());
    let tmp = std::env::temp_dir().join(format!("mbs-security-it-{run_id}"));
    let run = |scenario: &str, case: &str, env: &[(&str, &str)], extra: &[&str]| {
        let dir = tmp.join(case);
        let _ = std::fs::remove_dir_all(&dir);
        let path = format!("scenarios/secure/{scenario}");
        let dir_s = dir.to_string_lossy().into_owned();
        let mut args = vec!["run", path.as_str(), "--report-dir", dir_s.as_str()];
        args.extend_from_slice(extra);
        let out = support::run_bin(&stack, &args, &run_id, env);
        let text = all_output(&out, &dir);
        secrets.assert_absent(case, &text);
        (out, dir)
    };
    let report_counts = |dir: &Path| {
        let r = support::json_report(dir);
        let t = &r["run"]["totals"];
        (t["scheduled"].as_u64(), t["acked"].as_u64())
    };

    // SCRAM-SHA-512 over TLS, the broker's CA from a file.
    let scram = [
        ("KAFKA_BOOTSTRAP", stack.get("KAFKA_SASL_SSL_BOOTSTRAP")),
        ("KAFKA_CA_FILE", stack.get("KAFKA_TLS_CA")),
        ("KAFKA_USER", stack.get("KAFKA_SCRAM_USER")),
        ("KAFKA_PASSWORD", stack.get("KAFKA_SCRAM_PASSWORD")),
    ];
    let (out, dir) = run("kafka-scram-tls.yaml", "scram", &scram, &[]);
    assert_eq!(out.0, 0, "stdout:\n{}\nstderr:\n{}", out.1, out.2);
    assert_eq!(report_counts(&dir), (Some(600), Some(600)));
    assert_eq!(records_in(&plain, &format!("secure.cards.{run_id}")), 600);

    // The wrong password: exit 3 naming the target and the reason, before
    // anything is sent (setup skipped, so the producer's own check says it).
    let mut wrong = scram;
    wrong[3] = ("KAFKA_PASSWORD", "not-the-password");
    let (out, _) = run("kafka-scram-tls.yaml", "wrong", &wrong, &["--no-setup"]);
    assert_eq!(out.0, 3, "stdout:\n{}\nstderr:\n{}", out.1, out.2);
    assert!(
        out.2.contains("authentication failed")
            && out.2.contains(stack.get("KAFKA_SASL_SSL_BOOTSTRAP")),
        "{}",
        out.2
    );
    // …and with setup, the admin client reports it the same way.
    let (out, _) = run("kafka-scram-tls.yaml", "wrong-setup", &wrong, &[]);
    assert_eq!(out.0, 3, "stdout:\n{}\nstderr:\n{}", out.1, out.2);
    assert!(out.2.contains("authentication failed"), "{}", out.2);

    // A named variable that is not set: invalid (2) before any connection.
    let (out, _) = run("kafka-scram-tls.yaml", "unset", &scram[..3], &[]);
    assert_eq!(out.0, 2, "stdout:\n{}\nstderr:\n{}", out.1, out.2);
    assert!(
        out.2.contains("`KAFKA_PASSWORD` is not set") && out.2.contains("password_env"),
        "{}",
        out.2
    );

    // PLAIN over TLS (the managed-cluster example), our CA instead of the system roots.
    let cloud = [
        ("KAFKA_BOOTSTRAP", stack.get("KAFKA_SASL_SSL_BOOTSTRAP")),
        ("KAFKA_CA_FILE", stack.get("KAFKA_TLS_CA")),
        ("KAFKA_API_KEY", stack.get("KAFKA_PLAIN_USER")),
        ("KAFKA_API_SECRET", stack.get("KAFKA_PLAIN_PASSWORD")),
    ];
    let (out, dir) = run("kafka-sasl-plain-cloud.yaml", "plain", &cloud, &[]);
    assert_eq!(out.0, 0, "stdout:\n{}\nstderr:\n{}", out.1, out.2);
    assert_eq!(report_counts(&dir), (Some(600), Some(600)));
    assert_eq!(records_in(&plain, &format!("secure.cloud.{run_id}")), 600);

    // Mutual TLS with an encrypted client key.
    let mtls = [
        ("KAFKA_BOOTSTRAP", stack.get("KAFKA_MTLS_BOOTSTRAP")),
        ("KAFKA_CA_FILE", stack.get("KAFKA_TLS_CA")),
        ("KAFKA_CLIENT_CERT", stack.get("KAFKA_TLS_CLIENT_CERT")),
        (
            "KAFKA_CLIENT_KEY",
            stack.get("KAFKA_TLS_CLIENT_KEY_ENCRYPTED"),
        ),
        (
            "KAFKA_CLIENT_KEY_PASSWORD",
            stack.get("KAFKA_TLS_CLIENT_KEY_PASSWORD"),
        ),
    ];
    let (out, dir) = run("kafka-mtls.yaml", "mtls", &mtls, &[]);
    assert_eq!(out.0, 0, "stdout:\n{}\nstderr:\n{}", out.1, out.2);
    assert_eq!(report_counts(&dir), (Some(600), Some(600)));
    assert_eq!(records_in(&plain, &format!("secure.mtls.{run_id}")), 600);

    // `plan` names where secrets come from, never their values.
    let out = support::run_bin(
        &stack,
        &["plan", "scenarios/secure/kafka-scram-tls.yaml"],
        &run_id,
        &scram,
    );
    assert_eq!(out.0, 0, "{}", out.2);
    assert!(
        out.1
            .contains("SASL SCRAM-SHA-512 (user $KAFKA_USER, password $KAFKA_PASSWORD)"),
        "{}",
        out.1
    );
    secrets.assert_absent("plan", &format!("{}{}", out.1, out.2));
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Every secret a scenario can hold — a SASL password, a registry `user:password`,
/// user info in the Connect and SQS URLs, static AWS keys — is absent from stdout,
/// stderr (at `RUST_LOG=trace`: the AWS SDK, librdkafka and HTTP clients log
/// endpoints, signed requests and configs there) and every report file, in a
/// passing run, a failing run and `plan`.
#[test]
fn no_secret_reaches_any_output_even_at_trace_level() {
    let Some(stack) = support::stack("no_secret_reaches_any_output_even_at_trace_level") else {
        return;
    };
    if stack.get("KAFKA_SASL_SSL_BOOTSTRAP").is_empty() {
        support::skip_or_fail("the dev stack's secured Kafka listeners (restart it)");
        return;
    }
    let run_id = format!("trace{}", std::process::id());
    let tmp = std::env::temp_dir().join(format!("mbs-secrets-trace-{run_id}"));
    std::fs::create_dir_all(&tmp).unwrap();
    let (sr_pass, url_pass, connect_pass, aws_secret) = (
        format!("sr-pass-{run_id}"),
        format!("sqs-url-pass-{run_id}"),
        format!("connect-pass-{run_id}"),
        format!("aws-secret-{run_id}"),
    );
    let scenario = tmp.join("s.yaml");
    std::fs::write(
        &scenario,
        format!(
            r#"name: secrets-trace
seed: 7
targets:
  kafka:
    bootstrap: "${{KAFKA_SASL_SSL_BOOTSTRAP}}"
    security:
      tls: {{ ca_file: "${{KAFKA_TLS_CA}}" }}
      sasl: {{ mechanism: SCRAM-SHA-512, username_env: KAFKA_SCRAM_USER, password_env: KAFKA_SCRAM_PASSWORD }}
  schema_registry: {{ url: "${{SCHEMA_REGISTRY_URL}}", basic_auth_env: SR_AUTH }}
  connect: {{ url: "http://connect-user:{connect_pass}@127.0.0.1:8083" }}
  sqs:
    endpoint: "http://sqs-user:{url_pass}@${{SQS_HOSTPORT}}"
    region: us-east-1
    credentials: {{ access_key_id_env: LT_KEY_ID, secret_access_key_env: LT_SECRET }}
setup:
  - {{ type: register_schemas, files: [{schema}], subject_strategy: topic_name }}
  - type: ensure_topics
    topics: [ {{ name: secrets.{run_id}, partitions: 1, replication_factor: 1 }} ]
  - {{ type: create_queue, name: secrets-{run_id} }}
streams:
  - {{ name: c, schema: {schema}, topic: secrets.{run_id}, queue: secrets-{run_id} }}
phases:
  - {{ name: k, duration: 1s, rate: 20/s, mode: kafka_via_connect }}
  - {{ name: d, duration: 1s, rate: 20/s, mode: direct_sqs }}
assertions:
  - {{ type: arrivals, queue: secrets-{run_id}, expect: all_acked, tolerance: 0, within: 20s, phase: d }}
"#,
            schema = support::repo().join("schemas/pokemon_card.avsc").display(),
        ),
    )
    .unwrap();
    let sqs_hostport = stack
        .get("SQS_ENDPOINT")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let sr_auth = format!("sr-user:{sr_pass}");
    let secrets = Secrets(vec![
        stack.get("KAFKA_SCRAM_PASSWORD").to_string(),
        sr_pass.clone(),
        url_pass.clone(),
        connect_pass.clone(),
        aws_secret.clone(),
    ]);
    let env = |password: &str| {
        vec![
            ("SQS_HOSTPORT", sqs_hostport.clone()),
            ("SR_AUTH", sr_auth.clone()),
            ("LT_KEY_ID", "AKIDTRACETEST".to_string()),
            ("LT_SECRET", aws_secret.clone()),
            ("RUST_LOG", "trace".to_string()),
            ("KAFKA_SCRAM_PASSWORD", password.to_string()),
        ]
    };
    let run = |case: &str, env: &[(&str, String)], extra: &[&str]| {
        let dir = tmp.join(case);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut args = vec![
            "run",
            scenario.to_str().unwrap(),
            "--report-dir",
            dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = support::run_bin(&stack, &args, &run_id, &env);
        let text = all_output(&out, &dir);
        secrets.assert_absent(case, &text);
        (out, text)
    };
    let (out, text) = run("pass", &env(stack.get("KAFKA_SCRAM_PASSWORD")), &[]);
    assert_eq!(
        out.0,
        0,
        "stdout:\n{}\nstderr (tail):\n{}",
        out.1,
        tail(&out.2)
    );
    assert!(
        text.lines().filter(|l| l.contains(" TRACE ")).count() > 100,
        "the run logged at trace level"
    );
    assert!(
        text.contains("http://***@"),
        "URL user info is masked, not dropped"
    );

    // A failing run: the wrong password (a secret too) ends it with exit 3.
    let wrong = format!("wrong-password-{run_id}");
    let failing = Secrets(vec![wrong.clone()]);
    let (out, text) = run("fail", &env(&wrong), &["--no-setup"]);
    assert_eq!(
        out.0,
        3,
        "stdout:\n{}\nstderr (tail):\n{}",
        out.1,
        tail(&out.2)
    );
    failing.assert_absent("failing run", &text);

    let env_pass = env(stack.get("KAFKA_SCRAM_PASSWORD"));
    let env_ref: Vec<(&str, &str)> = env_pass.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for format in ["text", "json"] {
        let out = support::run_bin(
            &stack,
            &["plan", scenario.to_str().unwrap(), "--format", format],
            &run_id,
            &env_ref,
        );
        assert_eq!(out.0, 0, "{}", tail(&out.2));
        secrets.assert_absent("plan", &format!("{}{}", out.1, out.2));
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
