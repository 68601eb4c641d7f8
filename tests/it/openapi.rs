//! The OpenAPI document of the control API: valid OpenAPI 3.1 (checked by
//! the reference validator, `openapi-spec-validator`, from the stack's tool
//! venv), every served route documented and every documented route served,
//! and the server's actual answers valid against the documented schemas.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mbscenario::control::api::{ApiState, router, serve};
use mbscenario::engine::{self, Shutdown, Steering};
use mbscenario::plan::Plan;
use mbscenario::scenario::{self, LoadOptions};
use serde_json::{Value, json};

use crate::support;

/// A validator for the schema at `pointer` inside the document.
fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": doc["components"],
        "allOf": [schema],
    });
    jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("{e}: {schema}"))
}

async fn served() -> (String, Arc<Steering>, Shutdown) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/control/steer.yaml");
    let s = scenario::load_file(&file, "steer.yaml", &LoadOptions::default())
        .unwrap_or_else(|d| panic!("{}", d.render_plain()));
    let plan = Plan::compile(&s);
    let shutdown = Shutdown::new(Duration::from_secs(1));
    let steering = Steering::new(Arc::new(plan.clone()), shutdown.stop.clone());
    let app = router(ApiState {
        steering: steering.clone(),
        token: None,
    });
    let (addr, _) = serve(
        "127.0.0.1:0".parse().unwrap(),
        app,
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .unwrap();
    // Run the engine (null sink) so /status has live content.
    let streams = engine::prepare::streams(&s, s.seed, None).unwrap();
    let extras = engine::Extras {
        progress: false,
        sends: None,
        echo: None,
        observe: None,
        steering: Some(steering.clone()),
    };
    let sd = shutdown.clone();
    tokio::spawn(async move {
        engine::run_with(
            &plan,
            streams,
            mbscenario::sink::Sinks::both(mbscenario::sink::SinkHandle::Null),
            &sd,
            extras,
        )
        .await
    });
    (addr.to_string(), steering, shutdown)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_valid_and_matches_what_the_server_answers() {
    let (base, steering, shutdown) = served().await;
    while steering.started().is_none() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let client = reqwest::Client::new();
    let doc: Value = client
        .get(format!("http://{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");

    // Every documented operation is served, and answers with a documented
    // status whose body matches the documented schema.
    let requests: Vec<(&str, &str, Option<Value>)> = vec![
        ("get", "/healthz", None),
        ("get", "/ready", None),
        ("get", "/status", None),
        (
            "post",
            "/rate",
            Some(json!({"rate": "300/s", "stream": "cards"})),
        ),
        ("post", "/rate", Some(json!({"rate": 0}))),
        ("post", "/pause", Some(json!({"stream": "nope"}))),
        ("post", "/pause", None),
        ("post", "/resume", Some(json!({}))),
        ("post", "/workers", Some(json!({"workers": 6}))),
        ("post", "/mode", Some(json!({"mode": "direct_sqs"}))),
        (
            "post",
            "/mode",
            Some(json!({"reset": true, "stream": "cards"})),
        ),
        ("get", "/metrics", None),
        ("get", "/openapi.json", None),
        ("post", "/stop", None),
    ];
    let documented: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{m} {p}"))
        })
        .collect();
    for d in &documented {
        assert!(
            requests.iter().any(|(m, p, _)| format!("{m} {p}") == *d),
            "documented but not exercised: {d}"
        );
    }
    let mut statuses = Vec::new();
    for (method, path, body) in &requests {
        let op = &doc["paths"][path][method];
        assert!(
            op.is_object(),
            "{method} {path} is served but not documented"
        );
        let mut req = match *method {
            "get" => client.get(format!("http://{base}{path}")),
            _ => client.post(format!("http://{base}{path}")),
        };
        if let Some(b) = body {
            let schema = &op["requestBody"]["content"]["application/json"]["schema"];
            let v = validator(&doc, schema);
            assert!(
                v.is_valid(b),
                "{method} {path}: request {b} does not match its documented schema"
            );
            req = req.json(b);
        }
        let resp = req.send().await.unwrap();
        let code = resp.status().as_u16().to_string();
        let ctype = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let text = resp.text().await.unwrap();
        let documented = &op["responses"][&code];
        assert!(
            documented.is_object(),
            "{method} {path} answered {code}, which is not documented: {text}"
        );
        statuses.push(format!("{method} {path} {code}"));
        if ctype.starts_with("application/json") {
            let schema = &documented["content"]["application/json"]["schema"];
            let body: Value = serde_json::from_str(&text).unwrap();
            let v = validator(&doc, schema);
            let errors: Vec<String> = v.iter_errors(&body).map(|e| e.to_string()).collect();
            assert!(
                errors.is_empty(),
                "{method} {path} {code}: {errors:?}\n{body:#}"
            );
        } else {
            assert!(
                documented["content"]["text/plain"].is_object(),
                "{method} {path}: {ctype}"
            );
        }
    }
    // The requests above cover success and refusal paths.
    for want in [
        "post /rate 200",
        "post /rate 400",
        "post /pause 404",
        "post /workers 200",
        "get /metrics 404",
    ] {
        assert!(
            statuses.iter().any(|s| s == want),
            "{want} not seen in {statuses:?}"
        );
    }
    shutdown.abort.cancel();

    // The reference validator, from the stack's tool venv (installed by
    // `scripts/dev-stack install`); in CI its absence is a failure.
    let python = support::tools_python();
    let path = std::env::temp_dir().join(format!("mbs-openapi-{}.json", std::process::id()));
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    match python {
        Some(py) => {
            let out = std::process::Command::new(py)
                .args([
                    "-c",
                    "import json,sys\nfrom openapi_spec_validator import validate\nvalidate(json.load(open(sys.argv[1])))\nprint('valid')",
                ])
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "openapi-spec-validator rejected the document:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        None => support::skip_or_fail("openapi: the stack's tool venv with openapi-spec-validator"),
    }
}
