//! Which client attributes a rule file uses, so `account.edit` is read only for clients
//! whose `account` list row lacks one (`docs/billmanager.md` §13.6).

use crate::billing::convert::REGISTERED;
use crate::rules::RuleSet;

/// The raw client fields the rules use, each as a list of alternative names, plus the
/// registration date (the model's `[sync] since` needs it).
pub fn client_fields(rules: &RuleSet) -> Vec<Vec<String>> {
    let mut needs = vec![REGISTERED.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
    for name in rules
        .attributes()
        .iter()
        .filter_map(|a| a.strip_prefix("client."))
    {
        match name {
            // Computed here, not read: the id asked for, links built from it.
            "id" | "page_url" | "registered_at" => {}
            other => needs.push(vec![other.to_string()]),
        }
    }
    needs
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::client_fields;
    use crate::rules::RuleSet;

    #[test]
    fn client_names_the_rules_use_without_computed_ones() {
        let text = r#"
[amocrm]
base_url = "https://x.amocrm.ru"
client_id = "c"
client_secret = "s"
redirect_uri = "https://e.com/"
[billmanager]
source = "mgrctl"
[fields.contact]
"Country" = "client.country"
"Page" = "client.page_url"
"Email" = "user.email"
[[skip]]
entity = "contact"
reason = "staff"
when = { "client.note" = "VIP", "client.id" = "1" }
"#;
        let rules = RuleSet::parse(text, Path::new("r.toml")).unwrap();
        let needs = client_fields(&rules);
        assert!(needs[0].contains(&"tz_registration_date".to_string()));
        let flat: Vec<&str> = needs[1..].iter().map(|n| n[0].as_str()).collect();
        assert_eq!(flat, ["country", "note"]);
    }
}
