//! SQS credentials through the AWS default chain, against LocalStack: a
//! shared config file's profile (no key variables in the environment)
//! selected by `AWS_PROFILE` or by `targets.sqs.profile`. LocalStack takes a
//! 12-digit access key id as the account id, so the queue URL proves which
//! profile's keys signed the requests. A profile that does not exist is one
//! clear error before anything is sent.

use crate::support;

use std::process::Command;

/// Runs the binary with the stack's endpoints but none of its AWS key variables.
fn run(stack: &support::Stack, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mbscenario"));
    cmd.args(args).current_dir(support::repo());
    for (k, v) in &stack.vars {
        if !k.starts_with("AWS_") {
            cmd.env(k, v);
        }
    }
    for k in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
    ] {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn sqs_credentials_come_from_a_shared_config_profile() {
    let Some(stack) = support::stack("sqs_credentials_come_from_a_shared_config_profile") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("mbs-aws-chain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config");
    std::fs::write(
        &config,
        "[profile mbs-env]\nregion = us-east-1\n\n[profile mbs-file]\nregion = us-east-1\n",
    )
    .unwrap();
    let credentials = dir.join("credentials");
    std::fs::write(
        &credentials,
        "[mbs-env]\naws_access_key_id = 111111111111\naws_secret_access_key = first-not-a-secret\n\n\
         [mbs-file]\naws_access_key_id = 222222222222\naws_secret_access_key = second-not-a-secret\n",
    )
    .unwrap();
    let scenario = |profile: &str| {
        let path = dir.join(format!("chain{profile}.yaml"));
        let schema = support::repo().join("schemas/pokemon_card.avsc");
        let profile_key = if profile.is_empty() {
            String::new()
        } else {
            format!(", profile: {profile}")
        };
        std::fs::write(
            &path,
            format!(
                "name: aws-chain
targets:
  sqs: {{ endpoint: \"${{SQS_ENDPOINT}}\"{profile_key} }}
setup:
  - {{ type: create_queue, name: mbs-chain-{pid}, purge: true }}
streams:
  - {{ name: cards, schema: {schema}, queue: mbs-chain-{pid} }}
phases:
  - {{ name: p, duration: 2s, rate: 20/s, mode: direct_sqs }}
assertions:
  - {{ type: arrivals, queue: mbs-chain-{pid}, expect: all_acked, tolerance: 0, within: 30s }}
",
                pid = std::process::id(),
                schema = schema.display()
            ),
        )
        .unwrap();
        path.to_string_lossy().into_owned()
    };
    let files = [
        ("AWS_CONFIG_FILE", config.to_str().unwrap()),
        ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
    ];
    let reports = dir.join("reports");
    let reports = reports.to_str().unwrap();

    // AWS_PROFILE selects the profile; its keys sign (account 111111111111).
    let plain = scenario("");
    let mut env = files.to_vec();
    env.push(("AWS_PROFILE", "mbs-env"));
    let out = run(&stack, &["run", &plain, "--report-dir", reports], &env);
    assert_eq!(out.0, 0, "stdout:\n{}\nstderr:\n{}", out.1, out.2);
    let all = format!("{}{}", out.1, out.2);
    assert!(all.contains("/111111111111/mbs-chain-"), "{all}");
    assert!(
        !all.contains("first-not-a-secret"),
        "a secret leaked: {all}"
    );

    // targets.sqs.profile wins over nothing set (account 222222222222).
    let named = scenario("mbs-file");
    let out = run(&stack, &["run", &named, "--report-dir", reports], &files);
    assert_eq!(out.0, 0, "stdout:\n{}\nstderr:\n{}", out.1, out.2);
    let all = format!("{}{}", out.1, out.2);
    assert!(all.contains("/222222222222/mbs-chain-"), "{all}");

    // A profile nobody defined: exit 3, naming it, before any message.
    let missing = scenario("nobody");
    let out = run(&stack, &["run", &missing, "--report-dir", reports], &files);
    assert_eq!(out.0, 3, "stdout:\n{}\nstderr:\n{}", out.1, out.2);
    assert!(
        out.2
            .contains("no AWS credentials for SQS (profile `nobody`"),
        "{}",
        out.2
    );
    let _ = std::fs::remove_dir_all(&dir);
}
