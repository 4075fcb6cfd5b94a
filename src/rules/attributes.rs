//! Which panel attributes (`client.*`, `user.*`, `payer.*`, `service.*`) a rule file uses,
//! read once from the parsed document: the panel reader fetches `account.edit` only for the
//! client fields it names, and `check` traces each one to the panel function that fills it.
//!
//! Every key and string value counts (conditions, field sources, templates such as
//! `"call {client.name}"`); comments do not. Over-approximating only costs a form read.

use std::collections::BTreeSet;

/// The attribute prefixes the panel fills.
const PREFIXES: [&str; 4] = ["client.", "user.", "payer.", "service."];

/// Every attribute named in `doc`, as `prefix.name`.
pub fn referenced(doc: &toml::Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    walk(doc, &mut out);
    out
}

fn walk(v: &toml::Value, out: &mut BTreeSet<String>) {
    match v {
        toml::Value::String(s) => scan(s, out),
        toml::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
        toml::Value::Table(t) => {
            for (k, x) in t {
                scan(k, out);
                walk(x, out);
            }
        }
        _ => {}
    }
}

/// Adds every `prefix.name` in `text` that does not continue a longer word
/// (`myclient.zone` is not `client.zone`).
fn scan(text: &str, out: &mut BTreeSet<String>) {
    for prefix in PREFIXES {
        for (i, _) in text.match_indices(prefix) {
            let before = text[..i].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let name: String = text[i + prefix.len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(format!("{prefix}{name}"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::referenced;

    #[test]
    fn names_in_keys_values_conditions_and_templates_not_comments() {
        let doc: toml::Value = r#"
# comments do not count: client.comment
[a]
"Country" = "client.country"
task_text = "call {client.name} about {service.id}"
when = { "myclient.zone" = "x", "client.note" = "VIP", "payer.inn" = true }
list = ["user.email", 3]
"#
        .parse()
        .unwrap();
        let got: Vec<String> = referenced(&doc).into_iter().collect();
        assert_eq!(
            got,
            [
                "client.country",
                "client.name",
                "client.note",
                "payer.inn",
                "service.id",
                "user.email"
            ]
        );
    }
}
