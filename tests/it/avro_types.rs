//! Schema-driven generation against one fixture per Avro type and logical type.
//!
//! - `snapshots`: one `insta::glob!` over `fixtures/avro/*.avsc`; the first 3 records of
//!   seed 42 rendered as readable JSON (timestamps as ISO-8601, bytes as hex, unions as
//!   `{"#branch": value}`), pinning the generated data.
//! - `fixtures_validate_and_round_trip`: 1,000 records per fixture validate, survive
//!   apache-avro encode → decode unchanged, and our deterministic encoder agrees with
//!   apache-avro byte for byte wherever apache-avro itself is deterministic (no map with
//!   two or more entries).
//! - determinism (proptest), schema errors, paths, defaults, depth and value ranges.

use apache_avro::Schema;
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::schema::ResolvedSchema;
use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;
use mbscenario::datagen::{AvroGenerator, GenConfig, GenError, StreamSeed};
use proptest::prelude::*;
use serde_json::{Map, Value as Json, json};
use std::path::{Path, PathBuf};

const FIXTURES: &str = "tests/fixtures/avro";
const RECORDS_PER_FIXTURE: u64 = 1_000;

fn load(path: &Path) -> Schema {
    let text = std::fs::read_to_string(path).expect("fixture is readable");
    Schema::parse_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn fixture_paths() -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(FIXTURES)
        .expect("fixture dir exists")
        .map(|entry| entry.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "avsc"))
        .collect();
    paths.sort();
    paths
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .expect("file name")
        .to_string_lossy()
        .into_owned()
}

fn record(generator: &AvroGenerator, seed: &StreamSeed, n: u64) -> Value {
    generator.generate(&mut seed.record_rng(n))
}

#[test]
fn snapshots() {
    insta::glob!("../fixtures/avro", "*.avsc", |path| {
        let schema = load(path);
        let generator = AvroGenerator::new(&schema, GenConfig::default()).expect("generator");
        let seed = StreamSeed::new(42, &stem(path));
        let records: Vec<Json> = (0..3)
            .map(|n| {
                json!({
                    "n": n,
                    "event_id": seed.event_id(n).to_string(),
                    "value": render(&record(&generator, &seed, n)),
                })
            })
            .collect();
        let text = serde_json::to_string_pretty(&records).expect("json");
        insta::assert_snapshot!(text);
    });
}

#[test]
fn fixtures_validate_and_round_trip() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for path in fixture_paths() {
        let name = stem(&path);
        let schema = load(&path);
        let generator = AvroGenerator::new(&schema, GenConfig::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let resolved = ResolvedSchema::try_from(&schema).expect("apache-avro resolves names");
        let writer = GenericDatumWriter::builder(&schema)
            .build()
            .expect("writer");
        let reader = GenericDatumReader::builder(&schema)
            .build()
            .expect("reader");
        let seed = StreamSeed::new(7, &name);
        for n in 0..RECORDS_PER_FIXTURE {
            let value = record(&generator, &seed, n);
            let fail = |what: String| format!("{name} record {n}: {what}\n  value: {value:?}");
            if !value.validate_with_names(&schema, resolved.get_names()) {
                failures.push(fail("does not validate".into()));
                continue;
            }
            let mut theirs = Vec::new();
            if let Err(e) = writer.write_value_ref(&mut theirs, &value) {
                failures.push(fail(format!("apache-avro cannot encode it: {e}")));
                continue;
            }
            match reader.read_value(&mut theirs.as_slice()) {
                Ok(decoded) if decoded == value => {}
                Ok(decoded) => failures.push(fail(format!("decodes differently: {decoded:?}"))),
                Err(e) => failures.push(fail(format!("cannot decode: {e}"))),
            }
            let ours = match generator.encode(&value) {
                Ok(bytes) => bytes,
                Err(e) => {
                    failures.push(fail(format!("our encoder fails: {e}")));
                    continue;
                }
            };
            match reader.read_value(&mut ours.as_slice()) {
                // Re-encoding the decoded value (fresh HashMaps, new iteration order) must
                // give the same bytes: that is the point of our encoder.
                Ok(decoded) if decoded == value => {
                    if generator.encode(&decoded).ok().as_ref() != Some(&ours) {
                        failures.push(fail("re-encoding the decoded value changes bytes".into()));
                    }
                }
                Ok(decoded) => failures.push(fail(format!("ours decodes as {decoded:?}"))),
                Err(e) => failures.push(fail(format!("ours cannot be decoded: {e}"))),
            }
            if !has_multi_entry_map(&value) && ours != theirs {
                failures.push(fail(format!(
                    "bytes differ: ours {ours:02x?} theirs {theirs:02x?}"
                )));
            }
            checked += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures[..failures.len().min(10)].join("\n")
    );
    assert!(
        checked >= 28 * RECORDS_PER_FIXTURE as usize,
        "only {checked} records checked"
    );
}

/// apache-avro writes `HashMap` entries in iteration order, which is random per map.
fn has_multi_entry_map(value: &Value) -> bool {
    match value {
        Value::Map(map) => map.len() > 1 || map.values().any(has_multi_entry_map),
        Value::Array(items) => items.iter().any(has_multi_entry_map),
        Value::Record(fields) => fields.iter().any(|(_, v)| has_multi_entry_map(v)),
        Value::Union(_, inner) => has_multi_entry_map(inner),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------
// Determinism: the same (seed, stream, n) gives the same bytes in any order, on any thread.

fn pokemon() -> AvroGenerator {
    let schema = load(Path::new("tests/fixtures/avro/pokemon.avsc"));
    AvroGenerator::new(&schema, GenConfig::default()).expect("pokemon generator")
}

fn bytes_of(generator: &AvroGenerator, seed: &StreamSeed, n: u64) -> Vec<u8> {
    generator
        .encode(&record(generator, seed, n))
        .expect("encodes")
}

fn bytes_on_threads(
    generator: &AvroGenerator,
    seed: &StreamSeed,
    ns: &[u64],
    threads: usize,
) -> Vec<(u64, Vec<u8>)> {
    let chunk = ns.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = ns
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    // Each worker uses its own copy of the seed, as the engine will.
                    let seed = seed.clone();
                    part.iter()
                        .map(|&n| (n, bytes_of(generator, &seed, n)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker thread"))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn same_triple_same_bytes_in_any_order_and_thread(
        seed in any::<u64>(),
        stream in "[a-z][a-z0-9_-]{0,15}",
        ns in proptest::collection::vec(0u64..1_000_000, 1..48),
    ) {
        let generator = pokemon();
        let stream_seed = StreamSeed::new(seed, &stream);
        let in_order: Vec<(u64, Vec<u8>)> =
            ns.iter().map(|&n| (n, bytes_of(&generator, &stream_seed, n))).collect();

        let mut reversed: Vec<(u64, Vec<u8>)> =
            ns.iter().rev().map(|&n| (n, bytes_of(&generator, &stream_seed, n))).collect();
        reversed.reverse();
        prop_assert_eq!(&reversed, &in_order);

        for threads in [1, 4, 16] {
            let split = bytes_on_threads(&generator, &stream_seed, &ns, threads);
            prop_assert_eq!(&split, &in_order, "threads = {}", threads);
        }

        // A fresh generator and seed (as another process would build) agree too.
        let again = pokemon();
        let seed_again = StreamSeed::new(seed, &stream);
        for (n, bytes) in &in_order {
            prop_assert_eq!(&bytes_of(&again, &seed_again, *n), bytes);
        }
    }
}

#[test]
fn event_ids_do_not_depend_on_the_schema_or_data_draws() {
    let seed = StreamSeed::new(42, "orders");
    let before: Vec<_> = (0..100).map(|n| seed.event_id(n)).collect();
    // Generating records (which draws from the data RNG) does not move ids.
    let generator = pokemon();
    for n in 0..100 {
        let _ = record(&generator, &seed, n);
    }
    let after: Vec<_> = (0..100)
        .map(|n| StreamSeed::new(42, "orders").event_id(n))
        .collect();
    assert_eq!(before, after);
    assert!(before.iter().all(|id| id.get_version_num() == 8));
}

// ---------------------------------------------------------------------------------------
// Schemas that cannot be generated give a GenError, never a panic.

fn gen_error(schema_json: &str) -> GenError {
    let schema = Schema::parse_str(schema_json).expect("apache-avro accepts the schema");
    AvroGenerator::new(&schema, GenConfig::default()).expect_err("generator must refuse it")
}

#[test]
fn self_recursion_without_exit_is_an_error() {
    let err =
        gen_error(r#"{"type":"record","name":"Loop","fields":[{"name":"next","type":"Loop"}]}"#);
    assert!(
        matches!(&err, GenError::UnboundedRecursion { name } if name == "Loop"),
        "{err}"
    );
    assert!(err.to_string().contains("union with \"null\""), "{err}");
}

#[test]
fn mutual_recursion_without_exit_is_an_error() {
    let err = gen_error(
        r#"{"type":"record","name":"A","namespace":"ns","fields":[
            {"name":"b","type":{"type":"record","name":"B","fields":[
                {"name":"a","type":["A","B"]}]}}]}"#,
    );
    assert!(
        matches!(&err, GenError::UnboundedRecursion { name } if name.starts_with("ns.")),
        "{err}"
    );
}

#[test]
fn recursion_through_a_default_terminates_with_use_defaults() {
    // `next` has a default, so with use_defaults the field costs nothing and the type ends;
    // without it, the generator has no way out.
    let text = r#"{"type":"record","name":"Chain","fields":[
        {"name":"v","type":"int"},
        {"name":"next","type":["null","Chain"]}]}"#;
    let schema = Schema::parse_str(text).expect("schema");
    let config = GenConfig {
        use_defaults: true,
        ..GenConfig::default()
    };
    assert!(AvroGenerator::new(&schema, config).is_ok());
}

#[test]
fn decimal_wider_than_its_fixed_is_an_error() {
    let err = gen_error(
        r#"{"type":"record","name":"R","fields":[{"name":"d","type":
            {"type":"fixed","name":"Small","size":2,"logicalType":"decimal","precision":10,"scale":2}}]}"#,
    );
    assert!(
        matches!(err, GenError::DecimalTooWide { precision: 10, .. }),
        "{err}"
    );
}

#[test]
fn empty_enum_and_union_are_errors() {
    use apache_avro::schema::{EnumSchema, Name, UnionSchema};
    let empty_enum = Schema::Enum(
        EnumSchema::builder()
            .name(Name::new("Nothing").expect("name"))
            .symbols(vec![])
            .build(),
    );
    let err = AvroGenerator::new(&empty_enum, GenConfig::default()).expect_err("empty enum");
    assert!(matches!(err, GenError::EmptyEnum { .. }), "{err}");

    let empty_union = Schema::Union(UnionSchema::new(vec![]).expect("apache-avro allows it"));
    let err = AvroGenerator::new(&empty_union, GenConfig::default()).expect_err("empty union");
    assert!(matches!(err, GenError::EmptyUnion { .. }), "{err}");
}

#[test]
fn unknown_reference_is_an_error() {
    use apache_avro::schema::Name;
    // apache-avro's parser rejects unknown names, but a programmatic schema can hold one.
    let schema = Schema::array(Schema::Ref {
        name: Name::new("Missing").expect("name"),
    })
    .build();
    let err = AvroGenerator::new(&schema, GenConfig::default()).expect_err("unknown ref");
    assert!(
        matches!(&err, GenError::UnknownType { name, .. } if name == "Missing"),
        "{err}"
    );
}

#[test]
fn bad_config_is_an_error() {
    let schema = Schema::String;
    let cases = [
        GenConfig {
            null_ratio: 1.5,
            ..GenConfig::default()
        },
        GenConfig {
            null_ratio: f64::NAN,
            ..GenConfig::default()
        },
        GenConfig {
            array_len: (5, 2),
            ..GenConfig::default()
        },
        GenConfig {
            string_len: (0, 1_000_000),
            ..GenConfig::default()
        },
        GenConfig {
            max_depth: 1_000,
            ..GenConfig::default()
        },
    ];
    for config in cases {
        let err = AvroGenerator::new(&schema, config.clone()).expect_err("bad config");
        assert!(
            matches!(err, GenError::InvalidConfig { .. }),
            "{config:?}: {err}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Paths for expression overrides.

const NESTED: &str = r#"{
  "type": "record", "name": "User", "namespace": "app",
  "fields": [
    {"name": "name", "type": "string"},
    {"name": "address", "type": ["null", {"type": "record", "name": "Address", "fields": [
      {"name": "city", "type": "string"},
      {"name": "geo", "type": {"type": "record", "name": "Geo", "fields": [
        {"name": "lat", "type": "double"}]}}]}]},
    {"name": "billing", "type": "Address"},
    {"name": "tags", "type": {"type": "array", "items": "string"}}
  ]
}"#;

#[test]
fn field_schema_walks_records_unions_and_references() {
    let schema = Schema::parse_str(NESTED).expect("schema");
    let generator = AvroGenerator::new(&schema, GenConfig::default()).expect("generator");
    assert!(matches!(
        generator.field_schema(&[]),
        Some(Schema::Record(_))
    ));
    assert!(matches!(
        generator.field_schema(&["name"]),
        Some(Schema::String)
    ));
    assert!(matches!(
        generator.field_schema(&["address"]),
        Some(Schema::Union(_))
    ));
    assert!(matches!(
        generator.field_schema(&["address", "city"]),
        Some(Schema::String)
    ));
    assert!(matches!(
        generator.field_schema(&["address", "geo", "lat"]),
        Some(Schema::Double)
    ));
    // `billing` is a named reference: the answer is the definition, not a Ref.
    assert!(
        matches!(generator.field_schema(&["billing"]), Some(Schema::Record(r)) if r.name.fullname(None) == "app.Address")
    );
    assert!(matches!(
        generator.field_schema(&["billing", "city"]),
        Some(Schema::String)
    ));
    assert!(matches!(
        generator.field_schema(&["tags"]),
        Some(Schema::Array(_))
    ));
    assert!(generator.field_schema(&["address", "zip"]).is_none());
    assert!(generator.field_schema(&["name", "first"]).is_none());
    assert!(generator.field_schema(&["tags", "x"]).is_none());
}

#[test]
fn generate_at_builds_a_valid_value_for_the_field() {
    let schema = Schema::parse_str(NESTED).expect("schema");
    let generator = AvroGenerator::new(&schema, GenConfig::default()).expect("generator");
    let mut rng = StreamSeed::new(1, "paths").record_rng(0);
    let city = generator
        .generate_at(&["address", "city"], &mut rng)
        .expect("path exists");
    assert!(matches!(city, Value::String(_)));
    let geo = generator
        .generate_at(&["billing", "geo"], &mut rng)
        .expect("path exists");
    let geo_schema = generator.field_schema(&["billing", "geo"]).expect("schema");
    assert!(geo.validate(geo_schema));
    assert!(generator.generate_at(&["nope"], &mut rng).is_none());
}

// ---------------------------------------------------------------------------------------
// Config semantics.

#[test]
fn use_defaults_fills_fields_with_defaults() {
    let text = r#"{"type":"record","name":"D","fields":[
        {"name":"plain","type":"int"},
        {"name":"count","type":"int","default":7},
        {"name":"label","type":"string","default":"none"},
        {"name":"maybe","type":["null","string"],"default":null},
        {"name":"color","type":{"type":"enum","name":"Color","symbols":["RED","GREEN"]},"default":"GREEN"},
        {"name":"raw","type":"bytes","default":"\u00ff\u0001"},
        {"name":"when","type":{"type":"long","logicalType":"timestamp-millis"},"default":0},
        {"name":"nested","type":{"type":"record","name":"N","fields":[
            {"name":"a","type":"int"},{"name":"b","type":"string","default":"bee"}]},
         "default":{"a":1}}
    ]}"#;
    let schema = Schema::parse_str(text).expect("schema");
    let generator = AvroGenerator::new(
        &schema,
        GenConfig {
            use_defaults: true,
            ..GenConfig::default()
        },
    )
    .expect("generator");
    let value = generator.generate(&mut StreamSeed::new(1, "d").record_rng(0));
    let Value::Record(fields) = &value else {
        panic!("not a record: {value:?}")
    };
    let get = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    assert!(matches!(get("plain"), Some(Value::Int(_))));
    assert_eq!(get("count"), Some(Value::Int(7)));
    assert_eq!(get("label"), Some(Value::String("none".into())));
    assert_eq!(get("maybe"), Some(Value::Union(0, Box::new(Value::Null))));
    assert_eq!(get("color"), Some(Value::Enum(1, "GREEN".into())));
    assert_eq!(get("raw"), Some(Value::Bytes(vec![0xff, 0x01])));
    assert_eq!(get("when"), Some(Value::TimestampMillis(0)));
    assert_eq!(
        get("nested"),
        Some(Value::Record(vec![
            ("a".into(), Value::Int(1)),
            ("b".into(), Value::String("bee".into()))
        ]))
    );
    assert!(value.validate(&schema));

    // Without use_defaults the same fields are random.
    let random = AvroGenerator::new(&schema, GenConfig::default()).expect("generator");
    let values: Vec<Value> = (0..20)
        .map(|n| random.generate(&mut StreamSeed::new(1, "d").record_rng(n)))
        .collect();
    assert!(
        values
            .iter()
            .any(|v| matches!(v, Value::Record(f) if f[1].1 != Value::Int(7)))
    );
}

#[test]
fn recursion_is_bounded_by_max_depth() {
    let schema = load(Path::new("tests/fixtures/avro/recursive_list.avsc"));
    for max_depth in [0, 1, 4, 10] {
        let config = GenConfig {
            max_depth,
            null_ratio: 0.0,
            ..GenConfig::default()
        };
        let generator = AvroGenerator::new(&schema, config).expect("generator");
        for n in 0..50 {
            let value = generator.generate(&mut StreamSeed::new(5, "list").record_rng(n));
            // null_ratio 0 means "always continue" until the depth limit forces null:
            // the root is at level 0, each node one level deeper.
            assert_eq!(list_len(&value), max_depth.max(1), "max_depth {max_depth}");
        }
    }
}

fn list_len(value: &Value) -> usize {
    match value {
        Value::Record(fields) => 1 + fields.iter().map(|(_, v)| list_len(v)).sum::<usize>(),
        Value::Union(_, inner) => list_len(inner),
        _ => 0,
    }
}

#[test]
fn null_ratio_and_lengths_are_honoured() {
    let text = r#"{"type":"record","name":"R","fields":[
        {"name":"o","type":["null","int"]},
        {"name":"s","type":"string"},
        {"name":"a","type":{"type":"array","items":"int"}}]}"#;
    let schema = Schema::parse_str(text).expect("schema");
    let config = GenConfig {
        null_ratio: 0.5,
        string_len: (3, 3),
        array_len: (2, 2),
        ..GenConfig::default()
    };
    let generator = AvroGenerator::new(&schema, config).expect("generator");
    let seed = StreamSeed::new(9, "ratios");
    let mut nulls = 0;
    for n in 0..2_000 {
        let Value::Record(fields) = record(&generator, &seed, n) else {
            panic!("record")
        };
        if fields[0].1 == Value::Union(0, Box::new(Value::Null)) {
            nulls += 1;
        }
        assert!(matches!(&fields[1].1, Value::String(s) if s.len() == 3));
        assert!(matches!(&fields[2].1, Value::Array(a) if a.len() == 2));
    }
    assert!(
        (850..1150).contains(&nulls),
        "{nulls} nulls of 2000 at ratio 0.5"
    );
}

#[test]
fn logical_values_are_in_realistic_ranges() {
    // 2025-01-01 .. 2027-01-01 (base 2026-01-01 ± 365 days).
    const LO_DAY: i64 = 20_089;
    const HI_DAY: i64 = 20_819;
    let day = |units: i64, per_day: i64| units.div_euclid(per_day);
    for path in fixture_paths() {
        let schema = load(&path);
        let generator = AvroGenerator::new(&schema, GenConfig::default()).expect("generator");
        let seed = StreamSeed::new(3, "ranges");
        for n in 0..300 {
            visit(&record(&generator, &seed, n), &mut |v| {
                let in_range = match v {
                    Value::Date(d) => (LO_DAY..=HI_DAY).contains(&i64::from(*d)),
                    Value::TimestampMillis(t) | Value::LocalTimestampMillis(t) => {
                        (LO_DAY..=HI_DAY).contains(&day(*t, 86_400_000))
                    }
                    Value::TimestampMicros(t) | Value::LocalTimestampMicros(t) => {
                        (LO_DAY..=HI_DAY).contains(&day(*t, 86_400_000_000))
                    }
                    Value::TimestampNanos(t) | Value::LocalTimestampNanos(t) => {
                        (LO_DAY..=HI_DAY).contains(&day(*t, 86_400_000_000_000))
                    }
                    Value::TimeMillis(t) => (0..86_400_000).contains(t),
                    Value::TimeMicros(t) => (0..86_400_000_000).contains(t),
                    Value::String(s) => s
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
                    Value::Duration(d) => {
                        u32::from(d.months()) < 12
                            && u32::from(d.days()) < 31
                            && u32::from(d.millis()) < 86_400_000
                    }
                    _ => true,
                };
                assert!(in_range, "{}: {v:?}", stem(&path));
            });
        }
    }
}

#[test]
fn decimals_honour_precision_and_scale() {
    // (field, precision, scale, fixed size) as declared in the fixtures.
    let expectations: [(&str, &str, u32, u32, Option<usize>); 8] = [
        ("decimal_bytes", "price", 10, 2, None),
        ("decimal_bytes", "fraction", 4, 4, None),
        ("decimal_bytes", "whole", 3, 0, None),
        ("decimal_bytes", "wide", 76, 38, None),
        ("decimal_fixed", "amount", 18, 4, Some(8)),
        ("decimal_fixed", "wide", 38, 10, Some(16)),
        ("decimal_fixed", "byte", 2, 1, Some(1)),
        ("decimal_fixed", "roomy", 5, 2, Some(12)),
    ];
    for (fixture, field, precision, scale, fixed) in expectations {
        let schema = load(&Path::new(FIXTURES).join(format!("{fixture}.avsc")));
        let generator = AvroGenerator::new(&schema, GenConfig::default()).expect("generator");
        let seed = StreamSeed::new(11, fixture);
        let mut negatives = 0;
        let mut widest = 0;
        for n in 0..1_000 {
            let Value::Record(fields) = record(&generator, &seed, n) else {
                panic!("record")
            };
            let Some((_, Value::Decimal(d))) = fields.iter().find(|(name, _)| name == field) else {
                panic!("{fixture}.{field} is not a decimal")
            };
            let bytes = <Vec<u8>>::try_from(d).expect("decimal bytes");
            if let Some(size) = fixed {
                assert_eq!(
                    bytes.len(),
                    size,
                    "{fixture}.{field}: fixed values are sign-extended"
                );
            }
            let unscaled = num_bigint::BigInt::from_signed_bytes_be(&bytes);
            let digits = unscaled.magnitude().to_string().len() as u32;
            assert!(
                digits <= precision,
                "{fixture}.{field}: {unscaled} exceeds precision {precision}"
            );
            // At most 6 digits before the point (realistic amounts), never more than allowed.
            assert!(
                digits.saturating_sub(scale) <= 6,
                "{fixture}.{field}: {unscaled}"
            );
            widest = widest.max(digits);
            if unscaled.sign() == num_bigint::Sign::Minus {
                negatives += 1;
            }
        }
        assert!(
            widest == precision.min(scale + 6),
            "{fixture}.{field}: widest {widest}"
        );
        assert!(
            (40..170).contains(&negatives),
            "{fixture}.{field}: {negatives} negatives of 1000"
        );
    }
}

fn visit(value: &Value, f: &mut impl FnMut(&Value)) {
    f(value);
    match value {
        Value::Array(items) => items.iter().for_each(|v| visit(v, f)),
        Value::Map(map) => map.values().for_each(|v| visit(v, f)),
        Value::Record(fields) => fields.iter().for_each(|(_, v)| visit(v, f)),
        Value::Union(_, inner) => visit(inner, f),
        _ => {}
    }
}

/// Quick throughput figure: `cargo test --release --test avro_types -- --ignored --nocapture`.
#[test]
#[ignore = "measurement, not a check"]
fn throughput_pokemon() {
    let generator = pokemon();
    let seed = StreamSeed::new(42, "pokemon");
    let count = 200_000u64;
    let start = std::time::Instant::now();
    let mut bytes = 0usize;
    let mut buffer = Vec::with_capacity(512);
    for n in 0..count {
        let value = record(&generator, &seed, n);
        buffer.clear();
        generator.encode_into(&value, &mut buffer).expect("encodes");
        bytes += buffer.len();
    }
    let encoded = start.elapsed();
    let start = std::time::Instant::now();
    for n in 0..count {
        std::hint::black_box(record(&generator, &seed, n));
    }
    let generated = start.elapsed();
    println!(
        "pokemon: generate {:.0} records/s; generate+encode {:.0} records/s ({} bytes/record avg)",
        count as f64 / generated.as_secs_f64(),
        count as f64 / encoded.as_secs_f64(),
        bytes / count as usize
    );
}

// ---------------------------------------------------------------------------------------
// Snapshot rendering: readable and stable (maps sorted, no HashMap order leaks).

fn render(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Boolean(b) => json!(b),
        Value::Int(n) => json!(n),
        Value::Long(n) => json!(n),
        // Shortest round-trip text of the f32, not its widened f64 expansion.
        Value::Float(x) => json!(x.to_string().parse::<f64>().unwrap_or(f64::NAN)),
        Value::Double(x) => json!(x),
        Value::Bytes(b) => json!(format!("0x{}", hex(b))),
        Value::Fixed(_, b) => json!(format!("0x{}", hex(b))),
        Value::String(s) => json!(s),
        Value::Enum(_, s) => json!(s),
        Value::Union(_, inner) if **inner == Value::Null => Json::Null,
        Value::Union(i, inner) => json!({ format!("#{i}"): render(inner) }),
        Value::Array(items) => Json::Array(items.iter().map(render).collect()),
        Value::Map(map) => {
            // Avro maps are HashMaps: sort keys so snapshots are stable.
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Json::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), render(v)))
                    .collect::<Map<_, _>>(),
            )
        }
        Value::Record(fields) => {
            Json::Object(fields.iter().map(|(k, v)| (k.clone(), render(v))).collect())
        }
        Value::Date(d) => json!(civil_date(i64::from(*d))),
        Value::Decimal(d) => {
            let bytes = <Vec<u8>>::try_from(d).unwrap_or_default();
            json!(format!(
                "decimal unscaled={} ({} bytes)",
                num_bigint::BigInt::from_signed_bytes_be(&bytes),
                bytes.len()
            ))
        }
        Value::BigDecimal(d) => json!(format!("big-decimal {d}")),
        Value::TimeMillis(t) => json!(time_of_day(i64::from(*t), 1_000)),
        Value::TimeMicros(t) => json!(time_of_day(*t, 1_000_000)),
        Value::TimestampMillis(t) => json!(format!("{}Z", instant(*t, 1_000))),
        Value::TimestampMicros(t) => json!(format!("{}Z", instant(*t, 1_000_000))),
        Value::TimestampNanos(t) => json!(format!("{}Z", instant(*t, 1_000_000_000))),
        Value::LocalTimestampMillis(t) => json!(instant(*t, 1_000)),
        Value::LocalTimestampMicros(t) => json!(instant(*t, 1_000_000)),
        Value::LocalTimestampNanos(t) => json!(instant(*t, 1_000_000_000)),
        Value::Duration(d) => json!({
            "months": u32::from(d.months()),
            "days": u32::from(d.days()),
            "millis": u32::from(d.millis()),
        }),
        Value::Uuid(u) => json!(u.to_string()),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Days since 1970-01-01 → `YYYY-MM-DD` (Howard Hinnant's `civil_from_days`).
fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn time_of_day(units: i64, per_second: i64) -> String {
    let seconds = units.div_euclid(per_second);
    let fraction = units.rem_euclid(per_second);
    let width = per_second.ilog10() as usize;
    format!(
        "{:02}:{:02}:{:02}.{fraction:0width$}",
        seconds / 3_600,
        seconds / 60 % 60,
        seconds % 60
    )
}

fn instant(units: i64, per_second: i64) -> String {
    let per_day = 86_400 * per_second;
    format!(
        "{}T{}",
        civil_date(units.div_euclid(per_day)),
        time_of_day(units.rem_euclid(per_day), per_second)
    )
}

#[test]
fn rendering_helpers_are_right() {
    assert_eq!(civil_date(0), "1970-01-01");
    assert_eq!(civil_date(20_454), "2026-01-01");
    assert_eq!(civil_date(-1), "1969-12-31");
    assert_eq!(instant(1_767_225_600_123, 1_000), "2026-01-01T00:00:00.123");
    assert_eq!(time_of_day(86_399_999_999, 1_000_000), "23:59:59.999999");
}

#[test]
fn encode_errors_name_the_offending_path() {
    let generator = pokemon();
    let mut value = record(&generator, &StreamSeed::new(1, "err"), 0);
    let Value::Record(fields) = &mut value else {
        panic!("record")
    };
    let moves = fields
        .iter_mut()
        .find(|(n, _)| n == "moves")
        .expect("moves");
    moves.1 = Value::Array(vec![Value::Record(vec![
        ("name".into(), Value::Int(3)),
        ("type".into(), Value::Enum(0, "NORMAL".into())),
        ("power".into(), Value::Union(0, Box::new(Value::Null))),
        ("accuracy".into(), Value::Null),
    ])]);
    let err = generator.encode(&value).expect_err("int is not a string");
    assert_eq!(err.path, ".moves[0].name", "{err}");
    assert!(
        err.to_string().contains("an int does not fit string"),
        "{err}"
    );

    let err = generator
        .encode(&Value::Null)
        .expect_err("null is not a record");
    assert_eq!(err.path, "<root>");
}
