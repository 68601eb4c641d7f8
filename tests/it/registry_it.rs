//! The Schema Registry client and the `register_schemas` step against the
//! real registry of the dev stack (Apicurio Registry, Confluent-compatible
//! API under `/apis/ccompat/v7`). `tests/registry.rs` keeps the wire-level
//! double for the faults a real registry cannot be made to produce.

use crate::support;

use std::process::Command;
use std::time::Duration;

use mbscenario::infra::http::HttpError;
use mbscenario::infra::registry::{Auth, Compat, RegistryClient, schema_text};
use mbscenario::scenario::spec::setup::Compatibility;

use support::repo;

/// The registry URL of the running stack, or `None` after a loud skip (a
/// failure in CI).
fn registry(test: &str) -> Option<String> {
    let stack = support::stack(test)?;
    let url = stack.get("SCHEMA_REGISTRY_URL").to_string();
    if url.is_empty() {
        support::skip_or_fail("the dev stack's Schema Registry (SCHEMA_REGISTRY_URL in stack.env)");
        return None;
    }
    Some(url)
}

fn pokemon() -> String {
    schema_text(&std::fs::read_to_string(repo().join("schemas/pokemon_card.avsc")).unwrap())
        .unwrap()
}

/// pokemon_card plus a required field without a default: new readers
/// cannot read old data, so BACKWARD refuses it.
fn pokemon_with_required_field() -> String {
    let mut v: serde_json::Value = serde_json::from_str(&pokemon()).unwrap();
    v["fields"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"name": "it_required", "type": "string"}));
    v.to_string()
}

fn canonical(schema: &str) -> serde_json::Value {
    serde_json::from_str(schema).unwrap()
}

#[tokio::test]
async fn register_reregister_lookup_compatibility_against_the_real_registry() {
    let Some(url) = registry("register_reregister_lookup_compatibility_against_the_real_registry")
    else {
        return;
    };
    let subject = format!("it.cards.{}-value", std::process::id());
    let client = RegistryClient::new(&url, Auth::None, Duration::from_secs(10)).unwrap();

    // A subject with no versions: nothing to be incompatible with. (The
    // Confluent registry answers 404 here, Apicurio `is_compatible: true`.)
    let fresh = client
        .check_compatibility(&subject, &pokemon())
        .await
        .unwrap();
    assert!(
        matches!(fresh, Compat::NewSubject | Compat::Compatible),
        "{fresh:?}"
    );
    assert_eq!(client.lookup(&subject, &pokemon()).await.unwrap(), None);

    client
        .set_compatibility(&subject, Compatibility::Backward)
        .await
        .unwrap();
    let id = client.register(&subject, &pokemon()).await.unwrap();
    // Re-registering (a new client: no cache) gives the same id, and the id
    // serves the schema back.
    let again = RegistryClient::new(&url, Auth::None, Duration::from_secs(10)).unwrap();
    assert_eq!(again.register(&subject, &pokemon()).await.unwrap(), id);
    assert_eq!(again.lookup(&subject, &pokemon()).await.unwrap(), Some(id));
    assert_eq!(
        canonical(&again.schema_by_id(id).await.unwrap()),
        canonical(&pokemon())
    );

    // An incompatible change: the check says so, registering is refused with 409.
    let changed = pokemon_with_required_field();
    match again.check_compatibility(&subject, &changed).await.unwrap() {
        Compat::Incompatible { .. } => {}
        other => panic!("a required field without default passed BACKWARD: {other:?}"),
    }
    match again.register(&subject, &changed).await {
        Err(HttpError::Refused { status: 409, .. }) => {}
        other => panic!("an incompatible schema was not refused with 409: {other:?}"),
    }
    // The same change is fine once the subject allows anything.
    again
        .set_compatibility(&subject, Compatibility::None)
        .await
        .unwrap();
    let v2 = again.register(&subject, &changed).await.unwrap();
    assert_ne!(v2, id);
}

#[test]
fn register_schemas_names_subjects_by_each_strategy() {
    let Some(url) = registry("register_schemas_names_subjects_by_each_strategy") else {
        return;
    };
    let run = std::process::id();
    let dir = std::env::temp_dir().join(format!("mbs-registry-it-{run}"));
    std::fs::create_dir_all(&dir).unwrap();
    let schema = repo().join("schemas/pokemon_card.avsc");
    let mut want = Vec::new();
    for (strategy, subject) in [
        ("topic_name", format!("reg.it.{run}.a-value")),
        (
            "record_name",
            "dev.mbscenario.cards.PokemonCard".to_string(),
        ),
        (
            "topic_record_name",
            format!("reg.it.{run}.c-dev.mbscenario.cards.PokemonCard"),
        ),
    ] {
        let topic = match strategy {
            "topic_name" => format!("reg.it.{run}.a"),
            "record_name" => format!("reg.it.{run}.b"),
            _ => format!("reg.it.{run}.c"),
        };
        let file = dir.join(format!("{strategy}.yaml"));
        std::fs::write(
            &file,
            format!(
                "name: registry-it
targets:
  schema_registry: {{ url: \"{url}\" }}
setup:
  - {{ type: register_schemas, files: [\"{schema}\"], subject_strategy: {strategy}, compatibility: backward }}
streams:
  - {{ name: cards, schema: \"{schema}\", topic: {topic} }}
phases:
  - {{ name: p, duration: 1s, rate: 1/s }}
",
                schema = schema.display()
            ),
        )
        .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_mbscenario"))
            .args(["setup", file.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{strategy}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        want.push(subject);
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let subjects: Vec<String> = rt.block_on(async {
        reqwest::get(format!("{}/subjects", url.trim_end_matches('/')))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    for s in &want {
        assert!(subjects.contains(s), "subject {s} not in {subjects:?}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
