//! Ids to compact indexes, for the two big kinds: users and resources.
//!
//! The table holds 8-byte entries (hashbrown's `HashTable`): the index and 32 more bits of
//! the id's hash. A lookup first finds the candidate index from the table alone, without
//! touching any record, then compares the id in the record the index names, whose first
//! cache lines hold the id and everything a check reads. So a check can find its user and
//! its resource in two independent steps whose memory accesses overlap, and the table (a
//! megabyte per 100,000 ids) stays in cache.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

#[derive(Clone, Copy, Debug)]
struct Entry {
    ix: u32,
    /// The high 32 bits of the id's hash (hashbrown uses the low bits and 7 more).
    check: u32,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct IdTable {
    table: HashTable<Entry>,
}

/// The hash an id is filed under.
#[inline]
pub(crate) fn hash(id: &str) -> u64 {
    FxBuildHasher.hash_one(id)
}

fn check_bits(hash: u64) -> u32 {
    (hash >> 32) as u32
}

impl IdTable {
    /// The index that probably holds the id with this hash, found from the table alone.
    /// The caller must compare the id in the record, and use [`IdTable::get`] when it
    /// differs (two ids whose hashes agree on 39 bits).
    #[inline]
    pub fn candidate(&self, hash: u64) -> Option<u32> {
        let check = check_bits(hash);
        self.table.find(hash, |e| e.check == check).map(|e| e.ix)
    }

    /// The index whose record has id `id`. `id_of` gives the id of a record by index.
    #[inline]
    pub fn get<'a>(&self, id: &str, id_of: impl Fn(u32) -> Option<&'a str>) -> Option<u32> {
        let hash = hash(id);
        match self.candidate(hash) {
            Some(ix) if id_of(ix) == Some(id) => Some(ix),
            // No entry has these bits: no entry has this id.
            None => None,
            Some(_) => self.table.find(hash, |e| id_of(e.ix) == Some(id)).map(|e| e.ix),
        }
    }

    /// Adds `ix` for `id`, which the table does not hold yet; its record exists already.
    pub fn insert<'a>(&mut self, id: &str, ix: u32, id_of: impl Fn(u32) -> Option<&'a str>) {
        let hash = hash(id);
        let entry = Entry { ix, check: check_bits(hash) };
        self.table.insert_unique(hash, entry, |e| self::hash(id_of(e.ix).unwrap_or_default()));
    }

    /// Removes `id`, while its record still exists.
    pub fn remove<'a>(&mut self, id: &str, id_of: impl Fn(u32) -> Option<&'a str>) {
        if let Ok(entry) = self.table.find_entry(hash(id), |e| id_of(e.ix) == Some(id)) {
            entry.remove();
        }
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }
}

#[cfg(test)]
mod tests {
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
    }
}
