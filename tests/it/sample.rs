//! `mbscenario sample`: records are a pure function of (seed, stream, seq) and
//! the Kafka payload is a valid Confluent-framed Avro datum of the stream's schema.

use std::path::Path;
use std::process::Command;

use apache_avro::Schema;
use apache_avro::reader::datum::GenericDatumReader;
use mbscenario::encode::parse_confluent;

fn sample(args: &[&str]) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_mbscenario"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("sample")
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn same_seed_same_records_any_window() {
    let all = sample(&["scenarios/direct-sqs.yaml", "-n", "6"]);
    assert_eq!(all.len(), 6);
    assert_eq!(all, sample(&["scenarios/direct-sqs.yaml", "-n", "6"]));
    // Record 5 does not depend on the records before it.
    assert_eq!(
        sample(&["scenarios/direct-sqs.yaml", "--from", "5", "-n", "1"]),
        vec![all[5].clone()]
    );
    // A different seed changes the data.
    assert_ne!(
        sample(&["scenarios/direct-sqs.yaml", "-n", "6", "--seed", "8"]),
        all
    );
    let first: serde_json::Value = serde_json::from_str(&all[0]).unwrap();
    // The envelope event id is also written into the record's own `event_id` field.
    assert_eq!(first["event_id"], first["value"]["event_id"]);
    assert_eq!(first["seq"], 0);
    // Decimal price with scale 2 is rendered as a decimal string.
    let price = first["value"]["price"].as_str().unwrap();
    assert_eq!(price.split('.').nth(1).map(str::len), Some(2), "{price}");
}

#[test]
fn hex_payload_is_confluent_framed_avro() {
    let lines = sample(&[
        "scenarios/mode-switch.yaml",
        "--stream",
        "graded",
        "-n",
        "3",
        "--format",
        "hex",
    ]);
    let schema_text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/pokemon_card.avsc"),
    )
    .unwrap();
    let schema = Schema::parse_str(&schema_text).unwrap();
    for line in lines {
        let bytes: Vec<u8> = (0..line.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&line[i..i + 2], 16).unwrap())
            .collect();
        let (id, mut datum) = parse_confluent(&bytes).expect("magic byte");
        assert_eq!(id, 1, "pinned schema_id of the stream");
        let reader = GenericDatumReader::builder(&schema).build().unwrap();
        let value = reader.read_value(&mut datum).unwrap();
        assert!(value.validate(&schema));
        assert!(datum.is_empty(), "trailing bytes after the datum");
    }
}

#[test]
fn unknown_stream_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_mbscenario"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["sample", "scenarios/ramp.yaml", "--stream", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("streams: cards"));
}

#[test]
fn iot_module_produces_consistent_readings() {
    let lines = sample(&["scenarios/iot-sensors.yaml", "-n", "300"]);
    let mut ids = std::collections::HashSet::new();
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let r = &v["value"];
        let unit = match r["device_type"].as_str().unwrap() {
            "THERMOMETER" => "C",
            "HYGROMETER" => "%RH",
            "BAROMETER" => "hPa",
            "GAS_DETECTOR" => "ppm",
            other => panic!("device type {other} is not in the weighted list"),
        };
        // `unit` is computed from the `device_type` override before it (record chaining).
        assert_eq!(r["unit"], unit);
        let lat = r["location"]["lat"].as_f64();
        assert!(r["location"].is_null() || (-60.0..=70.0).contains(&lat.unwrap()));
        ids.insert(r["sensor_id"].as_str().unwrap().to_string());
    }
    assert_eq!(ids.len(), 300);
}
