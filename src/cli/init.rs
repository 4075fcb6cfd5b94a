//! `init` and `setup-fields`: from a connection-only rule file and an authorization to rules
//! that `check` accepts, without guessing names (setup::init, setup::new_fields decide).

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use amocrm_bin::crm::amo::AmoCrm;
use amocrm_bin::crm::{Crm as _, CrmError};
use amocrm_bin::exit::{ExitStatus, Failure};
use amocrm_bin::rules::{EntityKind, RuleSet};
use amocrm_bin::setup::init::{render_rules, CONNECTION_TABLES};
use amocrm_bin::setup::new_fields::{create_body, missing_fields, NewField};
use amocrm_bin::store::Store;
use anyhow::Context as _;
use clap::Args;
use serde_json::{json, Value};

use super::{context, Cli};

/// `init` options.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Print the rules on stdout instead of appending them to the rule file.
    #[arg(long)]
    pub print: bool,
}

/// `setup-fields` options.
#[derive(Debug, Args)]
pub struct SetupFieldsArgs {
    /// Create the fields without asking.
    #[arg(long)]
    pub yes: bool,
}

/// The account's name as `auth` stored it, else its URL.
fn account_name(rules: &RuleSet, store: &Store) -> anyhow::Result<String> {
    Ok(store
        .tokens()?
        .and_then(|t| t.account_name)
        .unwrap_or_else(|| rules.file.amocrm.base_url.clone()))
}

/// Runs `init`.
pub fn init(cli: &Cli, args: &InitArgs) -> anyhow::Result<ExitStatus> {
    let rules = context::rules(cli)?;
    let text = amocrm_bin::rules::read_text(&rules.path)
        .with_context(|| format!("cannot read `{}`", rules.path.display()))?;
    let table: toml::Table = toml::from_str(&text).context("the rule file is not TOML")?;
    let extra: Vec<&String> = table
        .keys()
        .filter(|k| !CONNECTION_TABLES.contains(&k.as_str()))
        .collect();
    if !extra.is_empty() && !args.print {
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
    let store = context::store(&rules)?;
    let crm = AmoCrm::new(context::client(&rules, &store, true)?);
    let dict = crm.dictionaries()?;
    let account = account_name(&rules, &store)?;
    let generated = render_rules(&dict, &account);
    if args.print {
        print!("{}", generated.trim_start());
        println!();
        return Ok(ExitStatus::Ok);
    }
    let mut body = text;
    if !body.ends_with('\n') {
        body.push('\n');
    }
    body.push_str(&generated);
    body.push('\n');
    // Check before writing: a file init made must load.
    RuleSet::parse(&body, &rules.path).context("the rules init wrote do not load (a bug)")?;
    write_keeping_mode(&rules.path, &body)?;
    if !cli.quiet {
        let main = dict
            .pipelines
            .iter()
            .find(|p| p.is_main)
            .or(dict.pipelines.first());
        eprintln!(
            "wrote the rules for amoCRM account {account} into `{}`: {} pipeline(s){}, {} user(s); \
             [lifecycle] and [calls] are there commented out",
            rules.path.display(),
            dict.pipelines.len(),
            main.map(|p| format!(" (new leads go to `{}`)", p.name))
                .unwrap_or_default(),
            dict.users.len()
        );
        eprintln!(
            "next: `amocrm-bin setup-fields` creates the custom fields the rules map, then \
             `amocrm-bin check`"
        );
    }
    Ok(ExitStatus::Ok)
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

/// Runs `setup-fields`.
pub fn setup_fields(cli: &Cli, args: &SetupFieldsArgs) -> anyhow::Result<ExitStatus> {
    let rules = context::rules(cli)?;
    let store = context::store(&rules)?;
    let crm = AmoCrm::new(context::client(&rules, &store, true)?);
    let dict = crm.dictionaries()?;
    let account = account_name(&rules, &store)?;
    let (create, skipped) = missing_fields(&rules, &dict, args.yes);
    for s in &skipped {
        println!("skipped: {}: {}", s.key, s.reason);
    }
    if create.is_empty() {
        if cli.json {
            println!(
                "{}",
                json!({"ok": skipped.is_empty(), "created": [], "skipped": skipped.len()})
            );
        } else if !cli.quiet {
            eprintln!(
                "every field the rules map exists in amoCRM account {account}; nothing to create"
            );
        }
        return Ok(if skipped.is_empty() {
            ExitStatus::Ok
        } else {
            ExitStatus::Usage
        });
    }
    if !cli.json {
        println!("fields to create in amoCRM account {account}:");
        for f in &create {
            println!("  {}", describe(f));
        }
    }
    if !args.yes && !confirm(create.len(), &account)? {
        eprintln!("nothing created");
        return Ok(ExitStatus::Ok);
    }
    let mut made = Vec::new();
    for kind in [EntityKind::Contact, EntityKind::Company, EntityKind::Lead] {
        let batch: Vec<&NewField> = create.iter().filter(|f| f.kind == kind).collect();
        if batch.is_empty() {
            continue;
        }
        let path = format!("/api/v4/{}/custom_fields", kind.collection());
        let answer = crm
            .client()
            .post(&path, &create_body(&batch))
            .map_err(|e| with_admin_hint(e, &made))?;
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
            made.push((f.clone(), id));
        }
    }
    // The next sync must see the new fields, not the hour-old cached dictionaries.
    let fresh = crm.dictionaries()?;
    let base_url = &rules.file.amocrm.base_url;
    store.cache_put("dictionaries", base_url, &serde_json::to_string(&fresh)?)?;
    if cli.json {
        let list: Vec<Value> = made
            .iter()
            .map(|(f, id)| {
                json!({"entity": f.kind.as_str(), "key": f.key, "name": f.name,
                                  "code": f.code, "type": f.field_type, "id": id})
            })
            .collect();
        println!(
            "{}",
            json!({"ok": skipped.is_empty(), "created": list, "skipped": skipped.len()})
        );
    } else {
        for (f, id) in &made {
            println!(
                "created: {} field `{}`{}",
                f.kind.as_str(),
                f.name,
                id.map(|id| format!(" (id {id})")).unwrap_or_default()
            );
        }
        if !cli.quiet {
            eprintln!("next: `amocrm-bin check`");
        }
    }
    Ok(if skipped.is_empty() {
        ExitStatus::Ok
    } else {
        ExitStatus::Usage
    })
}

fn describe(f: &NewField) -> String {
    let mut s = format!("{} `{}`: {}", f.kind.as_str(), f.name, f.field_type);
    if let Some(c) = &f.code {
        s.push_str(&format!(", code {c}"));
    }
    if !f.options.is_empty() {
        s.push_str(&format!(", options {}", f.options.join(", ")));
    }
    if f.api_only {
        s.push_str(", read-only in amoCRM's interface");
    }
    s
}

/// Asks on the terminal (stdin). No answer (end of input) is a usage error naming `--yes`.
fn confirm(n: usize, account: &str) -> anyhow::Result<bool> {
    eprint!("create these {n} field(s) in amoCRM account {account}? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line)?;
    if !std::io::stdin().is_terminal() {
        // The answer came from a pipe and was not echoed.
        eprintln!("{}", line.trim());
    }
    if read == 0 {
        return Err(Failure::usage(
            "no answer to the question (stdin is closed)",
            "run `amocrm-bin setup-fields --yes` to create the fields without asking",
        )
        .into());
    }
    Ok(matches!(
        line.trim().to_lowercase().as_str(),
        "y" | "yes" | "д" | "да"
    ))
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
    let status = amocrm_bin::exit::Classify::exit_status(&e);
    anyhow::Error::new(e).context(Failure::new(
        status,
        "amoCRM did not create the custom fields",
        Some(hint),
    ))
}
