//! The Schema Registry and Kafka Connect behind TLS with a private CA and
//! HTTP auth: the real services of the dev stack, each behind a small TLS +
//! auth reverse proxy (`scripts/tls_auth_proxy.py`, the dev stack's CA and
//! broker certificate). `mbscenario setup` registers a schema with basic
//! auth and applies a connector with a bearer token through them; wrong
//! credentials and an untrusted certificate are clear failures; no secret
//! appears in any output.

use crate::support;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

struct Proxy {
    child: Child,
    port: u16,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// The child is waited for in `Proxy::drop`.
#[allow(clippy::zombie_processes)]
fn proxy(stack: &support::Stack, upstream: &str, auth: &[&str], tag: &str) -> Proxy {
    let dir = std::path::Path::new(stack.get("KAFKA_TLS_CA"))
        .parent()
        .unwrap()
        .to_path_buf();
    let port_file = std::env::temp_dir().join(format!("mbs-proxy-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_file(&port_file);
    let child = Command::new("python3")
        .arg(support::repo().join("scripts/tls_auth_proxy.py"))
        .arg("--cert")
        .arg(dir.join("broker.pem"))
        .arg("--key")
        .arg(dir.join("broker.key"))
        .args(["--upstream", upstream, "--port-file"])
        .arg(&port_file)
        .args(auth)
        .spawn()
        .expect("python3 runs the proxy");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(port) = std::fs::read_to_string(&port_file)
            .ok()
            .and_then(|p| p.trim().parse().ok())
        {
            return Proxy { child, port };
        }
        assert!(Instant::now() < deadline, "the proxy did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn registry_and_connect_behind_tls_and_auth() {
    let Some(stack) = support::stack("registry_and_connect_behind_tls_and_auth") else {
        return;
    };
    if stack.get("KAFKA_TLS_CA").is_empty() || stack.get("SCHEMA_REGISTRY_URL").is_empty() {
        support::skip_or_fail("the dev stack's CA and Schema Registry (restart the stack)");
        return;
    }
    let (reg_secret, token) = ("reg-user:reg-pass-xyzzy", "connect-token-plugh");
    let registry_upstream = stack
        .get("SCHEMA_REGISTRY_URL")
        .trim_end_matches("/apis/ccompat/v7")
        .to_string();
    let reg = proxy(&stack, &registry_upstream, &["--basic", reg_secret], "reg");
    let connect = proxy(
        &stack,
        stack.get("CONNECT_URL"),
        &["--bearer", token],
        "connect",
    );

    let id = std::process::id();
    let dir = std::env::temp_dir().join(format!("mbs-http-auth-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = |ca: &str| {
        let path = dir.join(format!("auth{}.yaml", ca.len()));
        let repo = support::repo();
        std::fs::write(
            &path,
            format!(
                "name: http-auth
targets:
  kafka: {{ bootstrap: \"{kafka}\" }}
  schema_registry: {{ url: \"https://127.0.0.1:{rp}/apis/ccompat/v7\", basic_auth_env: MBS_IT_REG_AUTH{ca} }}
  connect: {{ url: \"https://127.0.0.1:{cp}\", bearer_token_env: MBS_IT_CONNECT_TOKEN{ca} }}
  sqs: {{ endpoint: \"{sqs}\" }}
setup:
  - {{ type: register_schemas, files: [{schema}], subject_strategy: topic_name }}
  - {{ type: ensure_topics, topics: [{{ name: mbs-auth-{id} }}] }}
  - {{ type: create_queue, name: mbs-auth-{id} }}
  - type: apply_connector
    name: mbs-auth-{id}
    config_file: {connector}
    wait: {{ state: running, timeout: 60s }}
teardown:
  - {{ type: delete_connector, name: mbs-auth-{id} }}
  - {{ type: delete_queue, name: mbs-auth-{id} }}
  - {{ type: delete_topics, topics: [mbs-auth-{id}] }}
streams:
  - {{ name: cards, schema: {schema}, topic: mbs-auth-{id}, queue: mbs-auth-{id} }}
phases:
  - {{ name: p, duration: 1s, rate: 1/s }}
",
                kafka = stack.get("KAFKA_BOOTSTRAP"),
                sqs = stack.get("SQS_ENDPOINT"),
                rp = reg.port,
                cp = connect.port,
                schema = repo.join("schemas/pokemon_card.avsc").display(),
                connector = repo.join("connectors/sqs-sink.json").display(),
            ),
        )
        .unwrap();
        path.to_string_lossy().into_owned()
    };
    let ca = format!(", ca_file: \"{}\"", stack.get("KAFKA_TLS_CA"));
    let trusted = scenario(&ca);
    let good = [
        ("MBS_IT_REG_AUTH", reg_secret),
        ("MBS_IT_CONNECT_TOKEN", token),
    ];
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let out = support::run_bin(&stack, args, &format!("auth{id}"), env);
        let all = format!("{}{}", out.1, out.2);
        for secret in ["reg-pass-xyzzy", token] {
            assert!(!all.contains(secret), "a secret leaked:\n{all}");
        }
        out
    };

    let out = run(&["setup", &trusted], &good);
    assert_eq!(out.0, 0, "stdout:\n{}\nstderr:\n{}", out.1, out.2);
    let all = format!("{}{}", out.1, out.2);
    assert!(all.contains("registered under mbs-auth-"), "{all}");
    assert!(all.contains("RUNNING"), "{all}");

    // A wrong registry password: refused with the service's 401, not retried.
    let out = run(
        &["setup", &trusted],
        &[
            ("MBS_IT_REG_AUTH", "reg-user:wrong"),
            ("MBS_IT_CONNECT_TOKEN", token),
        ],
    );
    assert_eq!(out.0, 3, "stdout:\n{}\nstderr:\n{}", out.1, out.2);
    assert!(
        out.2.contains("HTTP 401 (authentication failed)"),
        "{}",
        out.2
    );

    // Without the CA the proxies' certificate is not trusted.
    let untrusted = scenario("");
    let out = run(&["setup", &untrusted], &good);
    assert_eq!(out.0, 3, "stdout:\n{}\nstderr:\n{}", out.1, out.2);
    assert!(
        out.2.contains("TLS: ") && out.2.contains("certificate") && out.2.contains("ca_file"),
        "{}",
        out.2
    );

    let out = run(&["teardown", &trusted], &good);
    assert_eq!(out.0, 0, "stdout:\n{}\nstderr:\n{}", out.1, out.2);
    let _ = std::fs::remove_dir_all(&dir);
}
