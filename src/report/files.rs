//! Writing the report files: `<dir>/<scenario>-<UTC start time>.<ext>`, one
//! per configured format. A report that cannot be written is an error, but
//! the run's data is never lost: the JSON goes first, and on failure the
//! caller still has the report in memory and on the console.

use std::path::{Path, PathBuf};

use super::Report;
use crate::scenario::model::ReportFormat;

/// File stem: scenario name plus start time (`ramp-20261122T101500Z`).
pub fn stem(report: &Report) -> String {
    let time: String = report
        .started_at
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let name: String = report
        .scenario
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    // A virtual run's start is the epoch (nothing of the wall clock enters
    // its report, so it stays byte-identical): `<name>-virtual`, and
    // `unique` numbers later runs into the same folder.
    let time = if report.sink == "virtual" {
        "virtual".to_string()
    } else {
        time
    };
    match (report.shard, report.merged_from.is_empty()) {
        // Shards of one run start at about the same second: keep them apart.
        (Some(s), _) => format!("{name}-{time}-shard-{}-of-{}", s.index, s.count),
        (None, false) => format!("{name}-{time}-merged"),
        (None, true) => format!("{name}-{time}"),
    }
}

/// `stem`, or `stem-2`, `stem-3`… when a report of that name is already in
/// `dir` (two runs started in the same second never overwrite each other).
fn unique(dir: &Path, stem: &str) -> String {
    let taken = |s: &str| dir.join(format!("{s}.json")).exists();
    if !taken(stem) {
        return stem.to_string();
    }
    (2..)
        .map(|n| format!("{stem}-{n}"))
        .find(|s| !taken(s))
        .unwrap_or_else(|| stem.to_string())
}

/// Writes every format into `dir`; returns the paths written.
pub fn write(
    report: &Report,
    dir: &Path,
    formats: &[ReportFormat],
) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let stem = unique(dir, &stem(report));
    let mut written = Vec::new();
    let mut ordered: Vec<ReportFormat> = formats.to_vec();
    // JSON first: it is the complete record.
    ordered.sort_by_key(|f| !matches!(f, ReportFormat::Json));
    ordered.dedup();
    for f in ordered {
        let (ext, text) = match f {
            ReportFormat::Json => ("json", report.to_json()),
            ReportFormat::Markdown => ("md", super::markdown::render(report)),
            ReportFormat::Html => ("html", super::html::render(report)),
            ReportFormat::Junit => ("junit.xml", super::junit::render(report)),
        };
        let path = dir.join(format!("{stem}.{ext}"));
        std::fs::write(&path, crate::telemetry::secrets::mask(&text).as_bytes())?;
        written.push(path);
    }
    Ok(written)
}
