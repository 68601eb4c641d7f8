//! Field overrides (`datagen::expr`): good expressions change the right fields with the
//! right types, records stay a pure function of (seed, stream, n), and every kind of bad
//! expression is a readable `ExprError`, not a panic or a hang.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use apache_avro::Schema;
use apache_avro::types::Value;
use mbscenario::datagen::expr::{CompiledOverrides, EvalCtx, ExprError, OverrideEvaluator};
use mbscenario::datagen::{AvroGenerator, GenConfig, StreamSeed};
use mbscenario::scenario::model::{FileRef, Import, Key, Override, Stream};
use mbscenario::scenario::{self, LoadOptions, Vars};

const SCHEMA: &str = r#"{
  "type": "record", "name": "Order", "namespace": "test.shop",
  "fields": [
    {"name": "id", "type": "long"},
    {"name": "user", "type": "string"},
    {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID", "SHIPPED"]}},
    {"name": "note", "type": ["null", "string"]},
    {"name": "count", "type": "int"},
    {"name": "price", "type": "double"},
    {"name": "card", "type": {"type": "string", "logicalType": "uuid"}},
    {"name": "created", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "address", "type": {"type": "record", "name": "Address", "fields": [
      {"name": "city", "type": "string"},
      {"name": "country", "type": "string"}
    ]}},
    {"name": "shipping", "type": ["null", "Address"]},
    {"name": "previous", "type": ["null", "Status"]},
    {"name": "tags", "type": {"type": "array", "items": "string"}}
  ]
}"#;

const SEED: u64 = 42;
const STREAM: &str = "orders";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/expr")
        .join(name)
}

fn stream(overrides: &[(&str, &str)], imports: &[(&str, &str)]) -> Stream {
    Stream {
        name: STREAM.to_owned(),
        schema_file: FileRef {
            written: "order.avsc".to_owned(),
            resolved: PathBuf::from("order.avsc"),
        },
        schema: Arc::new(Schema::parse_str(SCHEMA).expect("test schema parses")),
        record_name: "test.shop.Order".to_owned(),
        schema_id: None,
        topic: "orders".to_owned(),
        topic_is_default: true,
        queue: None,
        key: Key::None,
        headers: Vec::new(),
        weight: 1.0,
        compiled: None,
        replay: None,
        imports: imports
            .iter()
            .map(|(module, file)| Import {
                module: (*module).to_owned(),
                file: FileRef {
                    written: (*file).to_owned(),
                    resolved: fixture(file),
                },
            })
            .collect(),
        overrides: overrides
            .iter()
            .map(|(path, expr)| Override {
                path: path.split('.').map(str::to_owned).collect(),
                expr: (*expr).to_owned(),
                field_type: String::new(),
                at: None,
            })
            .collect(),
    }
}

fn compile(overrides: &[(&str, &str)], imports: &[(&str, &str)]) -> Arc<CompiledOverrides> {
    match CompiledOverrides::compile(&stream(overrides, imports)) {
        Ok(c) => Arc::new(c),
        Err(errors) => panic!("should compile: {errors:#?}"),
    }
}

fn generator() -> AvroGenerator {
    let schema = Schema::parse_str(SCHEMA).expect("test schema parses");
    AvroGenerator::new(&schema, GenConfig::default()).expect("generator")
}

fn ctx(seq: u64) -> EvalCtx<'static> {
    EvalCtx {
        seq,
        phase: "warmup",
        t_ms: 1_000 + seq as i64,
    }
}

/// Record `n` before and after overrides.
fn record(
    generator: &AvroGenerator,
    evaluator: &mut OverrideEvaluator,
    n: u64,
) -> Result<(Value, Value), ExprError> {
    let mut rng = StreamSeed::new(SEED, STREAM).record_rng(n);
    let before = generator.generate(&mut rng);
    let mut after = before.clone();
    evaluator.apply(&mut after, &ctx(n), &mut rng)?;
    Ok((before, after))
}

fn field<'v>(value: &'v Value, path: &str) -> &'v Value {
    let mut current = value;
    for name in path.split('.') {
        if let Value::Union(_, inner) = current {
            current = inner;
        }
        let Value::Record(fields) = current else {
            panic!("{path}: not a record at `{name}`: {current:?}");
        };
        current = &fields.iter().find(|(n, _)| n == name).expect(name).1;
    }
    current
}

fn string(value: &Value) -> &str {
    match value {
        Value::String(s) => s,
        Value::Union(_, inner) => string(inner),
        other => panic!("not a string: {other:?}"),
    }
}

#[test]
fn good_overrides_set_typed_values() {
    let compiled = compile(
        &[
            ("id", "seq"),
            ("user", r#"format("user-{}", uniform(1, 5000))"#),
            ("status", r#"pick(["PAID", "SHIPPED"])"#),
            ("note", r#"if seq % 2 == 0 { () } else { fake::lorem(3) }"#),
            ("count", "default + 1"),
            ("price", "round(normal(100.0, 5.0), 2)"),
            ("card", "uuid()"),
            ("created", "1700000000000 + t"),
            ("address.city", "fake::city()"),
            ("address.country", "phase"),
            ("shipping.city", r#""Nowhere""#),
            ("previous", r#"weighted(["NEW", ()], [1, 1])"#),
            ("tags", r#"[fake::word(), pad(seq, 4)]"#),
        ],
        &[],
    );
    let generator = generator();
    let mut evaluator = OverrideEvaluator::new(compiled);
    let mut saw_shipping = false;
    for n in 0..200 {
        let (before, after) = record(&generator, &mut evaluator, n).expect("applies");
        generator
            .encode(&after)
            .expect("still valid for the schema");
        assert_eq!(*field(&after, "id"), Value::Long(n as i64));
        let user = string(field(&after, "user"));
        let id: i64 = user.strip_prefix("user-").unwrap().parse().unwrap();
        assert!((1..=5000).contains(&id), "{user}");
        assert!(
            matches!(field(&after, "status"), Value::Enum(1 | 2, s) if s == "PAID" || s == "SHIPPED")
        );
        match (n % 2, field(&after, "note")) {
            (0, Value::Union(0, inner)) => assert_eq!(**inner, Value::Null),
            (1, Value::Union(1, inner)) => {
                let Value::String(s) = &**inner else { panic!() };
                assert_eq!(s.split(' ').count(), 3, "{s}");
                assert!(s.ends_with('.'));
            }
            other => panic!("note: {other:?}"),
        }
        let Value::Int(c0) = field(&before, "count") else {
            panic!()
        };
        assert_eq!(*field(&after, "count"), Value::Int(c0 + 1));
        let Value::Double(price) = field(&after, "price") else {
            panic!()
        };
        assert!((50.0..150.0).contains(price));
        assert_eq!((price * 100.0).round() / 100.0, *price);
        assert!(matches!(field(&after, "card"), Value::Uuid(_)));
        assert_eq!(
            *field(&after, "created"),
            Value::TimestampMillis(1_700_000_001_000 + n as i64)
        );
        assert!(
            string(field(&after, "address.city"))
                .chars()
                .next()
                .unwrap()
                .is_uppercase()
        );
        assert_eq!(string(field(&after, "address.country")), "warmup");
        // An absent optional record stays absent; a present one gets the override.
        match field(&after, "shipping") {
            Value::Union(0, _) => {}
            Value::Union(1, _) => {
                saw_shipping = true;
                assert_eq!(string(field(&after, "shipping.city")), "Nowhere");
            }
            other => panic!("shipping: {other:?}"),
        }
        match field(&after, "previous") {
            Value::Union(0, inner) => assert_eq!(**inner, Value::Null),
            Value::Union(1, inner) => assert_eq!(**inner, Value::Enum(0, "NEW".into())),
            other => panic!("previous: {other:?}"),
        }
        let Value::Array(tags) = field(&after, "tags") else {
            panic!()
        };
        assert_eq!(tags[1], Value::String(format!("{n:04}")));
    }
    assert!(
        saw_shipping,
        "200 records should include a present shipping address"
    );
}

#[test]
fn later_overrides_see_earlier_ones_through_record() {
    let compiled = compile(
        &[
            ("user", r#""u" + seq"#),
            (
                "address.city",
                r#"record.user + "-" + record.address.country.len()"#,
            ),
        ],
        &[],
    );
    let generator = generator();
    let mut evaluator = OverrideEvaluator::new(compiled);
    let (_, after) = record(&generator, &mut evaluator, 7).unwrap();
    let country = string(field(&after, "address.country"));
    assert_eq!(
        string(field(&after, "address.city")),
        format!("u7-{}", country.len())
    );
}

#[test]
fn imported_modules_are_callable() {
    let compiled = compile(
        &[
            ("user", "pokemon::name()"),
            ("note", "shop::tier()"),
            ("address.city", "shop::sku(seq)"),
            ("address.country", "shop::customer()"),
        ],
        &[("pokemon", "pokemon.rhai"), ("shop", "shop.rhai")],
    );
    let generator = generator();
    let mut evaluator = OverrideEvaluator::new(compiled);
    let names = [
        "Bulbasaur",
        "Charmander",
        "Squirtle",
        "Pikachu",
        "Jigglypuff",
        "Meowth",
        "Psyduck",
        "Machop",
        "Gastly",
        "Onix",
        "Eevee",
        "Snorlax",
        "Dratini",
        "Mewtwo",
    ];
    for n in 0..50 {
        let (_, after) = record(&generator, &mut evaluator, n).unwrap();
        assert!(names.contains(&string(field(&after, "user"))));
        assert!(["bronze", "silver", "gold"].contains(&string(field(&after, "note"))));
        assert_eq!(string(field(&after, "address.city")), format!("SKU-{n:06}"));
        assert_eq!(
            string(field(&after, "address.country")).split(' ').count(),
            2
        );
    }
}

#[test]
fn fake_values_look_right() {
    let compiled = compile(
        &[
            ("user", "fake::email()"),
            ("address.city", "fake::phone()"),
            ("address.country", "fake::country()"),
            ("tags", "fake::words(4)"),
            ("note", r#"fake::name() + "|" + fake::company()"#),
        ],
        &[],
    );
    let generator = generator();
    let mut evaluator = OverrideEvaluator::new(compiled);
    for n in 0..50 {
        let (_, after) = record(&generator, &mut evaluator, n).unwrap();
        let email = string(field(&after, "user"));
        let (local, domain) = email.split_once('@').expect(email);
        assert!(local.contains('.') && domain.contains('.'), "{email}");
        let phone = string(field(&after, "address.city"));
        assert!(
            phone.chars().filter(char::is_ascii_digit).count() >= 10,
            "{phone}"
        );
        assert!(!string(field(&after, "address.country")).is_empty());
        let Value::Array(words) = field(&after, "tags") else {
            panic!()
        };
        assert_eq!(words.len(), 4);
        let note = string(field(&after, "note"));
        assert!(note.contains('|') && note.len() > 5, "{note}");
    }
}

/// Same (seed, stream, n) ⇒ same bytes, whichever evaluator runs it and in which order.
#[test]
fn records_are_deterministic_across_evaluators_and_order() {
    let overrides = [
        ("user", "fake::name()"),
        ("price", "exponential(0.5) + uniform(0.0, 1.0)"),
        (
            "status",
            r#"weighted(["NEW", "PAID", "SHIPPED"], [1, 2, 3])"#,
        ),
        ("card", "uuid()"),
        ("count", "if bool(0.5) { uniform(-5, 5) } else { default }"),
        ("address.city", "pokemon::name()"),
    ];
    let compiled = compile(&overrides, &[("pokemon", "pokemon.rhai")]);
    let generator = generator();
    let bytes = |evaluator: &mut OverrideEvaluator, n: u64| {
        let (_, after) = record(&generator, evaluator, n).unwrap();
        generator.encode(&after).unwrap()
    };
    let mut forward = OverrideEvaluator::new(compiled.clone());
    let a: Vec<Vec<u8>> = (0..100).map(|n| bytes(&mut forward, n)).collect();
    // A second compile and evaluator, walking backwards.
    let mut backward = OverrideEvaluator::new(compile(&overrides, &[("pokemon", "pokemon.rhai")]));
    let mut b: Vec<Vec<u8>> = (0..100).rev().map(|n| bytes(&mut backward, n)).collect();
    b.reverse();
    assert_eq!(a, b);
    // And the overrides really use the record's randomness: neighbours differ.
    assert_ne!(a[0], a[1]);
}

#[test]
fn compiled_overrides_are_shareable_and_evaluators_sendable() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<CompiledOverrides>();
    send::<OverrideEvaluator>();
}

#[test]
fn example_scenario_overrides_apply() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/ramp.yaml");
    let opts = LoadOptions {
        vars: Vars::fixed(BTreeMap::new()),
        ..LoadOptions::default()
    };
    let scenario = scenario::load_file(&path, "scenarios/ramp.yaml", &opts)
        .unwrap_or_else(|d| panic!("{}", d.render_plain()));
    for stream in &scenario.streams {
        let compiled = Arc::new(CompiledOverrides::compile(stream).expect("compiles"));
        let generator = AvroGenerator::new(&stream.schema, GenConfig::default()).unwrap();
        let seed = StreamSeed::new(scenario.seed, &stream.name);
        let mut evaluator = OverrideEvaluator::new(compiled);
        for n in 0..50 {
            let mut rng = seed.record_rng(n);
            let mut value = generator.generate(&mut rng);
            evaluator
                .apply(&mut value, &ctx(n), &mut rng)
                .expect("applies");
            generator.encode(&value).expect("valid");
        }
    }
}

// ---- bad overrides: each is an error with the facts a user needs, and no panic ----

/// Compiles and applies `expr` to `path` for record 3, returning the error.
fn failure(path: &str, expr: &str) -> ExprError {
    failure_with(path, expr, &[])
}

fn failure_with(path: &str, expr: &str, imports: &[(&str, &str)]) -> ExprError {
    let compiled = match CompiledOverrides::compile(&stream(&[(path, expr)], imports)) {
        Ok(c) => Arc::new(c),
        Err(mut errors) => {
            assert_eq!(errors.len(), 1, "{errors:#?}");
            return errors.remove(0);
        }
    };
    let generator = generator();
    let mut evaluator = OverrideEvaluator::new(compiled);
    record(&generator, &mut evaluator, 3).expect_err("should fail")
}

fn assert_mentions(err: &ExprError, parts: &[&str]) {
    let text = err.to_string();
    for part in parts {
        assert!(text.contains(part), "`{part}` missing from: {text}");
    }
}

#[test]
fn type_mismatch_names_field_record_types_and_expression() {
    let err = failure("count", r#""abc""#);
    assert!(matches!(err, ExprError::TypeMismatch(_)), "{err:?}");
    assert_mentions(
        &err,
        &[
            "stream `orders`",
            "override `count`",
            "record 3",
            "`\"abc\"`",
            "string",
            "Avro int",
        ],
    );
    assert_mentions(
        &failure("count", "5000000000"),
        &["does not fit in a 32-bit int"],
    );
    assert_mentions(
        &failure("status", r#""LOST""#),
        &["enum Status", "\"LOST\" is not one of NEW, PAID, SHIPPED"],
    );
    assert_mentions(
        &failure("card", r#""not-a-uuid""#),
        &["Avro uuid", "is not a UUID"],
    );
    assert_mentions(&failure("user", "()"), &["returned ()", "Avro string"]);
    assert_mentions(&failure("user", "42"), &["returned i64", "Avro string"]);
    assert_mentions(&failure("note", "1.5"), &["union[null,string]"]);
    assert_mentions(
        &failure("address", r#"#{city: "x"}"#),
        &["record Address", "no key `country`"],
    );
}

#[test]
fn unknown_function_is_a_runtime_error() {
    let err = failure("user", "no_such_function(1)");
    assert!(matches!(err, ExprError::Runtime { .. }), "{err:?}");
    assert_mentions(
        &err,
        &[
            "override `user`",
            "record 3",
            "no_such_function",
            "not found",
        ],
    );
    assert_mentions(&failure("user", "fake::nope()"), &["fake::nope"]);
}

#[test]
fn runtime_errors_are_reported() {
    assert_mentions(
        &failure("count", "[1, 2][5]"),
        &["override `count`", "out of bounds"],
    );
    assert_mentions(
        &failure("count", "default / (seq - seq)"),
        &["Division by zero"],
    );
    assert_mentions(&failure("count", r#"throw "custom""#), &["custom"]);
    assert_mentions(
        &failure("count", "uniform(5, 1)"),
        &["uniform: lower bound 5 is greater than upper bound 1"],
    );
    assert_mentions(&failure("user", "pick([])"), &["pick: the array is empty"]);
    assert_mentions(
        &failure("user", r#"weighted(["a"], [1, 2])"#),
        &["weighted: needs as many weights"],
    );
    assert_mentions(
        &failure("user", r#"format("{}-{}", 1)"#),
        &["more `{}` than the 1 argument(s)"],
    );
    assert_mentions(&failure("price", "normal(1.0, -1.0)"), &["sd must be"]);
}

#[test]
fn infinite_loop_stops_quickly() {
    let start = Instant::now();
    let err = failure("count", "loop { }");
    assert!(matches!(err, ExprError::Runtime { .. }), "{err:?}");
    assert_mentions(&err, &["Too many operations", "endless loop"]);
    // Recursion without end hits the call-depth limit instead of the thread's stack.
    let err = failure("count", "fn f(x) { f(x + 1) } f(0)");
    assert_mentions(&err, &["override `count`"]);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn gigantic_values_hit_the_size_limits() {
    let err = failure("user", r#"let s = "x"; loop { s += s; }"#);
    assert_mentions(&err, &["too large", "strings 65536 bytes"]);
    assert_mentions(
        &failure("user", r#""x".pad(100000000, "x")"#),
        &["too large"],
    );
    assert_mentions(
        &failure("tags", "let a = []; loop { a += [1, 2, 3, 4]; }"),
        &["too large"],
    );
    assert_mentions(
        &failure("user", "pad(1, 100000000)"),
        &["pad: width must be between 0 and 1000"],
    );
    assert_mentions(
        &failure("tags", "fake::words(1000000)"),
        &["n must be between 0 and 1000"],
    );
}

#[test]
fn syntax_errors_fail_at_compile_time_with_position() {
    let err = failure("user", "1 +");
    assert!(matches!(err, ExprError::Syntax { .. }), "{err:?}");
    assert_mentions(
        &err,
        &["stream `orders`", "override `user`", "`1 +`", "line 1"],
    );
}

#[test]
fn sandbox_refuses_eval_and_file_imports() {
    assert_mentions(
        &failure("user", r#"eval("1")"#),
        &["override `user`", "eval"],
    );
    assert_mentions(
        &failure("user", r#"import "secrets" as s; s::x"#),
        &["secrets"],
    );
}

#[test]
fn bad_paths_and_imports_fail_at_compile_time() {
    let err = failure("address.zip", "1");
    assert!(matches!(err, ExprError::UnknownField { .. }), "{err:?}");
    assert_mentions(&err, &["override `address.zip`", "no field"]);

    let err = failure_with(
        "user",
        "broken::name()",
        &[("broken", "broken_syntax.rhai")],
    );
    assert!(matches!(err, ExprError::Module { .. }), "{err:?}");
    assert_mentions(&err, &["import `broken`", "broken_syntax.rhai", "line 2"]);

    let err = failure_with("user", "x::first()", &[("x", "draws_at_load.rhai")]);
    assert_mentions(
        &err,
        &["import `x`", "only be used while a record is generated"],
    );

    let err = failure_with("user", "fake::name()", &[("fake", "shop.rhai")]);
    assert_mentions(&err, &["module name `fake` is already taken"]);

    let err = failure_with("user", "gone::x()", &[("gone", "missing.rhai")]);
    assert_mentions(&err, &["import `gone`", "cannot read the file"]);
}

#[test]
fn all_compile_errors_are_reported_together() {
    let errors = CompiledOverrides::compile(&stream(
        &[("user", "1 +"), ("nope", "1"), ("count", "(")],
        &[],
    ))
    .expect_err("three bad overrides");
    assert_eq!(errors.len(), 3, "{errors:#?}");
}

/// Pins what the built-ins draw for one record, so a dependency upgrade (rand, rhai, the
/// fake crate's word lists) that would silently change generated data fails here instead.
#[test]
fn builtin_values_are_pinned() {
    let compiled = compile(
        &[
            (
                "user",
                r#"format("{}|{}|{}", uniform(1, 1000), uuid(), bool(0.5))"#,
            ),
            (
                "note",
                r#"format("{}|{}|{}", fake::name(), fake::email(), fake::city())"#,
            ),
            (
                "address.city",
                r#"format("{}|{}|{}", fake::country(), fake::phone(), fake::company())"#,
            ),
            (
                "address.country",
                r#"format("{}|{}", fake::lorem(4), pick(["a", "b", "c"]))"#,
            ),
            (
                "price",
                "round(normal(100.0, 10.0) + exponential(1.0) + uniform(0.0, 1.0), 6)",
            ),
        ],
        &[],
    );
    let (_, after) = record(&generator(), &mut OverrideEvaluator::new(compiled), 0).unwrap();
    let got: Vec<String> = ["user", "note", "address.city", "address.country"]
        .iter()
        .map(|p| string(field(&after, p)).to_owned())
        .chain(std::iter::once(format!("{:?}", field(&after, "price"))))
        .collect();
    assert_eq!(got, PINNED);
}

const PINNED: [&str; 5] = [
    "669|fcc0542a-c719-43ca-b1c0-ed220ee159ba|true",
    "Nola Bechtelar|brisa.bahringer@hotmail.com|Gordonville",
    "Sudan|581.487.9425|Stamm, Halvorson and Beahan",
    "Nihil non hic vitae.|c",
    // Rounded: `ln`/`cos` may differ in the last bit between platforms' libm.
    "Double(89.298935)",
];

/// The native fast path (`datagen/expr/native.rs`) must give, record by record, the
/// bytes Rhai gives; and it must be taken exactly where it claims to be.
#[test]
fn native_fast_path_matches_rhai_record_by_record() {
    // (expression, whether the fast path should take it)
    let cases: &[(&str, &str, bool)] = &[
        ("user", r#"format("user-{}", uniform(1, 5000))"#, true),
        ("address.city", "pokemon::name()", true),
        ("address.country", "fake::city()", true),
        (
            "status",
            r#"weighted(["NEW", "PAID", "SHIPPED"], [60, 25.5, 0])"#,
            true,
        ),
        ("card", "uuid()", true),
        ("price", "normal(10, 2.5)", true),
        ("count", "uniform(-5, 5)", true),
        ("note", r#"pick(["a", "b", ()])"#, true),
        ("created", "1700000000000", true),
        (
            "tags",
            r#"[format("{}-{}", fake::word(), bool(0.3))]"#,
            false,
        ),
        // Rhai territory: variables, operators, statements, functions with parameters.
        ("id", "seq * 2", false),
        ("previous", "if bool(0.5) { \"PAID\" } else { () }", false),
        ("shipping", "()", true),
        ("address.city", "shop::sku(seq)", false),
        ("user", "shop::tier()", true),
        ("user", "shop::customer()", false),
    ];
    let overrides: Vec<(&str, &str)> = cases.iter().map(|(f, e, _)| (*f, *e)).collect();
    let imports = [("pokemon", "pokemon.rhai"), ("shop", "shop.rhai")];
    for (i, (field, expr, native)) in cases.iter().enumerate() {
        let one = compile(&[(field, expr)], &imports);
        assert_eq!(one.native_len(), usize::from(*native), "case {i}: `{expr}`");
    }
    let fast = compile(&overrides, &imports);
    assert_eq!(
        fast.native_len(),
        cases.iter().filter(|c| c.2).count(),
        "every case above counted"
    );
    let slow = Arc::new(
        CompiledOverrides::compile(&stream(&overrides, &imports))
            .unwrap()
            .without_native(),
    );
    assert_eq!(slow.native_len(), 0);
    let generator = generator();
    let mut fast = OverrideEvaluator::new(fast);
    let mut slow = OverrideEvaluator::new(slow);
    for n in 0..2_000 {
        let (_, a) = record(&generator, &mut fast, n).unwrap();
        let (_, b) = record(&generator, &mut slow, n).unwrap();
        assert_eq!(a, b, "record {n}");
    }
}

/// A built-in that a module defines for itself wins inside that module, and an
/// argument error is reported by Rhai in its own words: neither goes native.
#[test]
fn native_fast_path_leaves_shadowed_and_failing_calls_to_rhai() {
    let shadow = std::env::temp_dir().join(format!("mbs-shadow-{}.rhai", std::process::id()));
    std::fs::write(
        &shadow,
        "fn pick(items) { items[0] }\nfn first() { pick([\"x\", \"y\"]) }\n",
    )
    .unwrap();
    let mut s = stream(&[("user", "shadow::first()")], &[]);
    s.imports = vec![Import {
        module: "shadow".into(),
        file: FileRef {
            written: "shadow.rhai".into(),
            resolved: shadow,
        },
    }];
    let compiled = Arc::new(CompiledOverrides::compile(&s).unwrap());
    assert_eq!(compiled.native_len(), 0);
    let mut evaluator = OverrideEvaluator::new(compiled);
    for n in 0..20 {
        let (_, after) = record(&generator(), &mut evaluator, n).unwrap();
        assert_eq!(string(field(&after, "user")), "x");
    }
    let failing = compile(&[("count", "uniform(5, 1)")], &[]);
    assert_eq!(failing.native_len(), 0);
    let err = record(&generator(), &mut OverrideEvaluator::new(failing), 0).unwrap_err();
    assert_mentions(&err, &["lower bound 5 is greater than upper bound 1"]);
}
