//! Loading `.avsc` files and looking up field paths in them.
//!
//! Validation needs just enough of the schema to check a scenario: that the
//! file parses, that the top level is a record (its name defaults the topic),
//! and that every override / key path (`address.city`) names a real field,
//! walking through nested records, named references and nullable unions.

use std::collections::HashMap;
use std::path::Path;

use apache_avro::Schema;

/// Why a schema file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AvscError {
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("`{path}` is not a valid Avro schema: {reason}")]
    Invalid { path: String, reason: String },
    #[error("`{path}` must have a record at the top level, found {found}")]
    NotARecord { path: String, found: String },
}

/// Reads and parses an `.avsc` file; `shown` is the path as the user wrote it.
pub fn load(path: &Path, shown: &str) -> Result<(Schema, String), AvscError> {
    let text = std::fs::read_to_string(path).map_err(|source| AvscError::Read {
        path: shown.to_string(),
        source,
    })?;
    let schema = Schema::parse_str(&text).map_err(|e| AvscError::Invalid {
        path: shown.to_string(),
        reason: e.to_string(),
    })?;
    let record_name = match &schema {
        Schema::Record(r) => r.name.fullname(None),
        other => {
            return Err(AvscError::NotARecord {
                path: shown.to_string(),
                found: type_name(other),
            });
        }
    };
    Ok((schema, record_name))
}

/// Result of looking a dotted field path up.
#[derive(Debug, PartialEq)]
pub enum FieldLookup {
    /// Found; the Avro type of the field, for display.
    Found(String),
    /// Segment `missing` is not a field of the record reached so far.
    Missing {
        missing: String,
        available: Vec<String>,
    },
    /// A segment before the last is not a record.
    NotARecord { segment: String, found: String },
}

/// Looks up `path` (`["address", "city"]`) in a record schema.
pub fn lookup_field(schema: &Schema, path: &[String]) -> FieldLookup {
    let mut names = HashMap::new();
    collect_named(schema, &mut names);
    let mut current = schema;
    for (i, segment) in path.iter().enumerate() {
        let Some(record) = as_record(current, &names) else {
            return FieldLookup::NotARecord {
                segment: path[..i].join("."),
                found: type_name(current),
            };
        };
        match record.fields.iter().find(|f| &f.name == segment) {
            Some(field) => current = &field.schema,
            None => {
                return FieldLookup::Missing {
                    missing: segment.clone(),
                    available: record.fields.iter().map(|f| f.name.clone()).collect(),
                };
            }
        }
    }
    FieldLookup::Found(type_name(current))
}

fn as_record<'a>(
    schema: &'a Schema,
    names: &HashMap<String, &'a Schema>,
) -> Option<&'a apache_avro::schema::RecordSchema> {
    match schema {
        Schema::Record(r) => Some(r),
        Schema::Ref { name } => names
            .get(&name.fullname(None))
            .and_then(|s| as_record(s, names)),
        // A nullable record (`["null", Rec]`) is walked into.
        Schema::Union(u) => u.variants().iter().find_map(|v| as_record(v, names)),
        _ => None,
    }
}

fn collect_named<'a>(schema: &'a Schema, names: &mut HashMap<String, &'a Schema>) {
    match schema {
        Schema::Record(r) => {
            names.insert(r.name.fullname(None), schema);
            for f in &r.fields {
                collect_named(&f.schema, names);
            }
        }
        Schema::Array(a) => collect_named(&a.items, names),
        Schema::Map(m) => collect_named(&m.types, names),
        Schema::Union(u) => u.variants().iter().for_each(|v| collect_named(v, names)),
        _ => {}
    }
}

/// Short type description: `string`, `record pokemon.Card`, `union[null,string]`.
pub fn type_name(schema: &Schema) -> String {
    match schema {
        Schema::Null => "null".into(),
        Schema::Boolean => "boolean".into(),
        Schema::Int => "int".into(),
        Schema::Long => "long".into(),
        Schema::Float => "float".into(),
        Schema::Double => "double".into(),
        Schema::Bytes => "bytes".into(),
        Schema::String => "string".into(),
        Schema::Array(a) => format!("array<{}>", type_name(&a.items)),
        Schema::Map(m) => format!("map<{}>", type_name(&m.types)),
        Schema::Union(u) => format!(
            "union[{}]",
            u.variants()
                .iter()
                .map(type_name)
                .collect::<Vec<_>>()
                .join(",")
        ),
        Schema::Record(r) => format!("record {}", r.name.fullname(None)),
        Schema::Enum(e) => format!("enum {}", e.name.fullname(None)),
        Schema::Fixed(f) => format!("fixed {}", f.name.fullname(None)),
        Schema::Decimal(d) => format!("decimal({},{})", d.precision, d.scale),
        Schema::BigDecimal => "big-decimal".into(),
        Schema::Uuid(_) => "uuid".into(),
        Schema::Date => "date".into(),
        Schema::TimeMillis => "time-millis".into(),
        Schema::TimeMicros => "time-micros".into(),
        Schema::TimestampMillis => "timestamp-millis".into(),
        Schema::TimestampMicros => "timestamp-micros".into(),
        Schema::TimestampNanos => "timestamp-nanos".into(),
        Schema::LocalTimestampMillis => "local-timestamp-millis".into(),
        Schema::LocalTimestampMicros => "local-timestamp-micros".into(),
        Schema::LocalTimestampNanos => "local-timestamp-nanos".into(),
        Schema::Duration(_) => "duration".into(),
        Schema::Ref { name } => name.fullname(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        Schema::parse_str(
            r#"{"type":"record","name":"Card","namespace":"t","fields":[
                {"name":"id","type":"string"},
                {"name":"address","type":["null",{"type":"record","name":"Addr","fields":[{"name":"city","type":"string"}]}]},
                {"name":"prev","type":["null","Addr"]}]}"#,
        )
        .unwrap()
    }

    fn p(s: &str) -> Vec<String> {
        s.split('.').map(String::from).collect()
    }

    #[test]
    fn walks_nested_nullable_and_named_records() {
        let s = schema();
        assert_eq!(
            lookup_field(&s, &p("id")),
            FieldLookup::Found("string".into())
        );
        assert_eq!(
            lookup_field(&s, &p("address.city")),
            FieldLookup::Found("string".into())
        );
        assert_eq!(
            lookup_field(&s, &p("prev.city")),
            FieldLookup::Found("string".into())
        );
        assert!(
            matches!(lookup_field(&s, &p("address.zip")), FieldLookup::Missing { missing, .. } if missing == "zip")
        );
        assert!(
            matches!(lookup_field(&s, &p("id.x")), FieldLookup::NotARecord { segment, .. } if segment == "id")
        );
    }
}
