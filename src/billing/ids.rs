//! [`IdList`]: many entity ids in little memory. A backfill lists every service id up
//! front; 200 000 ids as `String`s cost about 11 MB (a heap block each), packed into one
//! text buffer they cost under 3 MB (`docs/billmanager.md` §13.7).

use super::values::id_order;

/// Ids in one text buffer with their spans, in the order given (or sorted).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IdList {
    text: String,
    spans: Vec<(u32, u32)>,
}

impl IdList {
    /// Adds an id at the end.
    pub fn push(&mut self, id: &str) {
        let start = self.text.len() as u32;
        self.text.push_str(id);
        self.spans.push((start, id.len() as u32));
    }

    /// How many ids.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    fn get(&self, span: (u32, u32)) -> &str {
        &self.text[span.0 as usize..(span.0 + span.1) as usize]
    }

    /// Sorts numerically (`9 < 10`), non-numeric ids after numeric ones.
    pub fn sort(&mut self) {
        let mut spans = std::mem::take(&mut self.spans);
        spans.sort_by(|a, b| id_order(self.get(*a), self.get(*b)));
        self.spans = spans;
        self.text.shrink_to_fit();
        self.spans.shrink_to_fit();
    }

    /// Whether `id` is in the list; the list must be sorted ([`IdList::sort`]).
    pub fn contains_sorted(&self, id: &str) -> bool {
        self.spans
            .binary_search_by(|s| id_order(self.get(*s), id))
            .is_ok()
    }

    /// The ids in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &str> + '_ {
        self.spans.iter().map(|s| self.get(*s))
    }

    /// At most `n` ids from position `from`, as owned strings.
    pub fn part(&self, from: usize, n: usize) -> Vec<String> {
        let end = from.saturating_add(n).min(self.spans.len());
        self.spans[from.min(end)..end]
            .iter()
            .map(|s| self.get(*s).to_string())
            .collect()
    }
}

impl From<Vec<String>> for IdList {
    fn from(ids: Vec<String>) -> IdList {
        let mut list = IdList::default();
        ids.iter().for_each(|id| list.push(id));
        list
    }
}

#[cfg(test)]
mod tests {
    use super::IdList;

    #[test]
    fn ids_sort_numerically_and_come_back_in_parts() {
        let mut ids = IdList::default();
        for id in ["10", "9", "x", "100"] {
            ids.push(id);
        }
        ids.sort();
        assert_eq!(ids.iter().collect::<Vec<_>>(), ["9", "10", "100", "x"]);
        assert_eq!(ids.part(0, 3), ["9", "10", "100"]);
        assert!(ids.contains_sorted("10") && ids.contains_sorted("x"));
        assert!(!ids.contains_sorted("1") && !ids.contains_sorted("11"));
        assert_eq!(ids.len(), 4);
        assert_eq!(ids.part(2, 5), ["100", "x"]);
        assert!(ids.part(9, 5).is_empty());
    }
}
