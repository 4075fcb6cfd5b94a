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
    check, panel_sample, panel_sources, tag_findings, tag_uses, Finding, Severity,
};
use clap::Args;
use serde_json::{json, Value};

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
    findings.extend(panel_sample::sample_problems(
        &rules,
        &dict,
        args.sample,
        args.sample_dir.as_deref(),
    ));
    let panel = panel_sources::survey(&rules, &mut findings);
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
