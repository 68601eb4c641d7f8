//! The physical limit for `scripts/bench`: a bare rdkafka producer sending
//! one pre-encoded record N times (no generation, no encoding, no
//! scheduling). `raw_produce BOOTSTRAP TOPIC HEX_PAYLOAD COUNT`
//! prints `sent N in S s`.

use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, bootstrap, topic, hex, count] = args.as_slice() else {
        eprintln!("usage: raw_produce BOOTSTRAP TOPIC HEX_PAYLOAD COUNT");
        std::process::exit(2);
    };
    let payload: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex payload"))
        .collect();
    let count: u64 = count.parse().expect("count");
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "5")
        .set("acks", "1")
        .create()
        .expect("producer");
    let t0 = Instant::now();
    for i in 0..count {
        let key = i.to_string();
        let mut record = BaseRecord::to(topic).payload(&payload).key(&key);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(1));
                }
                Err((e, _)) => panic!("send failed: {e}"),
            }
        }
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(60)).expect("flush");
    println!("sent {count} in {:.3} s", t0.elapsed().as_secs_f64());
}
