//! The end of a run, shared by real and virtual-clock runs: verdicts →
//! report → files → console summary → exit code.

use std::path::Path;

use crate::check::{self, Observed};
use crate::collect::Accounting;
use crate::engine::RunSummary;
use crate::exit::Exit;
use crate::plan::Plan;
use crate::report::{self, Report, backend::Snapshot};

/// Everything measured in a run.
pub struct Measured {
    pub summary: RunSummary,
    pub accounting: Option<Accounting>,
    pub backend: Vec<Snapshot>,
    pub started_at: std::time::SystemTime,
    pub sink: String,
}

/// Builds the report: assertions are evaluated against what was measured.
pub fn report(plan: &Plan, m: Measured) -> Report {
    let depths = report::backend::final_depths(&m.backend);
    let verdicts = check::evaluate(
        plan,
        &Observed {
            plan,
            summary: &m.summary,
            accounting: m.accounting.as_ref(),
            depths: &depths,
        },
    );
    Report::new(report::Parts {
        plan,
        description: plan.description.clone(),
        started_at: m.started_at,
        sink: &m.sink,
        summary: m.summary,
        accounting: m.accounting,
        verdicts,
        backend: m.backend,
    })
}

/// Why a report file cannot be read, or a report not compared with its
/// baseline (`run --baseline`).
#[derive(Debug, thiserror::Error)]
pub enum ReportFileError {
    #[error("cannot read {}: {error}", .path.display())]
    Read {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
    #[error("{} is not JSON: {error}", .path.display())]
    NotJson {
        path: std::path::PathBuf,
        error: serde_json::Error,
    },
    /// This run's report could not be turned into JSON.
    #[error("{0}")]
    Serialize(serde_json::Error),
    #[error(transparent)]
    Compare(#[from] crate::report::compare::CompareError),
}

/// Compares `report` with a baseline report file (the result goes into the report).
pub fn gate(
    report: &mut Report,
    baseline: &Path,
    bounds: crate::report::compare::Bounds,
) -> Result<(), ReportFileError> {
    let base = read_report(baseline)?;
    let current = serde_json::to_value(&*report).map_err(ReportFileError::Serialize)?;
    let c = crate::report::compare::compare(&base, &current, bounds)?;
    report.passed &= c.regressions() == 0;
    report.baseline = Some(c);
    Ok(())
}

/// A JSON report file, parsed.
pub fn read_report(path: &Path) -> Result<serde_json::Value, ReportFileError> {
    let text = std::fs::read_to_string(path).map_err(|error| ReportFileError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    serde_json::from_str(&text).map_err(|error| ReportFileError::NotJson {
        path: path.to_path_buf(),
        error,
    })
}

/// Writes the report files (where and in which formats `plan.report` says,
/// unless `dir_override`) and prints the verdicts; returns the exit code.
pub fn publish(report: &Report, plan: &Plan, dir_override: Option<&Path>) -> Exit {
    let dir = dir_override.map_or_else(
        || Path::new(&plan.report.dir).to_path_buf(),
        Path::to_path_buf,
    );
    let written = match report::files::write(report, &dir, &plan.report.formats) {
        Ok(paths) => {
            for p in paths {
                crate::say!("report: {}", p.display());
            }
            true
        }
        Err(e) => {
            // The verdicts below are still printed: nothing measured is lost.
            crate::say!("error: cannot write the report into {}: {e}", dir.display());
            crate::say!("  = help: set `report.dir` or --report-dir to a writable folder");
            false
        }
    };
    println!();
    if report.run.fatal.is_some() {
        // Verdicts over a run cut short by a broken record would read as a
        // result ("500 of 500 arrived: pass"); the report files keep them.
        crate::say!("verdicts not shown: the run was stopped by an error (below)");
    } else {
        let table = report::markdown::verdict_table(&report.verdicts);
        print!("{}", crate::telemetry::secrets::mask(&table));
    }
    if let Some(c) = &report.baseline {
        println!();
        print!("{}", report::compare::render(c));
    }
    if nothing_got_through(report) {
        crate::say!(
            "error: every send failed ({} of {}); the run did not work, whatever the assertions say",
            report.run.totals.failed,
            report.run.totals.sent
        );
    }
    match exit_code(report) {
        // A gate must not pass without the report it was asked for.
        Exit::Passed if !written => Exit::Failure,
        code => code,
    }
}

pub fn exit_code(report: &Report) -> Exit {
    let regressed = report
        .baseline
        .as_ref()
        .is_some_and(|c| c.regressions() > 0);
    if report.run.fatal.is_some() {
        Exit::Invalid
    } else if report.run.interrupted {
        Exit::Failure
    } else if report.failed_verdicts().next().is_some() || regressed {
        Exit::AssertionFailed
    } else if nothing_got_through(report) {
        // Every send failed: whatever the assertions say, this run did not work.
        Exit::Failure
    } else {
        Exit::Passed
    }
}

/// Sends were attempted and not one was acknowledged.
fn nothing_got_through(report: &Report) -> bool {
    let t = &report.run.totals;
    t.failed > 0 && t.acked == 0
}
