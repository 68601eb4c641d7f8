//! Schema → [`TypeGraph`]: the schema compiled once into an arena the generator walks.
//!
//! ```text
//!  Schema ──collect_names──▶ fullname → &definition      (duplicates → GenError)
//!         ──compile────────▶ nodes: Vec<Node>            (Ref → NodeId of its definition,
//!                                                          so recursion is just a cycle)
//!         ──defaults───────▶ field defaults as Values    (only when use_defaults)
//!         ──costs──────────▶ cost[node] = records one must still nest to finish a value
//!                                                         (∞ → GenError::UnboundedRecursion)
//! ```
//!
//! Why an arena instead of walking `Schema` directly: named references become plain
//! indices (no per-value hash lookups or namespace juggling), and each node can carry
//! precomputed facts the hot path needs (union null branch, terminating branch, decimal
//! digit budget).
//!
//! Termination analysis (`cost`, the `fallback` branch of unions) lives in
//! [`super::termination`].

use super::avro::GenError;
use super::logical;
use super::termination;
use apache_avro::Schema;
use apache_avro::schema::{
    EnumSchema, FixedSchema, Name, NamespaceRef, RecordSchema, UnionSchema, UuidSchema,
};
use apache_avro::types::Value;
use std::collections::HashMap;

/// The largest Avro `fixed` records are generated with: a schema asking for more
/// (up to 2^31 − 1 bytes per value) would have every record allocate it.
pub const MAX_FIXED_SIZE: usize = 1 << 20;

/// Index of a node in [`TypeGraph::nodes`].
pub(crate) type NodeId = usize;

/// One compiled type.
#[derive(Debug)]
pub(crate) enum Node {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Array(NodeId),
    Map(NodeId),
    Union(UnionNode),
    Record(RecordNode),
    Enum(Vec<String>),
    Fixed(usize),
    Decimal(DecimalNode),
    BigDecimal,
    /// All three representations (string, bytes, fixed 16) hold a `Value::Uuid`.
    Uuid,
    Date,
    TimeMillis,
    TimeMicros,
    TimestampMillis,
    TimestampMicros,
    TimestampNanos,
    LocalTimestampMillis,
    LocalTimestampMicros,
    LocalTimestampNanos,
    Duration,
    /// A named definition whose children are still being compiled.
    Pending,
}

#[derive(Debug)]
pub(crate) struct UnionNode {
    pub branches: Vec<NodeId>,
    /// Index of the `null` branch, if any (Avro allows at most one).
    pub null_branch: Option<u32>,
    /// Indices of the other branches, the ones a "present" value picks from.
    pub present: Vec<u32>,
    /// The branch taken past `max_depth`: the cheapest one, `null` when it is among them.
    pub fallback: u32,
}

#[derive(Debug)]
pub(crate) struct RecordNode {
    pub fullname: String,
    pub fields: Vec<FieldNode>,
}

#[derive(Debug)]
pub(crate) struct FieldNode {
    pub name: String,
    pub node: NodeId,
    /// The field's default converted to a value; only filled when `use_defaults` is on.
    pub default: Option<Value>,
}

#[derive(Debug)]
pub(crate) struct DecimalNode {
    /// How many decimal digits the unscaled value may have (≤ precision).
    pub digits: usize,
    /// `Some(size)` for decimals on `fixed`: the value is sign-extended to `size` bytes.
    pub fixed_size: Option<usize>,
}

/// The compiled schema. `schemas[i]` is the schema node `i` came from (for a named
/// reference, its definition), so lookups by path can hand out the user's own schema.
#[derive(Debug)]
pub(crate) struct TypeGraph {
    pub nodes: Vec<Node>,
    pub schemas: Vec<Schema>,
    pub root: NodeId,
}

impl TypeGraph {
    pub(crate) fn build(schema: &Schema, use_defaults: bool) -> Result<Self, GenError> {
        let mut definitions = HashMap::new();
        collect_names(schema, None, &mut definitions)?;
        let mut compiler = Compiler {
            definitions,
            compiled: HashMap::new(),
            nodes: Vec::new(),
            schemas: Vec::new(),
            pending_defaults: Vec::new(),
        };
        let root = compiler.compile(schema, None, &mut String::new())?;
        let Compiler {
            mut nodes,
            schemas,
            pending_defaults,
            ..
        } = compiler;

        if use_defaults {
            // Defaults are converted after every node exists, because a default may be of a
            // named type that is defined later in the schema text.
            for pending in pending_defaults {
                let value = super::default::from_json(&nodes, pending.node, &pending.json)
                    .map_err(|reason| GenError::InvalidDefault {
                        path: pending.path.clone(),
                        reason,
                    })?;
                if let Node::Record(record) = &mut nodes[pending.record] {
                    record.fields[pending.field].default = Some(value);
                }
            }
        }

        let cost = termination::costs(&nodes);
        if let Some(name) = termination::first_unbounded_record(&nodes, &cost) {
            return Err(GenError::UnboundedRecursion { name });
        }
        for node in &mut nodes {
            if let Node::Union(union) = node {
                union.fallback = termination::cheapest_branch(union, &cost);
            }
        }
        Ok(Self {
            nodes,
            schemas,
            root,
        })
    }
}

/// A field default waiting for conversion (see [`TypeGraph::build`]).
struct PendingDefault {
    record: NodeId,
    field: usize,
    node: NodeId,
    json: serde_json::Value,
    path: String,
}

struct Compiler<'s> {
    definitions: HashMap<Name, &'s Schema>,
    /// Fullname → node, filled *before* a definition's children are compiled so that a
    /// reference back to it (recursion) finds it.
    compiled: HashMap<Name, NodeId>,
    nodes: Vec<Node>,
    schemas: Vec<Schema>,
    pending_defaults: Vec<PendingDefault>,
}

impl<'s> Compiler<'s> {
    fn push(&mut self, node: Node, schema: &Schema) -> NodeId {
        self.nodes.push(node);
        self.schemas.push(schema.clone());
        self.nodes.len() - 1
    }

    /// Compiles `schema`; `path` is a human-readable location for error messages
    /// (e.g. `Pokemon.moves[].name`), restored to its old length on return.
    fn compile(
        &mut self,
        schema: &'s Schema,
        ns: NamespaceRef<'_>,
        path: &mut String,
    ) -> Result<NodeId, GenError> {
        if let Some(name) = schema.name() {
            return self.compile_named_ref(schema, name, ns, path);
        }

        let node = match schema {
            Schema::Null => Node::Null,
            Schema::Boolean => Node::Boolean,
            Schema::Int => Node::Int,
            Schema::Long => Node::Long,
            Schema::Float => Node::Float,
            Schema::Double => Node::Double,
            Schema::Bytes => Node::Bytes,
            Schema::String => Node::String,
            Schema::Array(array) => {
                let mark = path.len();
                path.push_str("[]");
                let items = self.compile(&array.items, ns, path)?;
                path.truncate(mark);
                Node::Array(items)
            }
            Schema::Map(map) => {
                let mark = path.len();
                path.push_str("{}");
                let values = self.compile(&map.types, ns, path)?;
                path.truncate(mark);
                Node::Map(values)
            }
            Schema::Union(union) => self.union(union, ns, path)?,
            Schema::Decimal(decimal) => logical::decimal_node(decimal, None, path)?,
            Schema::BigDecimal => Node::BigDecimal,
            Schema::Uuid(_) => Node::Uuid,
            Schema::Date => Node::Date,
            Schema::TimeMillis => Node::TimeMillis,
            Schema::TimeMicros => Node::TimeMicros,
            Schema::TimestampMillis => Node::TimestampMillis,
            Schema::TimestampMicros => Node::TimestampMicros,
            Schema::TimestampNanos => Node::TimestampNanos,
            Schema::LocalTimestampMillis => Node::LocalTimestampMillis,
            Schema::LocalTimestampMicros => Node::LocalTimestampMicros,
            Schema::LocalTimestampNanos => Node::LocalTimestampNanos,
            // Named kinds were handled above (`schema.name()` is `Some` for all of them);
            // reaching here means apache-avro grew a new named kind.
            Schema::Record(_)
            | Schema::Enum(_)
            | Schema::Fixed(_)
            | Schema::Duration(_)
            | Schema::Ref { .. } => {
                return Err(GenError::Unsupported {
                    path: display_path(path),
                    what: "a named type without a name".to_owned(),
                });
            }
        };
        Ok(self.push(node, schema))
    }

    /// A named type (or a reference to one): compiled once per full name, so a
    /// recursive reference finds its own pending node and becomes a cycle.
    fn compile_named_ref(
        &mut self,
        schema: &'s Schema,
        name: &Name,
        ns: NamespaceRef<'_>,
        path: &str,
    ) -> Result<NodeId, GenError> {
        let fullname = name.fully_qualified_name(ns).into_owned();
        if let Some(&id) = self.compiled.get(&fullname) {
            return Ok(id);
        }
        let definition = match schema {
            Schema::Ref { .. } => {
                *self
                    .definitions
                    .get(&fullname)
                    .ok_or_else(|| GenError::UnknownType {
                        name: fullname.fullname(None),
                        path: display_path(path),
                    })?
            }
            _ => schema,
        };
        let id = self.push(Node::Pending, definition);
        self.compiled.insert(fullname.clone(), id);
        let node = self.compile_named(id, definition, &fullname, path)?;
        self.nodes[id] = node;
        Ok(id)
    }

    /// A union: one branch per variant, its null branch and the others noted.
    fn union(
        &mut self,
        union: &'s UnionSchema,
        ns: NamespaceRef<'_>,
        path: &mut String,
    ) -> Result<Node, GenError> {
        let variants = union.variants();
        if variants.is_empty() {
            return Err(GenError::EmptyUnion {
                path: display_path(path),
            });
        }
        let mut branches = Vec::with_capacity(variants.len());
        for (i, variant) in variants.iter().enumerate() {
            let mark = path.len();
            path.push_str(&format!("<{i}>"));
            branches.push(self.compile(variant, ns, path)?);
            path.truncate(mark);
        }
        let null_branch = variants
            .iter()
            .position(|v| matches!(v, Schema::Null))
            .and_then(|i| u32::try_from(i).ok());
        let present = (0..variants.len())
            .filter_map(|i| u32::try_from(i).ok())
            .filter(|&i| Some(i) != null_branch)
            .collect();
        Ok(Node::Union(UnionNode {
            branches,
            null_branch,
            present,
            fallback: 0,
        }))
    }

    fn compile_named(
        &mut self,
        id: NodeId,
        schema: &'s Schema,
        fullname: &Name,
        path: &str,
    ) -> Result<Node, GenError> {
        Ok(match schema {
            Schema::Record(record) => self.compile_record(id, record, fullname)?,
            Schema::Enum(EnumSchema { symbols, .. }) => {
                if symbols.is_empty() {
                    return Err(GenError::EmptyEnum {
                        name: fullname.fullname(None),
                    });
                }
                Node::Enum(symbols.clone())
            }
            Schema::Fixed(FixedSchema { size, .. }) if *size > MAX_FIXED_SIZE => {
                return Err(GenError::Unsupported {
                    path: display_path(path),
                    what: format!(
                        "a `fixed` of {size} bytes; at most {MAX_FIXED_SIZE} (1 MiB) are generated"
                    ),
                });
            }
            Schema::Fixed(FixedSchema { size, .. }) => Node::Fixed(*size),
            Schema::Duration(_) => Node::Duration,
            Schema::Uuid(UuidSchema::Fixed(_)) => Node::Uuid,
            Schema::Decimal(decimal) => logical::decimal_node(decimal, Some(fullname), path)?,
            _ => {
                return Err(GenError::Unsupported {
                    path: display_path(path),
                    what: format!("named schema kind of `{}`", fullname.fullname(None)),
                });
            }
        })
    }

    fn compile_record(
        &mut self,
        id: NodeId,
        record: &'s RecordSchema,
        fullname: &Name,
    ) -> Result<Node, GenError> {
        let record_ns = fullname.namespace();
        // Paths restart at each record so messages read `Node.next<1>.value`, not the whole
        // chain of enclosing fields.
        let mut record_path = fullname.name().to_owned();
        let mut fields = Vec::with_capacity(record.fields.len());
        for (index, field) in record.fields.iter().enumerate() {
            let mark = record_path.len();
            record_path.push('.');
            record_path.push_str(&field.name);
            let node = self.compile(&field.schema, record_ns, &mut record_path)?;
            if let Some(json) = &field.default {
                self.pending_defaults.push(PendingDefault {
                    record: id,
                    field: index,
                    node,
                    json: json.clone(),
                    path: record_path.clone(),
                });
            }
            record_path.truncate(mark);
            fields.push(FieldNode {
                name: field.name.clone(),
                node,
                default: None,
            });
        }
        Ok(Node::Record(RecordNode {
            fullname: fullname.fullname(None),
            fields,
        }))
    }
}

pub(crate) fn display_path(path: &str) -> String {
    if path.is_empty() {
        "<root>".to_owned()
    } else {
        path.to_owned()
    }
}

/// Fullname → definition for every named type in `schema`, with namespaces resolved the
/// Avro way (a name without dots inherits the enclosing namespace).
fn collect_names<'s>(
    schema: &'s Schema,
    ns: NamespaceRef<'_>,
    out: &mut HashMap<Name, &'s Schema>,
) -> Result<(), GenError> {
    match schema {
        Schema::Array(array) => collect_names(&array.items, ns, out),
        Schema::Map(map) => collect_names(&map.types, ns, out),
        Schema::Union(union) => union
            .variants()
            .iter()
            .try_for_each(|v| collect_names(v, ns, out)),
        Schema::Ref { .. } => Ok(()),
        _ => {
            let Some(name) = schema.name() else {
                return Ok(());
            };
            let fullname = name.fully_qualified_name(ns).into_owned();
            // apache-avro's parser inlines a *copy* of a named decimal/uuid/duration fixed
            // at every later use instead of a `Ref`, so identical repeats are legitimate.
            if let Some(previous) = out.insert(fullname.clone(), schema)
                && *previous != *schema
            {
                return Err(GenError::DuplicateType {
                    name: fullname.fullname(None),
                });
            }
            if let Schema::Record(record) = schema {
                let record_ns = fullname.namespace();
                for field in &record.fields {
                    collect_names(&field.schema, record_ns, out)?;
                }
            }
            Ok(())
        }
    }
}
