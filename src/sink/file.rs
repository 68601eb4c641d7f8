//! File sink: one JSON-lines file per route (`kafka.jsonl`, `sqs.jsonl`) in a
//! folder — the offline mode a new user can try first (`run --sink file:DIR`).
//! Payloads are written as text when they are UTF-8 (SQS JSON bodies) and as
//! hex otherwise (Confluent-framed Avro).

use std::path::{Path, PathBuf};

use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::{OutMessage, Route, SendError};

#[derive(Debug)]
pub struct FileSink {
    dir: PathBuf,
    kafka: Mutex<Option<tokio::io::BufWriter<tokio::fs::File>>>,
    sqs: Mutex<Option<tokio::io::BufWriter<tokio::fs::File>>>,
}

impl FileSink {
    /// Creates the folder; files are created on first use.
    pub fn new(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            kafka: Mutex::new(None),
            sqs: Mutex::new(None),
        })
    }

    pub async fn send(&self, m: OutMessage) -> Result<(), SendError> {
        let (slot, name) = match m.route {
            Route::Kafka => (&self.kafka, "kafka.jsonl"),
            Route::Sqs => (&self.sqs, "sqs.jsonl"),
        };
        let payload = match std::str::from_utf8(&m.payload) {
            Ok(text) => serde_json::json!({ "text": text }),
            Err(_) => {
                serde_json::json!({ "hex": m.payload.iter().map(|b| format!("{b:02x}")).collect::<String>() })
            }
        };
        let line = serde_json::json!({
            "destination": m.destination,
            "stream": m.stream,
            "seq": m.seq,
            "event_id": m.event_id,
            "key": m.key,
            "headers": m.headers.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str()))).collect::<serde_json::Map<_, _>>(),
            "payload": payload,
        });
        let io = |e: std::io::Error| SendError {
            kind: "io",
            message: format!("writing {}: {e}", self.dir.join(name).display()),
        };
        let mut guard = slot.lock().await;
        if guard.is_none() {
            let f = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join(name))
                .await
                .map_err(io)?;
            *guard = Some(tokio::io::BufWriter::new(f));
        }
        if let Some(w) = guard.as_mut() {
            w.write_all(line.to_string().as_bytes()).await.map_err(io)?;
            w.write_all(b"\n").await.map_err(io)?;
        }
        Ok(())
    }

    pub async fn flush(&self, _deadline: Instant) -> Result<(), SendError> {
        for slot in [&self.kafka, &self.sqs] {
            if let Some(w) = slot.lock().await.as_mut() {
                w.flush().await.map_err(|e| SendError {
                    kind: "io",
                    message: format!("flushing {}: {e}", self.dir.display()),
                })?;
            }
        }
        Ok(())
    }
}
