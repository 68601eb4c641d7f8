//! `mbscenario report merge`: shard reports → one report (files, verdicts,
//! exit code like a run's).

use std::path::{Path, PathBuf};

use crate::cli::ScenarioArgs;
use crate::exit::Exit;
use crate::plan::Plan;

pub fn merge(
    reports: &[PathBuf],
    scenario_file: Option<&Path>,
    report_dir: Option<&Path>,
    args: &ScenarioArgs,
    fancy: bool,
) -> Exit {
    let mut inputs = Vec::new();
    for path in reports {
        match super::finish::read_report(path) {
            Ok(v) => inputs.push((path.display().to_string(), v)),
            Err(e) => {
                crate::say!("error: {e}");
                crate::say!(
                    "  = help: pass the JSON reports the shards wrote (report.dir/<scenario>-<time>.json)"
                );
                return Exit::Invalid;
            }
        }
    }
    let recorded = inputs
        .iter()
        .find_map(|(_, v)| v["merge"]["scenario_file"].as_str())
        .filter(|s| !s.is_empty())
        .map(PathBuf::from);
    let Some(file) = scenario_file.map(Path::to_path_buf).or(recorded) else {
        crate::say!("error: the reports do not name their scenario file");
        crate::say!("  = help: pass --scenario FILE (the file the shards ran)");
        return Exit::Invalid;
    };
    if !file.exists() {
        crate::say!(
            "error: the scenario file {} (recorded in the reports) does not exist here",
            file.display()
        );
        crate::say!("  = help: pass --scenario FILE with the file the shards ran");
        return Exit::Invalid;
    }
    let Ok(scenario) = super::load(&file, args, fancy) else {
        return Exit::Invalid;
    };
    let plan = Plan::compile(&scenario);
    let report = match crate::report::merge::merge(&plan, scenario.description.clone(), inputs) {
        Ok(r) => r,
        Err(e) => {
            crate::say!("error: cannot merge: {e}");
            crate::say!(
                "  = help: merge the reports of every shard of one run, with the scenario and --set values they ran with"
            );
            return Exit::Invalid;
        }
    };
    crate::say!(
        "merged {} shard report(s) of {}: {} acked",
        report.merged_from.len(),
        report.scenario,
        report.run.totals.acked
    );
    print!(
        "{}",
        crate::telemetry::secrets::mask(&report.run.render_text())
    );
    super::finish::publish(&report, &plan, report_dir)
}
