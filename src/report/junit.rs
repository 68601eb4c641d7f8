//! JUnit XML: one test suite per run, one test case per assertion, so CI
//! systems show each verdict as a test (failed → `<failure>`, skipped →
//! `<skipped>`). A run that did not finish adds an `run` error case.

use std::fmt::Write as _;

use super::Report;
use crate::check::Status;

pub fn render(r: &Report) -> String {
    let failures = r.failed_verdicts().count();
    let skipped = r
        .verdicts
        .iter()
        .filter(|v| v.status == Status::Skipped)
        .count();
    let run_error = r.run.fatal.clone().or_else(|| {
        r.run
            .interrupted
            .then(|| "the run was interrupted before its last phase ended".to_string())
    });
    let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        o,
        "<testsuites name=\"mbscenario\" tests=\"{}\" failures=\"{failures}\" errors=\"{}\" skipped=\"{skipped}\">",
        r.verdicts.len() + usize::from(run_error.is_some()),
        usize::from(run_error.is_some()),
    );
    let _ = writeln!(
        o,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{}\" skipped=\"{skipped}\" timestamp=\"{}\" time=\"{:.3}\">",
        esc(&r.scenario),
        r.verdicts.len() + usize::from(run_error.is_some()),
        usize::from(run_error.is_some()),
        esc(&r.started_at),
        r.run.elapsed.as_secs_f64()
    );
    let _ = writeln!(
        o,
        "    <properties><property name=\"seed\" value=\"{}\"/><property name=\"sink\" value=\"{}\"/></properties>",
        r.seed,
        esc(&r.sink)
    );
    if let Some(e) = &run_error {
        let _ = writeln!(
            o,
            "    <testcase classname=\"{}\" name=\"run\"><error message=\"{}\"/></testcase>",
            esc(&r.scenario),
            esc(e)
        );
    }
    for v in &r.verdicts {
        let name = format!("#{} {}", v.index, v.description);
        let _ = write!(
            o,
            "    <testcase classname=\"{}.{}\" name=\"{}\">",
            esc(&r.scenario),
            v.kind,
            esc(&name)
        );
        match v.status {
            Status::Passed => {}
            Status::Skipped => {
                let _ = write!(o, "<skipped message=\"{}\"/>", esc(&v.observed));
            }
            Status::Failed => {
                let _ = write!(
                    o,
                    "<failure message=\"observed {}, expected {}\">{}</failure>",
                    esc(&v.observed),
                    esc(&v.bound),
                    esc(&v.details.join("\n"))
                );
            }
        }
        o.push_str("</testcase>\n");
    }
    o.push_str("  </testsuite>\n</testsuites>\n");
    o
}

/// XML attribute/text escaping.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup_and_drops_control_characters() {
        assert_eq!(super::esc("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;");
    }
}
