//! Random values valid for any Avro schema.
//!
//! ```text
//!   AvroGenerator::new(&schema, GenConfig)      once per stream, at plan time
//!     └─ compile::TypeGraph::build              names, recursion check, defaults
//!   generator.generate(&mut rng) -> Value       per record; pure given the rng
//!   generator.encode(&value) -> Vec<u8>         deterministic Avro binary (sorted map keys)
//!   generator.field_schema(&["address","city"]) → what an override path points at
//!   generator.generate_at(&["address","city"], &mut rng) → a value for just that field
//! ```
//!
//! Generation walks the compiled graph with a nesting `depth` (records, arrays and maps
//! add one level; the root is level 0). Below `max_depth` choices are random: unions pick
//! `null` with probability `null_ratio` and otherwise a uniform non-null branch, containers
//! get a length in the configured range. At `max_depth` and beyond every union takes its
//! terminating branch and containers are empty, which bounds recursive types (see
//! `termination.rs` for why that always terminates).
//!
//! The generator is `Send + Sync` and holds no RNG: share one per stream across workers and
//! pass each record's own [`super::seed::RecordRng`].

use super::compile::{Node, NodeId, TypeGraph};
use super::datum::{self, EncodeError};
use super::draw;
use super::logical;
use apache_avro::Schema;
use apache_avro::types::Value;
use rand::Rng;
use std::collections::HashMap;

/// Hard ceiling for [`GenConfig::max_depth`]: generation recurses once per level, and a
/// worker thread's stack must survive any configuration.
pub const MAX_DEPTH_LIMIT: usize = 64;

/// Ceiling for the upper bound of every length range: containers nest, so lengths
/// multiply (`array_len.1 ^ max_depth` values), and a typo must not exhaust memory.
pub const MAX_LEN_LIMIT: usize = 10_000;

/// Knobs for generated values. Ranges are inclusive `(min, max)`.
#[derive(Clone, Debug, PartialEq)]
pub struct GenConfig {
    /// Probability that a union containing `null` produces `null` (0.0 ..= 1.0).
    pub null_ratio: f64,
    pub array_len: (usize, usize),
    pub map_len: (usize, usize),
    /// Length of strings and map keys (lowercase ASCII alphanumerics).
    pub string_len: (usize, usize),
    pub bytes_len: (usize, usize),
    /// Nesting level from which unions terminate and containers are empty.
    pub max_depth: usize,
    /// When true, a field with a `default` always gets its default value.
    pub use_defaults: bool,
}

impl Default for GenConfig {
    fn default() -> Self {
        Self {
            null_ratio: 0.1,
            array_len: (0, 5),
            map_len: (0, 5),
            string_len: (4, 16),
            bytes_len: (0, 16),
            max_depth: 4,
            use_defaults: false,
        }
    }
}

/// Why a schema or config cannot drive generation. Raised by [`AvroGenerator::new`] only:
/// once constructed, generation cannot fail.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("invalid generator setting `{setting}`: {reason}")]
    InvalidConfig {
        setting: &'static str,
        reason: String,
    },
    #[error("unknown type `{name}` referenced at {path}")]
    UnknownType { name: String, path: String },
    #[error("type `{name}` is defined twice with different definitions")]
    DuplicateType { name: String },
    #[error(
        "recursive type `{name}` can never end: every path through its fields leads back to it; \
         make a recursive field optional (a union with \"null\"), an array or a map, or give it a default"
    )]
    UnboundedRecursion { name: String },
    #[error("enum `{name}` has no symbols")]
    EmptyEnum { name: String },
    #[error("union at {path} has no branches")]
    EmptyUnion { path: String },
    #[error("decimal at {path} with precision {precision} is unsupported: {reason}")]
    DecimalTooWide {
        path: String,
        precision: usize,
        reason: String,
    },
    #[error("default of field `{path}` does not match its type: {reason}")]
    InvalidDefault { path: String, reason: String },
    #[error("unsupported schema at {path}: {what}")]
    Unsupported { path: String, what: String },
}

/// Generates values for one schema. Cheap to share (`Send + Sync`), built once.
#[derive(Debug)]
pub struct AvroGenerator {
    pub(super) graph: TypeGraph,
    pub(super) config: GenConfig,
}

impl AvroGenerator {
    /// Compiles `schema` (resolving named types and checking that recursive types can
    /// terminate) and checks `config`.
    pub fn new(schema: &Schema, config: GenConfig) -> Result<Self, GenError> {
        check_config(&config)?;
        let graph = TypeGraph::build(schema, config.use_defaults)?;
        Ok(Self { graph, config })
    }

    pub fn config(&self) -> &GenConfig {
        &self.config
    }

    /// The schema this generator was built from.
    pub fn schema(&self) -> &Schema {
        &self.graph.schemas[self.graph.root]
    }

    /// One random value of the whole schema. Deterministic given the RNG's state.
    pub fn generate<R: Rng + ?Sized>(&self, rng: &mut R) -> Value {
        self.value(self.graph.root, 0, rng)
    }

    /// Encodes `value` as an Avro datum (no header, no framing) with map entries in key
    /// order, so equal values always give equal bytes (see `datum.rs`).
    pub fn encode(&self, value: &Value) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        datum::encode(&self.graph, self.graph.root, value, &mut out)?;
        Ok(out)
    }

    /// The value as plain JSON (see `json.rs`): the body of direct SQS messages.
    pub fn to_json(&self, value: &Value) -> serde_json::Value {
        super::json::to_json(&self.graph, self.graph.root, value)
    }

    /// Like [`Self::encode`], appending to `out` (reuse one buffer per worker).
    pub fn encode_into(&self, value: &Value, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        datum::encode(&self.graph, self.graph.root, value, out)
    }

    /// The schema of the field at `path` (record field names from the root record), or
    /// `None` if there is no such field. Nullable unions (and unions of records) on the way
    /// are looked through: `["address", "city"]` works when `address` is
    /// `["null", Address]`. Named references are followed, so the answer is a definition,
    /// never a bare `Ref` (though nested parts of it may refer to names defined elsewhere
    /// in the root schema). An empty path gives the root schema.
    pub fn field_schema(&self, path: &[&str]) -> Option<&Schema> {
        self.resolve_path(path).map(|id| &self.graph.schemas[id])
    }

    /// A random value for the field at `path`, exactly as [`Self::generate`] would build it
    /// there (same depth limits; the field's default when `use_defaults` is on). `None` if
    /// the path does not exist.
    pub fn generate_at<R: Rng + ?Sized>(&self, path: &[&str], rng: &mut R) -> Option<Value> {
        let mut id = self.graph.root;
        for (depth, name) in path.iter().enumerate() {
            let record = self.record_through_unions(id, name)?;
            let field = record.fields.iter().find(|f| f.name == *name)?;
            if depth + 1 == path.len() {
                if let Some(default) = &field.default {
                    return Some(default.clone());
                }
                return Some(self.value(field.node, depth + 1, rng));
            }
            id = field.node;
        }
        Some(self.value(id, 0, rng))
    }

    fn resolve_path(&self, path: &[&str]) -> Option<NodeId> {
        let mut id = self.graph.root;
        for name in path {
            let record = self.record_through_unions(id, name)?;
            id = record.fields.iter().find(|f| f.name == *name)?.node;
        }
        Some(id)
    }

    /// The record at `id`, or the first record branch of the union at `id` that has a
    /// field called `field`.
    fn record_through_unions(
        &self,
        id: NodeId,
        field: &str,
    ) -> Option<&super::compile::RecordNode> {
        match &self.graph.nodes[id] {
            Node::Record(record) => Some(record),
            Node::Union(union) => union
                .branches
                .iter()
                .find_map(|&b| match &self.graph.nodes[b] {
                    Node::Record(record) if record.fields.iter().any(|f| f.name == field) => {
                        Some(record)
                    }
                    _ => None,
                }),
            _ => None,
        }
    }

    pub(super) fn value<R: Rng + ?Sized>(&self, id: NodeId, depth: usize, rng: &mut R) -> Value {
        let config = &self.config;
        let deep = depth >= config.max_depth;
        match &self.graph.nodes[id] {
            Node::Null | Node::Pending => Value::Null,
            Node::Boolean => Value::Boolean(rng.next_u32() & 1 == 1),
            // Modest non-negative magnitudes (counts, ids, amounts) rather than the full
            // range: the data is read by people, and overrides exist for anything specific.
            Node::Int => Value::Int(i32::try_from(draw::range_i64(rng, 0, 10_000)).unwrap_or(0)),
            Node::Long => Value::Long(draw::range_i64(rng, 0, 1_000_000_000)),
            Node::Float => Value::Float((draw::unit_f64(rng) * 1_000.0) as f32),
            Node::Double => Value::Double(draw::unit_f64(rng) * 1_000.0),
            Node::Bytes => {
                let len = draw::range_usize(rng, config.bytes_len.0, config.bytes_len.1);
                Value::Bytes(draw::bytes(rng, len))
            }
            Node::String => Value::String(self.string(rng)),
            Node::Array(items) => {
                if deep {
                    return Value::Array(Vec::new());
                }
                let len = draw::range_usize(rng, config.array_len.0, config.array_len.1);
                Value::Array(
                    (0..len)
                        .map(|_| self.value(*items, depth + 1, rng))
                        .collect(),
                )
            }
            Node::Map(values) => {
                if deep {
                    return Value::Map(HashMap::new());
                }
                let len = draw::range_usize(rng, config.map_len.0, config.map_len.1);
                let mut map = HashMap::with_capacity(len);
                for _ in 0..len {
                    // A repeated key (rare: ≥ 36^4 keys) overwrites; the map is then shorter.
                    let key = self.string(rng);
                    map.insert(key, self.value(*values, depth + 1, rng));
                }
                Value::Map(map)
            }
            Node::Union(union) => {
                let (index, branch) = self.union_branch(union, deep, rng);
                Value::Union(index, Box::new(self.value(branch, depth, rng)))
            }
            Node::Record(record) => Value::Record(
                record
                    .fields
                    .iter()
                    .map(|field| {
                        let value = match &field.default {
                            Some(default) => default.clone(),
                            None => self.value(field.node, depth + 1, rng),
                        };
                        (field.name.clone(), value)
                    })
                    .collect(),
            ),
            Node::Enum(symbols) => {
                let index = draw::below(rng, symbols.len() as u64);
                let index = usize::try_from(index).unwrap_or(0);
                Value::Enum(u32::try_from(index).unwrap_or(0), symbols[index].clone())
            }
            Node::Fixed(size) => Value::Fixed(*size, draw::bytes(rng, *size)),
            Node::Decimal(decimal) => logical::decimal(rng, decimal),
            Node::BigDecimal => logical::big_decimal(rng),
            Node::Uuid => logical::uuid(rng),
            Node::Date => logical::date(rng),
            Node::TimeMillis => logical::time_millis(rng),
            Node::TimeMicros => logical::time_micros(rng),
            Node::TimestampMillis => Value::TimestampMillis(logical::instant(rng, 1_000)),
            Node::TimestampMicros => Value::TimestampMicros(logical::instant(rng, 1_000_000)),
            Node::TimestampNanos => Value::TimestampNanos(logical::instant(rng, 1_000_000_000)),
            Node::LocalTimestampMillis => Value::LocalTimestampMillis(logical::instant(rng, 1_000)),
            Node::LocalTimestampMicros => {
                Value::LocalTimestampMicros(logical::instant(rng, 1_000_000))
            }
            Node::LocalTimestampNanos => {
                Value::LocalTimestampNanos(logical::instant(rng, 1_000_000_000))
            }
            Node::Duration => logical::duration(rng),
        }
    }

    /// The branch a union takes: below `max_depth` `null` with probability
    /// `null_ratio`, else a uniform non-null branch; at it, the terminating one.
    pub(super) fn union_branch<R: Rng + ?Sized>(
        &self,
        union: &super::compile::UnionNode,
        deep: bool,
        rng: &mut R,
    ) -> (u32, NodeId) {
        let index = if deep {
            union.fallback
        } else {
            let wants_null = union.null_branch.is_some()
                && (union.present.is_empty() || draw::chance(rng, self.config.null_ratio));
            match union.null_branch {
                Some(null) if wants_null => null,
                _ => {
                    let pick = draw::below(rng, union.present.len() as u64);
                    union.present[usize::try_from(pick).unwrap_or(0)]
                }
            }
        };
        (index, union.branches[usize::try_from(index).unwrap_or(0)])
    }

    fn string<R: Rng + ?Sized>(&self, rng: &mut R) -> String {
        let (lo, hi) = self.config.string_len;
        let len = draw::range_usize(rng, lo, hi);
        draw::alphanumeric(rng, len)
    }
}

fn check_config(config: &GenConfig) -> Result<(), GenError> {
    if !(0.0..=1.0).contains(&config.null_ratio) {
        return Err(GenError::InvalidConfig {
            setting: "null_ratio",
            reason: format!("{} is not between 0 and 1", config.null_ratio),
        });
    }
    let ranges = [
        ("array_len", config.array_len),
        ("map_len", config.map_len),
        ("string_len", config.string_len),
        ("bytes_len", config.bytes_len),
    ];
    for (setting, (lo, hi)) in ranges {
        if lo > hi {
            return Err(GenError::InvalidConfig {
                setting,
                reason: format!("minimum {lo} is greater than maximum {hi}"),
            });
        }
        if hi > MAX_LEN_LIMIT {
            return Err(GenError::InvalidConfig {
                setting,
                reason: format!("maximum {hi} exceeds the limit of {MAX_LEN_LIMIT}"),
            });
        }
    }
    if config.max_depth > MAX_DEPTH_LIMIT {
        return Err(GenError::InvalidConfig {
            setting: "max_depth",
            reason: format!(
                "{} exceeds the limit of {MAX_DEPTH_LIMIT}",
                config.max_depth
            ),
        });
    }
    Ok(())
}
