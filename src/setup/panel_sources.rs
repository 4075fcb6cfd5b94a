//! `check`, panel side: for every BILLmanager attribute the rules use, which function and
//! field of the panel's answers it comes from, or that no answer has it.

use std::collections::BTreeSet;

use serde::Serialize;

use super::finding::{Finding, Severity};
use crate::billing::convert::{CONSENT, COST, CREATED, EXPIRES, INN, PERSON, REGISTERED};
use crate::billing::Sample;
use crate::rules::RuleSet;

/// Where one attribute comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    /// The attribute as the rules write it (`client.country`).
    pub attribute: String,
    /// The function and field it is read from; `None` when no answer has it.
    pub from: Option<(String, String)>,
    /// Computed by amocrm-bin (links, life-cycle events), not read from the panel.
    pub computed: bool,
    /// The functions that were searched.
    pub searched: Vec<String>,
}

/// The raw field names an attribute is read from, and the functions that carry them;
/// `None` for attributes amocrm-bin computes.
fn candidates(attribute: &str) -> Option<(Vec<&str>, &'static [&'static str])> {
    let (prefix, name) = attribute.split_once('.')?;
    let funcs: &'static [&'static str] = match prefix {
        "client" => &["account", "account.edit"],
        "user" => &["user"],
        "payer" => &["profile", "profile.edit"],
        _ => &["item"],
    };
    let names: Vec<&str> = match (prefix, name) {
        (_, "page_url") | ("service", "event" | "previous_status") => return None,
        (_, "id") => vec!["id", "elid"],
        ("client", "registered_at") => REGISTERED.to_vec(),
        ("user", "email") => vec!["email", "name"],
        ("user", "marketing_consent") => CONSENT.to_vec(),
        ("payer", "kind") => vec!["profiletype"],
        ("payer", "inn") => INN.to_vec(),
        ("payer", "person") => PERSON.to_vec(),
        ("service", "product") => vec!["pricelist", "pricelist_name", "name"],
        ("service", "item_type") => vec!["itemtype", "intname"],
        ("service", "cost") => COST.to_vec(),
        ("service", "trial") => vec!["period"],
        ("service", "created_at") => CREATED.to_vec(),
        ("service", "expires_at") => EXPIRES.to_vec(),
        (_, other) => vec![other],
    };
    Some((names, funcs))
}

/// Where each attribute in `attributes` comes from, given the survey of the panel.
pub fn sources(attributes: &BTreeSet<String>, samples: &[Sample]) -> Vec<Source> {
    attributes
        .iter()
        .map(|attr| match candidates(attr) {
            None => Source {
                attribute: attr.clone(),
                from: None,
                computed: true,
                searched: vec![],
            },
            Some((names, funcs)) => {
                let from = funcs.iter().find_map(|f| {
                    let s = samples.iter().find(|s| s.func == *f)?;
                    names
                        .iter()
                        .find(|n| s.fields.contains(**n))
                        .map(|n| (f.to_string(), n.to_string()))
                });
                Source {
                    attribute: attr.clone(),
                    from,
                    computed: false,
                    searched: funcs.iter().map(|f| f.to_string()).collect(),
                }
            }
        })
        .collect()
}

/// Reads each BILLmanager function once and says where every attribute the rules use
/// comes from; an attribute no answer has is a warning, an unreadable function a problem.
pub fn survey(rules: &RuleSet, findings: &mut Vec<Finding>) -> Vec<Source> {
    let billing = match crate::billing::open(&rules.file.billmanager) {
        Ok(b) => b,
        Err(e) => {
            findings.push(Finding {
                severity: Severity::Problem,
                key: "billmanager".into(),
                message: format!("cannot open the panel: {e}"),
            });
            return Vec::new();
        }
    };
    let samples = billing.survey();
    for s in samples.iter().filter(|s| s.error.is_some()) {
        findings.push(Finding {
            severity: Severity::Problem,
            key: format!("billmanager.{}", s.func),
            message: format!(
                "cannot read `{}`: {}",
                s.func,
                s.error.as_deref().unwrap_or_default()
            ),
        });
    }
    let found = sources(rules.attributes(), &samples);
    for p in found.iter().filter(|p| p.from.is_none() && !p.computed) {
        findings.push(Finding {
            severity: Severity::Warning,
            key: format!("billmanager.{}", p.attribute),
            message: format!(
                "no answer of {} has it (read once each); rows without it leave the rule idle",
                p.searched.join(", ")
            ),
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(func: &str, fields: &[&str]) -> Sample {
        Sample {
            func: func.into(),
            elid: None,
            fields: fields.iter().map(|f| f.to_string()).collect(),
            raw: vec![],
            error: None,
        }
    }

    #[test]
    fn each_attribute_names_its_function_and_field_or_none() {
        let doc: toml::Value = r#"
# service.commented does not count
[x]
"INN" = "payer.inn"
"Country" = "client.country"
when = { "service.roistat_visit" = "1", "service.trial" = true }
url = "{panel_url}?elid={client.page_url}"
"#
        .parse()
        .unwrap();
        let attrs = crate::rules::attributes::referenced(&doc);
        let samples = [
            sample("account", &["id", "name", "tz_registration_date"]),
            sample("account.edit", &["country"]),
            sample("profile", &["id", "account"]),
            sample("profile.edit", &["vatnum"]),
            sample("item", &["id", "period"]),
        ];
        let got = sources(&attrs, &samples);
        let find = |a: &str| got.iter().find(|s| s.attribute == a).unwrap().clone();
        assert_eq!(
            find("payer.inn").from,
            Some(("profile.edit".into(), "vatnum".into()))
        );
        assert_eq!(
            find("client.country").from,
            Some(("account.edit".into(), "country".into()))
        );
        assert_eq!(
            find("service.trial").from,
            Some(("item".into(), "period".into()))
        );
        assert_eq!(find("service.roistat_visit").from, None);
        assert!(find("client.page_url").computed);
        assert!(!got.iter().any(|s| s.attribute == "service.commented"));
    }
}
