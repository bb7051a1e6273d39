//! The keys recently evicted from the small queue (S3-FIFO's ghost queue): a key that comes
//! back while it is remembered has proven it is not a one-hit wonder and enters the main
//! queue directly.
//!
//! Remembered as 16-bit fingerprints in a direct-mapped table: remembering and forgetting
//! touch one cache line, and a newer key evicts an older one that maps to the same place.
//! In simulation on the benchmark's workload, a table of a quarter of the shard's size keeps
//! the same hit ratio as an exact FIFO ghost list of a third, at a fraction of the cost.

/// A lossy set of key hashes.
pub(super) struct Ghost {
    table: Box<[u16]>,
    mask: usize,
}

/// The size of the table, in percent of the shard.
const PERCENT: usize = 25;

impl Ghost {
    /// A table for a shard of `nominal` entries.
    pub(super) fn new(nominal: usize) -> Self {
        let size = (nominal * PERCENT / 100).max(1).next_power_of_two();
        Self {
            table: vec![0; size].into_boxed_slice(),
            mask: size - 1,
        }
    }

    /// Where `hash` (a key's hash within its shard) lives, and its fingerprint: the high 16
    /// bits, which the place does not use below 2^16 places, never zero (zero marks an empty
    /// place).
    fn locate(&self, hash: u32) -> (usize, u16) {
        (hash as usize & self.mask, (hash >> 16) as u16 | 1)
    }

    /// Remembers `hash`, replacing whatever was remembered at its place.
    pub(super) fn remember(&mut self, hash: u32) {
        let (at, print) = self.locate(hash);
        self.table[at] = print;
    }

    /// Forgets `hash`; returns whether it was remembered.
    pub(super) fn forget(&mut self, hash: u32) -> bool {
        let (at, print) = self.locate(hash);
        let found = self.table[at] == print;
        if found {
            self.table[at] = 0;
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_until_forgotten_or_replaced() {
        let mut ghost = Ghost::new(64);
        assert_eq!(ghost.table.len(), 16);
        ghost.remember(3 << 16 | 5);
        assert!(!ghost.forget(4 << 16 | 5), "same place, other key");
        assert!(ghost.forget(3 << 16 | 5));
        assert!(!ghost.forget(3 << 16 | 5), "forgotten once found");
        ghost.remember(3 << 16 | 5);
        ghost.remember(4 << 16 | 5);
        assert!(
            !ghost.forget(3 << 16 | 5),
            "replaced by a newer key at its place"
        );
        assert!(ghost.forget(4 << 16 | 5));
    }
}
