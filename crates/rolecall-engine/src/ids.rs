//! Ids to compact indexes, for the two big kinds: users and resources.
//!
//! An open-addressing table with linear probing over 8-byte entries: the index and the
//! high 32 bits of the id's hash. A lookup finds the candidate index from the table alone,
//! without touching any record, then compares the id in the record the index names, whose
//! first cache lines hold the id and everything a check reads. So a check finds its user
//! and its resource in two independent steps whose memory accesses overlap.
//!
//! Why not hashbrown's `HashTable` (which this replaced): it keeps its control bytes and
//! its entries in two arrays, so a lookup in a table larger than the CPU caches waits for
//! memory twice before it even reads the record (measured: the check p99 on a workspace of
//! 1,000,000 users). Here an entry sits at its home slot or a few slots after it, in the
//! same cache line: one wait. The table is at most seven eighths full (hashbrown's own
//! bound; three quarters measured slower, the tables no longer fitting the cache as well),
//! so every probe ends at an empty slot, and removal shifts the entries after it back (no
//! tombstones).

use std::hash::BuildHasher;

use rustc_hash::FxBuildHasher;

/// An empty slot. No entry equals it: index `u32::MAX` is never given out.
const EMPTY: u64 = u64::MAX;

#[derive(Clone, Debug, Default)]
pub(crate) struct IdTable {
    /// A power of two in length (or empty); each entry is `check << 32 | ix`.
    slots: Vec<u64>,
    len: usize,
}

/// The hash an id is filed under.
#[inline]
pub(crate) fn hash(id: &str) -> u64 {
    FxBuildHasher.hash_one(id)
}

/// The bits kept in the entry to tell ids apart without reading their records.
#[inline]
fn check_bits(hash: u64) -> u32 {
    (hash >> 32) as u32
}

#[inline]
fn entry_ix(entry: u64) -> u32 {
    entry as u32
}

#[inline]
fn entry_check(entry: u64) -> u32 {
    (entry >> 32) as u32
}

impl IdTable {
    #[inline]
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    #[inline]
    fn home(&self, hash: u64) -> usize {
        hash as usize & self.mask()
    }

    /// The slots of the probe run that starts at the hash's home slot, up to the first
    /// empty one.
    #[inline]
    fn run(&self, hash: u64) -> impl Iterator<Item = (usize, u64)> + '_ {
        let mask = self.mask();
        let start = self.home(hash);
        (0..self.slots.len())
            .map(move |step| (start + step) & mask)
            .map(|at| (at, self.slots.get(at).copied().unwrap_or(EMPTY)))
            .take_while(|(_, entry)| *entry != EMPTY)
    }

    /// The index that probably holds the id with this hash, found from the table alone.
    /// The caller must compare the id in the record, and use [`IdTable::get`] when it
    /// differs (two ids whose hashes agree on their home slot and 32 more bits).
    #[inline]
    pub fn candidate(&self, hash: u64) -> Option<u32> {
        let check = check_bits(hash);
        self.run(hash).find(|(_, e)| entry_check(*e) == check).map(|(_, e)| entry_ix(e))
    }

    /// The slot holding the id, comparing ids through `id_of`.
    fn slot_of<'a>(&self, id: &str, hash: u64, id_of: &impl Fn(u32) -> Option<&'a str>) -> Option<usize> {
        let check = check_bits(hash);
        self.run(hash).find(|(_, e)| entry_check(*e) == check && id_of(entry_ix(*e)) == Some(id)).map(|(at, _)| at)
    }

    /// The index whose record has id `id`. `id_of` gives the id of a record by index.
    #[inline]
    pub fn get<'a>(&self, id: &str, id_of: impl Fn(u32) -> Option<&'a str>) -> Option<u32> {
        let hash = hash(id);
        match self.candidate(hash) {
            Some(ix) if id_of(ix) == Some(id) => Some(ix),
            // No entry has these bits: no entry has this id.
            None => None,
            Some(_) => self.slot_of(id, hash, &id_of).and_then(|at| self.slots.get(at)).map(|e| entry_ix(*e)),
        }
    }

    /// Adds `ix` for `id`, which the table does not hold yet; its record exists already.
    pub fn insert<'a>(&mut self, id: &str, ix: u32, id_of: impl Fn(u32) -> Option<&'a str>) {
        debug_assert!(ix != u32::MAX, "index u32::MAX marks an empty slot");
        if (self.len + 1) * 8 > self.slots.len() * 7 {
            self.grow(&id_of);
        }
        let hash = hash(id);
        self.place(hash, u64::from(check_bits(hash)) << 32 | u64::from(ix));
        self.len += 1;
    }

    /// Puts `entry` in the first empty slot of its run (there is one: the table is never full).
    fn place(&mut self, hash: u64, entry: u64) {
        let mask = self.mask();
        let mut at = self.home(hash);
        while self.slots[at] != EMPTY {
            at = (at + 1) & mask;
        }
        self.slots[at] = entry;
    }

    /// Doubles the table (16 slots at first) and files every entry again.
    fn grow<'a>(&mut self, id_of: &impl Fn(u32) -> Option<&'a str>) {
        let size = (self.slots.len() * 2).max(16);
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; size]);
        for entry in old.into_iter().filter(|e| *e != EMPTY) {
            self.place(hash(id_of(entry_ix(entry)).unwrap_or_default()), entry);
        }
    }

    /// Removes `id`, while its record (and every other record in the table) still exists.
    pub fn remove<'a>(&mut self, id: &str, id_of: impl Fn(u32) -> Option<&'a str>) {
        let Some(mut hole) = self.slot_of(id, hash(id), &id_of) else { return };
        let mask = self.mask();
        // Shift back every later entry of the run that may sit in the hole: one whose home
        // is not between the hole and its slot.
        let mut at = hole;
        loop {
            at = (at + 1) & mask;
            let entry = self.slots[at];
            if entry == EMPTY {
                break;
            }
            let home = self.home(hash(id_of(entry_ix(entry)).unwrap_or_default()));
            if at.wrapping_sub(home) & mask >= at.wrapping_sub(hole) & mask {
                self.slots[hole] = entry;
                hole = at;
            }
        }
        self.slots[hole] = EMPTY;
        self.len -= 1;
    }

    pub fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    /// Ids whose candidate collides still resolve exactly (the slow path compares ids).
    #[test]
    fn every_id_is_found_and_no_other() {
        let ids: Vec<String> = (0..50_000).map(|i| format!("user-{i}")).collect();
        let id_of = |ix: u32| ids.get(ix as usize).map(String::as_str);
        let mut table = IdTable::default();
        for (ix, id) in ids.iter().enumerate() {
            table.insert(id, ix as u32, id_of);
        }
        for (ix, id) in ids.iter().enumerate() {
            assert_eq!(table.get(id, id_of), Some(ix as u32));
        }
        assert_eq!(table.get("user-50000", id_of), None);
        table.remove("user-7", id_of);
        assert_eq!(table.get("user-7", id_of), None);
        assert_eq!(table.get("user-8", id_of), Some(8));
        assert_eq!(table.len(), 49_999);
        assert!(table.slots.len() * 7 >= table.len() * 8, "at most seven eighths full");
    }

    /// An entry with the same home and check bits as the id asked for, but another
    /// record (a full collision, forged here): the record tells them apart.
    #[test]
    fn entries_that_look_alike_are_told_apart_by_their_records() {
        let ids = ["a", "b"];
        let id_of = |ix: u32| ids.get(ix as usize).copied();
        let mut table = IdTable { slots: vec![EMPTY; 16], len: 0 };
        let h = hash("a");
        table.place(h, u64::from(check_bits(h)) << 32 | 1);
        table.len = 1;
        table.insert("a", 0, id_of);
        assert_eq!(table.candidate(h), Some(1), "the look-alike comes first in the run");
        assert_eq!(table.get("a", id_of), Some(0));
    }

    proptest! {
        /// Any sequence of inserts and removes leaves the table finding exactly the ids a
        /// map holds (small tables, so runs wrap around and removals shift entries).
        #[test]
        fn the_table_agrees_with_a_map(ops in prop::collection::vec((any::<bool>(), 0u32..300), 1..600)) {
            let ids: Vec<String> = (0..300).map(|i| format!("id{i}")).collect();
            let id_of = |ix: u32| ids.get(ix as usize).map(String::as_str);
            let mut table = IdTable::default();
            let mut map: HashMap<&str, u32> = HashMap::new();
            for (add, i) in ops {
                let id = ids[i as usize].as_str();
                if add && !map.contains_key(id) {
                    table.insert(id, i, id_of);
                    map.insert(id, i);
                } else if !add && map.contains_key(id) {
                    table.remove(id, id_of);
                    map.remove(id);
                }
                prop_assert_eq!(table.len(), map.len());
            }
            for (i, id) in ids.iter().enumerate() {
                prop_assert_eq!(table.get(id, id_of), map.get(id.as_str()).copied(), "{}", i);
            }
        }
    }
}
