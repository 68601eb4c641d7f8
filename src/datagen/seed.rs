//! Per-record randomness: record *n* of stream *s* is a pure function of `(seed, s, n)`.
//!
//! ```text
//!   (seed, stream name) ──SHA-256("…/record-rng/v1" ‖ …)──▶ data key  (32 bytes)
//!                       ──SHA-256("…/event-id/v1"   ‖ …)──▶ id key    (32 bytes)
//!
//!   record_rng(n) = ChaCha8(key = data key, stream = n, word position 0)
//!   event_id(n)   = UUID v8: stream tag (48) ‖ ver 8 ‖ n (52, split by the variant bits)
//!                   ‖ check (22); tag = first 48 bits of ChaCha8(id key, stream 2^64−1),
//!                   check = first 22 bits of ChaCha8(id key, stream = n)
//! ```
//!
//! Why this shape:
//! - **O(1) random access.** ChaCha is a counter-mode cipher: the 64-bit *stream* (nonce)
//!   word selects an independent 2^64-block keystream, so record *n*'s generator is built
//!   by setting the nonce to `n`, without running records `0..n`. Workers can therefore
//!   generate any record in any order and get the same value.
//! - **No overlap between records.** Each record owns a whole keystream, so a record that
//!   draws many values (long arrays, deep trees) can never reach into its neighbour's
//!   randomness, which a "word position = n × budget" scheme could.
//! - **Stable across platforms and toolchains.** The key is SHA-256 over a fixed byte
//!   layout (little-endian seed, length-prefixed UTF-8 stream name), never `std`'s
//!   `DefaultHasher`, whose output may change between Rust releases. The unit tests below
//!   pin concrete outputs so a dependency bump that changes them fails loudly.
//! - **Event ids say where they come from.** An arrival at the far end is traced back to
//!   its (stream, n) by decoding its id ([`EventIds::decode`]), with no table of what was
//!   sent: the collector's memory does not grow per message. The check bits make an id
//!   that was not minted by this (seed, stream) — a corrupted one, one from another seed —
//!   decode to nothing, except with probability 2^-22 per foreign id whose tag matches.
//! - **Event ids do not move when the schema does.** Ids come from a second key, so adding
//!   a field (which changes how many values the data RNG hands out) leaves ids unchanged.
//!   The domain-separation labels also make the two keys unrelated for the same seed.

use rand::rngs::ChaCha8Rng;
use rand::{Rng, SeedableRng, TryRng};
use sha2::{Digest, Sha256};
use std::convert::Infallible;
use uuid::Uuid;

/// Domain label for the data key; bump the suffix only to deliberately change all data.
const DATA_KEY_LABEL: &[u8] = b"mbscenario/record-rng/v1";
/// Domain label for the event-id key.
const EVENT_ID_KEY_LABEL: &[u8] = b"mbscenario/event-id/v1";

/// The keys of one stream of one run: cheap to clone, shared by all workers (`Send + Sync`).
#[derive(Clone, PartialEq, Eq)]
pub struct StreamSeed {
    data_key: [u8; 32],
    id_key: [u8; 32],
    /// The 48-bit tag of every event id: a keystream block of its own, worked
    /// out once rather than for every id.
    tag: u64,
}

impl std::fmt::Debug for StreamSeed {
    // The keys are derived from the user's seed, so they are not secret, but 64 hex digits
    // help nobody reading a log; show a short fingerprint instead.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamSeed")
            .field(
                "data_key",
                &format_args!(
                    "{:02x}{:02x}{:02x}{:02x}…",
                    self.data_key[0], self.data_key[1], self.data_key[2], self.data_key[3]
                ),
            )
            .finish_non_exhaustive()
    }
}

impl StreamSeed {
    /// Derives the keys of `stream_name` under the run's `seed`.
    pub fn new(seed: u64, stream_name: &str) -> Self {
        let id_key = derive_key(EVENT_ID_KEY_LABEL, seed, stream_name);
        Self {
            data_key: derive_key(DATA_KEY_LABEL, seed, stream_name),
            tag: keystream(&id_key, u64::MAX).next_u64() >> 16,
            id_key,
        }
    }

    /// The random generator of record `n`; O(1) whatever `n` is.
    pub fn record_rng(&self, n: u64) -> RecordRng {
        RecordRng(keystream(&self.data_key, n))
    }

    /// The event id of record `n`: an RFC 9562 version-8 UUID (consumers that check the
    /// version and variant accept it) that carries the stream's tag and `n` itself, so the
    /// far end can decode it ([`EventIds::decode`]). `n` is taken modulo 2^52 (a plan
    /// never numbers that far: see [`MAX_SEQ`]).
    pub fn event_id(&self, n: u64) -> Uuid {
        let n = n & MAX_SEQ;
        let v = (u128::from(self.tag()) << 80)
            | (8u128 << 76)
            | (u128::from(n >> 40) << 64)
            | (0b10u128 << 62)
            | (u128::from(n & ((1 << 40) - 1)) << 22)
            | u128::from(self.check(n));
        Uuid::from_u128(v)
    }

    /// The 48-bit tag every event id of this (seed, stream) starts with.
    pub fn tag(&self) -> u64 {
        self.tag
    }

    fn check(&self, n: u64) -> u32 {
        keystream(&self.id_key, n).next_u32() >> 10
    }
}

/// The largest record number an event id can carry (2^52 − 1: 4,096 closed-model phases
/// of 2^40 numbers each).
pub const MAX_SEQ: u64 = (1 << 52) - 1;

/// Decodes the event ids of a run's streams back to (stream index, record number).
#[derive(Debug, Clone, Default)]
pub struct EventIds {
    by_tag: std::collections::HashMap<u64, (usize, StreamSeed)>,
}

impl EventIds {
    /// `streams[i]` is the seed of stream index `i`.
    pub fn new(streams: impl IntoIterator<Item = StreamSeed>) -> Self {
        let by_tag = streams
            .into_iter()
            .enumerate()
            .map(|(i, s)| (s.tag(), (i, s)))
            .collect();
        Self { by_tag }
    }

    /// How many streams it decodes.
    pub fn len(&self) -> usize {
        self.by_tag.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_tag.is_empty()
    }

    /// The (stream index, record number) an id was minted for; `None` for ids this run's
    /// streams did not mint (another seed or stream, a corrupted id, another format).
    pub fn decode(&self, id: u128) -> Option<(usize, u64)> {
        let (stream, seed) = self.by_tag.get(&u64::try_from(id >> 80).ok()?)?;
        if (id >> 76) & 0xF != 8 || (id >> 62) & 0b11 != 0b10 {
            return None;
        }
        let high = u64::try_from((id >> 64) & 0xFFF).ok()?;
        let low = u64::try_from((id >> 22) & ((1 << 40) - 1)).ok()?;
        let n = (high << 40) | low;
        (u128::from(seed.check(n)) == id & 0x3F_FFFF).then_some((*stream, n))
    }
}

/// The random generator of one record. It implements [`rand::Rng`], so it can be passed to
/// [`crate::datagen::AvroGenerator::generate`] or to `rand::RngExt` helpers.
///
/// A newtype rather than a bare `ChaCha8Rng` so the algorithm stays an implementation
/// detail: callers cannot seek it into another record's keystream.
#[derive(Debug)]
pub struct RecordRng(ChaCha8Rng);

impl TryRng for RecordRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.0.next_u32())
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.0.next_u64())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.0.fill_bytes(dst);
        Ok(())
    }
}

/// SHA-256 over `label ‖ 0x00 ‖ seed (u64 LE) ‖ len(stream) (u64 LE) ‖ stream (UTF-8)`.
///
/// The zero byte ends the label and the length prefix ends the name, so no two distinct
/// inputs share a byte string (e.g. stream "ab" can never collide with another label).
fn derive_key(label: &[u8], seed: u64, stream_name: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(label);
    hasher.update([0u8]);
    hasher.update(seed.to_le_bytes());
    // usize → u64 is lossless on every platform Rust supports (usize is at most 64 bits).
    hasher.update((stream_name.len() as u64).to_le_bytes());
    hasher.update(stream_name.as_bytes());
    hasher.finalize().into()
}

/// ChaCha8 keyed with `key`, positioned at the start of keystream number `n`.
fn keystream(key: &[u8; 32], n: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::from_seed(*key);
    // `set_stream` also resets the word position to 0, which is what we want.
    rng.set_stream(n);
    rng
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Pins the key derivation: if this changes, every generated record of every scenario
    /// changes, which must only ever happen on purpose (by bumping the `/v1` labels).
    #[test]
    fn key_derivation_is_pinned() {
        let seed = StreamSeed::new(42, "pokemon");
        assert_eq!(hex(&seed.data_key), PINNED_DATA_KEY);
        assert_eq!(hex(&seed.id_key), PINNED_ID_KEY);
    }

    /// Pins the ChaCha8 keystream layout (nonce = n) on top of the key.
    #[test]
    fn record_rng_output_is_pinned() {
        let seed = StreamSeed::new(42, "pokemon");
        let firsts: Vec<u64> = [0u64, 1, 7, u64::MAX]
            .iter()
            .map(|&n| seed.record_rng(n).next_u64())
            .collect();
        assert_eq!(firsts, PINNED_FIRST_U64);
    }

    #[test]
    fn event_id_is_pinned_and_v8() {
        let seed = StreamSeed::new(42, "pokemon");
        let id = seed.event_id(0);
        assert_eq!(id.to_string(), PINNED_EVENT_ID_0);
        assert_eq!(id.get_version_num(), 8);
        assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
    }

    #[test]
    fn event_ids_decode_to_their_stream_and_number() {
        let (a, b) = (StreamSeed::new(42, "a"), StreamSeed::new(42, "b"));
        let ids = EventIds::new([a.clone(), b.clone()]);
        for n in [0, 1, 65_535, 1 << 40, (1 << 40) + 17, 3 << 40, MAX_SEQ] {
            assert_eq!(ids.decode(a.event_id(n).as_u128()), Some((0, n)));
            assert_eq!(ids.decode(b.event_id(n).as_u128()), Some((1, n)));
        }
        // Another seed's ids, a flipped bit, a random v4 id: nothing.
        assert_eq!(
            ids.decode(StreamSeed::new(43, "a").event_id(5).as_u128()),
            None
        );
        for bit in 0..128 {
            assert_eq!(
                ids.decode(a.event_id(9).as_u128() ^ (1 << bit)),
                None,
                "bit {bit}"
            );
        }
        assert_eq!(ids.decode(0xc241_f480_b370_44a2_b3b3_a4d0_e2c5_1e4c), None);
    }

    #[test]
    fn record_rng_is_random_access() {
        let seed = StreamSeed::new(7, "orders");
        let mut a = seed.record_rng(1_000_000);
        let mut b = seed.clone().record_rng(1_000_000);
        let xs: Vec<u64> = (0..100).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..100).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
    }

    #[test]
    fn neighbours_seeds_and_streams_differ() {
        let s = StreamSeed::new(1, "a");
        assert_ne!(s.record_rng(0).next_u64(), s.record_rng(1).next_u64());
        assert_ne!(
            s.record_rng(0).next_u64(),
            StreamSeed::new(2, "a").record_rng(0).next_u64()
        );
        assert_ne!(
            s.record_rng(0).next_u64(),
            StreamSeed::new(1, "b").record_rng(0).next_u64()
        );
        // Data and id keys are separated by their labels.
        assert_ne!(s.data_key, s.id_key);
    }

    #[test]
    fn event_ids_are_distinct() {
        let s = StreamSeed::new(3, "ids");
        let ids: std::collections::HashSet<Uuid> = (0..10_000).map(|n| s.event_id(n)).collect();
        assert_eq!(ids.len(), 10_000);
    }

    // Cross-checked against an independent implementation (Python hashlib SHA-256 and a
    // from-the-spec ChaCha block function with 8 rounds, 64-bit block counter in words
    // 12–13 and the 64-bit stream id in words 14–15, first output word little-endian).
    const PINNED_DATA_KEY: &str =
        "6fb98ea69ba277dc622ea66e7ca5bcd1b54f4f6dab5b6b8303ca2851040ad070";
    const PINNED_ID_KEY: &str = "14ce38824ed4d3ec4d8d0680f6407a22335e1f5e3e0076198400e12fbcfed4d8";
    const PINNED_FIRST_U64: [u64; 4] = [
        8_047_182_164_435_151_124,
        7_000_455_006_009_476_784,
        5_500_161_268_380_986_346,
        18_320_922_989_072_627_648,
    ];
    const PINNED_EVENT_ID_0: &str = "7ef1276d-04b7-8000-8000-000000203d10";
}
