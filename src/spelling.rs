//! "Did you mean …?": the closest of a set of known names to one the operator typed. A
//! misspelt field (`Prodcut`) or attribute (`service.trail`) would otherwise read as simply
//! missing, and `setup-fields` would offer to create a near-duplicate.

/// Levenshtein distance in characters (names are short).
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The known name closest to `typed` (case ignored), when it is close enough to be a typo:
/// one edit in a name of up to 4 characters, two in a longer one (a swap of two letters
/// counts two), three past 14 characters. Ties go to the first of `known`. An exact match
/// (case ignored) is not a typo and gives `None`.
pub fn closest<'a>(typed: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let typed_lower = typed.to_lowercase();
    let len = typed.chars().count();
    let allowed = match len {
        0..=2 => return None,
        3..=4 => 1,
        5..=14 => 2,
        _ => 3,
    };
    let mut best: Option<(usize, &str)> = None;
    for name in known {
        let d = distance(&typed_lower, &name.to_lowercase());
        if d == 0 {
            return None;
        }
        if d <= allowed && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, name));
        }
    }
    best.map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::{closest, distance};

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("service.trail", "service.trial"), 2);
        assert_eq!(distance("abc", "abc"), 0);
        assert_eq!(distance("", "ab"), 2);
        assert_eq!(distance("Телефон", "Телефн"), 1);
    }

    #[test]
    fn closest_is_a_typo_not_any_name() {
        let known = ["Product", "Phone", "Продукт", "BM_SERVICE_ID", "Email"];
        for (typed, want) in [
            ("Prodcut", Some("Product")),
            ("product", None),
            ("Prodct", Some("Product")),
            ("Продукт", None),
            ("Продкут", Some("Продукт")),
            ("BM_SERVISE_ID", Some("BM_SERVICE_ID")),
            ("Emial", Some("Email")),
            ("Tariff", None),
            ("Pho", None),
            ("ab", None),
            ("Cost", None),
        ] {
            assert_eq!(closest(typed, known), want, "{typed}");
        }
    }
}
