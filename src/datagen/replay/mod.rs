//! Records replayed from a file (CSV or JSON lines) instead of generated at random.
//!
//! ```text
//!   ReplayFormat::infer(path)          .csv → Csv, .jsonl / .ndjson → JsonLines
//!   ReplaySource::load(path, shown, format, &schema)          once, at plan time
//!     ├─ compile::TypeGraph::build     names resolved, field defaults as Values
//!     ├─ read.rs    rows → top-level fields BY NAME (CSV header / JSON keys); missing
//!     │             fields take their schema default; unknown columns are an error
//!     ├─ coerce.rs  cell / JSON value → Value of the field's Avro type
//!     │  scalar.rs  the leaves: numbers, strings, enums, logical types
//!     │  text.rs    integers, decimals, dates, times, RFC 3339 instants
//!     └─ error.rs   every problem located (file:line, column, type, text, help),
//!                   at most MAX_PROBLEMS of them, reported together
//!   source.record(seq)                 row seq % len (OnEnd::Loop) or None past the
//!                                      end (OnEnd::Stop); a clone of the stored value
//! ```
//!
//! The file is read and converted whole, once: a bad row must fail `validate`/`plan`, not
//! minute 40 of a run, and `record(seq)` must stay a cheap pure function of `seq` like
//! generated records (any worker may ask for any `seq`). The cost is memory proportional
//! to the file, which suits recorded telemetry of up to a few million rows.
//!
//! Replayed values have the shapes generated ones have (see `coerce.rs`), so they go
//! through [`super::AvroGenerator::encode`] and validate against the schema unchanged.

mod coerce;
mod error;
mod read;
mod scalar;
mod text;

use std::path::Path;

use apache_avro::Schema;
use apache_avro::types::Value;

pub use error::{MAX_PROBLEMS, Problem, ReplayError, Subject};

use super::compile::{Node, TypeGraph};
use crate::scenario::avsc::type_name;

/// How a replay file is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayFormat {
    /// RFC 4180 CSV with a header row naming the fields.
    Csv,
    /// One JSON object per line (`.jsonl`, `.ndjson`); blank lines are skipped.
    JsonLines,
}

impl ReplayFormat {
    /// The format named by the file's extension (case-insensitive), if it is one we read.
    pub fn from_path(path: &Path) -> Option<Self> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "csv" => Some(Self::Csv),
            "jsonl" | "ndjson" => Some(Self::JsonLines),
            _ => None,
        }
    }

    /// Like [`Self::from_path`], with an error telling the user which names work.
    pub fn infer(path: &Path, shown: &str) -> Result<Self, ReplayError> {
        Self::from_path(path).ok_or_else(|| ReplayError::UnknownFormat {
            path: shown.to_string(),
        })
    }
}

/// What a stream does after the last row of its file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnEnd {
    /// Start again from the first row: record `seq` is row `seq % len`.
    #[default]
    Loop,
    /// No more records: the stream ends.
    Stop,
}

/// All rows of a replay file, converted to values of the stream's schema.
#[derive(Debug, Clone)]
pub struct ReplaySource {
    records: Vec<Value>,
    on_end: OnEnd,
}

impl ReplaySource {
    /// Reads `path` (shown in messages as `shown`) and converts every row to a record of
    /// `schema`, whose top level must be a record. Problems in the content are reported
    /// together as [`ReplayError::Invalid`]. The source loops by default
    /// (see [`Self::with_on_end`]).
    pub fn load(
        path: &Path,
        shown: &str,
        format: ReplayFormat,
        schema: &Schema,
    ) -> Result<Self, ReplayError> {
        let graph = TypeGraph::build(schema, true).map_err(|source| ReplayError::Schema {
            path: shown.to_string(),
            source,
        })?;
        let Node::Record(record) = &graph.nodes[graph.root] else {
            return Err(ReplayError::NotARecord {
                path: shown.to_string(),
                found: type_name(schema),
            });
        };
        let bytes = read_bounded(path).map_err(|source| ReplayError::Read {
            path: shown.to_string(),
            source,
        })?;
        let reader = read::Reader::new(&graph, record, shown);
        let records = match format {
            ReplayFormat::Csv => reader.csv(&bytes)?,
            ReplayFormat::JsonLines => reader.json_lines(&bytes)?,
        };
        Ok(Self {
            records,
            on_end: OnEnd::default(),
        })
    }

    /// The same rows with a different end-of-file behaviour.
    #[must_use]
    pub fn with_on_end(mut self, on_end: OnEnd) -> Self {
        self.on_end = on_end;
        self
    }

    pub fn on_end(&self) -> OnEnd {
        self.on_end
    }

    /// Number of rows (never 0: an empty file does not load).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Always `false` for a loaded source; here for the usual `len`/`is_empty` pair.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Record `seq`: row `seq % len` when looping, row `seq` or `None` past the end when
    /// stopping.
    pub fn record(&self, seq: u64) -> Option<Value> {
        let len = u64::try_from(self.records.len()).ok().filter(|&n| n > 0)?;
        let row = match self.on_end {
            OnEnd::Loop => seq % len,
            OnEnd::Stop if seq < len => seq,
            OnEnd::Stop => return None,
        };
        self.records.get(usize::try_from(row).ok()?).cloned()
    }
}

/// The largest replay file read (it is held in memory for the run).
pub const MAX_REPLAY_BYTES: u64 = 512 << 20;

/// Reads a regular file of at most [`MAX_REPLAY_BYTES`]: a device, FIFO or
/// symlink to one (`/dev/zero`) would otherwise be read forever.
fn read_bounded(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::other(
            "not a regular file (a device, FIFO or folder cannot be replayed)",
        ));
    }
    let too_big = || {
        std::io::Error::other(format!(
            "larger than {} MiB, the most a replay file may hold",
            MAX_REPLAY_BYTES >> 20
        ))
    };
    if meta.len() > MAX_REPLAY_BYTES {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    std::fs::File::open(path)?
        .take(MAX_REPLAY_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_REPLAY_BYTES {
        return Err(too_big());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_extensions() {
        assert_eq!(
            ReplayFormat::from_path(Path::new("a/b.CSV")),
            Some(ReplayFormat::Csv)
        );
        assert_eq!(
            ReplayFormat::from_path(Path::new("x.ndjson")),
            Some(ReplayFormat::JsonLines)
        );
        assert_eq!(
            ReplayFormat::from_path(Path::new("x.jsonl")),
            Some(ReplayFormat::JsonLines)
        );
        assert_eq!(ReplayFormat::from_path(Path::new("x.json")), None);
        assert_eq!(ReplayFormat::from_path(Path::new("noext")), None);
        assert!(ReplayFormat::infer(Path::new("x.txt"), "x.txt").is_err());
    }
}
