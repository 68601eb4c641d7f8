//! `targets:` with their defaults (the loopback stack's endpoints); security
//! and credentials are checked in [`super::secrets`].

use crate::scenario::model::{Registry, Targets};
use crate::scenario::spec::ScenarioSpec;

pub(super) fn targets(spec: &ScenarioSpec, uses_registry: bool) -> Targets {
    let t = &spec.targets;
    let kafka = t.kafka.as_ref();
    Targets {
        kafka_bootstrap: kafka
            .and_then(|k| k.bootstrap.clone())
            .unwrap_or_else(|| "localhost:9092".into()),
        producer: kafka
            .map(|k| {
                k.producer
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_prop_string()))
                    .collect()
            })
            .unwrap_or_default(),
        kafka_security: None,
        schema_registry: uses_registry.then(|| match &t.schema_registry {
            Some(r) => Registry {
                url: r.url.clone(),
                basic_auth_env: r.basic_auth_env.clone(),
                bearer_token_env: r.bearer_token_env.clone(),
                ca_file: None,
            },
            None => Registry {
                url: "http://localhost:8081".into(),
                basic_auth_env: None,
                bearer_token_env: None,
                ca_file: None,
            },
        }),
        connect_url: t
            .connect
            .as_ref()
            .map_or_else(|| "http://localhost:8083".into(), |c| c.url.clone()),
        connect_access: Default::default(),
        sqs_endpoint: match &t.sqs {
            Some(s) => s.endpoint.clone(),
            None => Some("http://localhost:4566".into()),
        },
        sqs_region: t.sqs.as_ref().and_then(|s| s.region.clone()),
        sqs_profile: t.sqs.as_ref().and_then(|s| s.profile.clone()),
        sqs_keys: t
            .sqs
            .as_ref()
            .and_then(|s| s.credentials.as_ref())
            .map(|k| crate::scenario::model::AwsKeys {
                access_key_id_env: k.access_key_id_env.clone(),
                secret_access_key_env: k.secret_access_key_env.clone(),
                session_token_env: k.session_token_env.clone(),
            }),
        sqs_batch_concurrency: t
            .sqs
            .as_ref()
            .and_then(|s| s.batch_concurrency)
            .map_or(crate::sink::sqs::DEFAULT_BATCH_CONCURRENCY as u32, |n| {
                n.clamp(1, 1024)
            }),
    }
}
