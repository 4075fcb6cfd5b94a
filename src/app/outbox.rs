//! `outbox list|drop|retry`: the operator's hands on the queue. `status` shows it; these
//! remove junk (an item for an entity that will never sync) or retry one item after fixing
//! its cause, without retrying everything as `drain --all` does.

use serde::Serialize;

use crate::exit::Failure;
use crate::store::{OutboxItem, OutboxSelector};

use super::Context;

/// Which items an operator names: by id, by entity, or every parked one.
pub struct Which<'a> {
    /// The item's id (from `outbox list`).
    pub id: Option<i64>,
    /// The queue's kind word (`contact`, `company`, `lead`, `user`).
    pub kind: Option<&'a str>,
    /// The BILLmanager id.
    pub elid: Option<&'a str>,
    /// Every parked item.
    pub parked: bool,
}

impl Which<'_> {
    fn selector(&self) -> anyhow::Result<OutboxSelector> {
        match (self.id, self.kind, self.elid, self.parked) {
            (Some(id), ..) => Ok(OutboxSelector::Id(id)),
            (None, Some(kind), Some(elid), _) => Ok(OutboxSelector::Entity {
                kind: kind.to_string(),
                bm_id: elid.trim().to_string(),
            }),
            (None, None, None, true) => Ok(OutboxSelector::Parked),
            _ => Err(Failure::usage(
                "say which items",
                "pass --id N (from `amocrm-bin outbox list`), --entity KIND --elid N, or --parked",
            )
            .into()),
        }
    }
}

/// The queue as `outbox list` shows it.
#[derive(Debug, Serialize)]
pub struct Listed {
    /// Always true: listing cannot fail half-way.
    pub ok: bool,
    /// The items, oldest first.
    pub items: Vec<OutboxItem>,
}

/// What `outbox drop` or `outbox retry` changed.
#[derive(Debug, Serialize)]
pub struct Changed {
    /// Always true: nothing matching is an error.
    pub ok: bool,
    /// How many items.
    pub items: usize,
    /// What was done to them, in words.
    #[serde(skip)]
    pub what: &'static str,
}

/// The queued items (`parked`: only the parked ones).
pub fn list(ctx: &Context, parked: bool) -> anyhow::Result<Listed> {
    let items = ctx
        .store
        .outbox_items()?
        .into_iter()
        .filter(|i| !parked || i.parked)
        .collect();
    Ok(Listed { ok: true, items })
}

/// Removes the items named.
pub fn drop(ctx: &Context, which: &Which<'_>) -> anyhow::Result<Changed> {
    let n = ctx.store.outbox_drop(&which.selector()?)?;
    changed("dropped", n)
}

/// Makes the items named due now.
pub fn retry(ctx: &Context, which: &Which<'_>) -> anyhow::Result<Changed> {
    let n = ctx.store.outbox_retry(&which.selector()?)?;
    changed("made due now (run `amocrm-bin drain`)", n)
}

fn changed(what: &'static str, n: usize) -> anyhow::Result<Changed> {
    if n == 0 {
        return Err(Failure::usage(
            "no queued item matches",
            "`amocrm-bin outbox list` shows the queue with each item's id",
        )
        .into());
    }
    crate::log::record(&format!("outbox: {n} item(s) {what}"));
    Ok(Changed {
        ok: true,
        items: n,
        what,
    })
}

#[cfg(test)]
mod tests {
    use super::{OutboxSelector, Which};

    fn which(
        id: Option<i64>,
        kind: Option<&'static str>,
        elid: Option<&'static str>,
        parked: bool,
    ) -> Which<'static> {
        Which {
            id,
            kind,
            elid,
            parked,
        }
    }

    #[test]
    fn an_operator_names_items_by_id_by_entity_or_all_parked_and_nothing_else() {
        assert!(matches!(
            which(Some(7), None, None, false).selector().unwrap(),
            OutboxSelector::Id(7)
        ));
        match which(None, Some("user"), Some(" 17 "), false)
            .selector()
            .unwrap()
        {
            OutboxSelector::Entity { kind, bm_id } => {
                assert_eq!((kind.as_str(), bm_id.as_str()), ("user", "17"))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            which(None, None, None, true).selector().unwrap(),
            OutboxSelector::Parked
        ));
        let none = which(None, None, None, false).selector().unwrap_err();
        assert!(format!("{none:#}").contains("say which items"), "{none:#}");
    }
}
