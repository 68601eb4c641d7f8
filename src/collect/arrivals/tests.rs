use super::*;
use crate::datagen::StreamSeed;

const ID: &str = "6f1c2a4e-9a0b-4c7d-8e2f-1a2b3c4d5e6f";

#[test]
fn finds_the_event_id_in_attribute_json_and_struct_text() {
    let want = parse_event_id(ID);
    assert!(want.is_some());
    assert_eq!(event_id_of(Some(ID), "opaque"), want);
    assert_eq!(
        event_id_of(None, &format!(r#"{{"event_id":"{ID}","x":1}}"#)),
        want
    );
    assert_eq!(
        event_id_of(None, &format!(r#"{{"payload":{{"event_id":"{ID}"}}}}"#)),
        want
    );
    assert_eq!(
        event_id_of(
            None,
            &format!("Struct{{event_id={ID},sent_at=1700000000000}}")
        ),
        want
    );
    // A field whose name ends in `event_id` is not the envelope's.
    assert_eq!(
        event_id_of(None, &format!("Struct{{parent_event_id={ID}}}")),
        None
    );
    assert_eq!(event_id_of(Some("not-a-uuid"), "no id here"), None);
}

#[test]
fn finds_the_send_time_in_attribute_and_body() {
    let us = 1_700_000_000_123_456;
    assert_eq!(
        sent_at_of(Some("2023-11-14T22:13:20.123456Z"), "{}"),
        Some(us)
    );
    assert_eq!(
        sent_at_of(None, r#"{"sent_at":1700000000123}"#),
        Some(1_700_000_000_123_000)
    );
    assert_eq!(
        sent_at_of(None, &format!(r#"{{"sent_at":{us}}}"#)),
        Some(us)
    );
    assert_eq!(
        sent_at_of(
            None,
            r#"{"payload":{"sent_at":"2023-11-14T22:13:20.123456Z"}}"#
        ),
        Some(us)
    );
    assert_eq!(
        sent_at_of(None, "Struct{event_id=x,sent_at=1700000000123}"),
        Some(1_700_000_000_123_000)
    );
    assert_eq!(sent_at_of(Some("yesterday"), r#"{"sent_at":true}"#), None);
    assert_eq!(sent_at_of(None, r#"{"sent_at":-5}"#), None);
}

fn setup(shard: Option<Shard>) -> (Arrivals, StreamSeed, StreamSeed) {
    let (a, b) = (StreamSeed::new(1, "a"), StreamSeed::new(1, "b"));
    let sends = Arc::new(Sends::new());
    sends.phase_started(0, 0, 0);
    sends.phase_started(1, 0, 100);
    sends.phase_started(0, 1, 0);
    let arrivals = Arrivals::new(EventIds::new([a.clone(), b.clone()]), sends, shard);
    (arrivals, a, b)
}

fn copy<'a>(id: Option<u128>, message_id: &'a str, sent: i64, arrived: i64) -> Copy<'a> {
    Copy {
        queue: "q",
        event_id: id,
        message_id: Some(message_id),
        sent_at_us: Some(sent),
        body: "body",
        arrived_us: arrived,
        received_us: arrived,
    }
}

#[test]
fn counts_first_arrivals_copies_re_receipts_and_late_ones_by_number() {
    let (arr, a, b) = setup(None);
    let now = super::super::sqs::now_us();
    let id = |s: &StreamSeed, n| Some(s.event_id(n).as_u128());
    arr.record(copy(id(&a, 3), "m1", now, now + 1_000));
    // A second copy of record 3 (another SQS message): a duplicate.
    arr.record(copy(id(&a, 3), "m2", now, now + 2_000));
    // m2's delete failed; it comes back: not another duplicate.
    arr.not_deleted("m2");
    arr.record(copy(id(&a, 3), "m2", now, now + 3_000));
    arr.record(copy(id(&a, 3), "m3", now, now + 4_000));
    arr.record(copy(id(&a, 150), "m4", now, now + 500));
    arr.mark_run_end(now + 10_000);
    arr.record(copy(id(&b, 7), "m5", now, now + 20_000));
    // Not ours; and ours but sent before this run began.
    arr.record(copy(
        Some(StreamSeed::new(2, "a").event_id(1).as_u128()),
        "m6",
        now,
        now,
    ));
    arr.record(copy(None, "m7", now, now));
    arr.record(copy(id(&a, 4), "m8", now - 3_600_000_000, now));
    let t = arr.snapshot();
    assert_eq!(t.received["q"], 9);
    assert_eq!(t.unknown["q"], 3);
    assert_eq!(t.unknown_samples.len(), 3);
    let sa = &t.streams[0];
    assert_eq!(sa.seen.iter().collect::<Vec<_>>(), vec![3, 150]);
    assert_eq!(sa.extra_copies(&sa.seen), 2);
    assert_eq!(sa.more.get(&3), Some(&1));
    assert!(sa.late.is_empty());
    assert_eq!(t.streams[1].late.iter().collect::<Vec<_>>(), vec![7]);
    // Latency per phase × stream, from the carried send time.
    let h = |p, s| t.latency.get(&(p, s)).map(|h| (h.len(), h.max()));
    assert_eq!(h(0, 0), Some((1, 1_000)));
    assert_eq!(h(1, 0).map(|x| x.0), Some(1));
    assert_eq!(h(0, 1).map(|x| x.0), Some(1));
}

#[test]
fn missing_counts_acknowledged_sends_of_counted_streams_only() {
    let (arr, a, _) = setup(None);
    let sends = arr.sends().clone();
    for seq in 0..4 {
        sends.record(0, 0, seq, true);
    }
    sends.record(0, 0, 4, false); // failed: not expected at the queue
    sends.record(0, 1, 0, true); // a stream without a queue
    assert_eq!(arr.missing(&[true, false]), 4);
    let now = super::super::sqs::now_us();
    arr.record(copy(Some(a.event_id(2).as_u128()), "x", now, now));
    arr.record(copy(Some(a.event_id(4).as_u128()), "y", now, now));
    assert_eq!(arr.missing(&[true, false]), 3);
}

#[test]
fn a_shard_keeps_the_other_shards_arrivals_aside() {
    let (arr, a, _) = setup(Some(Shard::new(0, 2).unwrap()));
    let now = super::super::sqs::now_us();
    arr.record(copy(Some(a.event_id(2).as_u128()), "x", now, now + 5));
    arr.record(copy(Some(a.event_id(3).as_u128()), "y", now, now + 9));
    arr.record(copy(Some(a.event_id(3).as_u128()), "z", now, now + 7));
    let t = arr.snapshot();
    assert_eq!(t.streams[0].seen.len(), 1);
    assert_eq!(t.foreign[&a.event_id(3).as_u128()], (now + 7, 2));
    assert_eq!(t.unknown["q"], 1);
}

#[test]
fn counting_does_not_grow_per_message() {
    // 131k acknowledged sends that all arrived (interleaved over two
    // phases, out of order as lanes finish them): kilobytes, where a table
    // keyed by event id held ~60 bytes per message.
    let (arr, a, _) = setup(None);
    let sends = arr.sends().clone();
    let now = super::super::sqs::now_us();
    const N: u64 = 131_072;
    for i in 0..N {
        let seq = (i * 7_919) % N; // a permutation of 0..N
        sends.record(u32::from(seq >= 100), 0, seq, true);
        arr.record(Copy {
            queue: "q",
            event_id: Some(a.event_id(seq).as_u128()),
            message_id: None,
            sent_at_us: Some(now),
            body: "",
            arrived_us: now,
            received_us: now,
        });
    }
    assert_eq!(arr.missing(&[true, false]), 0);
    let t = arr.snapshot();
    assert_eq!(t.streams[0].seen.len(), N);
    let bytes = sends.heap_bytes() + t.heap_bytes();
    assert!(
        bytes < N / 2,
        "{bytes} bytes for {N} messages (4 bits each at most)"
    );
}
