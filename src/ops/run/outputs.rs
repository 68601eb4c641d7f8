//! After measuring: the console summary, `--summary-json`, the report and its
//! baseline gate, the verdicts, why a run was stopped, and `--teardown`.
//! Nothing measured is lost: an output that cannot be written fails the
//! run (exit 3) after the others were written.

use std::path::Path;

use super::RunOptions;
use crate::exit::Exit;
use crate::failure::{Failure, Outcome};
use crate::ops::finish::{self, Measured};
use crate::plan::Plan;

pub(super) fn finish(file: &Path, plan: &Plan, opts: &RunOptions, measured: Measured) -> Outcome {
    print!(
        "{}",
        crate::telemetry::secrets::mask(&measured.summary.render_text())
    );
    let summary_written = write_summary(opts, &measured);
    let fatal_error = measured.summary.fatal_error.clone();
    let mut report = finish::report(plan, measured);
    if let Some(m) = report.merge.as_mut() {
        m.scenario_file = file.display().to_string();
    }
    if let Some((base, bounds)) = &opts.baseline {
        finish::gate(&mut report, base, *bounds).map_err(|e| {
            Failure::invalid(format!("cannot compare with the baseline: {e}"))
                .help("--baseline takes a JSON report written by `mbscenario run`")
        })?;
    }
    let mut exit = finish::publish(&report, plan, opts.report_dir.as_deref());
    if !summary_written && exit == Exit::Passed {
        exit = Exit::Failure;
    }
    if let Some(fatal) = &report.run.fatal {
        let at = fatal_error
            .as_ref()
            .and_then(|e| crate::ops::expr_location(file, &plan.specs, e));
        // Printed here, not returned: the exit code follows the report.
        Failure::invalid(format!("the run was stopped: {fatal}"))
            .at(at)
            .help("fix the override in the scenario; `mbscenario sample` shows records without sending them")
            .print();
    }
    // Like setup, teardown belongs to the leading shard, which also collected
    // last: a shard finishing early must not delete what the others still use.
    if opts.teardown && !opts.leads() {
        crate::say!("note: teardown skipped: shard 0 tears down after the run");
    }
    if opts.teardown && opts.uses_infra() && opts.leads() {
        let torn = crate::ops::infra::bounded_teardown(plan, opts, report.run.interrupted)?;
        if torn != Exit::Passed && exit == Exit::Passed {
            exit = Exit::Failure;
        }
    }
    Ok(exit)
}

/// `--summary-json`; false (after saying why) when it cannot be written.
fn write_summary(opts: &RunOptions, measured: &Measured) -> bool {
    let Some(path) = &opts.summary_json else {
        return true;
    };
    let written = serde_json::to_string_pretty(&measured.summary)
        .map_err(|e| e.to_string())
        .and_then(|text| std::fs::write(path, text).map_err(|e| e.to_string()));
    if let Err(e) = &written {
        crate::say!("error: cannot write the summary to {}: {e}", path.display());
    }
    written.is_ok()
}
