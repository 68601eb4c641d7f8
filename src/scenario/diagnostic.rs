//! Located, user-facing problems with a scenario file.
//!
//! Every stage (YAML parsing, JSON-Schema check, semantic validation) reports
//! [`Diagnostic`]s that carry the JSON pointer of the offending node, its byte
//! span in the file, a message and a help line. A [`Diagnostics`] bundles all
//! problems of one file with the file itself so that they can be rendered
//! together: plain `file:line:col` text for pipes and CI logs (stable, snapshot
//! tested) or miette's graphical report on a terminal.

use std::fmt::{self, Write as _};
use std::sync::Arc;

use super::source::SourceFile;

/// How bad a problem is. Warnings do not stop a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

/// A byte range in the source file plus its 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub line: usize,
    pub col: usize,
}

/// One problem, located by JSON pointer and (when known) span.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// JSON pointer into the scenario document, e.g. `/phases/2/rate/to`.
    pub pointer: String,
    pub span: Option<Span>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            message: message.into(),
            pointer: pointer.into(),
            span: None,
            help: None,
        }
    }

    pub fn warning(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(pointer, message)
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_span(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    /// The pointer written the way users write keys: `phases[2].rate.to`.
    pub fn key_path(&self) -> String {
        key_path(&self.pointer)
    }
}

/// Converts a JSON pointer to a dotted key path (`/a/0/b.c` → `a[0]["b.c"]`).
pub fn key_path(pointer: &str) -> String {
    let mut out = String::new();
    for raw in pointer.split('/').skip(1) {
        let seg = raw.replace("~1", "/").replace("~0", "~");
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            let _ = write!(out, "[{seg}]");
        } else if !seg.is_empty()
            && seg
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        } else {
            let _ = write!(out, "[{seg:?}]");
        }
    }
    if out.is_empty() {
        "(top level)".to_string()
    } else {
        out
    }
}

/// Appends a segment to a JSON pointer, escaping `~` and `/` (RFC 6901).
pub fn pointer_push(pointer: &str, segment: &str) -> String {
    format!(
        "{pointer}/{}",
        segment.replace('~', "~0").replace('/', "~1")
    )
}

/// All problems found in one file, in source order.
#[derive(Debug, Clone)]
pub struct Diagnostics {
    pub file: Arc<SourceFile>,
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new(file: Arc<SourceFile>, mut items: Vec<Diagnostic>) -> Self {
        // Source order reads best; pointer breaks ties so the order is stable.
        items.sort_by(|a, b| {
            let ka = a.span.map_or(usize::MAX, |s| s.start);
            let kb = b.span.map_or(usize::MAX, |s| s.start);
            ka.cmp(&kb)
                .then_with(|| a.pointer.cmp(&b.pointer))
                .then_with(|| a.message.cmp(&b.message))
        });
        items.dedup();
        Self { file, items }
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn error_count(&self) -> usize {
        self.items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    /// Plain rendering: stable, no colour, one block per problem (rustc style).
    pub fn render_plain(&self) -> String {
        let mut out = String::new();
        for d in &self.items {
            render_one(&mut out, &self.file, d);
        }
        let errors = self.error_count();
        let warnings = self.items.len() - errors;
        if errors > 0 {
            let _ = writeln!(
                out,
                "{}: {} error{}{}; nothing was run",
                self.file.name,
                errors,
                if errors == 1 { "" } else { "s" },
                if warnings > 0 {
                    format!(
                        ", {warnings} warning{}",
                        if warnings == 1 { "" } else { "s" }
                    )
                } else {
                    String::new()
                }
            );
        }
        out
    }

    /// Graphical rendering through miette, for terminals.
    pub fn render_fancy(&self) -> String {
        use miette::{GraphicalReportHandler, GraphicalTheme};
        let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode());
        let mut out = String::new();
        for d in &self.items {
            let report = FancyDiagnostic {
                source: miette::NamedSource::new(&self.file.name, self.file.text.clone()),
                diag: d.clone(),
            };
            let _ = handler.render_report(&mut out, &report);
            out.push('\n');
        }
        out
    }
}

fn render_one(out: &mut String, file: &SourceFile, d: &Diagnostic) {
    let level = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let _ = writeln!(out, "{level}: {}", d.message);
    match d.span {
        Some(span) => {
            let _ = writeln!(
                out,
                "  --> {}:{}:{} at {}",
                file.name,
                span.line,
                span.col,
                d.key_path()
            );
            let line_text = file.line_text(span.line);
            let gutter = span.line.to_string().len();
            let _ = writeln!(out, "{:gutter$} |", "");
            let _ = writeln!(out, "{} | {}", span.line, line_text);
            let width = file.caret_width(span).max(1);
            let _ = writeln!(
                out,
                "{:gutter$} | {}{}",
                "",
                " ".repeat(span.col.saturating_sub(1)),
                "^".repeat(width)
            );
        }
        None => {
            let _ = writeln!(out, "  --> {} at {}", file.name, d.key_path());
        }
    }
    if let Some(help) = &d.help {
        let _ = writeln!(out, "  = help: {help}");
    }
    out.push('\n');
}

/// Adapter that lets miette draw one [`Diagnostic`] with its source snippet.
#[derive(Debug)]
struct FancyDiagnostic {
    source: miette::NamedSource<String>,
    diag: Diagnostic,
}

impl fmt::Display for FancyDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}

impl std::error::Error for FancyDiagnostic {}

impl miette::Diagnostic for FancyDiagnostic {
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diag.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        let path = self.diag.key_path();
        Some(Box::new(match &self.diag.help {
            Some(h) => format!("{h}\n(at {path})"),
            None => format!("at {path}"),
        }))
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let span = self.diag.span?;
        let label = miette::LabeledSpan::new_with_span(
            Some(self.diag.key_path()),
            (span.start, span.end.saturating_sub(span.start)),
        );
        Some(Box::new(std::iter::once(label)))
    }
}
