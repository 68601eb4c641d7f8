//! Naming rules the services enforce, checked before anything is sent:
//! a Kafka topic is 1–249 of `[A-Za-z0-9._-]` (not `.` or `..`); an SQS
//! queue is 1–80 of `[A-Za-z0-9_-]`, a FIFO queue's ending in `.fifo`.

use super::Ctx;

pub(super) fn kafka_topic(cx: &mut Ctx<'_>, ptr: &str, name: &str) {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if name.is_empty() || name.len() > 249 || !ok_chars || name == "." || name == ".." {
        cx.error(
            ptr,
            format!("`{name}` is not a valid Kafka topic name"),
            "topic names are 1 to 249 letters, digits, `.`, `_` or `-` (and not `.` or `..`)",
        );
    }
}

pub(super) fn sqs_queue(cx: &mut Ctx<'_>, ptr: &str, name: &str) {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    let ok_chars = base
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
    if base.is_empty() || name.len() > 80 || !ok_chars {
        cx.error(
            ptr,
            format!("`{name}` is not a valid SQS queue name"),
            "queue names are 1 to 80 letters, digits, `_` or `-` (FIFO queues end in `.fifo`)",
        );
    }
}
