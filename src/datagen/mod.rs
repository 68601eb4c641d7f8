//! Record generation: what record *n* of a stream contains.
//!
//! ```text
//!   seed.rs      (seed, stream, n) ─▶ RecordRng (ChaCha8, O(1) per n) and event id (UUID)
//!   avro.rs      AvroGenerator: Schema + GenConfig ─▶ Value for any schema; encode(); paths
//!     compile.rs   Schema ─▶ TypeGraph (named types resolved into an arena of nodes)
//!     termination.rs  can each type end? cost per node, terminating union branches
//!     logical.rs   decimal, uuid, date/time/timestamp, duration values (fixed base epoch)
//!     default.rs   field "default" JSON ─▶ Value
//!     datum.rs     Value ─▶ Avro binary with sorted map keys (byte-deterministic)
//!     json.rs      Value ─▶ plain JSON (unions unwrapped, decimals scaled) for SQS bodies
//!     direct.rs    schema-only records encoded as they are drawn (no Value tree)
//!     holes.rs     the same with holes where overrides write (overrides that read
//!                  only their own field)
//!   record.rs    StreamRecords: a scenario stream's record(seq) with its envelope (event id)
//!   replay/      ReplaySource: records read from a CSV / JSON-lines file instead
//!                (loaded and type-checked once; record(seq) loops or stops at the end)
//!   draw.rs      value-stable sampling (ranges, floats, strings) over a raw RNG
//!   expr/        field overrides: Rhai expressions compiled once per stream, applied per
//!                record by a per-worker OverrideEvaluator, drawing from the record's RNG
//! ```
//!
//! The contract the rest of the crate relies on: for a fixed schema and [`avro::GenConfig`],
//! `generator.generate(&mut seed.record_rng(n))` is a pure function of `(seed, stream, n)`
//! — independent of worker count, order and timing — and so are its encoded bytes via
//! [`avro::AvroGenerator::encode`]. Randomness flows only through the RNG passed in, and
//! only through [`draw`]'s documented algorithms, so upgrading `rand` cannot change data.

pub mod avro;
mod compile;
mod datum;
mod default;
pub mod direct;
pub mod draw;
pub mod expr;
mod holes;
mod json;
mod logical;
pub mod record;
pub mod replay;
pub mod seed;
mod termination;

pub use avro::{AvroGenerator, GenConfig, GenError};
pub use datum::EncodeError;
pub use record::{Evaluators, Record, StreamRecords};
pub use replay::{OnEnd, ReplayError, ReplayFormat, ReplaySource};
pub use seed::{EventIds, MAX_SEQ, RecordRng, StreamSeed};
