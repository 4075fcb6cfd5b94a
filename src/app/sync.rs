//! `sync --entity KIND --elid N`: one BILLmanager entity now; what failed is queued in the
//! outbox for `drain` (the library's requeue rule), junk is not.

use crate::billing::BillingError;
use crate::engine::outbox::{self, PARK_AFTER};
use crate::engine::{Action, Engine};
use crate::exit::ExitStatus;
use crate::rules::EntityKind;

use super::{Context, Ran};

/// What `sync` was asked for.
pub struct SyncRequest<'a> {
    /// The kind synced.
    pub kind: EntityKind,
    /// The BILLmanager id (a client's for contacts).
    pub elid: &'a str,
    /// True when `elid` is a user's id: its client is synced.
    pub user: bool,
    /// Nothing written.
    pub dry_run: bool,
}

/// The client a user id names: contacts are synced a client at a time.
fn client_of_user(ctx: &Context, user: &str) -> anyhow::Result<String> {
    let billing = ctx.billing()?;
    Ok(crate::hook::users::client_of_user(billing.as_ref(), user)?)
}

/// Syncs one entity, records the run and queues what failed; returns the run and its exit
/// status.
pub fn sync(ctx: &Context, req: &SyncRequest<'_>) -> anyhow::Result<(Ran, ExitStatus)> {
    let store = &ctx.store;
    let kind = req.kind;
    let client;
    let elid = if req.user {
        client = client_of_user(ctx, req.elid)?;
        crate::log::info(&format!(
            "user {} is client {client}'s: syncing the client's contacts",
            req.elid
        ));
        client.as_str()
    } else {
        req.elid
    };
    let run = store.start_run("sync")?;
    let result = (|| -> anyhow::Result<Ran> {
        let billing = ctx.billing()?;
        let crm = ctx.batched_crm()?;
        let engine = Engine::new(&ctx.rules, store, &crm, billing.as_ref(), req.dry_run)?;
        // Notes and tasks queued before (this entity's, or any other's) go out too.
        let outcome = engine
            .sync(kind, elid)
            .and_then(|()| engine.flush_followups());
        let report = engine.report();
        use crate::crm::Crm as _;
        let stats = crm.requests();
        outcome.map(|_| Ran { report, stats })
    })();
    let dry_run = req.dry_run;
    match result {
        Ok(ran) => {
            let report = &ran.report;
            let status = report.entity_exit_status();
            if report.has_rejections() {
                // A rejected option or field may mean our cached dictionaries are stale.
                store.cache_clear("dictionaries")?;
            }
            let failed = report.outcomes.iter().any(|o| o.action == Action::Failed);
            let unlinked = report.unlinked.iter().filter_map(|g| g.requeue.as_ref());
            if !dry_run {
                // Rows not linked to their client pass once the panel is fixed: queued.
                for (k, id) in unlinked {
                    store.outbox_failed(
                        k.as_str(),
                        id,
                        "not linked to its client in BILLmanager; see the run journal",
                        false,
                        PARK_AFTER,
                    )?;
                }
            }
            if failed && !dry_run {
                // Nothing is lost: the next drain or sync retries it.
                store.outbox_failed(
                    kind.as_str(),
                    elid,
                    "sync failed; see the run journal",
                    false,
                    PARK_AFTER,
                )?;
            } else if !dry_run {
                store.outbox_clear(kind.as_str(), elid)?;
            }
            let mut summary = ran.summary();
            summary["exit_code"] = status.code().into();
            store.finish_run(run, status.code() as i32, &summary.to_string())?;
            Ok((ran, status))
        }
        Err(e) => {
            let (status, _) = crate::exit::classify(&e);
            // Queued unless the failure is the command's own (the library's rule).
            let transient = outbox::queue_after_direct_sync(&e);
            if !dry_run && transient && panel_lacks(ctx, kind, elid) {
                // Junk in the queue would be retried and reported forever.
                crate::log::warn(&format!(
                    "not queued: BILLmanager has no {} with id {elid}",
                    billing_word(kind)
                ));
            } else if !dry_run && transient {
                store.outbox_failed(
                    kind.as_str(),
                    elid,
                    &crate::log::redact(&format!("{e}")),
                    false,
                    PARK_AFTER,
                )?;
            }
            store.finish_run(run, status.code() as i32, "{}")?;
            Err(e)
        }
    }
}

/// BILLmanager's word for what a kind is synced from.
fn billing_word(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::Contact => "client",
        EntityKind::Company => "payer",
        EntityKind::Lead => "service",
    }
}

/// True only when BILLmanager answers that the entity does not exist (not when it cannot
/// be asked: then the sync is queued, as nothing is known).
fn panel_lacks(ctx: &Context, kind: EntityKind, elid: &str) -> bool {
    let Ok(billing) = ctx.billing() else {
        return false;
    };
    let answer = match kind {
        EntityKind::Contact => billing.client(elid).map(drop),
        EntityKind::Company => billing.payer(elid).map(drop),
        EntityKind::Lead => billing.service(elid).map(drop),
    };
    matches!(answer, Err(BillingError::NotFound { .. }))
}
