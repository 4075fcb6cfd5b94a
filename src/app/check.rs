//! `check`: the rule file against the live amoCRM account, nothing written.
//!
//! The decisions live in `setup`; this fetches what they need (fresh dictionaries, one tag
//! lookup per tag name and kind) and gathers the findings.

use std::path::{Path, PathBuf};

use serde::{Serialize, Serializer};
use serde_json::{json, Value};

use crate::crm::amo::AmoCrm;
use crate::crm::Crm as _;
use crate::exit::ExitStatus;
use crate::rules::EntityKind;
use crate::setup::panel_sources::Source;
use crate::setup::{check, panel_sample, panel_sources, tag_findings, tag_uses, Finding, Severity};

use super::Context;

/// What `check` found.
pub struct Checked {
    /// The rule file.
    pub rules: PathBuf,
    /// The account's name (else its URL).
    pub account: String,
    /// The account's URL.
    pub base_url: String,
    /// Custom fields, pipelines, users and tag names checked.
    pub fields: usize,
    /// Pipelines in the account.
    pub pipelines: usize,
    /// Users in the account.
    pub users: usize,
    /// Tag names the rules use.
    pub tags: usize,
    /// Every problem and warning, key path first.
    pub findings: Vec<Finding>,
    /// Where each attribute the rules use comes from in the panel.
    pub panel: Vec<Source>,
    /// Problems among the findings.
    pub problems: usize,
    /// Warnings among the findings.
    pub warnings: usize,
    /// True when the rules do not fit (a problem, or with `strict` a warning).
    pub failed: bool,
}

impl Checked {
    /// The exit status: 2 when the rules do not fit.
    pub fn status(&self) -> ExitStatus {
        if self.failed {
            ExitStatus::Usage
        } else {
            ExitStatus::Ok
        }
    }
}

impl Serialize for Checked {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        json!({
            "ok": !self.failed,
            "rules": self.rules,
            "account": self.account,
            "base_url": self.base_url,
            "checked": {
                "custom_fields": self.fields, "pipelines": self.pipelines,
                "users": self.users, "tags": self.tags,
            },
            "problems": self.problems,
            "warnings": self.warnings,
            "findings": self.findings,
            "panel": self.panel,
            "exit_code": self.status().code(),
        })
        .serialize(s)
    }
}

/// Checks the rules against the account (`sample` panel rows, or those in `sample_dir`);
/// `strict` counts warnings as problems.
pub fn run(
    ctx: &Context,
    strict: bool,
    sample: usize,
    sample_dir: Option<&Path>,
) -> anyhow::Result<Checked> {
    let (rules, store) = (&ctx.rules, &ctx.store);
    let crm = ctx.crm()?;
    // Fresh, not the hour-old cache: the operator may have just added the field. The cache
    // is refreshed on the way, so the next sync sees the same account.
    let dict = crm.dictionaries()?;
    let base_url = &rules.file.amocrm.base_url;
    store.cache_put("dictionaries", base_url, &serde_json::to_string(&dict)?)?;
    let mut findings = check(rules, &dict);
    findings.extend(panel_sample::sample_problems(
        rules, &dict, sample, sample_dir,
    ));
    let panel = panel_sources::survey(rules, &mut findings);
    let uses = tag_uses(rules);
    findings.extend(tag_findings(&uses, &mut |kind, name| {
        tag_exists(&crm, kind, name)
    })?);
    let problems = findings
        .iter()
        .filter(|f| f.severity == Severity::Problem)
        .count();
    let warnings = findings.len() - problems;
    let mut names: Vec<&str> = uses.iter().map(|u| u.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    Ok(Checked {
        rules: rules.path.clone(),
        account: super::init::account_name(ctx)?,
        base_url: base_url.clone(),
        fields: dict.fields.values().map(Vec::len).sum(),
        pipelines: dict.pipelines.len(),
        users: dict.users.len(),
        tags: names.len(),
        findings,
        panel,
        problems,
        warnings,
        failed: problems > 0 || (strict && warnings > 0),
    })
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
