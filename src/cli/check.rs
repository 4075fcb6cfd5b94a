//! `check`: the rule file against the live amoCRM account, nothing written.
//!
//! The decisions live in the library (`setup`); this file fetches what it needs
//! (fresh dictionaries, one tag lookup per tag name and kind) and prints one line per
//! finding, key path first, so the operator can go down the list in an editor.

use amocrm_bin::crm::amo::AmoCrm;
use amocrm_bin::crm::Crm as _;
use amocrm_bin::exit::ExitStatus;
use amocrm_bin::rules::EntityKind;
use amocrm_bin::setup::{
    check, sample_findings, sampled_attributes, tag_findings, tag_uses, Finding, Severity,
};
use clap::Args;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

use super::{context, Cli};

/// `check` options.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Warnings count as problems too (exit 2): tags the account does not have yet.
    #[arg(long)]
    pub strict: bool,
    /// Clients and services read from BILLmanager to find values no select option or value
    /// map covers (0: none).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub sample: usize,
    /// Read the sample from a directory of BILLmanager JSON documents (as the `files` source
    /// reads them: a capture, or `mgrctl … out=json` output saved by hand) instead of the
    /// panel.
    #[arg(long, value_name = "DIR")]
    pub sample_dir: Option<std::path::PathBuf>,
}

/// Runs `check`.
pub fn exec(cli: &Cli, args: &CheckArgs) -> anyhow::Result<ExitStatus> {
    let rules = context::rules(cli)?;
    let store = context::store(&rules)?;
    let crm = AmoCrm::new(context::client(&rules, &store, true)?);
    // Fresh, not the hour-old cache: the operator may have just added the field. The cache
    // is refreshed on the way, so the next sync sees the same account.
    let dict = crm.dictionaries()?;
    let base_url = &rules.file.amocrm.base_url;
    store.cache_put("dictionaries", base_url, &serde_json::to_string(&dict)?)?;
    let mut findings = check(&rules, &dict);
    findings.extend(sample_problems(
        &rules,
        &dict,
        args.sample,
        args.sample_dir.as_deref(),
    ));
    let panel = panel_sources(&rules, &mut findings);
    let uses = tag_uses(&rules);
    findings.extend(tag_findings(&uses, &mut |kind, name| {
        tag_exists(&crm, kind, name)
    })?);
    let problems = findings
        .iter()
        .filter(|f| f.severity == Severity::Problem)
        .count();
    let warnings = findings.len() - problems;
    let failed = problems > 0 || (args.strict && warnings > 0);
    let account = store
        .tokens()?
        .and_then(|t| t.account_name)
        .unwrap_or_else(|| base_url.clone());
    let fields: usize = dict.fields.values().map(Vec::len).sum();
    let mut names: Vec<&str> = uses.iter().map(|u| u.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    if cli.json {
        let v = json!({
            "ok": !failed,
            "rules": rules.path,
            "account": account,
            "base_url": base_url,
            "checked": {
                "custom_fields": fields, "pipelines": dict.pipelines.len(),
                "users": dict.users.len(), "tags": names.len(),
            },
            "problems": problems,
            "warnings": warnings,
            "findings": findings,
            "panel": panel,
            "exit_code": if failed { ExitStatus::Usage.code() } else { 0 },
        });
        println!("{}", amocrm_bin::log::redact(&v.to_string()));
    } else {
        for f in &findings {
            println!("{}", line(f));
        }
        for p in &panel {
            match (&p.from, p.computed) {
                (_, true) => println!("panel: {} is computed by amocrm-bin", p.attribute),
                (Some((func, field)), _) => {
                    println!("panel: {} ← {func} `{field}`", p.attribute)
                }
                (None, _) => {}
            }
        }
        if !cli.quiet {
            eprintln!(
                "checked `{}` against amoCRM account {account}: {fields} custom fields, {} \
                 pipelines, {} users, {} tags",
                rules.path.display(),
                dict.pipelines.len(),
                dict.users.len(),
                names.len()
            );
        }
        if failed {
            eprintln!("{problems} problem(s), {warnings} warning(s)");
            eprintln!(
                "hint: fix the keys listed above (examples/rules.toml documents every key) and run \
                 `amocrm-bin check` again; nothing was sent to amoCRM"
            );
        } else if !cli.quiet {
            eprintln!("ok: the rules fit the account ({warnings} warning(s))");
        }
    }
    Ok(if failed {
        ExitStatus::Usage
    } else {
        ExitStatus::Ok
    })
}

/// Reads each BILLmanager function once and says where every attribute the rules use
/// comes from; an attribute no answer has is a warning, an unreadable function a problem.
fn panel_sources(
    rules: &amocrm_bin::rules::RuleSet,
    findings: &mut Vec<Finding>,
) -> Vec<amocrm_bin::setup::panel_sources::Source> {
    use amocrm_bin::setup::panel_sources::{attributes, sources};
    let billing = match amocrm_bin::billing::open(&rules.file.billmanager) {
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
    let text = amocrm_bin::rules::read_text(&rules.path).unwrap_or_default();
    let found = sources(&attributes(&text), &samples);
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

fn line(f: &Finding) -> String {
    let label = match f.severity {
        Severity::Problem => "problem",
        Severity::Warning => "warning",
    };
    format!(
        "{label}: {}: {}",
        f.key,
        amocrm_bin::log::redact(&f.message)
    )
}

/// Whether the account's tag dictionary of `kind` holds `name` (amoCRM compares tag names
/// without regard to case).
fn tag_exists(crm: &AmoCrm<'_>, kind: EntityKind, name: &str) -> anyhow::Result<bool> {
    let answer = crm.client().get(
        &format!("/api/v4/{}/tags", kind.collection()),
        &[("filter[name]".to_string(), name.to_string())],
    )?;
    Ok(answer
        .as_ref()
        .and_then(|v| v.pointer("/_embedded/tags"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("name").and_then(Value::as_str))
        .any(|n| n.to_lowercase() == name.to_lowercase()))
}

/// What a sample of BILLmanager tells `check`: values no select option or value map covers
/// (problems), and attribute names nothing fills (warnings with the closest known name). It
/// reads up to `n` clients (with their users and payers) and `n` services; BILLmanager
/// being unreachable is a warning, as the rest of `check` does not need it.
fn sample_problems(
    rules: &amocrm_bin::rules::RuleSet,
    dict: &amocrm_bin::crm::Dictionaries,
    n: usize,
    dir: Option<&std::path::Path>,
) -> Vec<Finding> {
    use amocrm_bin::setup::attributes::unknown_attribute_findings;
    if n == 0 {
        return unknown_attribute_findings(rules, &BTreeSet::new());
    }
    let wanted = sampled_attributes(rules, dict);
    let mut source = rules.file.billmanager.clone();
    if let Some(d) = dir {
        source.source = amocrm_bin::rules::SourceKind::Files;
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

/// Values of the `wanted` attributes, and every attribute name seen.
type Sample = (BTreeMap<String, BTreeSet<String>>, BTreeSet<String>);

fn read_sample(
    source: &amocrm_bin::rules::BillingSection,
    wanted: &BTreeSet<String>,
    n: usize,
) -> anyhow::Result<Sample> {
    use amocrm_bin::engine::facts;
    let billing = amocrm_bin::billing::open(source)?;
    let epoch = chrono::NaiveDate::MIN;
    let mut values: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut keep = |f: &amocrm_bin::rules::condition::Facts| {
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
