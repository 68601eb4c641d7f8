//! Setup steps as planned: the scenario's steps in order, with the Schema
//! Registry subjects each schema file will be registered under.

use serde::Serialize;

use crate::scenario::model::{Scenario, SchemaFile, SetupStep, SubjectStrategy};

/// A setup step plus what it resolves to.
#[derive(Debug, Clone, Serialize)]
pub struct InfraStep {
    #[serde(flatten)]
    pub step: SetupStep,
    /// For `register_schemas`: (schema file, subject) pairs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<(String, String)>,
}

impl InfraStep {
    /// The subjects schema file `sf` of this step is registered under.
    pub fn subjects_of<'s>(&'s self, sf: &'s SchemaFile) -> impl Iterator<Item = &'s str> + 's {
        self.subjects
            .iter()
            .filter(move |(f, _)| *f == sf.file.written)
            .map(|(_, subject)| subject.as_str())
    }
}

pub fn steps(scenario: &Scenario) -> Vec<InfraStep> {
    scenario
        .setup
        .iter()
        .map(|step| InfraStep {
            subjects: match step {
                SetupStep::RegisterSchemas {
                    schemas,
                    subject_strategy,
                    ..
                } => schemas
                    .iter()
                    .flat_map(|sf| {
                        schema_subjects(scenario, sf, *subject_strategy)
                            .into_iter()
                            .map(|subject| (sf.file.written.clone(), subject))
                    })
                    .collect(),
                _ => Vec::new(),
            },
            step: step.clone(),
        })
        .collect()
}

/// Subjects a schema file is registered under: one per topic of the streams using it.
fn schema_subjects(scenario: &Scenario, sf: &SchemaFile, strategy: SubjectStrategy) -> Vec<String> {
    let topics: Vec<&str> = scenario
        .streams
        .iter()
        .filter(|s| s.schema_file.resolved == sf.file.resolved)
        .map(|s| s.topic.as_str())
        .collect();
    subjects(strategy, &sf.record_name, &topics)
}

/// Subject names per Confluent's naming strategies. A schema no stream uses
/// has no topic, so it falls back to its record name.
pub fn subjects(strategy: SubjectStrategy, record: &str, topics: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = match strategy {
        SubjectStrategy::RecordName => vec![record.to_string()],
        _ if topics.is_empty() => vec![record.to_string()],
        SubjectStrategy::TopicName => topics.iter().map(|t| format!("{t}-value")).collect(),
        SubjectStrategy::TopicRecordName => {
            topics.iter().map(|t| format!("{t}-{record}")).collect()
        }
    };
    out.dedup();
    out
}
