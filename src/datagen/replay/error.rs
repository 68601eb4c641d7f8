//! What can go wrong loading a replay file, located for the person who has to fix it.
//!
//! File-level failures (unreadable, unknown extension, bad schema, no rows) are single
//! variants of [`ReplayError`]. Problems with the content are collected as [`Problem`]s —
//! each with `file:line`, the column or field, the expected Avro type, the offending text
//! and a hint — and reported together as [`ReplayError::Invalid`], up to
//! [`MAX_PROBLEMS`]: enough to see a pattern, without a million lines for a file whose
//! every row is wrong.

use std::fmt;

use crate::datagen::GenError;

/// How many problems are collected before loading stops.
pub const MAX_PROBLEMS: usize = 20;

/// Offending text longer than this is shortened in messages.
const MAX_FOUND_CHARS: usize = 60;

/// Why a replay file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read replay file `{path}`: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "cannot tell the format of replay file `{path}` from its extension; \
         help: name it `*.csv` for CSV or `*.jsonl` / `*.ndjson` for JSON lines"
    )]
    UnknownFormat { path: String },
    #[error("the schema for replay file `{path}` cannot be used: {source}")]
    Schema { path: String, source: GenError },
    #[error(
        "the schema for replay file `{path}` must have a record at the top level, found {found}"
    )]
    NotARecord { path: String, found: String },
    #[error("replay file `{path}` has no data rows; help: {help}")]
    Empty { path: String, help: &'static str },
    #[error("{}", render_invalid(.path, .problems, *.truncated))]
    Invalid {
        path: String,
        problems: Vec<Problem>,
        /// Loading stopped at [`MAX_PROBLEMS`]; there may be more.
        truncated: bool,
    },
}

fn render_invalid(path: &str, problems: &[Problem], truncated: bool) -> String {
    let count = problems.len();
    let mut out = if truncated {
        format!("replay file `{path}`: stopped after {count} problems (fix these and run again):")
    } else if count == 1 {
        format!("replay file `{path}` has 1 problem:")
    } else {
        format!("replay file `{path}` has {count} problems:")
    };
    for problem in problems {
        out.push('\n');
        out.push_str(&problem.to_string());
    }
    out
}

/// Whether a problem is in a CSV column or a JSON field (for wording only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    Column,
    Field,
}

/// One located problem in a replay file.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// The file as the user wrote it.
    pub file: String,
    /// 1-based; for CSV the header is line 1.
    pub line: u64,
    /// 1-based column as the JSON parser reports it (JSON syntax errors only).
    pub column: Option<u64>,
    pub subject: Subject,
    /// Column name or dotted field path (`location.lat`, `tags[2]`).
    pub field: Option<String>,
    /// The Avro type expected there (`int`, `union[null,double]`, `enum x.Kind`).
    pub expected: Option<String>,
    /// The offending text, shortened.
    pub found: Option<String>,
    /// What is wrong, finishing "cannot use `found`: …" when `found` is set.
    pub reason: String,
    /// How to fix it.
    pub help: String,
}

impl Problem {
    pub(super) fn new(file: &str, line: u64, reason: impl Into<String>) -> Self {
        Self {
            file: file.to_string(),
            line,
            column: None,
            subject: Subject::Column,
            field: None,
            expected: None,
            found: None,
            reason: reason.into(),
            help: String::new(),
        }
    }

    pub(super) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = help.into();
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "  {}:{}", self.file, self.line)?;
        if let Some(column) = self.column {
            write!(f, ":{column}")?;
        }
        f.write_str(": ")?;
        if let Some(field) = &self.field {
            let noun = match self.subject {
                Subject::Column => "column",
                Subject::Field => "field",
            };
            write!(f, "{noun} `{field}`")?;
            if let Some(expected) = &self.expected {
                write!(f, " ({expected})")?;
            }
            f.write_str(": ")?;
        }
        if let Some(found) = &self.found {
            write!(f, "cannot use `{found}`: ")?;
        }
        f.write_str(&self.reason)?;
        if !self.help.is_empty() {
            write!(f, "\n    help: {}", self.help)?;
        }
        Ok(())
    }
}

/// `text` shortened to [`MAX_FOUND_CHARS`] characters, for messages.
pub(super) fn shorten(text: &str) -> String {
    match text.char_indices().nth(MAX_FOUND_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// Problems of one file, capped at [`MAX_PROBLEMS`].
#[derive(Debug)]
pub(super) struct Problems {
    file: String,
    list: Vec<Problem>,
}

impl Problems {
    pub(super) fn new(file: &str) -> Self {
        Self {
            file: file.to_string(),
            list: Vec::new(),
        }
    }

    /// Records a problem; returns `true` once the cap is reached and loading should stop.
    pub(super) fn push(&mut self, problem: Problem) -> bool {
        if self.list.len() < MAX_PROBLEMS {
            self.list.push(problem);
        }
        self.full()
    }

    pub(super) fn full(&self) -> bool {
        self.list.len() >= MAX_PROBLEMS
    }

    pub(super) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The collected problems as an error. `truncated` is claimed only when the cap was
    /// hit before the whole file was read.
    pub(super) fn into_error(self, finished: bool) -> ReplayError {
        let truncated = self.full() && !finished;
        ReplayError::Invalid {
            path: self.file,
            problems: self.list,
            truncated,
        }
    }
}
