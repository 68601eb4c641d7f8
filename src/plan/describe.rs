//! The text form of a [`Plan`], printed by `mbscenario plan`: deterministic
//! (no wall clock, no absolute paths) so it can be diffed and snapshotted.
//!
//! One function per section, in the order printed: `header` → `targets` →
//! `steps` (setup, teardown) → `streams` → `phases` → `assertions_and_report`
//! → `per_second_table` (with `--per-second`).

use std::fmt::Write as _;
use std::time::Duration;

use super::steps_text::{assertion_text, setup_text, teardown_text};
use super::{Plan, RateCurve, shape_text};
use crate::scenario::model::Key;
use crate::scenario::units::{format_duration, format_number, format_rate};

/// Renders the plan; with `per_second`, adds the second-by-second target table.
pub fn describe(plan: &Plan, per_second: bool) -> String {
    let mut o = String::new();
    header(&mut o, plan);
    targets(&mut o, plan);
    steps(&mut o, plan);
    streams(&mut o, plan);
    phases(&mut o, plan);
    assertions_and_report(&mut o, plan);
    if per_second {
        per_second_table(&mut o, plan);
    }
    o
}

/// Scenario, shard, seed and size of the plan, and the seek phases too short
/// for their search.
fn header(o: &mut String, plan: &Plan) {
    let _ = writeln!(o, "plan: {}", plan.scenario);
    if let Some(d) = &plan.description {
        let _ = writeln!(o, "  {}", d.trim());
    }
    if let Some(sh) = plan.shard {
        let _ = writeln!(
            o,
            "  shard {sh}: the records n ≡ {} (mod {}) of every stream at the unsharded instants; counts below are this shard's",
            sh.index, sh.count
        );
    }
    let origin = match plan.seed_origin {
        crate::scenario::model::SeedOrigin::File => "from the file",
        crate::scenario::model::SeedOrigin::CommandLine => "from --seed",
        crate::scenario::model::SeedOrigin::Default => "default",
    };
    let max_phases = plan
        .phases
        .iter()
        .filter(|p| p.expected_messages.is_none())
        .count();
    let _ = writeln!(
        o,
        "  seed {} ({origin}) · {} phase{} · {} · {} messages planned{}",
        plan.seed,
        plan.phases.len(),
        if plan.phases.len() == 1 { "" } else { "s" },
        format_duration(plan.total_duration),
        group(plan.expected_messages),
        if max_phases > 0 {
            " + open-ended (max, seek) phases"
        } else {
            ""
        }
    );
    for p in &plan.phases {
        if let crate::scenario::model::Load::Rate(crate::scenario::model::RateShape::Seek(k)) =
            &p.load
            && p.duration < k.worst_case()
        {
            let _ = writeln!(
                o,
                "  note: phase {} ({}) is shorter than its search's worst case ({}): the search may end before it converges",
                p.name,
                format_duration(p.duration),
                format_duration(k.worst_case())
            );
        }
    }
}

/// Where the run sends and what it watches, credentials named, never shown.
fn targets(o: &mut String, plan: &Plan) {
    let t = &plan.targets;
    let _ = writeln!(o, "\ntargets");
    let producer = if t.producer.is_empty() {
        String::new()
    } else {
        format!(
            " ({})",
            t.producer
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let _ = writeln!(o, "  kafka            {}{producer}", t.kafka_bootstrap);
    let _ = writeln!(o, "                   security: {}", kafka_security(t));
    match &t.schema_registry {
        Some(r) => {
            let _ = writeln!(
                o,
                "  schema registry  {}",
                crate::telemetry::logs::redact_url(&r.url)
            );
        }
        None => {
            let _ = writeln!(
                o,
                "  schema registry  none: Kafka payloads use each stream's pinned schema_id"
            );
        }
    }
    let _ = writeln!(
        o,
        "  kafka connect    {}",
        crate::telemetry::logs::redact_url(&t.connect_url)
    );
    let sqs = crate::sink::aws::SqsSettings::of(t);
    let _ = writeln!(
        o,
        "  sqs              {} ({}; credentials: {})",
        t.sqs_endpoint.as_deref().map_or(
            "AWS default endpoint".into(),
            crate::telemetry::logs::redact_url
        ),
        t.sqs_region
            .as_deref()
            .unwrap_or("region from the AWS config chain"),
        sqs.credential_source()
    );
}

/// What `setup` provisions and `teardown` removes, in order.
fn steps(o: &mut String, plan: &Plan) {
    if plan.setup.is_empty() {
        let _ = writeln!(o, "\nsetup: none (nothing is provisioned)");
    } else {
        let _ = writeln!(
            o,
            "\nsetup (before `run` unless --no-setup; alone with `mbscenario setup`)"
        );
        for (i, s) in plan.setup.iter().enumerate() {
            let _ = writeln!(o, "  {}. {}", i + 1, setup_text(&s.step, &s.subjects));
        }
    }
    if !plan.teardown.is_empty() {
        let _ = writeln!(o, "\nteardown (with --teardown or `mbscenario teardown`)");
        for (i, s) in plan.teardown.iter().enumerate() {
            let _ = writeln!(o, "  {}. {}", i + 1, teardown_text(s));
        }
    }
}

/// Each stream: schema, topic, queue, key and what shapes its records.
fn streams(o: &mut String, plan: &Plan) {
    let _ = writeln!(o, "\nstreams");
    for s in &plan.streams {
        let id = s
            .schema_id
            .map(|i| format!(", schema id {i}"))
            .unwrap_or_default();
        let _ = writeln!(o, "  {}: {} ({}{id})", s.name, s.schema_file, s.record_name);
        let queue = s
            .queue
            .as_deref()
            .map(|q| format!(" · queue {q}"))
            .unwrap_or_default();
        let _ = writeln!(o, "    topic {}{queue} · key {}", s.topic, key_text(&s.key));
        if !s.overrides.is_empty() {
            let _ = writeln!(o, "    overrides: {}", s.overrides.join(", "));
        }
        if let Some(r) = &s.replay {
            let _ = writeln!(o, "    replay: {r}");
        }
        if !s.imports.is_empty() {
            let _ = writeln!(o, "    imports: {}", s.imports.join(", "));
        }
        let _ = writeln!(o, "    {} messages planned", group(s.expected_messages));
    }
}

/// The phases as a table, one row per stream under a phase of several.
fn phases(o: &mut String, plan: &Plan) {
    let _ = writeln!(o, "\nphases");
    let mut rows = vec![vec![
        "#".to_string(),
        "phase".into(),
        "start".into(),
        "end".into(),
        "duration".into(),
        "rate".into(),
        "messages".into(),
        "workers".into(),
        "mode".into(),
    ]];
    for p in &plan.phases {
        rows.push(vec![
            (p.index + 1).to_string(),
            p.name.clone(),
            format_duration(p.offset),
            format_duration(p.end()),
            format_duration(p.duration),
            shape_text(&p.load),
            p.expected_messages.map_or("unbounded".into(), group),
            p.workers.to_string(),
            p.mode.as_str().to_string(),
        ]);
        if p.streams.len() > 1 {
            for s in &p.streams {
                rows.push(vec![
                    String::new(),
                    format!("└ {}", s.name),
                    String::new(),
                    String::new(),
                    String::new(),
                    format!("{}%", format_number(s.share * 100.0)),
                    s.curve
                        .as_ref()
                        .map_or("unbounded".into(), |c| group(c.event_count())),
                    String::new(),
                    String::new(),
                ]);
            }
        }
    }
    table(o, &rows);
}

/// The assertions the run is judged by, and where the report goes.
fn assertions_and_report(o: &mut String, plan: &Plan) {
    if plan.checks.is_empty() {
        let _ = writeln!(
            o,
            "\nassertions: none (the run passes unless it fails to run)"
        );
    } else {
        let _ = writeln!(o, "\nassertions");
        for (i, a) in plan.checks.iter().enumerate() {
            let _ = writeln!(o, "  {}. {}", i + 1, assertion_text(a, plan));
        }
    }
    let formats: Vec<String> = plan
        .report
        .formats
        .iter()
        .map(|f| format!("{f:?}").to_lowercase())
        .collect();
    let _ = writeln!(o, "\nreport: {} in {}", formats.join(", "), plan.report.dir);
}

/// Second-by-second targets across all rate-limited phases; for plans longer
/// than a day, rows of several seconds (the report timeline's step), so the
/// table stays at most ~86,400 rows however long the plan is.
fn per_second_table(o: &mut String, plan: &Plan) {
    let step = crate::stats::timeline_step(plan.total_duration.as_secs_f64().ceil() as u64);
    if step == 1 {
        let _ = writeln!(
            o,
            "\nper second (target rate at the start of each second, messages due in it)"
        );
    } else {
        let _ = writeln!(
            o,
            "\nper {step} seconds (the plan is longer than a day: target rate at the start of \
             each row, messages due in its {step} seconds)"
        );
    }
    let mut rows = vec![vec![
        "second".to_string(),
        "phase".into(),
        "rate".into(),
        "messages".into(),
        "cumulative".into(),
    ]];
    let mut cumulative = 0.0;
    for p in &plan.phases {
        let curves: Vec<&RateCurve> = p.streams.iter().filter_map(|s| s.curve.as_ref()).collect();
        let secs = p.duration.as_secs_f64().ceil() as u64;
        for k in (0..secs).step_by(usize::try_from(step).unwrap_or(usize::MAX)) {
            let start = Duration::from_secs(k);
            let end = Duration::from_secs(k + step).min(p.duration);
            if curves.is_empty() {
                rows.push(vec![
                    (p.offset.as_secs() + k).to_string(),
                    p.name.clone(),
                    "max".into(),
                    "—".into(),
                    "—".into(),
                ]);
                continue;
            }
            let rate: f64 = curves.iter().map(|c| c.rate_at(start)).sum();
            let due: u64 = curves
                .iter()
                .map(|c| c.count_before(end) - c.count_before(start))
                .sum();
            cumulative += due as f64;
            rows.push(vec![
                format!("{}", p.offset.as_secs() + k),
                p.name.clone(),
                format_rate(rate),
                group(due),
                group(cumulative as u64),
            ]);
        }
    }
    table(o, &rows);
}

fn table(o: &mut String, rows: &[Vec<String>]) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let mut line = String::from(" ");
        for (c, cell) in r.iter().enumerate() {
            let pad = widths[c] - cell.chars().count();
            line.push(' ');
            line.push_str(cell);
            line.push_str(&" ".repeat(pad));
            line.push(' ');
        }
        let _ = writeln!(o, "{}", line.trim_end());
    }
}

/// `12345` → `12,345`.
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn key_text(k: &Key) -> String {
    match k {
        Key::None => "none".into(),
        Key::Random => "random".into(),
        Key::Field { path } => format!("field {}", path.join(".")),
        Key::Expr { expr } => format!("expr `{expr}`"),
    }
}

/// The Kafka target's security mode, secrets named, never shown.
fn kafka_security(t: &crate::scenario::model::Targets) -> String {
    use crate::scenario::model::Sasl;
    let Some(s) = &t.kafka_security else {
        return "plaintext".into();
    };
    let mut parts = vec![s.protocol.to_string()];
    if s.protocol.ends_with("SSL") {
        parts.push(match &s.ca_file {
            Some(ca) => format!("CA {}", ca.display()),
            None => "system trust roots".into(),
        });
        if let Some(cert) = &s.cert_file {
            parts.push(format!("client certificate {}", cert.display()));
        }
        if !s.verify_hostname {
            parts.push("hostname NOT verified".into());
        }
    }
    match &s.sasl {
        Some(Sasl::Password {
            mechanism,
            username_env,
            password_env,
        }) => parts.push(format!(
            "SASL {mechanism} (user ${username_env}, password ${password_env})"
        )),
        Some(Sasl::MskIam { region, profile }) => parts.push(format!(
            "SASL AWS_MSK_IAM (region {}, credentials: {})",
            region.as_deref().unwrap_or("from the AWS config"),
            profile
                .as_ref()
                .map_or("AWS default chain".to_string(), |p| format!(
                    "profile `{p}`"
                ))
        )),
        None => {}
    }
    parts.join(", ")
}
