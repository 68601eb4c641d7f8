//! Setup and teardown steps: files exist, exactly one source per step,
//! FIFO naming, durations.

use std::time::Duration;

use super::Ctx;
use crate::scenario::model::{
    ConnectorConfig, ConnectorState, ConnectorWait, DeadLetter, FileRef, SchemaFile, SetupStep,
    SubjectStrategy, TeardownStep, Topic,
};
use crate::scenario::spec::{PropValue, SetupStepSpec, StreamSpec, TeardownStepSpec};
use crate::scenario::units::{DURATION_HELP, parse_duration};

pub(super) fn setup(cx: &mut Ctx<'_>, steps: &[SetupStepSpec]) -> Vec<SetupStep> {
    steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| step(cx, &format!("/setup/{i}"), s))
        .collect()
}

fn props(map: &indexmap::IndexMap<String, PropValue>) -> Vec<(String, String)> {
    map.iter()
        .map(|(k, v)| (k.clone(), v.to_prop_string()))
        .collect()
}

fn step(cx: &mut Ctx<'_>, ptr: &str, s: &SetupStepSpec) -> Option<SetupStep> {
    match s {
        SetupStepSpec::RegisterSchemas {
            path,
            files,
            subject_strategy,
            compatibility,
        } => {
            let files = match (path, files) {
                (Some(dir), None) => schema_dir(cx, &format!("{ptr}/path"), dir)?,
                (None, Some(list)) => {
                    let mut out = Vec::new();
                    for (j, f) in list.iter().enumerate() {
                        let file = cx.file(f);
                        if file.resolved.is_file() {
                            out.push(file);
                        } else {
                            cx.error(
                                &format!("{ptr}/files/{j}"),
                                format!("cannot find schema file `{f}`"),
                                "paths are relative to the scenario file's folder",
                            );
                        }
                    }
                    out
                }
                _ => {
                    cx.error_at_key(
                        &format!("{ptr}/type"),
                        "`register_schemas` needs exactly one of `path` or `files`",
                        "give a folder with `path: schemas/` or a list with `files: [schemas/a.avsc]`",
                    );
                    return None;
                }
            };
            let mut schemas = Vec::new();
            for (j, file) in files.into_iter().enumerate() {
                match crate::scenario::avsc::load(&file.resolved, &file.written) {
                    Ok((_, record_name)) => schemas.push(SchemaFile { file, record_name }),
                    Err(e) => {
                        let at = if path.is_some() {
                            format!("{ptr}/path")
                        } else {
                            format!("{ptr}/files/{j}")
                        };
                        cx.error(
                            &at,
                            e.to_string(),
                            "every schema registered must be a valid Avro record schema",
                        );
                    }
                }
            }
            Some(SetupStep::RegisterSchemas {
                schemas,
                subject_strategy: subject_strategy.unwrap_or(SubjectStrategy::TopicName),
                compatibility: *compatibility,
            })
        }
        SetupStepSpec::EnsureTopics { topics } => {
            let mut seen = std::collections::HashSet::new();
            for (j, t) in topics.iter().enumerate() {
                super::names::kafka_topic(cx, &format!("{ptr}/topics/{j}/name"), &t.name);
                if !seen.insert(t.name.as_str()) {
                    cx.error(
                        &format!("{ptr}/topics/{j}/name"),
                        format!("topic `{}` is listed twice", t.name),
                        "list each topic once",
                    );
                }
            }
            Some(SetupStep::EnsureTopics {
                topics: topics
                    .iter()
                    .map(|t| Topic {
                        name: t.name.clone(),
                        partitions: t.partitions.unwrap_or(1),
                        replication_factor: t.replication_factor.unwrap_or(1),
                        config: props(&t.config),
                    })
                    .collect(),
            })
        }
        SetupStepSpec::CreateQueue {
            name,
            fifo,
            attributes,
            dead_letter,
            purge,
        } => {
            super::names::sqs_queue(cx, &format!("{ptr}/name"), name);
            let is_fifo_name = name.ends_with(".fifo");
            let fifo = fifo.unwrap_or(is_fifo_name);
            if fifo != is_fifo_name {
                cx.error(
                    &format!("{ptr}/name"),
                    if fifo {
                        format!("FIFO queue `{name}` must have a name ending in `.fifo`")
                    } else {
                        format!("queue `{name}` ends in `.fifo` but `fifo` is false")
                    },
                    "SQS requires FIFO queue names to end in `.fifo` and only those",
                );
            }
            Some(SetupStep::CreateQueue {
                name: name.clone(),
                fifo,
                attributes: props(attributes),
                dead_letter: dead_letter.as_ref().map(|d| DeadLetter {
                    name: d.name.clone(),
                    max_receive_count: d.max_receive_count.unwrap_or(5),
                }),
                purge: purge.unwrap_or(false),
            })
        }
        SetupStepSpec::ApplyConnector {
            name,
            config_file,
            config,
            wait,
        } => {
            let config = match (config_file, config) {
                (Some(f), inline) => {
                    let mut c = connector_file(cx, &format!("{ptr}/config_file"), f)?;
                    // Inline entries refine the file (e.g. `tasks.max`), winning on equal keys.
                    if let (ConnectorConfig::File { config, .. }, Some(map)) = (&mut c, inline) {
                        for (k, v) in props(map) {
                            match config.iter_mut().find(|(key, _)| *key == k) {
                                Some(slot) => slot.1 = v,
                                None => config.push((k, v)),
                            }
                        }
                    }
                    c
                }
                (None, Some(map)) => ConnectorConfig::Inline { config: props(map) },
                (None, None) => {
                    cx.error_at_key(
                        &format!("{ptr}/type"),
                        "`apply_connector` needs `config_file`, `config`, or both",
                        "point `config_file` at a JSON file (e.g. connectors/sqs-sink.json) and/or write settings under `config:` (they override the file's)",
                    );
                    return None;
                }
            };
            let wait = match wait {
                None => None,
                Some(w) => {
                    let timeout = match &w.timeout {
                        None => Duration::from_secs(60),
                        Some(t) => match parse_duration(&t.0) {
                            Ok(d) => d,
                            Err(e) => {
                                cx.error(
                                    &format!("{ptr}/wait/timeout"),
                                    format!("invalid duration: {e}"),
                                    DURATION_HELP,
                                );
                                return None;
                            }
                        },
                    };
                    Some(ConnectorWait {
                        state: w.state.unwrap_or(ConnectorState::Running),
                        timeout,
                    })
                }
            };
            Some(SetupStep::ApplyConnector {
                name: name.clone(),
                config,
                wait,
            })
        }
    }
}

/// Every `.avsc` file of a folder, sorted by name (stable plans).
fn schema_dir(cx: &mut Ctx<'_>, ptr: &str, dir: &str) -> Option<Vec<FileRef>> {
    let base = cx.file(dir);
    let entries = match std::fs::read_dir(&base.resolved) {
        Ok(e) => e,
        Err(e) => {
            cx.error(
                ptr,
                format!("cannot read schema folder `{dir}`: {e}"),
                "paths are relative to the scenario file's folder",
            );
            return None;
        }
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".avsc"))
        .collect();
    names.sort();
    if names.is_empty() {
        cx.error(
            ptr,
            format!("schema folder `{dir}` holds no `.avsc` files"),
            "point `path` at the folder with your Avro schemas",
        );
        return None;
    }
    let prefix = if dir.ends_with('/') {
        dir.to_string()
    } else {
        format!("{dir}/")
    };
    Some(
        names
            .iter()
            .map(|n| cx.file(&format!("{prefix}{n}")))
            .collect(),
    )
}

fn connector_file(cx: &mut Ctx<'_>, ptr: &str, written: &str) -> Option<ConnectorConfig> {
    let file = cx.file(written);
    let text = match std::fs::read_to_string(&file.resolved) {
        Ok(t) => t,
        Err(e) => {
            cx.error(
                ptr,
                format!("cannot read connector config `{written}`: {e}"),
                "paths are relative to the scenario file's folder",
            );
            return None;
        }
    };
    let value: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            cx.error(
                ptr,
                format!("`{written}` is not valid JSON: {e}"),
                "a connector config file is a JSON object of string settings",
            );
            return None;
        }
    };
    // Accept both the bare config object and the `{"name":…, "config":{…}}` form of POST /connectors.
    let obj = value.get("config").unwrap_or(&value);
    let Some(map) = obj.as_object() else {
        cx.error(
            ptr,
            format!("`{written}` is not a JSON object"),
            "a connector config file is a JSON object of string settings",
        );
        return None;
    };
    let config = map
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), String::from),
            )
        })
        .collect();
    Some(ConnectorConfig::File { file, config })
}

pub(super) fn teardown(steps: &[TeardownStepSpec]) -> Vec<TeardownStep> {
    steps
        .iter()
        .map(|s| match s {
            TeardownStepSpec::DeleteConnector { name } => {
                TeardownStep::DeleteConnector { name: name.clone() }
            }
            TeardownStepSpec::PauseConnector { name } => {
                TeardownStep::PauseConnector { name: name.clone() }
            }
            TeardownStepSpec::DeleteTopics { topics } => TeardownStep::DeleteTopics {
                topics: topics.clone(),
            },
            TeardownStepSpec::DeleteQueue { name } => {
                TeardownStep::DeleteQueue { name: name.clone() }
            }
            TeardownStepSpec::PurgeQueue { name } => {
                TeardownStep::PurgeQueue { name: name.clone() }
            }
        })
        .collect()
}

/// Queues the scenario knows about: created in setup or targeted by a stream.
pub(super) fn known_queues(setup: &[SetupStepSpec], streams: &[StreamSpec]) -> Vec<String> {
    let mut out: Vec<String> = setup
        .iter()
        .flat_map(|s| match s {
            SetupStepSpec::CreateQueue {
                name, dead_letter, ..
            } => {
                let mut v = vec![name.clone()];
                v.extend(dead_letter.as_ref().map(|d| d.name.clone()));
                v
            }
            _ => Vec::new(),
        })
        .chain(streams.iter().filter_map(|s| s.queue.clone()))
        .collect();
    out.sort();
    out.dedup();
    out
}
