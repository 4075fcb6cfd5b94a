//! `bindings`: list, search, show and forget the BILLmanager ↔ amoCRM bindings.

use serde::{Serialize, Serializer};
use serde_json::json;

use crate::billing::BillingError;
use crate::exit::{ExitStatus, Failure};
use crate::rules::EntityKind;
use crate::store::{Alias, Binding, Store};

use super::Context;

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

/// Bindings as `bindings list` shows them.
#[derive(Debug, Serialize)]
pub struct Listed {
    /// Always true.
    pub ok: bool,
    /// The bindings.
    pub bindings: Vec<Binding>,
    /// The keys bound through another key: payers sharing a company by INN, services
    /// joined to another service's lead.
    pub aliases: Vec<Alias>,
}

/// Every binding of a kind (or of all kinds), and every alias.
pub fn list(ctx: &Context, kind: Option<EntityKind>) -> anyhow::Result<Listed> {
    let kind = kind.map(EntityKind::as_str);
    Ok(Listed {
        ok: true,
        bindings: ctx.store.bindings(kind)?,
        aliases: ctx.store.aliases(kind)?,
    })
}

/// What `bindings search` found.
#[derive(Debug, Serialize)]
pub struct Found {
    /// Always true.
    pub ok: bool,
    /// The query as typed.
    pub query: String,
    /// The matches.
    pub bindings: Vec<Hit>,
}

/// Finds bindings of a kind (or of all kinds) by a query: a BILLmanager id, an amoCRM id or
/// link, or text in the BILLmanager key.
pub fn search(ctx: &Context, kind: Option<EntityKind>, query: &str) -> anyhow::Result<Found> {
    let kinds: Vec<EntityKind> = match kind {
        Some(k) => vec![k],
        None => vec![EntityKind::Contact, EntityKind::Company, EntityKind::Lead],
    };
    let mut bindings = hits(&ctx.store, &kinds, query)?;
    if kinds.contains(&EntityKind::Contact) {
        client_hits(ctx, query.trim(), &mut bindings)?;
    }
    Ok(Found {
        ok: true,
        query: query.to_string(),
        bindings,
    })
}

/// What `--entity KIND --elid N` names: a kind's entity, a client's users (`contact` is the
/// client everywhere: sync, hook, outbox) or one user's contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Named {
    /// A client: its users' contacts.
    Client,
    /// One user's contact.
    User,
    /// A company or a lead.
    Kind(EntityKind),
}

impl Named {
    fn kind(self) -> EntityKind {
        match self {
            Named::Client | Named::User => EntityKind::Contact,
            Named::Kind(k) => k,
        }
    }
}

/// The bindings `named` `elid` has, each with the key it was found under; none is a usage
/// error that says how to create it.
fn find(ctx: &Context, named: Named, elid: &str) -> anyhow::Result<Vec<(String, Binding)>> {
    let k = named.kind();
    let keys = match named {
        Named::Client => client_user_keys(ctx, elid)?,
        Named::User => vec![format!("user:{elid}")],
        Named::Kind(k) => keys(k, elid),
    };
    let mut found: Vec<(String, Binding)> = Vec::new();
    for key in keys {
        if let Some(b) = ctx.store.binding(k.as_str(), &key)? {
            if !found.iter().any(|(_, f)| f.bm_id == b.bm_id) {
                found.push((key, b));
            }
            if named != Named::Client {
                break;
            }
        }
    }
    if found.is_empty() {
        let (what, sync_entity) = match named {
            Named::Client => (format!("client {elid}'s users"), "contact"),
            Named::User => (format!("user {elid}"), "user"),
            Named::Kind(k) => (format!("{} {elid}", k.as_str()), k.as_str()),
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
    Ok(found)
}

/// What `bindings forget` removed.
#[derive(Debug, Serialize)]
pub struct Forgotten {
    /// Always true.
    pub ok: bool,
    /// The bindings removed: the next sync looks their entities up again.
    pub forgotten: Vec<Binding>,
}

/// Removes the bindings `named` `elid` has.
pub fn forget(ctx: &Context, named: Named, elid: &str) -> anyhow::Result<Forgotten> {
    let found = find(ctx, named, elid)?;
    for (_, b) in &found {
        ctx.store.forget_binding(named.kind().as_str(), &b.bm_id)?;
    }
    Ok(Forgotten {
        ok: true,
        forgotten: found.into_iter().map(|(_, b)| b).collect(),
    })
}

/// One binding as `bindings show` shows it.
#[derive(Debug, Serialize)]
pub struct Shown {
    /// The key it was found under.
    #[serde(skip)]
    pub key: String,
    /// The binding.
    pub binding: Binding,
    /// The entity whose amoCRM entity it shares, if any.
    pub alias: Option<Alias>,
    /// The amoCRM card.
    pub url: String,
}

/// What `bindings show` shows: a client's contacts, or one binding.
#[derive(Debug)]
pub struct Showing {
    /// The client's id when a client was named.
    pub client: Option<String>,
    /// The bindings (one unless a client was named).
    pub shown: Vec<Shown>,
}

impl Serialize for Showing {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = match (&self.client, self.shown.first()) {
            (Some(client), _) => json!({"ok": true, "client": client, "contacts": self.shown}),
            (None, Some(one)) => {
                let mut v = serde_json::to_value(one).map_err(serde::ser::Error::custom)?;
                v["ok"] = json!(true);
                v
            }
            (None, None) => json!({"ok": true}),
        };
        v.serialize(s)
    }
}

/// The bindings `named` `elid` has, with their aliases and amoCRM links.
pub fn show(ctx: &Context, named: Named, elid: &str) -> anyhow::Result<Showing> {
    let k = named.kind();
    let mut shown = Vec::new();
    for (key, binding) in find(ctx, named, elid)? {
        let alias = ctx.store.alias(k.as_str(), &key)?;
        let url = format!(
            "{}/{}/detail/{}",
            ctx.rules.file.amocrm.base_url.trim_end_matches('/'),
            k.collection(),
            binding.amo_id
        );
        shown.push(Shown {
            key,
            binding,
            alias,
            url,
        });
    }
    Ok(Showing {
        client: (named == Named::Client).then(|| elid.to_string()),
        shown,
    })
}

/// The binding keys of a client's users (`user:<id>`), read from BILLmanager.
fn client_user_keys(ctx: &Context, client: &str) -> anyhow::Result<Vec<String>> {
    let billing = ctx.billing()?;
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

/// Contacts are bound per user, so a client id (`bindings search 101`, what an operator
/// copies from the panel's client list) is asked of the panel for its users. A number the
/// panel has no client for, or a panel that cannot answer, adds nothing: the store's own
/// matches stand.
fn client_hits(ctx: &Context, query: &str, hits: &mut Vec<Hit>) -> anyhow::Result<()> {
    if query.is_empty() || !query.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(());
    }
    let keys = match client_user_keys(ctx, query) {
        Ok(keys) => keys,
        Err(e) => {
            crate::log::debug(&format!("bindings search: client {query} not read: {e:#}"));
            return Ok(());
        }
    };
    for key in keys {
        if let Some(b) = ctx.store.binding(EntityKind::Contact.as_str(), &key)? {
            add_hit(hits, b, format!("user of client {query}"));
        }
    }
    Ok(())
}

/// Adds a match unless the same binding is in `hits` already (its first reason stays).
fn add_hit(hits: &mut Vec<Hit>, binding: Binding, matched: String) {
    let seen = hits
        .iter()
        .any(|h| h.binding.kind == binding.kind && h.binding.bm_id == binding.bm_id);
    if !seen {
        hits.push(Hit { binding, matched });
    }
}

/// A binding `bindings search` found, and why it matched.
#[derive(Debug, Serialize)]
pub struct Hit {
    /// The binding.
    #[serde(flatten)]
    pub binding: Binding,
    /// `BILLmanager id`, `amoCRM id`, `amoCRM link`, `alias of …` or `text`.
    pub matched: String,
}

/// Finds bindings by BILLmanager id (any key of that id: `user:17`, `payer:5`, `inn:…`,
/// `service:42`, following aliases), by amoCRM id, by an amoCRM link (`…/leads/detail/N`)
/// or by text in the BILLmanager key (`inn:7701`).
fn hits(store: &Store, kinds: &[EntityKind], query: &str) -> anyhow::Result<Vec<Hit>> {
    let q = query.trim();
    let mut hits: Vec<Hit> = Vec::new();
    let mut push = |b: Binding, matched: String| add_hit(&mut hits, b, matched);
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

#[cfg(test)]
mod tests {
    use super::{amo_link, keys};
    use crate::rules::EntityKind;

    #[test]
    fn an_amocrm_link_names_its_kind_and_id() {
        assert_eq!(
            amo_link("https://x.amocrm.ru/leads/detail/9100001"),
            Some((EntityKind::Lead, 9100001))
        );
        assert_eq!(
            amo_link("https://x.amocrm.ru/companies/detail/5/"),
            Some((EntityKind::Company, 5))
        );
        assert_eq!(amo_link("https://x.amocrm.ru/tasks/detail/5"), None);
        assert_eq!(amo_link("https://x.amocrm.ru/leads/5"), None);
        assert_eq!(amo_link("inn:7701"), None);
    }

    #[test]
    fn a_payer_is_bound_by_its_id_or_its_inn() {
        assert_eq!(keys(EntityKind::Company, "5"), ["payer:5", "inn:5"]);
        assert_eq!(keys(EntityKind::Lead, "42"), ["service:42"]);
        assert_eq!(keys(EntityKind::Contact, "17"), ["user:17"]);
    }
}
