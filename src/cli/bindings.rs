//! `bindings`: list, show and forget the BILLmanager ↔ amoCRM bindings.

use amocrm_bin::exit::{ExitStatus, Failure};
use serde_json::json;

use amocrm_bin::rules::EntityKind;
use amocrm_bin::store::{Binding, Store};
use serde::Serialize;

use super::args::{BindingsArgs, BindingsCommand, EntityArg};
use super::{context, Cli};

/// The binding keys an `--elid` of a kind may be stored under.
fn keys(kind: EntityKind, elid: &str) -> Vec<String> {
    match kind {
        EntityKind::Contact => vec![format!("user:{elid}")],
        EntityKind::Company => {
            vec![format!("payer:{elid}"), format!("inn:{elid}")]
        }
        EntityKind::Lead => vec![format!("service:{elid}")],
    }
}

/// Runs `bindings`.
pub fn exec(cli: &Cli, args: &BindingsArgs) -> anyhow::Result<ExitStatus> {
    let rules = context::rules(cli)?;
    let store = context::store(&rules)?;
    match &args.command {
        BindingsCommand::List { entity } => {
            let list = store.bindings(entity.map(|e| e.kind().as_str()))?;
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
        BindingsCommand::Search { query, entity } => {
            let kinds: Vec<EntityKind> = match entity {
                Some(e) => vec![e.kind()],
                None => vec![EntityKind::Contact, EntityKind::Company, EntityKind::Lead],
            };
            let hits = search(&store, &kinds, query)?;
            if cli.json {
                println!("{}", json!({"ok": true, "query": query, "bindings": hits}));
            } else {
                for h in &hits {
                    println!(
                        "{:<8} {:<24} amoCRM {:<10} synced {}  ({})",
                        h.binding.kind,
                        h.binding.bm_id,
                        h.binding.amo_id,
                        stamp(h.binding.synced_at),
                        h.matched
                    );
                }
                eprintln!("{} binding(s) match `{query}`", hits.len());
            }
            Ok(ExitStatus::Ok)
        }
        BindingsCommand::Show { entity, elid } | BindingsCommand::Forget { entity, elid } => {
            let forget = matches!(args.command, BindingsCommand::Forget { .. });
            let elid = elid.trim();
            let k = entity.kind();
            // `contact` is the client everywhere (sync, hook, outbox): its users' contacts.
            let keys = if *entity == EntityArg::Contact {
                client_user_keys(&rules, elid)?
            } else if *entity == EntityArg::User {
                vec![format!("user:{elid}")]
            } else {
                keys(k, elid)
            };
            let mut found = Vec::new();
            for key in keys {
                if let Some(b) = store.binding(k.as_str(), &key)? {
                    if !found
                        .iter()
                        .any(|(_, f): &(String, Binding)| f.bm_id == b.bm_id)
                    {
                        found.push((key, b));
                    }
                    if *entity != EntityArg::Contact {
                        break;
                    }
                }
            }
            if found.is_empty() {
                let what = match entity {
                    EntityArg::Contact => format!("client {elid}'s users"),
                    EntityArg::User => format!("user {elid}"),
                    _ => format!("{} {elid}", k.as_str()),
                };
                let sync_entity = match entity {
                    EntityArg::User => "user",
                    _ => k.as_str(),
                };
                return Err(Failure::new(
                    ExitStatus::Usage,
                    format!("no binding for BILLmanager {what}"),
                    Some(format!(
                        "run `amocrm-bin sync --entity {sync_entity} --elid {elid}` to create it; \
                         `bindings list` shows what is bound"
                    )),
                )
                .into());
            }
            if forget {
                for (_, b) in &found {
                    store.forget_binding(k.as_str(), &b.bm_id)?;
                }
                let list: Vec<&Binding> = found.iter().map(|(_, b)| b).collect();
                if cli.json {
                    println!("{}", json!({"ok": true, "forgotten": list}));
                } else {
                    for b in list {
                        println!(
                            "forgot {} {} (amoCRM {}); the next sync looks it up again",
                            b.kind, b.bm_id, b.amo_id
                        );
                    }
                }
                return Ok(ExitStatus::Ok);
            }
            let mut shown = Vec::new();
            for (key, b) in &found {
                let alias = store.alias(k.as_str(), key)?;
                let url = format!(
                    "{}/{}/detail/{}",
                    rules.file.amocrm.base_url.trim_end_matches('/'),
                    k.collection(),
                    b.amo_id
                );
                if !cli.json {
                    println!("{} {} → amoCRM {} {}", b.kind, key, b.kind, b.amo_id);
                    if let Some(a) = &alias {
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
                shown.push(json!({"binding": b, "alias": alias, "url": url}));
            }
            if cli.json {
                let v = if *entity == EntityArg::Contact {
                    json!({"ok": true, "client": elid, "contacts": shown})
                } else {
                    let mut one = shown.swap_remove(0);
                    one["ok"] = json!(true);
                    one
                };
                println!("{v}");
            }
            Ok(ExitStatus::Ok)
        }
    }
}

/// The binding keys of a client's users (`user:<id>`), read from BILLmanager.
fn client_user_keys(
    rules: &amocrm_bin::rules::RuleSet,
    client: &str,
) -> anyhow::Result<Vec<String>> {
    use amocrm_bin::billing::BillingError;
    let billing = amocrm_bin::billing::open(&rules.file.billmanager)?;
    match billing.client(client) {
        Ok(c) => Ok(c.users.iter().map(|u| format!("user:{}", u.id)).collect()),
        Err(e @ BillingError::NotFound { .. }) => {
            Err(anyhow::Error::new(e).context(Failure::usage(
                format!("BILLmanager has no client {client}"),
                format!(
                    "`--entity contact` takes a client id; for one user's contact use \
                 `--entity user --elid {client}`"
                ),
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// A binding `bindings search` found, and why it matched.
#[derive(Debug, Serialize)]
struct Hit {
    #[serde(flatten)]
    binding: Binding,
    /// `BILLmanager id`, `amoCRM id`, `amoCRM link`, `alias of …` or `text`.
    matched: String,
}

/// Finds bindings by BILLmanager id (any key of that id: `user:17`, `payer:5`, `inn:…`,
/// `service:42`, following aliases), by amoCRM id, by an amoCRM link (`…/leads/detail/N`)
/// or by text in the BILLmanager key (`inn:7701`).
fn search(store: &Store, kinds: &[EntityKind], query: &str) -> anyhow::Result<Vec<Hit>> {
    let q = query.trim();
    let mut hits: Vec<Hit> = Vec::new();
    let mut push = |b: Binding, matched: String| {
        if !hits
            .iter()
            .any(|h| h.binding.kind == b.kind && h.binding.bm_id == b.bm_id)
        {
            hits.push(Hit {
                binding: b,
                matched,
            });
        }
    };
    // A link copied from amoCRM names the kind and the id.
    if let Some((kind, id)) = amo_link(q) {
        if kinds.contains(&kind) {
            if let Some(b) = store.binding_by_amo(kind.as_str(), id)? {
                push(b, "amoCRM link".into());
            }
        }
        return Ok(hits);
    }
    for &k in kinds {
        for key in keys(k, q) {
            if let Some(b) = store.binding(k.as_str(), &key)? {
                let matched = if b.bm_id == key {
                    "BILLmanager id".to_string()
                } else {
                    format!("{key} shares it")
                };
                push(b, matched);
            }
        }
        if let Ok(id) = q.parse::<i64>() {
            if let Some(b) = store.binding_by_amo(k.as_str(), id)? {
                push(b, "amoCRM id".into());
            }
        }
    }
    let needle = q.to_lowercase();
    if !needle.is_empty() {
        for &k in kinds {
            for b in store.bindings(Some(k.as_str()))? {
                if b.bm_id.to_lowercase().contains(&needle) {
                    push(b, "text".into());
                }
            }
        }
    }
    Ok(hits)
}

/// `https://x.amocrm.ru/leads/detail/9100001` → (lead, 9100001).
fn amo_link(q: &str) -> Option<(EntityKind, i64)> {
    let mut parts = q.trim_end_matches('/').rsplit('/');
    let id = parts.next()?.parse().ok()?;
    if parts.next()? != "detail" {
        return None;
    }
    let kind = match parts.next()? {
        "leads" => EntityKind::Lead,
        "contacts" => EntityKind::Contact,
        "companies" => EntityKind::Company,
        _ => return None,
    };
    Some((kind, id))
}

fn stamp(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}
