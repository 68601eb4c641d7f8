//! Rows of a CSV or JSON-lines file → top-level records, matched to fields by name.
//!
//! ```text
//!   CSV         line 1: header ─▶ field → column index, or the field's default when
//!                                 the column is absent (no default: a problem)
//!                                 unknown / duplicate columns: a problem, rows not read
//!               line 2…: one cell per header column (ragged rows: a problem)
//!                        empty cell → null (nullable) / "" (string) / the default
//!   JSON lines  each non-blank line: one object; keys ↔ fields like CSV columns, but
//!               checked per line since lines may differ
//! ```
//!
//! Reading goes on after a bad row so that one run shows every distinct mistake, up to
//! [`MAX_PROBLEMS`](super::MAX_PROBLEMS); once a problem is found, converted rows are no
//! longer kept (the load fails anyway).

use apache_avro::types::Value;
use serde_json::Value as Json;

use super::coerce::{Coercer, Input, Mismatch, quoted, unknown_list};
use super::error::{Problem, Problems, ReplayError, Subject, shorten};
use crate::datagen::compile::{FieldNode, Node, RecordNode, TypeGraph};

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

pub(super) struct Reader<'a> {
    coercer: Coercer<'a>,
    record: &'a RecordNode,
    file: &'a str,
}

/// Where a CSV row finds a field's value.
enum Column {
    At(usize),
    Default,
}

impl<'a> Reader<'a> {
    pub(super) fn new(graph: &'a TypeGraph, record: &'a RecordNode, file: &'a str) -> Self {
        Self {
            coercer: Coercer { graph },
            record,
            file,
        }
    }

    fn field_names(&self) -> Vec<String> {
        self.record.fields.iter().map(|f| f.name.clone()).collect()
    }

    fn located(&self, line: u64, subject: Subject, field: &str, m: Mismatch) -> Problem {
        Problem {
            file: self.file.to_string(),
            line,
            column: None,
            subject,
            field: Some(format!("{field}{}", m.path)),
            expected: Some(m.expected),
            found: m.found,
            reason: m.reason,
            help: m.help,
        }
    }

    fn missing(&self, line: u64, subject: Subject, field: &FieldNode) -> Problem {
        let (reason, add) = match subject {
            Subject::Column => (
                "is missing from the header and the field has no default",
                format!("add a `{}` column to the header line", field.name),
            ),
            Subject::Field => (
                "is missing from this line and the field has no default",
                format!("add a `\"{}\": …` key to the line", field.name),
            ),
        };
        Problem {
            subject,
            field: Some(field.name.clone()),
            expected: Some(self.coercer.expected(field.node)),
            ..Problem::new(self.file, line, reason).help(format!(
                "{add}, or give the field a default in the schema \
                 (`\"default\": null` for a nullable field)"
            ))
        }
    }

    fn unknown(&self, line: u64, subject: Subject, names: &[&str]) -> Problem {
        let noun = match subject {
            Subject::Column => "columns",
            Subject::Field => "keys",
        };
        let known = self.field_names();
        Problem {
            subject,
            ..Problem::new(
                self.file,
                line,
                format!(
                    "unknown {noun} {}: record `{}` has no such fields",
                    unknown_list(names.iter().copied(), &known),
                    self.record.fullname
                ),
            )
            .help(format!(
                "rename or remove them, or add fields to the schema; its fields are {}",
                quoted(&known)
            ))
        }
    }

    fn empty(&self, help: &'static str) -> ReplayError {
        ReplayError::Empty {
            path: self.file.to_string(),
            help,
        }
    }

    pub(super) fn csv(&self, bytes: &[u8]) -> Result<Vec<Value>, ReplayError> {
        let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
        let mut problems = Problems::new(self.file);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(bytes);
        let headers = match reader.headers() {
            Ok(headers) => headers.clone(),
            Err(e) => {
                problems.push(self.csv_problem(&e));
                return Err(problems.into_error(true));
            }
        };
        const CSV_HELP: &str = "write a header line naming the fields, then one line per record";
        if headers.iter().all(str::is_empty) {
            return Err(self.empty(CSV_HELP));
        }

        // Every header problem is reported before any row is read: with a wrong
        // header every row would fail the same way.
        let columns = self.csv_columns(&headers, &mut problems);
        if !problems.is_empty() {
            return Err(problems.into_error(true));
        }

        let mut records = Vec::new();
        let mut finished = true;
        for row in reader.records() {
            let row = match row {
                Ok(row) => row,
                Err(e) => {
                    if problems.push(self.csv_problem(&e)) {
                        finished = false;
                        break;
                    }
                    continue;
                }
            };
            let fields = self.csv_row(&row, &columns, &mut problems);
            if problems.full() {
                finished = false;
                break;
            }
            if problems.is_empty() {
                records.push(Value::Record(fields));
            }
        }
        if !problems.is_empty() {
            return Err(problems.into_error(finished));
        }
        if records.is_empty() {
            return Err(self.empty(CSV_HELP));
        }
        Ok(records)
    }

    /// Header → where each field's value comes from (a column, or its default);
    /// unknown, duplicate and missing columns go to `problems`.
    fn csv_columns(&self, headers: &csv::StringRecord, problems: &mut Problems) -> Vec<Column> {
        let names: Vec<&str> = headers.iter().collect();
        let unknown: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| !self.record.fields.iter().any(|f| f.name == *n))
            .collect();
        if !unknown.is_empty() {
            problems.push(self.unknown(1, Subject::Column, &unknown));
        }
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) && !unknown.contains(name) {
                problems.push(
                    Problem {
                        field: Some((*name).to_string()),
                        ..Problem::new(self.file, 1, "appears twice in the header")
                    }
                    .help("keep one column per field"),
                );
            }
        }
        let mut columns = Vec::with_capacity(self.record.fields.len());
        for field in &self.record.fields {
            match names.iter().position(|n| *n == field.name) {
                Some(index) => columns.push(Column::At(index)),
                None if field.default.is_some() => columns.push(Column::Default),
                None => {
                    problems.push(self.missing(1, Subject::Column, field));
                    columns.push(Column::Default);
                }
            }
        }
        columns
    }

    /// One CSV row → the record's fields; each cell that does not convert
    /// goes to `problems` (stopping when they are full).
    fn csv_row(
        &self,
        row: &csv::StringRecord,
        columns: &[Column],
        problems: &mut Problems,
    ) -> Vec<(String, Value)> {
        let line = row.position().map_or(0, csv::Position::line);
        let mut fields = Vec::with_capacity(columns.len());
        for (field, column) in self.record.fields.iter().zip(columns) {
            let value = match (column, &field.default) {
                (Column::At(index), default) => {
                    let cell = row.get(*index).unwrap_or("");
                    match default {
                        Some(default) if cell.is_empty() && !self.takes_empty(field) => {
                            Ok(default.clone())
                        }
                        _ => self.coercer.coerce(field.node, Input::Cell(cell)),
                    }
                }
                (Column::Default, Some(default)) => Ok(default.clone()),
                // Unreachable: header checks reject a missing field without default.
                (Column::Default, None) => Ok(Value::Null),
            };
            match value {
                Ok(value) => fields.push((field.name.clone(), value)),
                Err(m) => {
                    if problems.push(self.located(line, Subject::Column, &field.name, m)) {
                        break;
                    }
                }
            }
        }
        fields
    }

    /// Whether an empty cell is a value of the field itself (null or the empty string)
    /// rather than a request for its default.
    fn takes_empty(&self, field: &FieldNode) -> bool {
        match &self.coercer.graph.nodes[field.node] {
            Node::String => true,
            Node::Union(union) => union.null_branch.is_some(),
            _ => false,
        }
    }

    fn csv_problem(&self, e: &csv::Error) -> Problem {
        let line = e.position().map_or(0, csv::Position::line);
        match e.kind() {
            csv::ErrorKind::UnequalLengths {
                pos,
                expected_len,
                len,
            } => Problem::new(
                self.file,
                pos.as_ref().map_or(line, csv::Position::line),
                format!("row has {len} cells but the header has {expected_len}"),
            )
            .help(
                "give every row one cell per header column; \
                 quote cells that contain commas, e.g. \"a, b\"",
            ),
            csv::ErrorKind::Utf8 { pos, .. } => Problem::new(
                self.file,
                pos.as_ref().map_or(line, csv::Position::line),
                "is not valid UTF-8",
            )
            .help("save the file as UTF-8"),
            _ => Problem::new(self.file, line, format!("is not valid CSV: {e}"))
                .help("check quoting: a quoted cell must end with a closing quote"),
        }
    }

    pub(super) fn json_lines(&self, bytes: &[u8]) -> Result<Vec<Value>, ReplayError> {
        let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
        let mut problems = Problems::new(self.file);
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                let valid = &bytes[..e.valid_up_to()];
                let newlines = valid.iter().filter(|&&b| b == b'\n').count();
                let line = u64::try_from(newlines).map_or(u64::MAX, |n| n + 1);
                problems.push(
                    Problem::new(self.file, line, "is not valid UTF-8")
                        .help("save the file as UTF-8"),
                );
                return Err(problems.into_error(true));
            }
        };
        let mut records = Vec::new();
        let mut finished = true;
        for (index, line_text) in text.lines().enumerate() {
            if line_text.trim().is_empty() {
                continue;
            }
            let line = u64::try_from(index).map_or(u64::MAX, |i| i + 1);
            match serde_json::from_str::<Json>(line_text) {
                Ok(Json::Object(object)) => {
                    if let Some(record) = self.json_record(line, &object, &mut problems)
                        && problems.is_empty()
                    {
                        records.push(record);
                    }
                }
                Ok(other) => {
                    problems.push(Problem {
                        found: Some(shorten(line_text)),
                        ..Problem::new(self.file, line, format!("is {}", json_kind(&other)))
                            .help("write one JSON object `{\"field\": …}` per line")
                    });
                }
                Err(e) => {
                    // serde_json appends " at line L column C"; the column is kept apart.
                    let message = e.to_string();
                    let reason = message
                        .rfind(" at line ")
                        .map_or(message.as_str(), |cut| &message[..cut]);
                    problems.push(Problem {
                        column: u64::try_from(e.column()).ok(),
                        ..Problem::new(self.file, line, format!("is not valid JSON: {reason}"))
                            .help(
                                "write one complete JSON object per line; look for a missing \
                                 quote, comma or brace",
                            )
                    });
                }
            }
            if problems.full() {
                finished = false;
                break;
            }
        }
        if !problems.is_empty() {
            return Err(problems.into_error(finished));
        }
        if records.is_empty() {
            return Err(self.empty("write one JSON object per line"));
        }
        Ok(records)
    }

    /// One line's object → record, or `None` after recording its problems.
    fn json_record(
        &self,
        line: u64,
        object: &serde_json::Map<String, Json>,
        problems: &mut Problems,
    ) -> Option<Value> {
        let mut ok = true;
        let unknown: Vec<&str> = object
            .keys()
            .map(String::as_str)
            .filter(|k| !self.record.fields.iter().any(|f| f.name == *k))
            .collect();
        if !unknown.is_empty() {
            ok = false;
            if problems.push(self.unknown(line, Subject::Field, &unknown)) {
                return None;
            }
        }
        let mut fields = Vec::with_capacity(self.record.fields.len());
        for field in &self.record.fields {
            let value = match (object.get(&field.name), &field.default) {
                (Some(json), _) => match self.coercer.coerce(field.node, Input::Json(json)) {
                    Ok(value) => value,
                    Err(m) => {
                        ok = false;
                        if problems.push(self.located(line, Subject::Field, &field.name, m)) {
                            return None;
                        }
                        continue;
                    }
                },
                (None, Some(default)) => default.clone(),
                (None, None) => {
                    ok = false;
                    if problems.push(self.missing(line, Subject::Field, field)) {
                        return None;
                    }
                    continue;
                }
            };
            fields.push((field.name.clone(), value));
        }
        ok.then_some(Value::Record(fields))
    }
}

fn json_kind(json: &Json) -> &'static str {
    match json {
        Json::Null => "null, not a JSON object",
        Json::Bool(_) => "a boolean, not a JSON object",
        Json::Number(_) => "a number, not a JSON object",
        Json::String(_) => "a string, not a JSON object",
        Json::Array(_) => "an array, not a JSON object",
        Json::Object(_) => "a JSON object",
    }
}
