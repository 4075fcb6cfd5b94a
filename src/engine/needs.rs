//! Which client attributes a rule file uses, so `account.edit` is read only for clients
//! whose `account` list row lacks one (`docs/billmanager.md` §13.6).

use std::collections::BTreeSet;

use crate::billing::convert::REGISTERED;

/// The raw client fields the rules in `text` use, each as a list of alternative names,
/// plus the registration date (the model's `[sync] since` needs it). Every key and string
/// value of the TOML counts (comments do not); over-approximating only costs a form read.
pub fn client_fields(text: &str) -> Vec<Vec<String>> {
    let mut names: BTreeSet<String> = BTreeSet::new();
    match text.parse::<toml::Value>() {
        Ok(v) => walk(&v, &mut names),
        Err(_) => scan(text, &mut names),
    }
    let mut needs = vec![REGISTERED.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
    for name in names {
        match name.as_str() {
            // Computed here, not read: the id asked for, links built from it.
            "id" | "page_url" | "registered_at" => {}
            other => needs.push(vec![other.to_string()]),
        }
    }
    needs
}

fn walk(v: &toml::Value, names: &mut BTreeSet<String>) {
    match v {
        toml::Value::String(s) => scan(s, names),
        toml::Value::Array(a) => a.iter().for_each(|x| walk(x, names)),
        toml::Value::Table(t) => {
            for (k, x) in t {
                scan(k, names);
                walk(x, names);
            }
        }
        _ => {}
    }
}

/// Adds every `client.<name>` in `text`.
fn scan(text: &str, names: &mut BTreeSet<String>) {
    for (i, _) in text.match_indices("client.") {
        let before = text[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let name: String = text[i + "client.".len()..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            names.insert(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::client_fields;

    #[test]
    fn names_used_by_conditions_mappings_and_templates() {
        let text = r#"
# comments do not count: client.comment
[a]
"Country" = "client.country"
task_text = "call {client.name} about {client.id}"
when = { "myclient.zone" = "x", "client.note" = "VIP" }
"#;
        let needs = client_fields(text);
        assert!(needs[0].contains(&"tz_registration_date".to_string()));
        let flat: Vec<&str> = needs[1..].iter().map(|n| n[0].as_str()).collect();
        assert_eq!(flat, ["country", "name", "note"]);
    }
}
