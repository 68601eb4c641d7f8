//! Avro object container files for offline runs (`run --sink avro:DIR`):
//! Kafka-route messages go to `<topic>.avro`, one file per topic with the
//! stream's schema, readable by any Avro tool (`avro-tools tojson`,
//! fastavro, apache-avro's `Reader`); SQS-route messages go to `sqs.jsonl`
//! as with `--sink file:DIR`.
//!
//! The container is written by hand (header, blocks of up to 1,000 datums,
//! sync markers; codec `null`) because the payloads are already encoded:
//! the datum is the Confluent frame minus its 5-byte header, so no record is
//! decoded and re-encoded on the way to disk.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::Digest;
use tokio::time::Instant;

use super::file::FileSink;
use super::{OutMessage, Route, SendError};

/// Datums per block (the Avro spec leaves it to the writer).
const BLOCK_RECORDS: u64 = 1_000;

#[derive(Debug)]
struct Container {
    out: std::io::BufWriter<std::fs::File>,
    sync: [u8; 16],
    block: Vec<u8>,
    count: u64,
}

impl Container {
    fn create(path: &Path, schema_json: &str) -> std::io::Result<Self> {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        // A sync marker derived from the path and schema: reproducible files.
        let digest = sha2::Sha256::digest(format!("{}\n{schema_json}", path.display()).as_bytes());
        let mut sync = [0u8; 16];
        sync.copy_from_slice(&digest[..16]);
        let mut header = b"Obj\x01".to_vec();
        long(&mut header, 2);
        for (k, v) in [
            ("avro.schema", schema_json.as_bytes()),
            ("avro.codec", b"null".as_slice()),
        ] {
            bytes(&mut header, k.as_bytes());
            bytes(&mut header, v);
        }
        long(&mut header, 0);
        header.extend_from_slice(&sync);
        out.write_all(&header)?;
        Ok(Self {
            out,
            sync,
            block: Vec::with_capacity(64 * 1024),
            count: 0,
        })
    }

    fn append(&mut self, datum: &[u8]) -> std::io::Result<()> {
        self.block.extend_from_slice(datum);
        self.count += 1;
        if self.count >= BLOCK_RECORDS {
            self.flush_block()?;
        }
        Ok(())
    }

    fn flush_block(&mut self) -> std::io::Result<()> {
        if self.count == 0 {
            return Ok(());
        }
        let mut head = Vec::with_capacity(20);
        long(&mut head, i64::try_from(self.count).unwrap_or(i64::MAX));
        long(
            &mut head,
            i64::try_from(self.block.len()).unwrap_or(i64::MAX),
        );
        self.out.write_all(&head)?;
        self.out.write_all(&self.block)?;
        self.out.write_all(&self.sync)?;
        self.block.clear();
        self.count = 0;
        self.out.flush()
    }
}

/// Avro `long`: zig-zag, then base-128 varint.
fn long(buf: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    loop {
        let byte = (z & 0x7f) as u8;
        z >>= 7;
        if z == 0 {
            buf.push(byte);
            return;
        }
        buf.push(byte | 0x80);
    }
}

fn bytes(buf: &mut Vec<u8>, b: &[u8]) {
    long(buf, i64::try_from(b.len()).unwrap_or(i64::MAX));
    buf.extend_from_slice(b);
}

#[derive(Debug)]
pub struct AvroFileSink {
    dir: PathBuf,
    /// Schema JSON per stream index.
    schemas: Vec<String>,
    files: Mutex<HashMap<String, Container>>,
    sqs: FileSink,
}

impl AvroFileSink {
    /// `schemas[i]` is the Avro schema (JSON) of stream `i`.
    pub fn new(dir: &Path, schemas: Vec<String>) -> std::io::Result<Self> {
        Ok(Self {
            dir: dir.to_path_buf(),
            schemas,
            files: Mutex::new(HashMap::new()),
            sqs: FileSink::new(dir)?,
        })
    }

    pub async fn send(&self, m: OutMessage) -> Result<(), SendError> {
        if m.route == Route::Sqs {
            return self.sqs.send(m).await;
        }
        let io = |e: std::io::Error, what: &str| SendError {
            kind: "io",
            message: format!("{what} {}: {e}", self.dir.display()),
        };
        let Some(datum) = m.payload.get(5..).filter(|_| m.payload.first() == Some(&0)) else {
            return Err(SendError {
                kind: "encode",
                message: "the Kafka payload is not in the Confluent wire format".into(),
            });
        };
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        if !files.contains_key(&m.destination) {
            let schema = self.schemas.get(m.stream).ok_or_else(|| SendError {
                kind: "encode",
                message: format!("no schema for stream {}", m.stream),
            })?;
            let name = sanitize(&m.destination);
            let c = Container::create(&self.dir.join(format!("{name}.avro")), schema)
                .map_err(|e| io(e, "creating a container in"))?;
            files.insert(m.destination.clone(), c);
        }
        if let Some(c) = files.get_mut(&m.destination) {
            c.append(datum).map_err(|e| io(e, "writing into"))?;
        }
        Ok(())
    }

    /// Writes the pending blocks (the files are complete after every flush).
    pub async fn flush(&self, deadline: Instant) -> Result<(), SendError> {
        {
            let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
            for c in files.values_mut() {
                c.flush_block().map_err(|e| SendError {
                    kind: "io",
                    message: format!("flushing {}: {e}", self.dir.display()),
                })?;
            }
        }
        self.sqs.flush(deadline).await
    }
}

/// A topic name as a file name (topics may contain `/` only in theory).
fn sanitize(topic: &str) -> String {
    topic
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn longs_are_zigzag_varints() {
        let enc = |v| {
            let mut b = Vec::new();
            super::long(&mut b, v);
            b
        };
        assert_eq!(enc(0), [0]);
        assert_eq!(enc(-1), [1]);
        assert_eq!(enc(1), [2]);
        assert_eq!(enc(64), [0x80, 0x01]);
        assert_eq!(enc(1000), [0xd0, 0x0f]);
    }
}
