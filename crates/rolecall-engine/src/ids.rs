//! Ids to compact indexes, for the two big kinds: users and resources.
//!
//! The table holds only the 4-byte indexes (hashbrown's `HashTable`); an id is compared
//! against the record the index names, whose first cache line holds the id and everything
//! a check reads. A lookup so costs one small table (a few hundred KiB for 100,000 ids,
//! which stays in cache) and the record itself, which the check needs anyway.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;

#[derive(Clone, Debug, Default)]
pub(crate) struct IdTable {
    table: HashTable<u32>,
}

fn hash(id: &str) -> u64 {
    FxBuildHasher.hash_one(id)
}

impl IdTable {
    /// The index whose record has id `id`. `id_of` gives the id of a record by index.
    #[inline]
    pub fn get<'a>(&self, id: &str, id_of: impl Fn(u32) -> Option<&'a str>) -> Option<u32> {
        self.table.find(hash(id), |&ix| id_of(ix) == Some(id)).copied()
    }

    /// Adds `ix` for `id`, which the table does not hold yet; its record exists already.
    pub fn insert<'a>(&mut self, id: &str, ix: u32, id_of: impl Fn(u32) -> Option<&'a str>) {
        self.table.insert_unique(hash(id), ix, |&x| hash(id_of(x).unwrap_or_default()));
    }

    /// Removes `id`, while its record still exists.
    pub fn remove<'a>(&mut self, id: &str, id_of: impl Fn(u32) -> Option<&'a str>) {
        if let Ok(entry) = self.table.find_entry(hash(id), |&ix| id_of(ix) == Some(id)) {
            entry.remove();
        }
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }
}
