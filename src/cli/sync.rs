//! `sync --entity KIND --elid N`: one BILLmanager entity now.

use amocrm_bin::crm::amo::AmoCrm;
use amocrm_bin::engine::outbox::{self, PARK_AFTER};
use amocrm_bin::engine::Engine;
use amocrm_bin::exit::ExitStatus;
use amocrm_bin::rules::EntityKind;

use super::args::{EntityArg, SyncArgs};
use super::{context, output, Cli};

/// The client a `--entity user --elid N` names: contacts are synced a client at a time.
pub fn client_of_user(rules: &amocrm_bin::rules::RuleSet, user: &str) -> anyhow::Result<String> {
    let billing = amocrm_bin::billing::open(&rules.file.billmanager)?;
    Ok(amocrm_bin::hook::users::client_of_user(
        billing.as_ref(),
        user,
    )?)
}

/// Runs `sync`.
pub fn exec(cli: &Cli, args: &SyncArgs) -> anyhow::Result<ExitStatus> {
    let rules = context::rules(cli)?;
    let store = context::store(&rules)?;
    let kind = args.entity.kind();
    let client;
    let elid = if args.entity == EntityArg::User {
        client = client_of_user(&rules, args.elid.trim())?;
        amocrm_bin::log::info(&format!(
            "user {} is client {client}'s: syncing the client's contacts",
            args.elid.trim()
        ));
        client.as_str()
    } else {
        args.elid.trim()
    };
    let run = store.start_run("sync")?;
    let result = (|| -> anyhow::Result<(amocrm_bin::engine::Report, amocrm_bin::crm::amo::RequestStats)> {
        let billing = amocrm_bin::billing::open(&rules.file.billmanager)?;
        let crm = AmoCrm::new(context::client(&rules, &store, true)?).with_batch_size(rules.file.amocrm.batch_size);
        let engine = Engine::new(&rules, &store, &crm, billing.as_ref(), args.dry_run)?;
        // Notes and tasks queued before (this entity's, or any other's) go out too.
        let outcome = engine.sync(kind, elid).and_then(|()| engine.flush_followups());
        let report = engine.report();
        use amocrm_bin::crm::Crm as _;
        let stats = crm.requests();
        outcome.map(|_| (report, stats))
    })();
    match result {
        Ok((report, stats)) => {
            let status = report.entity_exit_status();
            if report.has_rejections() {
                // A rejected option or field may mean our cached dictionaries are stale.
                store.cache_clear("dictionaries")?;
            }
            let failed = report
                .outcomes
                .iter()
                .any(|o| o.action == amocrm_bin::engine::Action::Failed);
            let unlinked = report.unlinked.iter().filter_map(|g| g.requeue.as_ref());
            if !args.dry_run {
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
            if failed && !args.dry_run {
                // Nothing is lost: the next drain or sync retries it.
                store.outbox_failed(
                    kind.as_str(),
                    elid,
                    "sync failed; see the run journal",
                    false,
                    PARK_AFTER,
                )?;
            } else if !args.dry_run {
                store.outbox_clear(kind.as_str(), elid)?;
            }
            output::report(cli, &report, &stats)?;
            let mut summary = output::summary_json(&report, &stats);
            summary["exit_code"] = status.code().into();
            store.finish_run(run, status.code() as i32, &summary.to_string())?;
            Ok(status)
        }
        Err(e) => {
            let (status, _) = amocrm_bin::exit::classify(&e);
            // Queued unless the failure is the command's own (the library's rule).
            let transient = outbox::queue_after_direct_sync(&e);
            if !args.dry_run && transient && panel_lacks(&rules, kind, elid) {
                // Junk in the queue would be retried and reported forever.
                amocrm_bin::log::warn(&format!(
                    "not queued: BILLmanager has no {} with id {elid}",
                    billing_word(kind)
                ));
            } else if !args.dry_run && transient {
                store.outbox_failed(
                    kind.as_str(),
                    elid,
                    &amocrm_bin::log::redact(&format!("{e}")),
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
fn panel_lacks(rules: &amocrm_bin::rules::RuleSet, kind: EntityKind, elid: &str) -> bool {
    use amocrm_bin::billing::BillingError;
    let Ok(billing) = amocrm_bin::billing::open(&rules.file.billmanager) else {
        return false;
    };
    let answer = match kind {
        EntityKind::Contact => billing.client(elid).map(drop),
        EntityKind::Company => billing.payer(elid).map(drop),
        EntityKind::Lead => billing.service(elid).map(drop),
    };
    matches!(answer, Err(BillingError::NotFound { .. }))
}
