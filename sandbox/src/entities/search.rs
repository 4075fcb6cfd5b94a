//! `query=` search and `filter[...]` for entity lists (§3.3, §3.4). Filters are
//! ignored entirely when the seed says the account lacks the filter add-on.

use crate::config::QueryMode;
use crate::query::Query;
use crate::store::index::digits_only;
use crate::store::{Entity, Kind};

/// True when `q` should be compared digits-only: more than half of its
/// non-space characters are digits.
fn mostly_digits(q: &str) -> bool {
    let chars: Vec<char> = q.chars().filter(|c| !c.is_whitespace()).collect();
    let digits = chars.iter().filter(|c| c.is_ascii_digit()).count();
    digits > 0 && digits * 2 > chars.len()
}

/// A predicate over entities.
pub type Predicate = Box<dyn Fn(&Entity) -> bool>;

/// The `query` predicate, or None when no query was given.
pub fn matcher(mode: QueryMode, raw: Option<&str>) -> Option<Predicate> {
    let q = raw?.trim();
    if q.is_empty() {
        return None;
    }
    if mode == QueryMode::Digits && mostly_digits(q) {
        let d = digits_only(q);
        return Some(Box::new(move |e: &Entity| e.search_digits.contains(&d)));
    }
    let lc = q.to_lowercase();
    Some(Box::new(move |e: &Entity| e.search_text.contains(&lc)))
}

fn in_range(v: i64, r: (Option<i64>, Option<i64>)) -> bool {
    r.0.is_none_or(|from| v >= from) && r.1.is_none_or(|to| v <= to)
}

/// The `filter[...]` predicate for leads/contacts/companies.
pub fn filter(kind: Kind, q: &Query) -> impl Fn(&Entity) -> bool {
    let ids = q.ids("filter[id]");
    let names: Vec<String> = q.list("filter[name]");
    let responsible = q.ids("filter[responsible_user_id]");
    let created_by = q.ids("filter[created_by]");
    let created = q.range("filter[created_at]");
    let updated = q.range("filter[updated_at]");
    let closed = q.range("filter[closed_at]");
    let pipelines = q.ids("filter[pipeline_id]");
    let statuses: Vec<(i64, i64)> = q
        .groups("filter[statuses]")
        .values()
        .filter_map(|g| {
            Some((
                g.get("pipeline_id")?.parse().ok()?,
                g.get("status_id")?.parse().ok()?,
            ))
        })
        .collect();
    let cf: Vec<(i64, Vec<String>)> = q
        .groups_flat("filter[custom_fields_values]")
        .into_iter()
        .filter_map(|(id, vals)| Some((id.parse().ok()?, vals)))
        .collect();
    let is_lead = kind == Kind::Lead;
    move |e: &Entity| {
        ids.as_ref().is_none_or(|l| l.contains(&e.id))
            && (names.is_empty() || names.contains(&e.name))
            && responsible
                .as_ref()
                .is_none_or(|l| l.contains(&e.responsible_user_id))
            && created_by
                .as_ref()
                .is_none_or(|l| l.contains(&e.created_by))
            && created.is_none_or(|r| in_range(e.created_at, r))
            && updated.is_none_or(|r| in_range(e.updated_at, r))
            && (!is_lead || closed.is_none_or(|r| e.closed_at.is_some_and(|c| in_range(c, r))))
            && (!is_lead
                || pipelines
                    .as_ref()
                    .is_none_or(|l| l.contains(&e.pipeline_id)))
            && (!is_lead || statuses.is_empty() || statuses.contains(&(e.pipeline_id, e.status_id)))
            && cf.iter().all(|(fid, vals)| {
                e.cf.iter().any(|c| {
                    c.field_id == *fid
                        && c.values.iter().any(|v| {
                            let text = match &v.value {
                                serde_json::Value::String(s) => s.clone(),
                                other => other.to_string(),
                            };
                            vals.iter().any(|want| {
                                *want == text || v.enum_id.is_some_and(|id| id.to_string() == *want)
                            })
                        })
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::mostly_digits;

    #[test]
    fn digit_queries() {
        assert!(mostly_digits("+7 (916) 123-45-67"));
        assert!(!mostly_digits("ivan@example.org"));
        assert!(!mostly_digits("client-1"));
    }
}
