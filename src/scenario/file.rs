//! A scenario file's text, the name it is shown under, and byte ↔ line/column
//! conversions for diagnostics.

use std::path::{Path, PathBuf};

use saphyr_parser::Span as YSpan;

use super::diagnostic::Span;

/// A scenario file's text and the name it is shown under.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Shown in diagnostics (as given on the command line).
    pub name: String,
    /// Real location, used to resolve relative paths inside the scenario.
    pub path: PathBuf,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, path: impl Into<PathBuf>, text: String) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self {
            name: name.into(),
            path: path.into(),
            text,
            line_starts,
        }
    }

    /// The folder relative paths in the scenario are resolved against.
    pub fn base_dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// Text of a 1-based line, without its newline.
    pub fn line_text(&self, line: usize) -> &str {
        let Some(&start) = self.line_starts.get(line.wrapping_sub(1)) else {
            return "";
        };
        let end = self
            .line_starts
            .get(line)
            .map_or(self.text.len(), |&e| e.saturating_sub(1));
        self.text[start..end.max(start)].trim_end_matches('\r')
    }

    /// Span from a 1-based line and 0-based character column.
    pub fn span_at(&self, line: usize, col0: usize, len_bytes: usize) -> Span {
        let line = line.clamp(1, self.line_starts.len());
        let line_start = self.line_starts[line - 1];
        let line_text = self.line_text(line);
        let byte_col: usize = line_text.chars().take(col0).map(char::len_utf8).sum();
        let start = (line_start + byte_col).min(self.text.len());
        Span {
            start,
            end: (start + len_bytes).min(self.text.len()),
            line,
            col: col0 + 1,
        }
    }

    /// Number of caret characters to draw under a span (limited to its first line).
    pub fn caret_width(&self, span: Span) -> usize {
        let line_rest: &str = self.text[span.start.min(self.text.len())..]
            .split('\n')
            .next()
            .unwrap_or("");
        let len = span.end.saturating_sub(span.start).min(line_rest.len());
        line_rest[..floor_char_boundary(line_rest, len)]
            .trim_end()
            .chars()
            .count()
    }

    pub(crate) fn span_of(&self, y: &YSpan) -> Span {
        let start = self.span_at(y.start.line(), y.start.col(), 0);
        let end = if y.end.line() == 0 {
            start
        } else {
            self.span_at(y.end.line(), y.end.col(), 0)
        };
        Span {
            end: end.start.max(start.start),
            ..start
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
