//! The Schema Registry client against a strict wire-level double.
//!
//! No Confluent Schema Registry can run on these machines, so each test
//! scripts `wiremock` with the answers the Confluent REST API documents
//! (content type `application/vnd.schemaregistry.v1+json`, `{"id":N}`,
//! `error_code` bodies). Every mock matches method, path, content type and
//! exact JSON body, and states how often it must be hit; anything else falls
//! through to a 418 the client cannot mistake for a registry answer. So these
//! tests fail when the client drifts from the real API.

use std::path::Path;
use std::time::Duration;

use mbscenario::infra::{self, InfraError, Options, Progress};
use mbscenario::scenario::{Scenario, Vars};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

const CT: &str = "application/vnd.schemaregistry.v1+json";
const TOPIC: &str = "events.cards";

/// The schema text the client must send: the `.avsc` JSON, compacted.
fn schema_text() -> String {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/pokemon_card.avsc");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    v.to_string()
}

fn registry_answer(status: u16, body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.to_string(), CT)
}

/// A server whose unmatched requests get an answer no client branch accepts.
async fn strict_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(418).set_body_string("unscripted request"))
        .with_priority(u8::MAX)
        .mount(&server)
        .await;
    server
}

fn scenario(registry: &str, setup: &str, auth: &str) -> Scenario {
    scenario_with(registry, setup, auth, &[])
}

/// Like [`scenario`], loaded with `vars` set (the variables `*_env` keys name must be).
fn scenario_with(registry: &str, setup: &str, auth: &str, vars: &[(&str, &str)]) -> Scenario {
    let setup = if setup.is_empty() {
        String::new()
    } else {
        format!("setup:\n{setup}")
    };
    let yaml = format!(
        "name: registry
targets:
  schema_registry: {{ url: \"{registry}\"{auth} }}
{setup}
streams:
  - {{ name: cards, schema: ../../../schemas/pokemon_card.avsc, topic: {TOPIC} }}
phases:
  - {{ name: p, duration: 1s, rate: 10/s }}
"
    );
    crate::support::scenario_yaml("tests/fixtures/valid/registry.yaml", &yaml, vars)
}

fn options(vars: &[(&str, &str)]) -> Options {
    Options {
        timeout: Duration::from_secs(20),
        vars: Vars::fixed(
            vars.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        progress: Progress::capture(),
    }
}

/// `METHOD PATH` of the registry API, to be scripted with [`Answers`].
fn on(verb: &str, at: impl Into<String>) -> MockBuilder {
    Mock::given(method(verb)).and(path(at.into()))
}

/// How a scripted request is answered and how often it must come.
trait Answers {
    /// With `status` and a registry JSON body, exactly `times` times.
    async fn answers(self, server: &MockServer, status: u16, body: serde_json::Value, times: u64);
    /// With the registry's "Schema not found", exactly `times` times.
    async fn not_registered(self, server: &MockServer, times: u64);
}

impl Answers for MockBuilder {
    async fn answers(self, server: &MockServer, status: u16, body: serde_json::Value, times: u64) {
        self.respond_with(registry_answer(status, body))
            .expect(times)
            .mount(server)
            .await;
    }

    async fn not_registered(self, server: &MockServer, times: u64) {
        self.respond_with(not_registered())
            .expect(times)
            .mount(server)
            .await;
    }
}

const REGISTER: &str = "  - { type: register_schemas, files: [../../../schemas/pokemon_card.avsc], subject_strategy: topic_name }";
const REGISTER_BACKWARD: &str = "  - { type: register_schemas, files: [../../../schemas/pokemon_card.avsc], subject_strategy: topic_name, compatibility: backward }";

fn subject_path(subject: &str, rest: &str) -> String {
    format!("/subjects/{subject}{rest}")
}

fn not_registered() -> ResponseTemplate {
    registry_answer(
        404,
        json!({"error_code": 40403, "message": "Schema not found"}),
    )
}

#[tokio::test]
async fn registers_a_new_schema_after_setting_and_checking_compatibility() {
    let server = strict_server().await;
    let subject = format!("{TOPIC}-value");
    let body = json!({ "schema": schema_text() });
    on("PUT", format!("/config/{subject}"))
        .and(header("content-type", CT))
        .and(body_json(json!({"compatibility": "BACKWARD"})))
        .answers(&server, 200, json!({"compatibility": "BACKWARD"}), 1)
        .await;
    on("POST", subject_path(&subject, ""))
        .and(header("content-type", CT))
        .and(body_json(&body))
        .answers(
            &server,
            404,
            json!({"error_code": 40401, "message": "Subject 'events.cards-value' not found."}),
            1,
        )
        .await;
    on(
        "POST",
        format!("/compatibility/subjects/{subject}/versions/latest"),
    )
    .and(query_param("verbose", "true"))
    .and(header("content-type", CT))
    .and(body_json(&body))
    .answers(
        &server,
        404,
        json!({"error_code": 40401, "message": "Subject not found"}),
        1,
    )
    .await;
    on("POST", subject_path(&subject, "/versions"))
        .and(header("content-type", CT))
        .and(body_json(&body))
        .answers(&server, 200, json!({"id": 7}), 1)
        .await;
    let s = scenario(&server.uri(), REGISTER_BACKWARD, "");
    let opts = options(&[]);
    let out = infra::setup::run(&s, &opts).await.unwrap();
    assert_eq!(out.schema_ids, vec![Some((7, subject.clone()))]);
    let lines = opts.progress.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("registered under {subject} (id 7)"))),
        "{lines:?}"
    );
}

#[tokio::test]
async fn an_already_registered_schema_is_looked_up_not_registered_again() {
    let server = strict_server().await;
    let subject = format!("{TOPIC}-value");
    on("POST", subject_path(&subject, ""))
        .and(header("content-type", CT))
        .and(body_json(json!({ "schema": schema_text() })))
        .answers(
            &server,
            200,
            json!({"subject": subject, "version": 2, "id": 3, "schema": schema_text()}),
            1,
        )
        .await;
    on("POST", subject_path(&subject, "/versions"))
        .answers(&server, 200, json!({"id": 3}), 0)
        .await;
    let s = scenario(&server.uri(), REGISTER, "");
    let opts = options(&[]);
    let out = infra::setup::run(&s, &opts).await.unwrap();
    assert_eq!(out.schema_ids, vec![Some((3, subject.clone()))]);
    assert!(
        opts.progress.lines()[0].contains("already registered under events.cards-value (id 3)")
    );
}

#[tokio::test]
async fn an_incompatible_schema_reports_the_registry_messages_and_is_not_registered() {
    let server = strict_server().await;
    let subject = format!("{TOPIC}-value");
    on("PUT", format!("/config/{subject}"))
        .respond_with(registry_answer(200, json!({"compatibility": "BACKWARD"})))
        .mount(&server)
        .await;
    on("POST", subject_path(&subject, ""))
        .respond_with(not_registered())
        .mount(&server)
        .await;
    let why = "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field 'grade' at path '/fields/10' in the new schema has no default value'}";
    on(
        "POST",
        format!("/compatibility/subjects/{subject}/versions/latest"),
    )
    .and(query_param("verbose", "true"))
    .answers(
        &server,
        200,
        json!({"is_compatible": false, "messages": [why]}),
        1,
    )
    .await;
    on("POST", subject_path(&subject, "/versions"))
        .answers(&server, 200, json!({"id": 1}), 0)
        .await;
    let err = infra::setup::run(
        &scenario(&server.uri(), REGISTER_BACKWARD, ""),
        &options(&[]),
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("setup[0] register_schemas: ../../../schemas/pokemon_card.avsc is not compatible with the latest version of events.cards-value"), "{text}");
    assert!(text.contains(why), "{text}");
    assert!(err.help().unwrap().contains("backward") || err.help().unwrap().contains("BACKWARD"));
}

#[tokio::test]
async fn a_409_on_register_keeps_error_code_and_message_verbatim() {
    let server = strict_server().await;
    let subject = format!("{TOPIC}-value");
    on("POST", subject_path(&subject, ""))
        .respond_with(not_registered())
        .mount(&server)
        .await;
    let message = "Schema being registered is incompatible with an earlier schema for subject \"events.cards-value\"";
    on("POST", subject_path(&subject, "/versions"))
        .and(header("content-type", CT))
        .answers(
            &server,
            409,
            json!({"error_code": 409, "message": message}),
            1,
        )
        .await;
    let err = infra::setup::run(&scenario(&server.uri(), REGISTER, ""), &options(&[]))
        .await
        .unwrap_err();
    assert!(matches!(err, InfraError::Rejected { .. }));
    let text = err.to_string();
    assert!(
        text.contains(&format!("HTTP 409, error_code 409: {message}")),
        "{text}"
    );
}

#[tokio::test]
async fn credentials_come_from_the_named_variables_and_401_is_not_retried() {
    let server = strict_server().await;
    let subject = format!("{TOPIC}-value");
    // base64("svc:s3cret")
    on("POST", subject_path(&subject, ""))
        .and(header("authorization", "Basic c3ZjOnMzY3JldA=="))
        .answers(
            &server,
            200,
            json!({"subject": subject, "version": 1, "id": 11, "schema": "x"}),
            1,
        )
        .await;
    let s = scenario_with(
        &server.uri(),
        REGISTER,
        ", basic_auth_env: REG_AUTH",
        &[("REG_AUTH", "svc:s3cret")],
    );
    let out = infra::setup::run(&s, &options(&[("REG_AUTH", "svc:s3cret")]))
        .await
        .unwrap();
    assert_eq!(out.schema_ids, vec![Some((11, subject.clone()))]);

    // Wrong token → 401 with the registry's code; reported once, with a help line.
    let server = strict_server().await;
    on("POST", subject_path(&subject, ""))
        .and(header("authorization", "Bearer nope"))
        .answers(
            &server,
            401,
            json!({"error_code": 40101, "message": "Unauthorized"}),
            1,
        )
        .await;
    let s = scenario_with(
        &server.uri(),
        REGISTER,
        ", bearer_token_env: REG_TOKEN",
        &[("REG_TOKEN", "nope")],
    );
    let err = infra::setup::run(&s, &options(&[("REG_TOKEN", "nope")]))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("HTTP 401 (authentication failed): Unauthorized"),
        "{err}"
    );
    assert!(err.help().unwrap().contains("bearer_token_env"));

    // A named variable unset by the time setup runs is caught before any request.
    let err = infra::setup::run(&s, &options(&[])).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("`REG_TOKEN` (targets.schema_registry.bearer_token_env) is not set"),
        "{err}"
    );
}

#[tokio::test]
async fn a_5xx_is_retried_until_the_registry_answers() {
    let server = strict_server().await;
    let subject = format!("{TOPIC}-value");
    on("POST", subject_path(&subject, ""))
        .respond_with(not_registered())
        .mount(&server)
        .await;
    on("POST", subject_path(&subject, "/versions"))
        .respond_with(registry_answer(
            500,
            json!({"error_code": 50001, "message": "Error in the backend data store"}),
        ))
        .up_to_n_times(2)
        .with_priority(1)
        .expect(2)
        .mount(&server)
        .await;
    on("POST", subject_path(&subject, "/versions"))
        .and(body_json(json!({ "schema": schema_text() })))
        .answers(&server, 200, json!({"id": 9}), 1)
        .await;
    let opts = options(&[]);
    let out = infra::setup::run(&scenario(&server.uri(), REGISTER, ""), &opts)
        .await
        .unwrap();
    assert_eq!(out.schema_ids, vec![Some((9, subject))]);
    assert!(
        opts.progress.lines()[0].starts_with("waiting for Schema Registry at"),
        "{:?}",
        opts.progress.lines()
    );
    assert!(opts.progress.lines()[0].contains("Error in the backend data store"));
}

#[tokio::test]
async fn subject_strategies_name_the_subjects_in_the_paths() {
    for (strategy, subject) in [
        (
            "record_name",
            "dev.mbscenario.cards.PokemonCard".to_string(),
        ),
        (
            "topic_record_name",
            format!("{TOPIC}-dev.mbscenario.cards.PokemonCard"),
        ),
    ] {
        let server = strict_server().await;
        on("POST", subject_path(&subject, ""))
            .not_registered(&server, 1)
            .await;
        on("POST", subject_path(&subject, "/versions"))
            .answers(&server, 200, json!({"id": 4}), 1)
            .await;
        let setup = format!(
            "  - {{ type: register_schemas, files: [../../../schemas/pokemon_card.avsc], subject_strategy: {strategy} }}"
        );
        let out = infra::setup::run(&scenario(&server.uri(), &setup, ""), &options(&[]))
            .await
            .unwrap_or_else(|e| panic!("{strategy}: {e}"));
        assert_eq!(out.schema_ids, vec![Some((4, subject))], "{strategy}");
    }
}

#[tokio::test]
async fn a_stream_without_a_register_step_looks_its_id_up() {
    let server = strict_server().await;
    let subject = format!("{TOPIC}-value");
    on("POST", subject_path(&subject, ""))
        .and(body_json(json!({ "schema": schema_text() })))
        .answers(
            &server,
            200,
            json!({"subject": subject, "version": 1, "id": 21, "schema": "x"}),
            1,
        )
        .await;
    let opts = options(&[]);
    let out = infra::setup::run(&scenario(&server.uri(), "", ""), &opts)
        .await
        .unwrap();
    assert_eq!(out.schema_ids, vec![Some((21, subject.clone()))]);

    // Not registered: the run cannot frame its messages, so setup says how to fix it.
    let server = strict_server().await;
    on("POST", subject_path(&subject, ""))
        .not_registered(&server, 1)
        .await;
    let err = infra::setup::run(&scenario(&server.uri(), "", ""), &options(&[]))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("is not registered under subject events.cards-value"),
        "{err}"
    );
    assert!(err.help().unwrap().contains("register_schemas"));
}

#[tokio::test]
async fn schema_by_id_reads_the_registered_text() {
    let server = strict_server().await;
    on("GET", "/schemas/ids/5")
        .answers(&server, 200, json!({"schema": "{\"type\":\"string\"}"}), 1)
        .await;
    let client = mbscenario::infra::registry::RegistryClient::new(
        &format!("{}/", server.uri()),
        mbscenario::infra::registry::Auth::None,
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(
        client.schema_by_id(5).await.unwrap(),
        "{\"type\":\"string\"}"
    );
}
