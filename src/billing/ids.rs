//! [`IdList`]: many entity ids in little memory. A backfill lists every service id up
//! front; 200 000 ids as `String`s cost about 11 MB (a heap block each), packed into one
//! text buffer 2.7 MB, and as the numbers panels give 0.8 MB (`docs/billmanager.md` §13.7).

use super::values::id_order;

/// Ids in the order given (or sorted): as 4-byte numbers while every id is a plain number
/// below 2^32 (as BILLmanager's `elid`s are), else in one text buffer with their spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdList(Ids);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ids {
    Numbers(Vec<u32>),
    Text {
        text: String,
        spans: Vec<(u32, u32)>,
    },
}

impl Default for IdList {
    fn default() -> IdList {
        IdList(Ids::Numbers(Vec::new()))
    }
}

/// `id` as a number, when it is one written plainly (no sign, no leading zero) below 2^32:
/// then the number gives the text back exactly.
pub(super) fn plain_number(id: &str) -> Option<u32> {
    let plain = id.bytes().all(|b| b.is_ascii_digit()) && (id == "0" || !id.starts_with('0'));
    if plain {
        id.parse().ok()
    } else {
        None
    }
}

impl IdList {
    /// Adds an id at the end.
    pub fn push(&mut self, id: &str) {
        if let Ids::Numbers(numbers) = &mut self.0 {
            match plain_number(id) {
                Some(n) => return numbers.push(n),
                None => self.become_text(),
            }
        }
        if let Ids::Text { text, spans } = &mut self.0 {
            let start = text.len() as u32;
            text.push_str(id);
            spans.push((start, id.len() as u32));
        }
    }

    /// Switches to text, keeping the ids and their order.
    fn become_text(&mut self) {
        if let Ids::Numbers(numbers) = &self.0 {
            let mut text = String::new();
            let mut spans = Vec::with_capacity(numbers.len());
            for n in numbers {
                let start = text.len() as u32;
                text.push_str(&n.to_string());
                spans.push((start, text.len() as u32 - start));
            }
            self.0 = Ids::Text { text, spans };
        }
    }

    /// How many ids.
    pub fn len(&self) -> usize {
        match &self.0 {
            Ids::Numbers(n) => n.len(),
            Ids::Text { spans, .. } => spans.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn text_at(text: &str, span: (u32, u32)) -> &str {
        &text[span.0 as usize..(span.0 + span.1) as usize]
    }

    /// Sorts numerically (`9 < 10`), non-numeric ids after numeric ones.
    pub fn sort(&mut self) {
        match &mut self.0 {
            Ids::Numbers(numbers) => {
                numbers.sort_unstable();
                numbers.shrink_to_fit();
            }
            Ids::Text { text, spans } => {
                spans.sort_unstable_by(|a, b| {
                    id_order(Self::text_at(text, *a), Self::text_at(text, *b))
                });
                text.shrink_to_fit();
                spans.shrink_to_fit();
            }
        }
    }

    /// Whether `id` is in the list; the list must be sorted ([`IdList::sort`]).
    pub fn contains_sorted(&self, id: &str) -> bool {
        match &self.0 {
            Ids::Numbers(numbers) => {
                plain_number(id).is_some_and(|n| numbers.binary_search(&n).is_ok())
            }
            Ids::Text { text, spans } => spans
                .binary_search_by(|s| id_order(Self::text_at(text, *s), id))
                .is_ok(),
        }
    }

    /// The id at position `i`.
    fn get(&self, i: usize) -> String {
        match &self.0 {
            Ids::Numbers(numbers) => numbers[i].to_string(),
            Ids::Text { text, spans } => Self::text_at(text, spans[i]).to_string(),
        }
    }

    /// The ids in order.
    pub fn iter(&self) -> impl Iterator<Item = String> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// At most `n` ids from position `from`.
    pub fn part(&self, from: usize, n: usize) -> Vec<String> {
        let end = from.saturating_add(n).min(self.len());
        (from.min(end)..end).map(|i| self.get(i)).collect()
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
    use super::{IdList, Ids};

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

    #[test]
    fn plain_numbers_are_kept_as_numbers_and_anything_else_as_text_in_the_same_order() {
        let mut ids = IdList::default();
        for id in ["42", "7", "0", "4294967295"] {
            ids.push(id);
        }
        assert!(matches!(ids.0, Ids::Numbers(_)));
        ids.sort();
        assert_eq!(
            ids.iter().collect::<Vec<_>>(),
            ["0", "7", "42", "4294967295"]
        );
        // Not the same text as any number in the list: not in it.
        for other in ["007", "+7", "7 ", "", "42x"] {
            assert!(!ids.contains_sorted(other), "{other:?}");
        }
        assert!(ids.contains_sorted("4294967295") && !ids.contains_sorted("4294967296"));

        // One id that is not a plain number below 2^32 turns the list into text, in order.
        for odd in ["4294967296", "007", "ab-1"] {
            let mut ids = IdList::default();
            for id in ["15", "3", odd, "8"] {
                ids.push(id);
            }
            assert!(matches!(ids.0, Ids::Text { .. }), "{odd}");
            assert_eq!(ids.part(0, 9), ["15", "3", odd, "8"]);
            ids.sort();
            assert!(ids.contains_sorted(odd) && ids.contains_sorted("15"));
            assert_eq!(ids.len(), 4);
        }
    }
}
