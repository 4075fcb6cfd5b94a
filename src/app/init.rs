//! `init` and `setup-fields`: from a connection-only rule file and an authorization to rules
//! that `check` accepts, without guessing names (`setup::init`, `setup::new_fields` decide).

use std::io::Write as _;

use anyhow::Context as _;
use serde::{Serialize, Serializer};
use serde_json::{json, Value};

use crate::crm::{Crm as _, CrmError};
use crate::exit::{ExitStatus, Failure};
use crate::rules::{EntityKind, RuleSet};
use crate::setup::init::{render_rules, CONNECTION_TABLES};
use crate::setup::new_fields::{
    create_body, missing_fields, offer_sampled, sampled_for, NewField, Skipped,
};

/// Clients and services read for the selects' options: `check`'s default sample.
const SAMPLE: usize = 50;

use super::Context;

/// The account's name as `auth` stored it, else its URL.
pub(super) fn account_name(ctx: &Context) -> anyhow::Result<String> {
    Ok(ctx
        .store
        .tokens()?
        .and_then(|t| t.account_name)
        .unwrap_or_else(|| ctx.rules.file.amocrm.base_url.clone()))
}

/// What `init` made.
pub struct Initialized {
    /// The rules generated from the account.
    pub generated: String,
    /// The account's name.
    pub account: String,
    /// Pipelines in the account.
    pub pipelines: usize,
    /// The pipeline new leads go to.
    pub main_pipeline: Option<String>,
    /// Users in the account.
    pub users: usize,
}

/// Generates the rules from the live account; unless `print_only`, appends them to the rule
/// file, which must hold the connection alone.
pub fn init(
    rules: RuleSet,
    print_only: bool,
    since: Option<chrono::NaiveDate>,
) -> anyhow::Result<Initialized> {
    let text = crate::rules::read_text(&rules.path)
        .with_context(|| format!("cannot read `{}`", rules.path.display()))?;
    let table: toml::Table = toml::from_str(&text).context("the rule file is not TOML")?;
    let extra: Vec<&String> = table
        .keys()
        .filter(|k| !CONNECTION_TABLES.contains(&k.as_str()))
        .collect();
    if !extra.is_empty() && !print_only {
        return Err(Failure::usage(
            format!(
                "`{}` already holds rules ({}); init only adds rules to a file with the \
                 connection alone",
                rules.path.display(),
                extra
                    .iter()
                    .map(|k| format!("[{k}]"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "run `amocrm-bin init --print` to see the rules it would write, and copy what you \
             need; or keep only [amocrm], [billmanager], [store], [log] and run init again",
        )
        .into());
    }
    let ctx = Context::with_rules(rules)?;
    let dict = ctx.crm()?.dictionaries()?;
    let account = account_name(&ctx)?;
    let generated = render_rules(&dict, &account, since);
    let main_pipeline = dict
        .pipelines
        .iter()
        .find(|p| p.is_main)
        .or(dict.pipelines.first())
        .map(|p| p.name.clone());
    let made = Initialized {
        generated,
        account,
        pipelines: dict.pipelines.len(),
        main_pipeline,
        users: dict.users.len(),
    };
    if print_only {
        return Ok(made);
    }
    let path = &ctx.rules.path;
    let mut body = text;
    if !body.ends_with('\n') {
        body.push('\n');
    }
    body.push_str(&made.generated);
    body.push('\n');
    // Check before writing: a file init made must load.
    RuleSet::parse(&body, path).context("the rules init wrote do not load (a bug)")?;
    write_keeping_mode(path, &body)?;
    Ok(made)
}

/// Rewrites the rule file in place (its mode, 0600 on a panel host, stays as it was).
fn write_keeping_mode(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(())
}

/// The fields `setup-fields` would create, and those it cannot.
pub struct FieldsPlan {
    /// The account's name.
    pub account: String,
    /// Fields to create.
    pub create: Vec<NewField>,
    /// Fields the rules map that cannot be created, with why.
    pub skipped: Vec<Skipped>,
}

/// What `setup-fields` did.
pub struct Fields {
    /// The account's name.
    pub account: String,
    /// Fields that could not be created.
    pub skipped: usize,
    /// Fields created, with the id amoCRM gave each.
    pub made: Vec<(NewField, Option<i64>)>,
    /// The operator said no.
    pub declined: bool,
}

impl Fields {
    /// The exit status: 2 when a field could not be created.
    pub fn status(&self) -> ExitStatus {
        if self.declined || self.skipped == 0 {
            ExitStatus::Ok
        } else {
            ExitStatus::Usage
        }
    }
}

impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let list: Vec<Value> = self
            .made
            .iter()
            .map(|(f, id)| {
                json!({"entity": f.kind.as_str(), "key": f.key, "name": f.name,
                       "code": f.code, "type": f.field_type, "id": id})
            })
            .collect();
        json!({"ok": self.skipped == 0, "created": list, "skipped": self.skipped}).serialize(s)
    }
}

/// Creates the custom fields the rules map but the account lacks, once `approve` (shown the
/// plan, always) says yes; then refreshes the cached dictionaries. A key one typo from an
/// account field is held back unless `near_ok` (`--yes`).
pub fn setup_fields(
    ctx: &Context,
    near_ok: bool,
    approve: &mut dyn FnMut(&FieldsPlan) -> anyhow::Result<bool>,
) -> anyhow::Result<Fields> {
    let crm = ctx.crm()?;
    let dict = crm.dictionaries()?;
    let (mut create, skipped) = missing_fields(&ctx.rules, &dict, near_ok);
    // A select gets the options the panel's values need, as many as `check` samples.
    let wanted = sampled_for(&create, &ctx.rules);
    if !wanted.is_empty() {
        match crate::setup::panel_sample::sample_values(&ctx.rules, &wanted, SAMPLE) {
            Ok(sample) => {
                offer_sampled(&mut create, &ctx.rules, &sample);
            }
            Err(e) => crate::log::warn(&format!(
                "setup-fields: BILLmanager could not be read for the selects' options ({e:#}); \
                 `amocrm-bin check` names the values no option covers"
            )),
        }
    }
    let plan = FieldsPlan {
        account: account_name(ctx)?,
        create,
        skipped,
    };
    let go = approve(&plan)?;
    let mut fields = Fields {
        account: plan.account,
        skipped: plan.skipped.len(),
        made: Vec::new(),
        declined: !go && !plan.create.is_empty(),
    };
    if plan.create.is_empty() || fields.declined {
        return Ok(fields);
    }
    let create = plan.create;
    for kind in [EntityKind::Contact, EntityKind::Company, EntityKind::Lead] {
        let batch: Vec<&NewField> = create.iter().filter(|f| f.kind == kind).collect();
        if batch.is_empty() {
            continue;
        }
        let path = format!("/api/v4/{}/custom_fields", kind.collection());
        let answer = crm
            .client()
            .post(&path, &create_body(&batch))
            .map_err(|e| with_admin_hint(e, &fields.made))?;
        let ids: Vec<(String, i64)> = answer
            .as_ref()
            .and_then(|v| v.pointer("/_embedded/custom_fields"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|f| Some((f.get("name")?.as_str()?.to_string(), f.get("id")?.as_i64()?)))
            .collect();
        for f in batch {
            let id = ids.iter().find(|(n, _)| *n == f.name).map(|(_, id)| *id);
            fields.made.push((f.clone(), id));
        }
    }
    // The next sync must see the new fields, not the hour-old cached dictionaries.
    let fresh = crm.dictionaries()?;
    let base_url = &ctx.rules.file.amocrm.base_url;
    ctx.store
        .cache_put("dictionaries", base_url, &serde_json::to_string(&fresh)?)?;
    Ok(fields)
}

/// A refused create most often means the authorizing user is not an administrator.
fn with_admin_hint(e: CrmError, made: &[(NewField, Option<i64>)]) -> anyhow::Error {
    let done = if made.is_empty() {
        String::new()
    } else {
        format!(
            " ({} field(s) were created before; running setup-fields again skips them)",
            made.len()
        )
    };
    let hint = match &e {
        CrmError::Forbidden { .. } => format!(
            "only an amoCRM administrator may add fields: authorize with an administrator's \
             code (`amocrm-bin auth --code`), or create the fields by hand{done}"
        ),
        CrmError::Validation { .. } => format!(
            "amoCRM refused a definition (the path above names it, e.g. a name or code another \
             field already has): rename the key in the rule file and run setup-fields again{done}"
        ),
        _ => format!("run setup-fields again once amoCRM answers{done}"),
    };
    let status = crate::exit::Classify::exit_status(&e);
    anyhow::Error::new(e).context(Failure::new(
        status,
        "amoCRM did not create the custom fields",
        Some(hint),
    ))
}
