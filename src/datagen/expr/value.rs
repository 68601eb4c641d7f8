//! Avro values in and out of Rhai.
//!
//! ```text
//!   to_dynamic(&Value)            Avro ─▶ Rhai: what `default` and `record` hold
//!   Types::field(path)            the schema an override path points at (through unions)
//!   Types::coerce(schema, Dynamic) Rhai ─▶ Avro, checked against the field's schema
//!   field_mut(record, path)       where the coerced value is written
//! ```
//!
//! Coercion is strict so that a wrong expression fails loudly instead of sending data
//! the consumer will reject: ints only for `int`/`long` (range-checked), ints or floats
//! for `float`/`double`, strings only for `string`, a listed symbol for enums, a parsable
//! UUID string for `uuid`, ints for dates and timestamps, `()` only where the field's
//! union has `null`. Unions try their non-null branches in schema order.

use std::collections::HashMap;

use apache_avro::Schema;
use apache_avro::schema::{Name, ResolvedSchema};
use apache_avro::types::Value;
use rhai::{Dynamic, FLOAT, INT, Map};

/// Nesting beyond which coercion gives up (values are finite, but recursive schemas and
/// shared Rhai values make an explicit bound the simplest proof that it stops).
const MAX_NESTING: usize = 64;

/// Avro → Rhai. Logical types become their underlying number (dates, times, timestamps)
/// or a string (uuid, big decimal); enums become their symbol; unions their branch value.
pub(super) fn to_dynamic(value: &Value) -> Dynamic {
    match value {
        Value::Null => Dynamic::UNIT,
        Value::Boolean(b) => Dynamic::from_bool(*b),
        Value::Int(i) | Value::Date(i) | Value::TimeMillis(i) => Dynamic::from_int(INT::from(*i)),
        Value::Long(l)
        | Value::TimeMicros(l)
        | Value::TimestampMillis(l)
        | Value::TimestampMicros(l)
        | Value::TimestampNanos(l)
        | Value::LocalTimestampMillis(l)
        | Value::LocalTimestampMicros(l)
        | Value::LocalTimestampNanos(l) => Dynamic::from_int(*l),
        Value::Float(f) => Dynamic::from_float(FLOAT::from(*f)),
        Value::Double(d) => Dynamic::from_float(*d),
        Value::String(s) | Value::Enum(_, s) => Dynamic::from(s.clone()),
        Value::Uuid(u) => Dynamic::from(u.to_string()),
        Value::BigDecimal(d) => Dynamic::from(d.to_string()),
        Value::Bytes(b) | Value::Fixed(_, b) => Dynamic::from_blob(b.clone()),
        Value::Union(_, inner) => to_dynamic(inner),
        Value::Array(items) => Dynamic::from_array(items.iter().map(to_dynamic).collect()),
        Value::Map(entries) => Dynamic::from_map(
            entries
                .iter()
                .map(|(k, v)| (k.as_str().into(), to_dynamic(v)))
                .collect::<Map>(),
        ),
        Value::Record(fields) => Dynamic::from_map(
            fields
                .iter()
                .map(|(k, v)| (k.as_str().into(), to_dynamic(v)))
                .collect::<Map>(),
        ),
        // Fixed-point decimals and durations have no natural Rhai form; expressions that
        // need them compute a replacement instead of reading the default.
        Value::Decimal(_) | Value::Duration(_) => Dynamic::UNIT,
    }
}

/// The field reached by `path`, looking through unions (the branch that is present) like
/// the generator does; `None` when a record on the way is absent (a `null` branch) or the
/// path names no field.
pub(super) fn field_mut<'v>(record: &'v mut Value, path: &[String]) -> Option<&'v mut Value> {
    let mut current = record;
    for name in path {
        let inner = match current {
            Value::Union(_, inner) => inner.as_mut(),
            other => other,
        };
        let Value::Record(fields) = inner else {
            return None;
        };
        current = fields.iter_mut().find(|(n, _)| n == name).map(|(_, v)| v)?;
    }
    Some(current)
}

/// Why a result does not fit its field's schema.
#[derive(Debug)]
pub(super) struct Mismatch {
    pub expected: String,
    pub actual: String,
    /// Extra detail, e.g. the enum's symbols or an out-of-range int.
    pub detail: Option<String>,
}

/// The stream's schema with its named types, for path look-ups and coercion.
#[derive(Debug)]
pub(super) struct Types {
    root: Schema,
    names: HashMap<Name, Schema>,
}

impl Types {
    pub fn new(root: &Schema) -> Result<Self, String> {
        let resolved = ResolvedSchema::try_from(root).map_err(|e| e.to_string())?;
        let names = resolved
            .get_names()
            .iter()
            .map(|(name, schema)| (name.clone(), (*schema).clone()))
            .collect();
        Ok(Self {
            root: root.clone(),
            names,
        })
    }

    /// Follows named references to their definition.
    fn resolve<'s>(&'s self, schema: &'s Schema) -> &'s Schema {
        let mut current = schema;
        // A chain of refs is at most as long as the number of names (no ref names a ref).
        for _ in 0..=self.names.len() {
            let Schema::Ref { name } = current else { break };
            // Refs carry full names; a short-name match covers schemas parsed without one.
            match self.names.get(name).or_else(|| {
                self.names
                    .iter()
                    .find(|(n, _)| n.name() == name.name())
                    .map(|(_, s)| s)
            }) {
                Some(def) => current = def,
                None => break,
            }
        }
        current
    }

    /// The schema of the field at `path`, as [`crate::datagen::AvroGenerator::field_schema`].
    pub fn field(&self, path: &[String]) -> Option<&Schema> {
        let mut current = self.resolve(&self.root);
        for name in path {
            let record = match current {
                Schema::Record(r) => Some(r),
                Schema::Union(u) => u.variants().iter().find_map(|v| match self.resolve(v) {
                    Schema::Record(r) if r.fields.iter().any(|f| f.name == *name) => Some(r),
                    _ => None,
                }),
                _ => None,
            }?;
            let field = record.fields.iter().find(|f| f.name == *name)?;
            current = self.resolve(&field.schema);
        }
        Some(current)
    }

    /// A short type name for messages: `string`, `enum Rarity`, `union[null,string]`.
    pub fn describe(&self, schema: &Schema) -> String {
        self.describe_at(schema, 0)
    }

    fn describe_at(&self, schema: &Schema, depth: usize) -> String {
        let schema = self.resolve(schema);
        match schema {
            Schema::Union(u) if depth < 2 => format!(
                "union[{}]",
                u.variants()
                    .iter()
                    .map(|v| self.describe_at(v, depth + 1))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Schema::Array(a) if depth < 2 => {
                format!("array<{}>", self.describe_at(&a.items, depth + 1))
            }
            Schema::Map(m) if depth < 2 => {
                format!("map<{}>", self.describe_at(&m.types, depth + 1))
            }
            Schema::Record(r) => format!("record {}", r.name.name()),
            Schema::Enum(e) => format!("enum {}", e.name.name()),
            Schema::Fixed(f) => format!("fixed {} ({} bytes)", f.name.name(), f.size),
            Schema::Uuid(_) => "uuid".to_owned(),
            Schema::Date => "date (int)".to_owned(),
            Schema::TimeMillis => "time-millis (int)".to_owned(),
            Schema::TimeMicros => "time-micros (long)".to_owned(),
            Schema::TimestampMillis => "timestamp-millis (long)".to_owned(),
            Schema::TimestampMicros => "timestamp-micros (long)".to_owned(),
            Schema::TimestampNanos => "timestamp-nanos (long)".to_owned(),
            Schema::LocalTimestampMillis => "local-timestamp-millis (long)".to_owned(),
            Schema::LocalTimestampMicros => "local-timestamp-micros (long)".to_owned(),
            Schema::LocalTimestampNanos => "local-timestamp-nanos (long)".to_owned(),
            other => format!("{:?}", apache_avro::schema::SchemaKind::from(other)).to_lowercase(),
        }
    }

    /// Converts an expression's result to a value of `schema`.
    pub fn coerce(&self, schema: &Schema, value: Dynamic) -> Result<Value, Mismatch> {
        self.coerce_at(schema, value, 0)
    }

    fn coerce_at(&self, schema: &Schema, value: Dynamic, depth: usize) -> Result<Value, Mismatch> {
        let schema = self.resolve(schema);
        let mismatch = |detail: Option<String>, value: &Dynamic| Mismatch {
            expected: self.describe(schema),
            actual: value.type_name().to_owned(),
            detail,
        };
        if depth > MAX_NESTING {
            return Err(mismatch(
                Some(format!("nested deeper than {MAX_NESTING} levels")),
                &value,
            ));
        }
        let int = |value: &Dynamic| value.as_int().map_err(|_| mismatch(None, value));
        let int32 = |value: &Dynamic| {
            let i = int(value)?;
            i32::try_from(i)
                .map_err(|_| mismatch(Some(format!("{i} does not fit in a 32-bit int")), value))
        };
        let float = |value: &Dynamic| match (value.as_float(), value.as_int()) {
            (Ok(f), _) => Ok(f),
            // i64 → f64 rounds above 2^53, which is what a float field means.
            (_, Ok(i)) => Ok(i as f64),
            _ => Err(mismatch(None, value)),
        };
        let string = |value: &Dynamic| {
            if value.is_string() {
                // Copied out as it is: `to_string` would go through `Display`,
                // which cost more than the rest of the coercion.
                Ok(value
                    .clone()
                    .into_immutable_string()
                    .map_or_else(|_| value.to_string(), |s| s.as_str().to_owned()))
            } else if value.is_char() {
                Ok(value.to_string())
            } else {
                Err(mismatch(None, value))
            }
        };
        Ok(match schema {
            Schema::Null if value.is_unit() => Value::Null,
            Schema::Boolean => Value::Boolean(value.as_bool().map_err(|_| mismatch(None, &value))?),
            Schema::Int => Value::Int(int32(&value)?),
            Schema::Long => Value::Long(int(&value)?),
            // Narrowing to f32 is what a `float` field stores.
            Schema::Float => Value::Float(float(&value)? as f32),
            Schema::Double => Value::Double(float(&value)?),
            Schema::String => Value::String(string(&value)?),
            Schema::Bytes if value.is_blob() => Value::Bytes(value.cast::<rhai::Blob>()),
            Schema::Bytes if value.is_string() => Value::Bytes(value.to_string().into_bytes()),
            Schema::Fixed(f) if value.is_blob() => {
                let bytes = value.clone().cast::<rhai::Blob>();
                if bytes.len() != f.size {
                    let detail = format!("{} bytes instead of {}", bytes.len(), f.size);
                    return Err(mismatch(Some(detail), &value));
                }
                Value::Fixed(f.size, bytes)
            }
            Schema::Enum(e) => {
                let symbol = string(&value)?;
                match e.symbols.iter().position(|s| *s == symbol) {
                    Some(i) => Value::Enum(u32::try_from(i).unwrap_or(0), symbol),
                    None => {
                        let detail = format!("\"{symbol}\" is not one of {}", e.symbols.join(", "));
                        return Err(mismatch(Some(detail), &value));
                    }
                }
            }
            Schema::Uuid(_) => {
                let text = string(&value)?;
                match uuid::Uuid::try_parse(&text) {
                    Ok(u) => Value::Uuid(u),
                    Err(_) => {
                        return Err(mismatch(Some(format!("\"{text}\" is not a UUID")), &value));
                    }
                }
            }
            Schema::Date => Value::Date(int32(&value)?),
            Schema::TimeMillis => Value::TimeMillis(int32(&value)?),
            Schema::TimeMicros => Value::TimeMicros(int(&value)?),
            Schema::TimestampMillis => Value::TimestampMillis(int(&value)?),
            Schema::TimestampMicros => Value::TimestampMicros(int(&value)?),
            Schema::TimestampNanos => Value::TimestampNanos(int(&value)?),
            Schema::LocalTimestampMillis => Value::LocalTimestampMillis(int(&value)?),
            Schema::LocalTimestampMicros => Value::LocalTimestampMicros(int(&value)?),
            Schema::LocalTimestampNanos => Value::LocalTimestampNanos(int(&value)?),
            Schema::Union(u) => {
                let variants = u.variants();
                if value.is_unit() {
                    return variants
                        .iter()
                        .position(|v| matches!(self.resolve(v), Schema::Null))
                        .map(|i| Value::Union(u32::try_from(i).unwrap_or(0), Box::new(Value::Null)))
                        .ok_or_else(|| {
                            mismatch(Some("the union has no null branch".into()), &value)
                        });
                }
                for (i, variant) in variants.iter().enumerate() {
                    if matches!(self.resolve(variant), Schema::Null) {
                        continue;
                    }
                    if let Ok(v) = self.coerce_at(variant, value.clone(), depth + 1) {
                        return Ok(Value::Union(u32::try_from(i).unwrap_or(0), Box::new(v)));
                    }
                }
                return Err(mismatch(None, &value));
            }
            Schema::Array(a) if value.is_array() => {
                let items = value.cast::<rhai::Array>();
                Value::Array(
                    items
                        .into_iter()
                        .map(|item| self.coerce_at(&a.items, item, depth + 1))
                        .collect::<Result<_, _>>()?,
                )
            }
            Schema::Map(m) if value.is_map() => {
                let entries = value.cast::<Map>();
                Value::Map(
                    entries
                        .into_iter()
                        .map(|(k, v)| Ok((k.to_string(), self.coerce_at(&m.types, v, depth + 1)?)))
                        .collect::<Result<_, _>>()?,
                )
            }
            Schema::Record(r) if value.is_map() => {
                let mut entries = value.clone().cast::<Map>();
                let mut fields = Vec::with_capacity(r.fields.len());
                for field in &r.fields {
                    let Some(v) = entries.remove(field.name.as_str()) else {
                        let detail = format!("the map has no key `{}`", field.name);
                        return Err(mismatch(Some(detail), &value));
                    };
                    fields.push((
                        field.name.clone(),
                        self.coerce_at(&field.schema, v, depth + 1)?,
                    ));
                }
                Value::Record(fields)
            }
            Schema::Decimal(_) | Schema::BigDecimal | Schema::Duration(_) => {
                let detail = "overrides cannot produce decimals or durations yet".to_owned();
                return Err(mismatch(Some(detail), &value));
            }
            _ => return Err(mismatch(None, &value)),
        })
    }
}
