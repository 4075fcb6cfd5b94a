//! `check`, reading the panel: a sample of BILLmanager's clients and services, for the
//! values no select option or value map covers and the attribute names nothing fills.

use std::collections::{BTreeMap, BTreeSet};

use super::attributes::unknown_attribute_findings;
use super::finding::{Finding, Severity};
use super::select_coverage::{sample_findings, sampled_attributes};
use crate::engine::facts;

/// What a sample of BILLmanager tells `check`: values no select option or value map covers
/// (problems), and attribute names nothing fills (warnings with the closest known name). It
/// reads up to `n` clients (with their users and payers) and `n` services; BILLmanager
/// being unreachable is a warning, as the rest of `check` does not need it.
pub fn sample_problems(
    rules: &crate::rules::RuleSet,
    dict: &crate::crm::Dictionaries,
    n: usize,
    dir: Option<&std::path::Path>,
) -> Vec<Finding> {
    if n == 0 {
        return unknown_attribute_findings(rules, &BTreeSet::new());
    }
    let wanted = sampled_attributes(rules, dict);
    let mut source = rules.file.billmanager.clone();
    if let Some(d) = dir {
        source.source = crate::rules::SourceKind::Files;
        source.dir = Some(d.to_path_buf());
    }
    match read_sample(&source, &wanted, n) {
        Ok((values, seen)) => {
            let mut out = sample_findings(rules, dict, &values);
            out.extend(unknown_attribute_findings(rules, &seen));
            out
        }
        Err(e) => {
            let mut out = unknown_attribute_findings(rules, &BTreeSet::new());
            out.push(Finding {
                severity: Severity::Warning,
                key: "billmanager".into(),
                message: format!(
                    "could not read a sample of BILLmanager to check select values and \
                     attribute names ({e:#}); `check --sample 0` skips it"
                ),
            });
            out
        }
    }
}

/// The values of the `wanted` attributes in a sample of up to `n` clients and `n` services
/// (`setup-fields` offers them as select options).
pub fn sample_values(
    rules: &crate::rules::RuleSet,
    wanted: &BTreeSet<String>,
    n: usize,
) -> anyhow::Result<BTreeMap<String, BTreeSet<String>>> {
    read_sample(&rules.file.billmanager, wanted, n).map(|(values, _)| values)
}

/// Values of the `wanted` attributes, and every attribute name seen.
type Sample = (BTreeMap<String, BTreeSet<String>>, BTreeSet<String>);

fn read_sample(
    source: &crate::rules::BillingSection,
    wanted: &BTreeSet<String>,
    n: usize,
) -> anyhow::Result<Sample> {
    let billing = crate::billing::open(source)?;
    let epoch = chrono::NaiveDate::MIN;
    let mut values: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut keep = |f: &crate::rules::condition::Facts| {
        seen.extend(f.keys().cloned());
        for a in wanted {
            if let Some(v) = f.get(a).filter(|v| !v.trim().is_empty()) {
                values.entry(a.clone()).or_default().insert(v.clone());
            }
        }
    };
    for id in billing.client_ids_since(epoch)?.into_iter().rev().take(n) {
        let client = billing.client(&id)?;
        let mut f = Default::default();
        facts::client(&mut f, &client);
        keep(&f);
        for u in &client.users {
            let mut f = Default::default();
            facts::user(&mut f, u);
            keep(&f);
        }
        for p in billing.payers_of(&id)? {
            let mut f = Default::default();
            facts::payer(&mut f, &p);
            keep(&f);
        }
    }
    for id in billing.service_ids_since(epoch)?.into_iter().rev().take(n) {
        let mut f = Default::default();
        facts::service(&mut f, &billing.service(&id)?);
        keep(&f);
    }
    Ok((values, seen))
}
