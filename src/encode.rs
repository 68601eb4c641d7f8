//! Record → bytes on the wire.
//!
//! Kafka payloads use the Confluent wire format: a zero magic byte, the
//! schema id as a 4-byte big-endian integer, then the Avro binary datum.
//! Direct SQS bodies are the record as plain JSON (see `datagen/json.rs`).

use crate::datagen::{AvroGenerator, EncodeError};
use apache_avro::types::Value;

/// First byte of every Confluent-framed payload.
pub const MAGIC_BYTE: u8 = 0;

/// Appends the Confluent wire format of `value` to `out` (reuse `out` per worker).
pub fn confluent_into(
    generator: &AvroGenerator,
    schema_id: u32,
    value: &Value,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    confluent_header(schema_id, out);
    generator.encode_into(value, out)
}

/// Appends the Confluent frame's header (magic byte, schema id); the Avro
/// datum follows.
pub fn confluent_header(schema_id: u32, out: &mut Vec<u8>) {
    out.push(MAGIC_BYTE);
    out.extend_from_slice(&schema_id.to_be_bytes());
}

/// Splits a Confluent-framed payload into (schema id, datum); `None` if it is not one.
pub fn parse_confluent(payload: &[u8]) -> Option<(u32, &[u8])> {
    match payload {
        [MAGIC_BYTE, a, b, c, d, datum @ ..] => Some((u32::from_be_bytes([*a, *b, *c, *d]), datum)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_parses() {
        let schema = apache_avro::Schema::parse_str(
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#,
        )
        .unwrap();
        let g = AvroGenerator::new(&schema, Default::default()).unwrap();
        let v = Value::Record(vec![("a".into(), Value::Int(-1))]);
        let mut out = Vec::new();
        confluent_into(&g, 258, &v, &mut out).unwrap();
        assert_eq!(out, vec![0, 0, 0, 1, 2, 0x01]);
        assert_eq!(parse_confluent(&out), Some((258, &[0x01][..])));
        assert_eq!(parse_confluent(&[1, 0, 0, 0, 1]), None);
    }
}
