//! Query-string access with PHP bracket syntax (`filter[id][]=1`, `filter[id][0]=1`,
//! `filter[created_at][from]=…`, comma lists), which is how amoCRM takes filters (§3.3).

use std::collections::BTreeMap;

pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(raw: &str) -> Query {
        let pairs = form_urlencoded::parse(raw.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Query { pairs }
    }

    /// First value of exactly `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k.starts_with(prefix))
    }

    /// Values of `key`, `key[]` and `key[N]`, each split on commas.
    pub fn list(&self, key: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (k, v) in &self.pairs {
            let matches = k == key
                || k.strip_prefix(key).is_some_and(|rest| {
                    rest.starts_with('[')
                        && rest.ends_with(']')
                        && rest[1..rest.len() - 1].bytes().all(|b| b.is_ascii_digit())
                });
            if matches {
                out.extend(
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from),
                );
            }
        }
        out
    }

    /// Integer values of `list(key)`; None when the key is absent.
    pub fn ids(&self, key: &str) -> Option<Vec<i64>> {
        let vals = self.list(key);
        if vals.is_empty() {
            return None;
        }
        Some(vals.iter().filter_map(|v| v.parse().ok()).collect())
    }

    /// `key[from]`/`key[to]`, or a single `key` meaning "from".
    pub fn range(&self, key: &str) -> Option<(Option<i64>, Option<i64>)> {
        let from = self
            .get(&format!("{key}[from]"))
            .or_else(|| self.get(key))
            .and_then(|v| v.parse().ok());
        let to = self.get(&format!("{key}[to]")).and_then(|v| v.parse().ok());
        (from.is_some() || to.is_some()).then_some((from, to))
    }

    /// Groups `prefix[i][field]=v` into `{i: {field: v}}`.
    pub fn groups(&self, prefix: &str) -> BTreeMap<String, BTreeMap<String, String>> {
        let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (k, v) in &self.pairs {
            let Some(rest) = k.strip_prefix(prefix) else {
                continue;
            };
            let parts: Vec<&str> = rest
                .split(']')
                .filter(|p| !p.is_empty())
                .map(|p| p.trim_start_matches('['))
                .collect();
            if let [idx, field] = parts[..] {
                out.entry(idx.to_string())
                    .or_default()
                    .insert(field.to_string(), v.clone());
            }
        }
        out
    }

    /// Groups `prefix[key]=v`, `prefix[key][]=v` and `prefix[key][N]=v` by key.
    pub fn groups_flat(&self, prefix: &str) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in &self.pairs {
            let Some(rest) = k.strip_prefix(prefix).and_then(|r| r.strip_prefix('[')) else {
                continue;
            };
            let Some((key, tail)) = rest.split_once(']') else {
                continue;
            };
            let tail_ok = tail.is_empty()
                || (tail.starts_with('[')
                    && tail.ends_with(']')
                    && tail[1..tail.len() - 1].bytes().all(|b| b.is_ascii_digit()));
            if tail_ok {
                out.entry(key.to_string()).or_default().push(v.clone());
            }
        }
        out
    }

    /// `with=a,b` as a list.
    pub fn with(&self) -> Vec<String> {
        self.list("with")
    }

    /// `order[field]=asc|desc` → (field, descending).
    pub fn order(&self) -> Option<(String, bool)> {
        self.pairs.iter().find_map(|(k, v)| {
            let field = k.strip_prefix("order[")?.strip_suffix(']')?;
            Some((field.to_string(), v.eq_ignore_ascii_case("desc")))
        })
    }

    pub fn page(&self) -> usize {
        self.get("page")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|p| *p >= 1)
            .unwrap_or(1)
    }

    /// `limit`, defaulting to `default` and clamped to `max` (limit > max is
    /// clamped rather than rejected — UNCONFIRMED, §22.13).
    pub fn limit(&self, default: usize, max: usize) -> usize {
        self.get("limit")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|l| *l >= 1)
            .unwrap_or(default)
            .min(max)
    }
}

#[cfg(test)]
mod tests {
    use super::Query;

    #[test]
    fn bracket_forms() {
        let q = Query::parse(
            "filter%5Bid%5D%5B%5D=1&filter[id][1]=2&filter[type]=a,b&filter[created_at][from]=5&order[id]=desc&x[s][0][p]=9",
        );
        assert_eq!(q.ids("filter[id]"), Some(vec![1, 2]));
        assert_eq!(q.list("filter[type]"), vec!["a", "b"]);
        assert_eq!(q.range("filter[created_at]"), Some((Some(5), None)));
        assert_eq!(q.order(), Some(("id".into(), true)));
        assert_eq!(q.groups("x[s]")["0"]["p"], "9");
        assert_eq!(q.limit(50, 250), 50);
    }
}
