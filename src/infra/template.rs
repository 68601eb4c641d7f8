//! Connector config templates: `${…}` references in a connector's values are
//! resolved when the connector is applied, because some of them (queue
//! URLs) only exist after the queue step ran.
//!
//! | reference               | value                                                   |
//! |-------------------------|---------------------------------------------------------|
//! | `${topics}`             | topics of the streams that go through Kafka, comma-separated |
//! | `${queue.url}`          | URL of the scenario's only queue                        |
//! | `${queue.NAME.url}`     | URL of queue NAME                                       |
//! | `${connector.name}`     | the connector's name                                    |
//! | `${schema_registry.url}`| `targets.schema_registry.url`                           |
//! | `${VAR}`, `${VAR:-dflt}`| `--set VAR=…`, then the environment, then the default   |
//!
//! `$${` is a literal `${`.

use std::collections::BTreeMap;

use indexmap::IndexMap;

use crate::plan::Plan;
use crate::scenario::interpolate::{Vars, interpolate_with, is_identifier};
use crate::scenario::model::Mode;

/// Values of the run variables; environment variables come from `vars`.
#[derive(Debug, Clone, Default)]
pub struct TemplateVars {
    pub topics: String,
    /// Queue name → URL.
    pub queue_urls: BTreeMap<String, String>,
    /// Queue `${queue.url}` refers to, when the scenario has exactly one.
    pub only_queue: Option<String>,
    pub connector: String,
    pub registry_url: Option<String>,
}

impl TemplateVars {
    /// Run variables for `connector` in `plan`; queue URLs are added by the caller.
    pub fn for_plan(plan: &Plan, connector: &str) -> Self {
        let via_kafka: Vec<usize> = plan
            .phases
            .iter()
            .filter(|p| p.mode == Mode::KafkaViaConnect)
            .flat_map(|p| p.streams.iter().map(|ps| ps.stream))
            .collect();
        let mut topics: Vec<&str> = Vec::new();
        for (i, s) in plan.streams.iter().enumerate() {
            if (via_kafka.is_empty() || via_kafka.contains(&i))
                && !topics.contains(&s.topic.as_str())
            {
                topics.push(&s.topic);
            }
        }
        Self {
            topics: topics.join(","),
            queue_urls: BTreeMap::new(),
            only_queue: only_queue(plan),
            connector: connector.to_string(),
            registry_url: plan.targets.schema_registry.as_ref().map(|r| r.url.clone()),
        }
    }
}

/// The queue the streams write to, when there is exactly one.
fn only_queue(plan: &Plan) -> Option<String> {
    let mut queues: Vec<&str> = plan
        .streams
        .iter()
        .filter_map(|s| s.queue.as_deref())
        .collect();
    queues.sort_unstable();
    queues.dedup();
    match queues.as_slice() {
        [one] => Some(one.to_string()),
        _ => None,
    }
}

/// Queue names referenced as `${queue.NAME.url}` (so the caller can look them up first).
pub fn referenced_queues(config: &IndexMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for v in config.values() {
        let mut rest = v.as_str();
        while let Some(p) = rest.find("${queue.") {
            rest = &rest[p + 8..];
            if let Some(end) = rest.find(".url}") {
                let name = &rest[..end];
                if !name.contains('}') && !out.iter().any(|n| n == name) {
                    out.push(name.to_string());
                }
            }
        }
    }
    out
}

/// Resolves every value; all unresolved references are reported together,
/// each with the config key it sits in and how to fix it.
pub fn resolve(
    config: &IndexMap<String, String>,
    run: &TemplateVars,
    vars: &Vars,
) -> Result<IndexMap<String, String>, Vec<String>> {
    let lookup = |name: &str| -> Option<String> {
        match name {
            "topics" => Some(run.topics.clone()),
            "connector.name" => Some(run.connector.clone()),
            "schema_registry.url" => run.registry_url.clone(),
            "queue.url" => run
                .only_queue
                .as_ref()
                .and_then(|q| run.queue_urls.get(q).cloned()),
            _ => match name
                .strip_prefix("queue.")
                .and_then(|n| n.strip_suffix(".url"))
            {
                Some(q) => run.queue_urls.get(q).cloned(),
                None => vars.get(name),
            },
        }
    };
    let accepts = |name: &str| {
        is_identifier(name)
            || matches!(name, "connector.name" | "schema_registry.url" | "queue.url")
            || (name.starts_with("queue.") && name.ends_with(".url"))
    };
    let mut out = IndexMap::new();
    let mut problems = Vec::new();
    for (k, v) in config {
        match interpolate_with(v, accepts, lookup) {
            Ok(s) => {
                out.insert(k.clone(), s);
            }
            Err(missing) => {
                for m in missing {
                    problems.push(format!(
                        "`{k}`: ${{{}}} {}",
                        m.name,
                        why_missing(&m.name, run)
                    ));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

fn why_missing(name: &str, run: &TemplateVars) -> String {
    if name == "queue.url" {
        return match &run.only_queue {
            None => {
                "is ambiguous: the streams use no queue or several; write ${queue.NAME.url}".into()
            }
            Some(q) => {
                format!("refers to queue `{q}`, which does not exist; add a create_queue step")
            }
        };
    }
    if name == "schema_registry.url" {
        return "has no value: the scenario configures no targets.schema_registry".into();
    }
    if let Some(q) = name
        .strip_prefix("queue.")
        .and_then(|n| n.strip_suffix(".url"))
    {
        return format!(
            "refers to queue `{q}`, which does not exist; add a create_queue step for it"
        );
    }
    format!("is not set: export {name}, pass --set {name}=…, or write ${{{name}:-default}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> IndexMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn run() -> TemplateVars {
        TemplateVars {
            topics: "a,b".into(),
            queue_urls: [("mb".to_string(), "http://q/mb".to_string())].into(),
            only_queue: Some("mb".into()),
            connector: "sink".into(),
            registry_url: None,
        }
    }

    #[test]
    fn resolves_run_variables_env_and_defaults() {
        let vars = Vars::fixed([("CLS".to_string(), "x.Sink".to_string())].into());
        let got = resolve(
            &cfg(&[
                ("connector.class", "${CLS}"),
                ("topics", "${topics}"),
                ("sqs.queue.url", "${queue.url}"),
                (
                    "other",
                    "${queue.mb.url}|${connector.name}|${MISSING:-d}|$${literal}",
                ),
            ]),
            &run(),
            &vars,
        )
        .unwrap();
        assert_eq!(got["connector.class"], "x.Sink");
        assert_eq!(got["topics"], "a,b");
        assert_eq!(got["sqs.queue.url"], "http://q/mb");
        assert_eq!(got["other"], "http://q/mb|sink|d|${literal}");
    }

    #[test]
    fn reports_every_unresolved_reference_with_its_key() {
        let err = resolve(
            &cfg(&[
                ("a", "${queue.nope.url}"),
                ("b", "${NOT_SET_ANYWHERE}"),
                ("c", "${schema_registry.url}"),
            ]),
            &run(),
            &Vars::fixed(Default::default()),
        )
        .unwrap_err();
        assert_eq!(err.len(), 3, "{err:?}");
        assert!(err[0].starts_with("`a`: ${queue.nope.url} refers to queue `nope`"));
        assert!(err[1].contains("--set NOT_SET_ANYWHERE="));
        assert!(err[2].contains("targets.schema_registry"));
    }

    #[test]
    fn finds_referenced_queues() {
        let c = cfg(&[
            ("x", "${queue.a.url},${queue.b.url}"),
            ("y", "${queue.a.url}"),
        ]);
        assert_eq!(referenced_queues(&c), vec!["a", "b"]);
    }
}
