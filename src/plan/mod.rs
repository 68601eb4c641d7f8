//! `Plan`: exactly what a run will do, second by second, before anything
//! touches the network.
//!
//! [`Plan::compile`] is pure: phases get absolute offsets, each active stream
//! gets its share of the phase rate as a [`RateCurve`] with the sequence
//! numbers it will produce, infra steps are listed in order with their
//! resolved details (schema subjects), and assertions are listed with the
//! bounds they resolve to. The plan never changes while running; run state
//! lives in the engine.
//!
//! After compiling, a run works from the plan alone: besides what `plan`
//! prints it carries, unserialized, the validated streams
//! ([`Plan::specs`]) the engine generates records from. Connection
//! settings are [`Plan::targets`] (credentials only as the names of the
//! variables holding them); setup, teardown, modes and queues are the
//! plan's own steps, phases and streams.
//!
//! - [`rate`]: closed-form arrival times for every rate shape
//! - [`infra`]: setup steps with resolved subjects
//! - [`describe`]: the text form printed by `mbscenario plan`
//! - [`shard`]: which records shard I of N sends ([`Plan::for_shard`])

pub mod describe;
pub mod infra;
pub mod rate;
pub mod shard;
pub mod steps_text;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::scenario::model::{
    Assertion, Load, Mode, RateShape, ReportConfig, Scenario, SeedOrigin, Stream, Targets,
    TeardownStep, serde_duration,
};
pub use infra::InfraStep;
pub use rate::RateCurve;
pub use shard::Shard;

/// The immutable, fully timed plan of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub scenario: String,
    pub description: Option<String>,
    pub seed: u64,
    pub seed_origin: SeedOrigin,
    #[serde(with = "serde_duration")]
    pub total_duration: Duration,
    /// Messages planned in rate-limited phases (closed-model phases excluded).
    pub expected_messages: u64,
    pub targets: Targets,
    pub setup: Vec<InfraStep>,
    pub teardown: Vec<TeardownStep>,
    pub streams: Vec<PlanStream>,
    pub phases: Vec<PlanPhase>,
    pub checks: Vec<Assertion>,
    pub report: ReportConfig,
    /// Set when this plan is one shard of a sharded run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// SHA-256 of the unsharded plan's streams, phases and assertions: shards
    /// of one run agree on it, and `report merge` checks it against the scenario.
    #[serde(skip)]
    pub digest: String,
    /// The validated streams (scenario order, like [`Plan::streams`]): schemas,
    /// compiled overrides and replay sources that the engine, the `--sink
    /// avro` files and the schema-id lookups work from. Shared between clones
    /// of the plan; not part of its text or JSON form.
    #[serde(skip)]
    pub specs: Arc<[Stream]>,
}

/// A stream as the plan shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PlanStream {
    pub name: String,
    pub schema_file: String,
    pub record_name: String,
    pub schema_id: Option<u32>,
    pub topic: String,
    pub queue: Option<String>,
    pub key: crate::scenario::model::Key,
    pub overrides: Vec<String>,
    pub imports: Vec<String>,
    /// `file (N rows, loop|stop)` when records are replayed from a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay: Option<String>,
    /// Messages planned over all rate-limited phases.
    pub expected_messages: u64,
}

/// One phase with absolute timing.
#[derive(Debug, Clone, Serialize)]
pub struct PlanPhase {
    pub index: usize,
    pub name: String,
    #[serde(with = "serde_duration")]
    pub offset: Duration,
    #[serde(with = "serde_duration")]
    pub duration: Duration,
    pub load: Load,
    pub workers: u32,
    /// Messages outstanding at once; a due tick beyond it is dropped.
    pub max_in_flight: u32,
    pub mode: Mode,
    /// `None` for closed-model (`max`) phases, whose count is only known after the run.
    pub expected_messages: Option<u64>,
    pub streams: Vec<PhaseStream>,
}

/// A stream's part of a phase.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseStream {
    /// Index into [`Plan::streams`].
    pub stream: usize,
    pub name: String,
    /// Share of the phase rate (weights normalised over the active streams).
    pub share: f64,
    /// Per-stream curve; `None` in closed-model phases.
    pub curve: Option<RateCurve>,
    /// First sequence number this phase produces for the stream; `None` once a
    /// closed-model phase came before (its count is only known at run time).
    pub first_seq: Option<u64>,
}

impl PlanPhase {
    /// Absolute end offset.
    pub fn end(&self) -> Duration {
        self.offset + self.duration
    }
}

impl Plan {
    /// Compiles a validated scenario into a plan. Pure: no I/O.
    pub fn compile(scenario: &Scenario) -> Plan {
        let mut offset = Duration::ZERO;
        let mut next_seq: Vec<Option<u64>> = vec![Some(0); scenario.streams.len()];
        let mut phases = Vec::with_capacity(scenario.phases.len());
        for (index, p) in scenario.phases.iter().enumerate() {
            let total_weight: f64 = p.streams.iter().map(|&i| scenario.streams[i].weight).sum();
            let streams: Vec<PhaseStream> = p
                .streams
                .iter()
                .map(|&i| phase_stream(scenario, p, i, total_weight, &mut next_seq[i]))
                .collect();
            let expected_messages = match p.load {
                // How many a search sends is what it finds out.
                Load::Rate(RateShape::Seek(_)) => None,
                Load::Rate(_) => Some(
                    streams
                        .iter()
                        .filter_map(|s| s.curve.as_ref().map(RateCurve::event_count))
                        .sum(),
                ),
                Load::Max => None,
            };
            phases.push(PlanPhase {
                index,
                name: p.name.clone(),
                offset,
                duration: p.duration,
                load: p.load.clone(),
                workers: p.workers,
                max_in_flight: p.max_in_flight,
                mode: p.mode,
                expected_messages,
                streams,
            });
            offset += p.duration;
        }
        let streams = scenario
            .streams
            .iter()
            .enumerate()
            .map(|(i, s)| plan_stream(s, i, &phases))
            .collect();
        Plan {
            scenario: scenario.name.clone(),
            description: scenario.description.clone(),
            seed: scenario.seed,
            seed_origin: scenario.seed_origin,
            total_duration: offset,
            expected_messages: phases.iter().filter_map(|p| p.expected_messages).sum(),
            targets: scenario.targets.clone(),
            setup: infra::steps(scenario),
            teardown: scenario.teardown.clone(),
            streams,
            phases,
            checks: scenario.assertions.clone(),
            report: scenario.report.clone(),
            shard: None,
            digest: String::new(),
            specs: scenario.streams.clone().into(),
        }
        .with_digest()
    }

    fn with_digest(mut self) -> Plan {
        use sha2::Digest as _;
        // What shapes the records and their counts; not the endpoints, which
        // may differ between the shards' cluster and where reports are merged.
        let json = serde_json::to_string(&(
            &self.scenario,
            self.seed,
            &self.streams,
            &self.phases,
            &self.checks,
        ))
        .unwrap_or_default();
        let hash = sha2::Sha256::digest(json.as_bytes());
        self.digest = hash.iter().map(|b| format!("{b:02x}")).collect();
        self
    }

    /// The plan of one shard: same phases and instants, with the planned
    /// counts of the records this shard owns.
    pub fn for_shard(mut self, shard: Shard) -> Plan {
        if shard.count <= 1 {
            return self;
        }
        for p in &mut self.phases {
            if p.expected_messages.is_none() {
                continue;
            }
            p.expected_messages = Some(
                p.streams
                    .iter()
                    .filter_map(|ps| {
                        let n = ps.curve.as_ref()?.event_count();
                        Some(match ps.first_seq {
                            Some(f) => shard.owned_in(f, f + n),
                            // Unknown start (a replay after a closed phase): about 1/N.
                            None => n / u64::from(shard.count),
                        })
                    })
                    .sum(),
            );
        }
        for (i, st) in self.streams.iter_mut().enumerate() {
            st.expected_messages = self
                .phases
                .iter()
                .flat_map(|p| p.streams.iter())
                .filter(|ps| ps.stream == i)
                .filter_map(|ps| {
                    let n = ps.curve.as_ref()?.event_count();
                    Some(
                        ps.first_seq
                            .map_or(n / u64::from(shard.count), |f| shard.owned_in(f, f + n)),
                    )
                })
                .sum();
        }
        self.expected_messages = self.phases.iter().filter_map(|p| p.expected_messages).sum();
        self.shard = Some(shard);
        self
    }

    /// Planned messages of phase stream `ps` with curve indices in `[a, b)`,
    /// counting only this plan's shard.
    pub fn planned_between(&self, ps: &PhaseStream, a: u64, b: u64) -> u64 {
        match (self.shard, ps.first_seq) {
            (Some(sh), Some(f)) => sh.owned_in(f + a, f + b),
            (Some(sh), None) => (b - a) / u64::from(sh.count),
            (None, _) => b - a,
        }
    }

    /// Where record `seq` of stream `stream` is planned: its phase and its
    /// offset from the run start. `None` past the planned ranges (after a
    /// closed-model phase, whose counts are only known at run time).
    pub fn locate(&self, stream: usize, seq: u64) -> Option<(&PlanPhase, Duration)> {
        self.phases.iter().find_map(|p| {
            let ps = p.streams.iter().find(|s| s.stream == stream)?;
            let (first, curve) = (ps.first_seq?, ps.curve.as_ref()?);
            let n = seq.checked_sub(first)?;
            curve.arrival_offset(n).map(|off| (p, p.offset + off))
        })
    }

    /// Whether a setup step registers schemas (so streams take their schema
    /// ids from the registry rather than a pinned `schema_id`).
    pub fn registers_schemas(&self) -> bool {
        self.setup.iter().any(|s| {
            matches!(
                s.step,
                crate::scenario::model::SetupStep::RegisterSchemas { .. }
            )
        })
    }

    /// The first seek phase, if any.
    pub fn seek_phase(&self) -> Option<&PlanPhase> {
        self.phases
            .iter()
            .find(|p| matches!(p.load, Load::Rate(RateShape::Seek(_))))
    }

    /// Whether a phase sends in `mode`.
    pub fn uses(&self, mode: Mode) -> bool {
        self.phases.iter().any(|p| p.mode == mode)
    }

    /// Looks a phase up by name.
    pub fn phase(&self, name: &str) -> Option<&PlanPhase> {
        self.phases.iter().find(|p| p.name == name)
    }
}
/// Stream `i` in phase `p`: its share of the phase's rate, its curve, and its
/// first record number (`next_seq`, advanced past what the phase reserves).
fn phase_stream(
    scenario: &Scenario,
    p: &crate::scenario::model::Phase,
    i: usize,
    total_weight: f64,
    next_seq: &mut Option<u64>,
) -> PhaseStream {
    let share = if total_weight > 0.0 {
        scenario.streams[i].weight / total_weight
    } else {
        0.0
    };
    let first_seq = *next_seq;
    // A replay that stops at its end caps the stream's messages.
    let limit = scenario.streams[i]
        .record_limit()
        .map(|l| l.saturating_sub(first_seq.unwrap_or(0)));
    let curve = match &p.load {
        Load::Rate(shape) => Some(RateCurve::new(shape, p.duration, share).with_limit(limit)),
        Load::Max => None,
    };
    let seeks = matches!(p.load, Load::Rate(RateShape::Seek(_)));
    *next_seq = match (&curve, first_seq) {
        // A seek phase sends as many as its levels need: like a closed phase
        // it reserves a fixed range, so what follows is numbered the same in
        // every run.
        (Some(_), Some(s)) if seeks && scenario.streams[i].record_limit().is_none() => {
            Some(s + shard::CLOSED_PHASE_SEQS)
        }
        (Some(c), Some(s)) => Some(s + c.event_count()),
        // A closed phase reserves a fixed range, so what follows it is
        // numbered the same in every run — except for replays, which
        // continue row by row.
        (None, Some(s)) if scenario.streams[i].record_limit().is_none() => {
            Some(s + shard::CLOSED_PHASE_SEQS)
        }
        _ => None,
    };
    PhaseStream {
        stream: i,
        name: scenario.streams[i].name.clone(),
        share,
        curve,
        first_seq,
    }
}

fn plan_stream(s: &Stream, index: usize, phases: &[PlanPhase]) -> PlanStream {
    let expected_messages = phases
        .iter()
        .flat_map(|p| p.streams.iter())
        .filter(|ps| ps.stream == index)
        .filter_map(|ps| ps.curve.as_ref().map(RateCurve::event_count))
        .sum();
    PlanStream {
        name: s.name.clone(),
        schema_file: s.schema_file.written.clone(),
        record_name: s.record_name.clone(),
        schema_id: s.schema_id,
        topic: s.topic.clone(),
        queue: s.queue.clone(),
        key: s.key.clone(),
        overrides: s.overrides.iter().map(|o| o.path.join(".")).collect(),
        imports: s.imports.iter().map(|i| i.file.written.clone()).collect(),
        replay: s.replay.as_ref().map(|r| {
            let on_end = match r.source.on_end() {
                crate::datagen::OnEnd::Loop => "loop",
                crate::datagen::OnEnd::Stop => "stop",
            };
            format!("{} ({} rows, {on_end})", r.file.written, r.source.len())
        }),
        expected_messages,
    }
}

/// Short text of a rate shape: `ramp 10/s → 200/s`, `steps 100/s@0s, 300/s@10s`.
pub fn shape_text(load: &Load) -> String {
    use crate::scenario::units::{format_duration, format_rate};
    match load {
        Load::Max => "max (closed model)".into(),
        Load::Rate(RateShape::Idle) => "idle (0/s)".into(),
        Load::Rate(RateShape::Constant { rate }) => format_rate(*rate),
        Load::Rate(RateShape::Ramp { from, to }) => {
            format!("ramp {} → {}", format_rate(*from), format_rate(*to))
        }
        Load::Rate(RateShape::Seek(k)) => format!(
            "seek {} → at most {} (×{} per level, each held {}, then bisect to {}%; worst case {})",
            format_rate(k.from),
            format_rate(k.max),
            crate::scenario::units::format_number(k.factor),
            format_duration(k.hold),
            crate::scenario::units::format_number(k.precision * 100.0),
            format_duration(k.worst_case())
        ),
        Load::Rate(RateShape::Steps { steps }) => format!(
            "steps {}",
            steps
                .iter()
                .map(|(at, r)| format!("{}@{}", format_rate(*r), format_duration(*at)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
