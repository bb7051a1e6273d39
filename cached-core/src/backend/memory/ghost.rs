//! The keys recently evicted from the small queue (S3-FIFO's ghost queue): a key that comes
//! back while it is remembered has proven it is not a one-hit wonder and enters the main
//! queue directly.
//!
//! Remembered as 16-bit fingerprints in a direct-mapped table: remembering and forgetting
//! touch one cache line, and a newer key evicts an older one that maps to the same place.
//! In simulation on the benchmark's workload, a table of a quarter of the shard's size keeps
//! the same hit ratio as an exact FIFO ghost list of a third, at a fraction of the cost.
//!
//! The table starts small and doubles as its shard fills, up to a quarter of the shard's
//! nominal size: memory follows the entries held, not the bound, so a store bounded far
//! above what it ever holds (`usize::MAX`, say) allocates little. Keys are remembered only
//! when a full store evicts, by which time a shard holds about its nominal size; the table
//! doubles whenever the shard's slots (the most entries it has held) reach twice its places,
//! so it reaches its full size once the shard has held as many entries as that size, at most
//! half its nominal size: a full shard evicts into the same table as if it had been
//! allocated up front. The check is made only when the shard adds a slot, never on the path
//! of a full shard, which evicts into the slot it fills. Doubling copies each place to both
//! places it becomes, so no remembered key is forgotten.

/// A lossy set of key hashes.
pub(super) struct Ghost {
    table: Box<[u16]>,
    mask: u32,
    /// The shard's slots at which the table doubles: twice its size, so that it holds at
    /// most one place per slot; `u32::MAX` (more than a shard holds) at its full size.
    grow_at: u32,
    full: u32,
}

/// The full size of the table, in percent of the shard's nominal size.
const PERCENT: usize = 25;

/// The size of a new table (or its full size, if smaller): 32 bytes.
const INITIAL: usize = 16;

/// The largest full size: a shard indexes its slots with 32 bits, so it never holds four
/// times as many entries.
const LARGEST: usize = 1 << 30;

impl Ghost {
    /// A table for a shard of `nominal` entries.
    pub(super) fn new(nominal: usize) -> Self {
        // `nominal * PERCENT / 100`, which would overflow for the largest bounds.
        let share = nominal / 100 * PERCENT + nominal % 100 * PERCENT / 100;
        let full = share.clamp(1, LARGEST).next_power_of_two();
        Self::with_table(vec![0; full.min(INITIAL)].into_boxed_slice(), full as u32)
    }

    fn with_table(table: Box<[u16]>, full: u32) -> Self {
        let size = table.len() as u32;
        Self {
            table,
            mask: size - 1,
            grow_at: if size < full { 2 * size } else { u32::MAX },
            full,
        }
    }

    /// Grows the table for a shard with `len` slots.
    #[inline]
    pub(super) fn fit(&mut self, len: u32) {
        if len >= self.grow_at {
            self.grow(len);
        }
    }

    #[cold]
    fn grow(&mut self, len: u32) {
        while len >= self.grow_at && self.table.len() < self.full as usize {
            let mut table = Vec::with_capacity(2 * self.table.len());
            table.extend_from_slice(&self.table);
            table.extend_from_slice(&self.table);
            *self = Self::with_table(table.into_boxed_slice(), self.full);
        }
    }

    /// Places in the table.
    #[cfg(test)]
    pub(super) fn size(&self) -> usize {
        self.table.len()
    }

    /// Where `hash` (a key's hash within its shard) lives, and its fingerprint: the high 16
    /// bits, which the place does not use below 2^16 places, never zero (zero marks an empty
    /// place).
    fn locate(&self, hash: u32) -> (usize, u16) {
        ((hash & self.mask) as usize, (hash >> 16) as u16 | 1)
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
        assert_eq!(ghost.size(), 16);
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

    #[test]
    fn grows_with_the_shard_to_a_quarter_of_its_nominal_size() {
        let mut ghost = Ghost::new(1_000);
        assert_eq!(ghost.size(), INITIAL);
        ghost.fit(31);
        assert_eq!(ghost.size(), INITIAL, "not before twice its size");
        ghost.fit(32);
        assert_eq!(ghost.size(), 32);
        ghost.fit(255);
        assert_eq!(ghost.size(), 128);
        ghost.fit(256);
        assert_eq!(ghost.size(), 256, "a quarter of 1,000, rounded up");
        ghost.fit(u32::MAX);
        assert_eq!(ghost.size(), 256);
        assert_eq!(Ghost::new(10).size(), 2, "full sizes below the initial one");
    }

    #[test]
    fn growing_forgets_nothing() {
        let mut ghost = Ghost::new(1_000);
        let hashes: Vec<u32> = (1..=8_u32).map(|i| i.wrapping_mul(0x9E37_79B9)).collect();
        for &hash in &hashes {
            ghost.remember(hash);
        }
        ghost.fit(512);
        for &hash in &hashes {
            assert!(ghost.forget(hash), "{hash:#x} remembered across growth");
        }
    }

    #[test]
    fn the_largest_bounds_give_small_tables_and_bounded_full_sizes() {
        for nominal in [usize::MAX, i64::MAX as usize, 1 << 62, 1_000_000_000_000] {
            let mut ghost = Ghost::new(nominal);
            assert_eq!(ghost.size(), INITIAL);
            assert_eq!(ghost.full as usize, LARGEST);
            ghost.fit(1_000);
            assert_eq!(ghost.size(), 512, "follows the population");
        }
    }
}
