//! [`Written`]: the leads a run wrote, in about 8 bytes each. A first backfill of 200 000
//! services writes 200 000 leads; held in a `BTreeSet<i64>` they took 3.6 MB at the run's
//! peak (its nodes end half full when ids arrive in order), as a sorted vector 1.6 MB.

use std::collections::BTreeSet;

/// How many out-of-order ids wait beside the sorted ones before they are merged in.
const MERGE_AT: usize = 4096;

/// A set of lead ids. amoCRM hands out ids in increasing order, so an id a create brings
/// back is nearly always larger than every one before it and is appended; ids out of that
/// order (updates of older leads) wait in a small tree and are merged in a pass at a time.
#[derive(Debug, Default)]
pub struct Written {
    sorted: Vec<i64>,
    recent: BTreeSet<i64>,
}

impl Written {
    /// Adds `id`; whether it was new.
    pub fn insert(&mut self, id: i64) -> bool {
        if self.sorted.last().is_none_or(|last| *last < id) {
            self.sorted.push(id);
            return true;
        }
        if self.sorted.binary_search(&id).is_ok() || !self.recent.insert(id) {
            return false;
        }
        if self.recent.len() >= MERGE_AT {
            self.merge();
        }
        true
    }

    /// Whether `id` was added.
    pub fn contains(&self, id: i64) -> bool {
        self.sorted.binary_search(&id).is_ok() || self.recent.contains(&id)
    }

    /// Merges the waiting ids into the sorted ones, from the back, in place.
    fn merge(&mut self) {
        let add: Vec<i64> = std::mem::take(&mut self.recent).into_iter().collect();
        let mut i = self.sorted.len();
        let mut j = add.len();
        self.sorted.resize(i + j, 0);
        let mut k = self.sorted.len();
        while j > 0 {
            k -= 1;
            if i > 0 && self.sorted[i - 1] > add[j - 1] {
                self.sorted[k] = self.sorted[i - 1];
                i -= 1;
            } else {
                self.sorted[k] = add[j - 1];
                j -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Written, MERGE_AT};
    use std::collections::BTreeSet;

    #[test]
    fn holds_exactly_the_ids_added_in_any_order() {
        let mut w = Written::default();
        let mut model = BTreeSet::new();
        // Ascending runs (creates) interleaved with older ids (updates), past several merges.
        let mut x: i64 = 7;
        for n in 0..(MERGE_AT as i64 * 5) {
            let id = if n % 3 == 0 {
                x = (x * 7919 + 13) % 100_003;
                x
            } else {
                100_000 + n
            };
            assert_eq!(w.insert(id), model.insert(id), "insert {id}");
        }
        assert!(w.sorted.windows(2).all(|p| p[0] < p[1]));
        for id in -5..200_000 {
            assert_eq!(w.contains(id), model.contains(&id), "contains {id}");
        }
        assert!(!w.insert(100_001) && !w.insert(x));
    }
}
