//! Tests of `check` over its layers: names, values and types, samples and tags.

use std::collections::BTreeMap;
use std::path::Path;

use super::check::check;
use super::finding::{Finding, Severity};
use super::select_coverage::sample_findings;
use super::tags::{tag_findings, tag_uses};
use crate::crm::{Dictionaries, FieldDef};
use crate::crm::{EnumDef, PipelineDef, StatusDef, UserDef};
use crate::rules::{EntityKind, RuleSet};

fn field(id: i64, name: &str, code: Option<&str>, t: &str, enums: &[&str]) -> FieldDef {
    FieldDef {
        id,
        name: name.into(),
        code: code.map(String::from),
        field_type: t.into(),
        enums: enums
            .iter()
            .enumerate()
            .map(|(i, v)| EnumDef {
                id: id * 100 + i as i64,
                value: v.to_string(),
                code: (t == "multitext").then(|| v.to_string()),
            })
            .collect(),
    }
}

fn dict() -> Dictionaries {
    let mut d = Dictionaries::default();
    d.fields.insert(
        "contact".into(),
        vec![
            field(1, "Phone", Some("PHONE"), "multitext", &["WORK", "MOB"]),
            field(2, "Country", None, "select", &["Russia", "Other"]),
            field(3, "Registered", None, "date", &[]),
            field(4, "Address", None, "smart_address", &[]),
            field(5, "Email", Some("EMAIL"), "multitext", &["WORK"]),
        ],
    );
    d.fields.insert(
        "company".into(),
        vec![field(10, "INN", Some("INN"), "text", &[])],
    );
    d.fields.insert(
        "lead".into(),
        vec![
            field(20, "Product", None, "select", &["VPS-1", "VPS-2"]),
            field(21, "State", None, "select", &["ordered", "active"]),
            field(22, "Cost", None, "numeric", &[]),
            field(23, "BM_SERVICE_ID", Some("BM_SERVICE_ID"), "numeric", &[]),
        ],
    );
    d.pipelines = vec![PipelineDef {
        id: 7,
        name: "Sales".into(),
        is_main: true,
        statuses: vec![StatusDef {
            id: 70,
            name: "New order".into(),
        }],
    }];
    d.users = vec![UserDef {
        id: 5,
        name: "Anna".into(),
        email: Some("anna@example.com".into()),
        active: true,
    }];
    d
}

const HEAD: &str = r#"
[amocrm]
base_url = "https://x.amocrm.ru"
client_id = "x"
client_secret = "s"
redirect_uri = "https://x/"
[billmanager]
source = "files"
dir = "."
"#;

fn rules(body: &str) -> RuleSet {
    RuleSet::parse(&format!("{HEAD}{body}"), Path::new("r.toml")).unwrap()
}

fn keys(found: &[Finding]) -> Vec<&str> {
    found.iter().map(|f| f.key.as_str()).collect()
}

#[test]
fn a_fitting_rule_file_has_no_findings() {
    let r = rules(
        r#"
[sync]
responsible = "anna@example.com"
[fields.contact]
"Country" = "client.country"
"Registered" = "client.registered_at"
"PHONE" = { from = "user.phone", enum = "MOB" }
[fields.lead]
"Product" = "service.product"
"Cost" = "service.cost"
"BM_SERVICE_ID" = "service.utm_source"
[[pipelines]]
pipeline = "Sales"
status = "New order"
"#,
    );
    // A raw attribute (`service.utm_source`) has no known type: any field takes it.
    assert_eq!(check(&r, &dict()), vec![]);
}

#[test]
fn names_come_from_the_resolver_with_their_key_paths() {
    let r = rules(
        r#"
[fields.lead]
"Prodcut" = "service.product"
[[pipelines]]
pipeline = "Sales"
status = "Won't exist"
"#,
    );
    let found = check(&r, &dict());
    assert_eq!(
        keys(&found),
        vec!["fields.lead.\"Prodcut\"", "pipelines[0].status"]
    );
    assert!(found[0].message.contains("known fields"), "{found:?}");
}

#[test]
fn values_types_and_enums_must_fit() {
    let r = rules(
        r#"
[fields.contact]
"Country" = { value = "Atlantis" }
"Registered" = "client.country"
"PHONE" = { from = "user.phone", enum = "PAGER" }
"Address" = "client.name"
"EMAIL" = "user.phone"
[fields.company]
"INN" = "service.product"
[fields.lead]
"Product" = "service.product"
"Product " = "service.id"
"State" = "service.status"
"Cost" = "service.trial"
"BM_SERVICE_ID" = { value = "abc" }
"#,
    );
    let found = check(&r, &dict());
    let text: String = found
        .iter()
        .map(|f| format!("{}: {}\n", f.key, f.message))
        .collect();
    assert_eq!(
        keys(&found),
        vec![
            "fields.contact.\"Address\"",
            "fields.contact.\"Country\".value",
            "fields.contact.\"EMAIL\"",
            "fields.contact.\"PHONE\".enum",
            "fields.contact.\"Registered\"",
            "fields.company.\"INN\"",
            "fields.lead.\"BM_SERVICE_ID\".value",
            "fields.lead.\"Cost\"",
            "fields.lead.\"Product \"",
            "fields.lead.\"State\"",
        ],
        "{text}"
    );
    for want in [
        "`user.phone` is a phone number, which does not fit multitext field `Email`",
        "smart_address",
        "`Atlantis` is not an option",
        "no enum `PAGER`",
        "`client.country` is free text, which does not fit date field",
        "never known for a company",
        "not a number",
        "`service.trial` is yes/no",
        "same amoCRM field as `fields.lead.\"Product\"`",
        "suspended, deleted, processing",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    assert!(found.iter().all(|f| f.severity == Severity::Problem));
}

#[test]
fn tags_are_looked_up_once_per_kind_and_missing_ones_warn() {
    let r = rules(
        r#"
[sync]
default_tags = ["BILL"]
[[tags]]
entity = "lead"
tag = "trial"
when = { "service.trial" = true }
[[tags]]
entity = "lead"
tag = "Trial"
when = { "service.cost" = { gt = 1 } }
"#,
    );
    let uses = tag_uses(&r);
    let mut asked = Vec::new();
    let found = tag_findings(&uses, &mut |kind, name| {
        asked.push(format!("{}:{name}", kind.as_str()));
        Ok(name == "BILL" && kind != EntityKind::Company)
    })
    .unwrap();
    assert_eq!(
        asked,
        vec!["contact:BILL", "company:BILL", "lead:BILL", "lead:trial"]
    );
    assert_eq!(
        keys(&found),
        vec!["sync.default_tags[0]", "tags[0].tag", "tags[1].tag"]
    );
    assert!(found.iter().all(|f| f.severity == Severity::Warning));
    assert!(
        found[0].message.contains("no `BILL` tag for companies yet"),
        "{found:?}"
    );
    assert!(
        found[1].message.contains("`trial` tag for leads"),
        "{found:?}"
    );
}

#[test]
fn a_map_that_sends_every_sampled_value_to_its_default_is_a_warning() {
    let r = rules(
        r#"
[fields.contact]
"Country" = { from = "client.country", map = { "Россия" = "Russia" }, default = "Other" }
"#,
    );
    let sample = |vals: &[&str]| -> BTreeMap<String, std::collections::BTreeSet<String>> {
        [(
            "client.country".to_string(),
            vals.iter().map(|v| v.to_string()).collect(),
        )]
        .into()
    };
    // The panel sends directory ids where the map has names.
    let found = sample_findings(&r, &dict(), &sample(&["182", "40"]));
    assert_eq!(
        keys(&found),
        vec!["fields.contact.\"Country\""],
        "{found:?}"
    );
    assert_eq!(found[0].severity, Severity::Warning);
    let m = &found[0].message;
    assert!(
        m.contains(
            "every sampled value of `client.country` falls to `default = \"Other\"` (`182`, `40`)"
        ) && m.contains("directory ids")
            && m.contains("mgrctl -m billmgr country"),
        "{m}"
    );
    // One value the map covers (any case), or an option itself: the map does its job.
    for covered in [&["182", "россия"][..], &["182", "Other"][..]] {
        assert_eq!(sample_findings(&r, &dict(), &sample(covered)), vec![]);
    }
    // Names that all fall to the default are said too, without the id advice.
    let found = sample_findings(&r, &dict(), &sample(&["Франция"]));
    assert_eq!(found.len(), 1);
    assert!(!found[0].message.contains("directory ids"), "{found:?}");
    assert_eq!(sample_findings(&r, &dict(), &sample(&[])), vec![]);
}
