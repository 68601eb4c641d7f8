//! Sharding: shard `I` of `N` takes the records whose sequence number
//! `n ≡ I (mod N)` of every stream, at the instants the unsharded plan gives
//! them — so the shards together send exactly the unsharded run's records
//! (same content, same event ids) on the same curve, and each alone runs at
//! 1/N of it.
//!
//! Closed-model (`max`) phases have no planned instants: each shard takes its
//! residue class from the phase's first sequence number as fast as it can.
//! Every stream reserves [`CLOSED_PHASE_SEQS`] sequence numbers for such a
//! phase, so the phases after it start at the same number on every shard (and
//! in every unsharded run, whatever its throughput was).

use serde::{Deserialize, Serialize};

/// Sequence numbers a closed-model phase reserves per stream (2^40: twelve
/// days at a million messages per second).
pub const CLOSED_PHASE_SEQS: u64 = 1 << 40;

/// Shard `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    pub fn new(index: u32, count: u32) -> Result<Self, String> {
        if count == 0 {
            return Err("the shard count must be at least 1".into());
        }
        if index >= count {
            return Err(format!(
                "shard index {index} is out of range for {count} shard(s): indices run from 0 to {}",
                count - 1
            ));
        }
        Ok(Self { index, count })
    }

    /// Whether record `seq` belongs to this shard.
    pub fn owns(&self, seq: u64) -> bool {
        seq % u64::from(self.count) == u64::from(self.index)
    }

    /// The first sequence number at or after `seq` this shard owns.
    pub fn next_owned(&self, seq: u64) -> u64 {
        let (n, i) = (u64::from(self.count), u64::from(self.index));
        seq + (i + n - seq % n) % n
    }

    /// How many of the sequence numbers in `[from, to)` this shard owns.
    pub fn owned_in(&self, from: u64, to: u64) -> u64 {
        let below = |x: u64| {
            let (n, i) = (u64::from(self.count), u64::from(self.index));
            if x <= i { 0 } else { (x - i - 1) / n + 1 }
        };
        below(to).saturating_sub(below(from))
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// `I/N`, e.g. `0/4`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad =
            || format!("`{s}` is not a shard: write INDEX/COUNT with a 0-based index, e.g. `0/4`");
        let (i, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let i: u32 = i.trim().parse().map_err(|_| bad())?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        Shard::new(i, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_sequence_numbers() {
        let shards: Vec<Shard> = (0..4).map(|i| Shard::new(i, 4).unwrap()).collect();
        for seq in 0..100u64 {
            assert_eq!(shards.iter().filter(|s| s.owns(seq)).count(), 1);
        }
        for (from, to) in [(0, 0), (0, 1), (3, 17), (5, 6), (10, 1000)] {
            let total: u64 = shards.iter().map(|s| s.owned_in(from, to)).sum();
            assert_eq!(total, to - from, "[{from}, {to})");
            for s in &shards {
                let brute = (from..to).filter(|&n| s.owns(n)).count() as u64;
                assert_eq!(s.owned_in(from, to), brute, "{s} [{from}, {to})");
            }
        }
        let s: Shard = "2/4".parse().unwrap();
        assert_eq!(s.next_owned(0), 2);
        assert_eq!(s.next_owned(2), 2);
        assert_eq!(s.next_owned(3), 6);
        assert!("4/4".parse::<Shard>().unwrap_err().contains("from 0 to 3"));
        assert!("x".parse::<Shard>().unwrap_err().contains("INDEX/COUNT"));
    }
}
