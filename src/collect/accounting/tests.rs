use std::sync::Arc;

use super::*;
use crate::collect::arrivals::{Arrivals, Copy};
use crate::collect::sends::Sends;
use crate::datagen::{EventIds, StreamSeed};

#[test]
fn counts_arrived_missing_duplicates_late_and_unknown_per_cell() {
    let layout = Layout {
        phases: vec!["a".into(), "b".into()],
        streams: vec![("cards".into(), Some("q".into())), ("nowhere".into(), None)],
    };
    let (cards, nowhere) = (StreamSeed::new(9, "cards"), StreamSeed::new(9, "nowhere"));
    let sends = Arc::new(Sends::new());
    sends.phase_started(0, 0, 0);
    sends.phase_started(1, 0, 2);
    sends.phase_started(1, 1, 0);
    sends.record(0, 0, 0, true);
    sends.record(0, 0, 1, true);
    sends.record(1, 0, 2, true);
    sends.record(1, 0, 3, false);
    sends.record(1, 1, 0, true); // no queue: not counted
    let arrivals = Arrivals::new(
        EventIds::new([cards.clone(), nowhere.clone()]),
        sends.clone(),
        None,
    );
    let now = crate::collect::sqs::now_us();
    let arrive = |seq: u64, msg: &str, at: i64| {
        arrivals.record(Copy {
            queue: "q",
            event_id: Some(cards.event_id(seq).as_u128()),
            message_id: Some(msg),
            sent_at_us: Some(now),
            body: "",
            arrived_us: at,
            received_us: at,
        })
    };
    arrive(0, "m1", now + 500);
    arrive(0, "m2", now + 600); // a duplicate
    arrive(3, "m3", now + 900); // its send failed, yet it arrived
    arrive(77, "m4", now + 900); // never sent by this run
    arrivals.mark_run_end(now + 5_000);
    arrive(2, "m5", now + 8_000_000); // late
    arrivals.record(Copy {
        queue: "q",
        event_id: None,
        message_id: Some("m6"),
        sent_at_us: None,
        body: "garbage",
        arrived_us: now,
        received_us: now,
    });
    let acc = sends.with_cells(|cells| reconcile(&layout, cells, &arrivals.snapshot()));
    assert_eq!(acc.queues.len(), 1);
    let q = &acc.queues[0];
    assert_eq!(
        (
            q.expected,
            q.arrived,
            q.missing,
            q.duplicates,
            q.unknown,
            q.arrived_after_failed_send,
            q.received
        ),
        (3, 2, 1, 1, 2, 1, 6)
    );
    assert_eq!(acc.cells.len(), 2);
    let (c0, c1) = (&acc.cells[0], &acc.cells[1]);
    assert_eq!(
        (
            c0.phase.as_str(),
            c0.expected,
            c0.arrived,
            c0.missing,
            c0.duplicates
        ),
        ("a", 2, 1, 1, 1)
    );
    assert_eq!(
        (c1.phase.as_str(), c1.expected, c1.arrived, c1.late),
        ("b", 1, 1, 1)
    );
    assert_eq!(c0.end_to_end.count, 1);
    assert!(!acc.complete);
    assert_eq!(acc.unknown_samples.len(), 1);
}

/// A message still in flight when the run ended (scheduled, sent, never
/// answered) that arrives anyway is this run's, not unknown; a number beyond
/// what the phase scheduled stays unknown.
#[test]
fn in_flight_arrivals_are_attributed_not_unknown() {
    let layout = Layout {
        phases: vec!["a".into()],
        streams: vec![("cards".into(), Some("q".into()))],
    };
    let cards = StreamSeed::new(9, "cards");
    let sends = Arc::new(Sends::new());
    sends.phase_started(0, 0, 0);
    sends.record(0, 0, 0, true);
    sends.record(0, 0, 1, false);
    // 4 scheduled: 0 acked, 1 failed, 2 and 3 unanswered at the end.
    let arrivals = Arrivals::new(EventIds::new([cards.clone()]), sends.clone(), None);
    let now = crate::collect::sqs::now_us();
    for (seq, msg) in [(0, "m0"), (2, "m2"), (3, "m3"), (9, "m9")] {
        arrivals.record(Copy {
            queue: "q",
            event_id: Some(cards.event_id(seq).as_u128()),
            message_id: Some(msg),
            sent_at_us: Some(now),
            body: "",
            arrived_us: now + 100,
            received_us: now + 100,
        });
    }
    let mut acc = crate::collect::account(&layout, &arrivals, Vec::new());
    assert_eq!(
        (acc.queues[0].unknown, acc.queues[0].arrived_in_flight),
        (3, 0)
    );
    crate::collect::attribute_in_flight(&mut acc, &layout, &arrivals, |phase, stream| {
        assert_eq!((phase, stream), (0, 0));
        4
    });
    let q = &acc.queues[0];
    assert_eq!(
        (q.arrived, q.unknown, q.arrived_in_flight),
        (1, 1, 2),
        "{q:?}"
    );
}
