//! What was sent, without a per-message table: per phase × stream, bitmaps
//! of the record numbers whose send was acknowledged or failed, and per
//! stream the record number each phase started at (so an arrival decoded to
//! (stream, n) finds its phase). Workers write it as sends finish; the
//! collector reads the phase starts; reconciliation reads the bitmaps.
//!
//! Record numbers of a phase are consecutive (or one residue class on a
//! shard), so the bitmaps compress to about a bit per message at worst and
//! to a few bytes per run of consecutive numbers at best: a 15-million
//! message run costs megabytes, not the gigabytes a map from event id to
//! send facts did.

use std::collections::BTreeMap;
use std::sync::Mutex;

use roaring::RoaringTreemap;

/// The sends of one phase × stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CellSends {
    pub acked: RoaringTreemap,
    /// Sends reported failed (they can still arrive: a timeout after the
    /// broker took the message), never also in `acked`.
    pub failed: RoaringTreemap,
}

#[derive(Debug, Default)]
pub struct Sends {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Keyed by (phase, stream).
    cells: BTreeMap<(u32, u32), CellSends>,
    /// Per stream: (first record number, phase), ascending.
    starts: BTreeMap<u32, Vec<(u64, u32)>>,
}

impl Sends {
    pub fn new() -> Self {
        Self::default()
    }

    /// Phase `phase` numbers stream `stream`'s records from `first_seq` on
    /// (called before the phase sends anything).
    pub fn phase_started(&self, phase: u32, stream: u32, first_seq: u64) {
        let mut g = self.lock();
        let starts = g.starts.entry(stream).or_default();
        // Phases start in order and numbers only grow, but keep it sorted
        // whatever the caller does.
        let at = starts.partition_point(|&(s, p)| (s, p) <= (first_seq, phase));
        starts.insert(at, (first_seq, phase));
    }

    /// (first record number, phase) of every phase that numbered `stream`'s
    /// records, ascending.
    pub fn phase_starts(&self, stream: u32) -> Vec<(u64, u32)> {
        self.lock().starts.get(&stream).cloned().unwrap_or_default()
    }

    /// The phase that sent record `seq` of `stream` (the last phase that
    /// started at or below it).
    pub fn phase_of(&self, stream: u32, seq: u64) -> Option<u32> {
        let g = self.lock();
        let starts = g.starts.get(&stream)?;
        let i = starts.partition_point(|&(s, _)| s <= seq);
        i.checked_sub(1).map(|i| starts[i].1)
    }

    /// Records a finished send.
    pub fn record(&self, phase: u32, stream: u32, seq: u64, acked: bool) {
        let mut g = self.lock();
        let cell = g.cells.entry((phase, stream)).or_default();
        if acked {
            cell.failed.remove(seq);
            cell.acked.insert(seq);
        } else if !cell.acked.contains(seq) {
            cell.failed.insert(seq);
        }
    }

    /// Acknowledged sends of the streams `counted` selects.
    pub fn acked(&self, counted: &[bool]) -> u64 {
        self.lock()
            .cells
            .iter()
            .filter(|((_, s), _)| counted.get(*s as usize).copied().unwrap_or(false))
            .map(|(_, c)| c.acked.len())
            .sum()
    }

    /// Runs `f` on the cells under the lock (no copy: settling checks
    /// several times a second).
    pub fn with_cells<T>(&self, f: impl FnOnce(&BTreeMap<(u32, u32), CellSends>) -> T) -> T {
        f(&self.lock().cells)
    }

    /// Bytes the bitmaps take (for the memory figures in the bench output).
    pub fn heap_bytes(&self) -> u64 {
        self.lock()
            .cells
            .values()
            .map(|c| c.acked.serialized_size() as u64 + c.failed.serialized_size() as u64)
            .sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_found_from_their_first_numbers() {
        let s = Sends::new();
        s.phase_started(0, 0, 0);
        s.phase_started(1, 0, 100);
        // A phase that sent nothing to stream 0 shares the next one's start.
        s.phase_started(2, 0, 1 << 40);
        s.phase_started(3, 0, 1 << 40);
        s.phase_started(1, 1, 0);
        assert_eq!(s.phase_of(0, 0), Some(0));
        assert_eq!(s.phase_of(0, 99), Some(0));
        assert_eq!(s.phase_of(0, 100), Some(1));
        assert_eq!(s.phase_of(0, (1 << 40) + 5), Some(3));
        assert_eq!(s.phase_of(1, 7), Some(1));
        assert_eq!(s.phase_of(2, 7), None);
    }

    #[test]
    fn a_retried_send_that_succeeds_counts_once_as_acked() {
        let s = Sends::new();
        s.record(0, 0, 5, false);
        s.record(0, 0, 5, true);
        s.record(0, 0, 5, false); // a late failure report does not undo the ack
        s.record(0, 1, 6, true);
        assert_eq!(s.acked(&[true, false]), 1);
        assert_eq!(s.acked(&[true, true]), 2);
        s.with_cells(|c| {
            assert_eq!(c[&(0, 0)].failed.len(), 0);
            assert!(c[&(0, 0)].acked.contains(5));
        });
    }
}
