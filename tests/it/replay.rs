//! Replay sources: records read from CSV / JSON-lines files (`datagen::replay`).
//!
//! - the shipped `data/gpu_telemetry.{csv,jsonl}` and the fixtures
//!   `fixtures/replay/{order.csv,order.jsonl,sensor.jsonl}` load, and every record
//!   validates, encodes with `AvroGenerator::encode` (and apache-avro's writer) and
//!   decodes back equal;
//! - conversions land where expected (decimal scale, RFC 3339 → epoch, defaults, nulls);
//! - `OnEnd::Loop` vs `OnEnd::Stop`;
//! - `bad_files`: one `insta::glob!` over `fixtures/replay/bad/*`, each file failing with a
//!   located, readable error. The file name's prefix picks the schema: `gpu_*` →
//!   `schemas/gpu_telemetry.avsc`, `order_*` → `fixtures/replay/order.avsc`;
//! - arbitrary bytes never panic the loader (proptest);
//! - `schemas/sensor_data.avsc` drives the random generator (1,000 records validate).

use std::path::{Path, PathBuf};

use apache_avro::Schema;
use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::schema::ResolvedSchema;
use apache_avro::types::Value;
use apache_avro::writer::datum::GenericDatumWriter;
use mbscenario::datagen::replay::{MAX_PROBLEMS, OnEnd, ReplayError, ReplayFormat, ReplaySource};
use mbscenario::datagen::{AvroGenerator, GenConfig, StreamSeed};
use proptest::prelude::*;

const GPU_SCHEMA: &str = "schemas/gpu_telemetry.avsc";
const ORDER_SCHEMA: &str = "tests/fixtures/replay/order.avsc";
const SENSOR_SCHEMA: &str = "schemas/sensor_data.avsc";

fn schema(path: &str) -> Schema {
    let text = std::fs::read_to_string(path).expect("schema is readable");
    Schema::parse_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn load(file: &str, schema_path: &str) -> Result<ReplaySource, ReplayError> {
    let path = Path::new(file);
    let format = ReplayFormat::infer(path, file)?;
    ReplaySource::load(path, file, format, &schema(schema_path))
}

/// Every record validates, encodes with our encoder and apache-avro's, and decodes equal.
fn assert_round_trips(source: &ReplaySource, schema_path: &str) {
    let schema = schema(schema_path);
    let resolved = ResolvedSchema::try_from(&schema).expect("names resolve");
    let generator = AvroGenerator::new(&schema, GenConfig::default()).expect("generator");
    let writer = GenericDatumWriter::builder(&schema)
        .build()
        .expect("writer");
    let reader = GenericDatumReader::builder(&schema)
        .build()
        .expect("reader");
    for seq in 0..source.len() as u64 {
        let value = source.record(seq).expect("in range");
        assert!(
            value.validate_with_names(&schema, resolved.get_names()),
            "{schema_path} row {seq} does not validate: {value:?}"
        );
        let ours = generator
            .encode(&value)
            .unwrap_or_else(|e| panic!("row {seq}: {e}"));
        let decoded = reader
            .read_value(&mut ours.as_slice())
            .unwrap_or_else(|e| panic!("row {seq}: {e}"));
        assert_eq!(decoded, value, "row {seq} decodes differently");
        let mut theirs = Vec::new();
        writer
            .write_value_ref(&mut theirs, &value)
            .unwrap_or_else(|e| panic!("row {seq}: apache-avro cannot encode: {e}"));
        let decoded = reader.read_value(&mut theirs.as_slice()).expect("decodes");
        assert_eq!(decoded, value, "row {seq} (apache-avro bytes)");
    }
}

fn field<'v>(record: &'v Value, name: &str) -> &'v Value {
    match record {
        Value::Record(fields) => fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no field {name}")),
        other => panic!("not a record: {other:?}"),
    }
}

#[test]
fn shipped_gpu_telemetry_csv_round_trips() {
    let source = load("data/gpu_telemetry.csv", GPU_SCHEMA).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(source.len(), 200);
    assert_round_trips(&source, GPU_SCHEMA);

    // Row 1: epoch millis as written; row 5 (the first H100 row): RFC 3339 text.
    let first = source.record(0).expect("row");
    assert_eq!(
        field(&first, "timestamp"),
        &Value::TimestampMillis(1_772_366_400_555)
    );
    assert_eq!(field(&first, "pstate"), &Value::Enum(0, "P0".into()));
    let h100 = source.record(4).expect("row");
    assert_eq!(field(&h100, "host"), &Value::String("hgx-h100-02".into()));
    // 2026-03-01T12:00:00.xxxZ = 1_772_366_400_000 + xxx ms
    let Value::TimestampMillis(ms) = field(&h100, "timestamp") else {
        panic!("timestamp shape");
    };
    assert!((1_772_366_400_000..1_772_366_401_000).contains(ms), "{ms}");
    // Empty `ecc_errors` cells are the null branch of ["null","long"].
    let nulls = (0..200)
        .filter_map(|n| source.record(n))
        .filter(|r| field(r, "ecc_errors") == &Value::Union(0, Box::new(Value::Null)))
        .count();
    assert_eq!(nulls, 25, "one H100 GPU does not report ECC");
}

#[test]
fn shipped_gpu_telemetry_jsonl_round_trips() {
    let source = load("data/gpu_telemetry.jsonl", GPU_SCHEMA).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(source.len(), 24);
    assert_round_trips(&source, GPU_SCHEMA);
    // Line 3 has no `ecc_errors` key: the schema default (null) applies.
    let third = source.record(2).expect("row");
    assert_eq!(
        field(&third, "ecc_errors"),
        &Value::Union(0, Box::new(Value::Null))
    );
    // Line 2 gives its timestamp with a +01:00 offset: converted to UTC.
    let second = source.record(1).expect("row");
    assert_eq!(
        field(&second, "timestamp"),
        &Value::TimestampMillis(1_772_367_400_446)
    );
}

#[test]
fn order_fixtures_cover_every_coercion() {
    for file in [
        "tests/fixtures/replay/order.csv",
        "tests/fixtures/replay/order.jsonl",
    ] {
        let source = load(file, ORDER_SCHEMA).unwrap_or_else(|e| panic!("{e}"));
        assert_round_trips(&source, ORDER_SCHEMA);
        let first = source.record(0).expect("row");
        let unscaled = |v: &Value| match v {
            Value::Decimal(d) => num_bigint_from(d),
            Value::Union(_, inner) => match inner.as_ref() {
                Value::Decimal(d) => num_bigint_from(d),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        };
        assert_eq!(unscaled(field(&first, "amount")), 1999, "{file}");
        assert_eq!(unscaled(field(&first, "discount")), 50, "{file}");
        assert_eq!(
            field(&first, "placed_at"),
            &Value::TimestampMicros(1_772_356_530_123_456),
            "{file}"
        );
        assert_eq!(field(&first, "ship_date"), &Value::Date(20_515), "{file}");
        assert_eq!(
            field(&first, "pickup_time"),
            &Value::TimeMillis(49_507_250),
            "{file}"
        );
        assert_eq!(
            field(&first, "checksum"),
            &Value::Fixed(4, vec![0x0a, 0x1b, 0xff, 0x00]),
            "{file}"
        );
        let second = source.record(1).expect("row");
        assert_eq!(unscaled(field(&second, "amount")), -5, "{file}");
        assert_eq!(
            field(&second, "discount"),
            &Value::Union(0, Box::new(Value::Null)),
            "{file}"
        );
        assert_eq!(
            field(&second, "priority"),
            &Value::Int(0),
            "{file}: default"
        );
        assert_eq!(field(&second, "tags"), &Value::Array(vec![]), "{file}");
        // Row 1 and 2 are the same order written two ways.
        assert_eq!(
            field(&first, "placed_at"),
            field(&second, "placed_at"),
            "{file}"
        );
    }
    let csv = load("tests/fixtures/replay/order.csv", ORDER_SCHEMA).expect("loads");
    let third = csv.record(2).expect("row");
    // 2026-03-01T10:00:00+02:00 = 08:00Z
    assert_eq!(
        field(&third, "placed_at"),
        &Value::TimestampMicros(1_772_352_000_000_000)
    );
    assert_eq!(
        field(&third, "note"),
        &Value::Union(1, Box::new(Value::String("multi\nline note".into())))
    );
    assert_eq!(field(&third, "quantity"), &Value::Long(9_000_000_000));
}

fn num_bigint_from(d: &apache_avro::Decimal) -> i64 {
    let bytes: Vec<u8> = d.try_into().expect("decimal bytes");
    // Big-endian two's complement, sign-extended to i64.
    let mut n: i64 = if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        -1
    } else {
        0
    };
    for b in bytes {
        n = (n << 8) | i64::from(b);
    }
    n
}

#[test]
fn sensor_replay_fills_nested_records_maps_and_defaults() {
    let source =
        load("tests/fixtures/replay/sensor.jsonl", SENSOR_SCHEMA).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(source.len(), 3);
    assert_round_trips(&source, SENSOR_SCHEMA);
    let third = source.record(2).expect("row");
    assert_eq!(
        field(&third, "location"),
        &Value::Union(0, Box::new(Value::Null))
    );
    assert_eq!(field(&third, "metadata"), &Value::Map(Default::default()));
    let second = source.record(1).expect("row");
    let Value::Union(1, location) = field(&second, "location") else {
        panic!("location present");
    };
    assert_eq!(
        field(location, "alt"),
        &Value::Union(0, Box::new(Value::Null))
    );
    assert_eq!(field(&second, "reading_value"), &Value::Double(48.0));
}

#[test]
fn sources_can_be_shared_across_workers() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ReplaySource>();
}

#[test]
fn loop_wraps_and_stop_ends() {
    let source = load("tests/fixtures/replay/sensor.jsonl", SENSOR_SCHEMA).expect("loads");
    assert_eq!(source.on_end(), OnEnd::Loop);
    assert!(!source.is_empty());
    for seq in [0, 1, 2, 3, 4, 299, u64::MAX] {
        assert_eq!(source.record(seq), source.record(seq % 3), "seq {seq}");
        assert!(source.record(seq).is_some());
    }
    let stop = source.clone().with_on_end(OnEnd::Stop);
    assert_eq!(stop.on_end(), OnEnd::Stop);
    assert_eq!(stop.record(2), source.record(2));
    assert_eq!(stop.record(3), None);
    assert_eq!(stop.record(u64::MAX), None);
}

#[test]
fn bad_files() {
    insta::glob!("../fixtures/replay/bad", "*.*", |path| {
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let schema_path = if name.starts_with("order_") {
            ORDER_SCHEMA
        } else {
            GPU_SCHEMA
        };
        let shown = format!("tests/fixtures/replay/bad/{name}");
        let format = ReplayFormat::infer(path, &shown).expect("fixture extension");
        let err = ReplaySource::load(path, &shown, format, &schema(schema_path))
            .expect_err("a bad fixture must not load");
        match &err {
            ReplayError::Invalid { problems, .. } => {
                assert!(!problems.is_empty());
                assert!(problems.len() <= MAX_PROBLEMS);
                for p in problems {
                    assert!(p.line >= 1, "{name}: unlocated problem {p:?}");
                    assert!(!p.help.is_empty(), "{name}: no help in {p:?}");
                    assert!(p.to_string().contains(&format!("{shown}:{}", p.line)));
                }
            }
            ReplayError::Empty { .. } => assert!(name.contains("empty") || name.contains("only")),
            other => panic!("{name}: unexpected error kind {other:?}"),
        }
        insta::assert_snapshot!(err.to_string());
    });
}

#[test]
fn problems_stop_at_the_cap() {
    let err = load(
        "tests/fixtures/replay/bad/gpu_too_many_errors.csv",
        GPU_SCHEMA,
    )
    .expect_err("bad");
    let ReplayError::Invalid {
        problems,
        truncated,
        ..
    } = err
    else {
        panic!("{err:?}");
    };
    assert_eq!(problems.len(), MAX_PROBLEMS);
    assert!(truncated);
    // Rows 2..=21 (the header is line 1).
    assert_eq!(problems.first().map(|p| p.line), Some(2));
    assert_eq!(problems.last().map(|p| p.line), Some(21));
}

#[test]
fn unknown_extension_and_unreadable_file_are_errors() {
    let err = ReplayFormat::infer(Path::new("x.parquet"), "x.parquet").expect_err("unknown");
    assert!(err.to_string().contains("*.jsonl"), "{err}");
    let err = ReplaySource::load(
        Path::new("no/such/file.csv"),
        "no/such/file.csv",
        ReplayFormat::Csv,
        &schema(GPU_SCHEMA),
    )
    .expect_err("missing");
    assert!(matches!(err, ReplayError::Read { .. }), "{err}");
    let not_record = Schema::parse_str(r#""string""#).expect("schema");
    let err = ReplaySource::load(
        Path::new("data/gpu_telemetry.csv"),
        "data/gpu_telemetry.csv",
        ReplayFormat::Csv,
        &not_record,
    )
    .expect_err("not a record");
    assert!(matches!(err, ReplayError::NotARecord { .. }), "{err}");
}

fn scratch_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, bytes).expect("write scratch file");
    path
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the bytes, loading returns (Ok or a located error) instead of panicking.
    #[test]
    fn arbitrary_bytes_never_panic(
        body in proptest::collection::vec(
            prop_oneof![
                Just(b','), Just(b'"'), Just(b'\n'), Just(b'{'), Just(b'}'), Just(b':'),
                Just(b'0'), Just(b'.'), Just(b'-'), any::<u8>(),
            ],
            0..200,
        ),
        header in any::<bool>(),
    ) {
        let schema = schema(GPU_SCHEMA);
        let mut csv = Vec::new();
        if header {
            csv.extend_from_slice(
                std::fs::read_to_string("data/gpu_telemetry.csv")
                    .expect("csv")
                    .lines()
                    .next()
                    .expect("header")
                    .as_bytes(),
            );
            csv.push(b'\n');
        }
        csv.extend_from_slice(&body);
        let thread = format!("{:?}", std::thread::current().id());
        let thread: String = thread.chars().filter(char::is_ascii_alphanumeric).collect();
        let csv_path = scratch_file(&format!("replay-prop-{thread}.csv"), &csv);
        let _ = ReplaySource::load(&csv_path, "prop.csv", ReplayFormat::Csv, &schema);
        let jsonl_path = scratch_file(&format!("replay-prop-{thread}.jsonl"), &body);
        let _ = ReplaySource::load(&jsonl_path, "prop.jsonl", ReplayFormat::JsonLines, &schema);
    }
}

#[test]
fn sensor_schema_generates_valid_records() {
    let schema = schema(SENSOR_SCHEMA);
    let resolved = ResolvedSchema::try_from(&schema).expect("names resolve");
    let generator = AvroGenerator::new(&schema, GenConfig::default()).expect("generator");
    let reader = GenericDatumReader::builder(&schema)
        .build()
        .expect("reader");
    let seed = StreamSeed::new(1, "sensor_data");
    for n in 0..1_000 {
        let value = generator.generate(&mut seed.record_rng(n));
        assert!(
            value.validate_with_names(&schema, resolved.get_names()),
            "record {n}: {value:?}"
        );
        let bytes = generator.encode(&value).expect("encodes");
        let decoded = reader.read_value(&mut bytes.as_slice()).expect("decodes");
        assert_eq!(decoded, value, "record {n}");
    }
}
