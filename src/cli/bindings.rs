//! `bindings`: list, show and forget the BILLmanager ↔ amoCRM bindings.

use amocrm_bin::exit::{ExitStatus, Failure};
use serde_json::json;

use super::args::{BindingsArgs, BindingsCommand};
use super::sync::kind;
use super::{context, Cli};

/// The binding keys an `--elid` of a kind may be stored under.
fn keys(kind: amocrm_bin::rules::EntityKind, elid: &str) -> Vec<String> {
    match kind {
        amocrm_bin::rules::EntityKind::Contact => vec![format!("user:{elid}")],
        amocrm_bin::rules::EntityKind::Company => {
            vec![format!("payer:{elid}"), format!("inn:{elid}")]
        }
        amocrm_bin::rules::EntityKind::Lead => vec![format!("service:{elid}")],
    }
}

/// Runs `bindings`.
pub fn exec(cli: &Cli, args: &BindingsArgs) -> anyhow::Result<ExitStatus> {
    let rules = context::rules(cli)?;
    let store = context::store(&rules)?;
    match &args.command {
        BindingsCommand::List { entity } => {
            let list = store.bindings(entity.map(|e| kind(e).as_str()))?;
            if cli.json {
                println!("{}", json!({"ok": true, "bindings": list}));
            } else {
                for b in &list {
                    println!(
                        "{:<8} {:<24} amoCRM {:<10} synced {}",
                        b.kind,
                        b.bm_id,
                        b.amo_id,
                        stamp(b.synced_at)
                    );
                }
                eprintln!("{} binding(s)", list.len());
            }
            Ok(ExitStatus::Ok)
        }
        BindingsCommand::Show { entity, elid } | BindingsCommand::Forget { entity, elid } => {
            let k = kind(*entity);
            let mut found = None;
            for key in keys(k, elid) {
                if let Some(b) = store.binding(k.as_str(), &key)? {
                    found = Some((key, b));
                    break;
                }
            }
            let Some((key, b)) = found else {
                return Err(Failure::new(
                    ExitStatus::Usage,
                    format!("no binding for BILLmanager {} {elid}", k.as_str()),
                    Some(format!("run `amocrm-bin sync --entity {} --elid {elid}` to create it; `bindings list` shows what is bound", k.as_str())),
                )
                .into());
            };
            let alias = store.alias(k.as_str(), &key)?;
            if matches!(args.command, BindingsCommand::Forget { .. }) {
                store.forget_binding(k.as_str(), &b.bm_id)?;
                if cli.json {
                    println!("{}", json!({"ok": true, "forgotten": b}));
                } else {
                    println!(
                        "forgot {} {} (amoCRM {}); the next sync looks it up again",
                        b.kind, b.bm_id, b.amo_id
                    );
                }
                return Ok(ExitStatus::Ok);
            }
            let url = format!(
                "{}/{}/detail/{}",
                rules.file.amocrm.base_url.trim_end_matches('/'),
                match k {
                    amocrm_bin::rules::EntityKind::Lead => "leads",
                    amocrm_bin::rules::EntityKind::Contact => "contacts",
                    amocrm_bin::rules::EntityKind::Company => "companies",
                },
                b.amo_id
            );
            if cli.json {
                println!(
                    "{}",
                    json!({"ok": true, "binding": b, "alias": alias, "url": url})
                );
            } else {
                println!("{} {} → amoCRM {} {}", b.kind, key, b.kind, b.amo_id);
                if let Some(a) = alias {
                    println!(
                        "  shares the amoCRM entity of {} ({})",
                        a.target_id, a.reason
                    );
                }
                println!(
                    "  synced {}; payload hash {}",
                    stamp(b.synced_at),
                    b.payload_hash
                );
                println!("  {url}");
            }
            Ok(ExitStatus::Ok)
        }
    }
}

fn stamp(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}
