//! `nudge` (cron): warm-up tasks for stuck trials and abandoned carts (`[lifecycle.nudge]`,
//! `[lifecycle.abandoned_cart]`; docs/lifecycle.md).

use amocrm_bin::crm::amo::AmoCrm;
use amocrm_bin::engine::Engine;
use amocrm_bin::exit::{ExitStatus, Failure};
use amocrm_bin::lock::{try_lock, LockKind};
use serde_json::json;

use super::args::NudgeArgs;
use super::{context, Cli};

/// Runs `nudge`.
pub fn exec(cli: &Cli, args: &NudgeArgs) -> anyhow::Result<ExitStatus> {
    let rules = context::rules(cli)?;
    let store = context::store(&rules)?;
    let _lock = if args.dry_run {
        None
    } else {
        Some(try_lock(store.path(), LockKind::Run, "nudge")?)
    };
    let run = store.start_run("nudge")?;
    let result = (|| {
        let billing = amocrm_bin::billing::open(&rules.file.billmanager)?;
        let crm = AmoCrm::new(context::client(&rules, &store, true)?)
            .with_batch_size(rules.file.amocrm.batch_size);
        let engine = Engine::new(&rules, &store, &crm, billing.as_ref(), args.dry_run)?;
        engine.nudge(amocrm_bin::billing::panel_now(&rules.file.billmanager))
    })();
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            let (status, _) = amocrm_bin::exit::classify(&e);
            store.finish_run(run, status.code() as i32, "{}")?;
            return Err(e);
        }
    };
    let status = if report.stopped.is_some() {
        ExitStatus::Unreachable
    } else if report.failed > 0 || !report.degraded.is_empty() {
        ExitStatus::Partial
    } else {
        ExitStatus::Ok
    };
    let mut summary = json!({
        "dry_run": args.dry_run,
        "tasks_created": report.tasks_created,
        "leads_moved": report.leads_moved,
        "failed": report.failed,
        "pulled": report.pulled,
        "degraded": report.degraded,
        "not_looked_at": report.not_looked_at,
    });
    if let Some(first) = &report.stopped {
        summary["stopped"] = json!(first);
    }
    store.finish_run(run, status.code() as i32, &summary.to_string())?;
    if cli.json {
        summary["ok"] = json!(status == ExitStatus::Ok);
        summary["items"] = serde_json::to_value(&report.items)?;
        println!("{}", amocrm_bin::log::redact(&summary.to_string()));
        return Ok(status);
    }
    for i in &report.items {
        let entity = i
            .entity
            .as_deref()
            .map(|e| format!(" → {e}"))
            .unwrap_or_default();
        let task = i.task.map(|t| format!(" (task {t})")).unwrap_or_default();
        println!(
            "{:<5} client {:<6} service {:<6}{entity}: {}{task}: {}",
            i.what, i.client, i.service, i.action, i.detail
        );
    }
    if !cli.quiet {
        eprintln!(
            "nudge{}: {} tasks created, {} leads moved, {} failed, {} not looked at",
            if args.dry_run { " (dry run)" } else { "" },
            report.tasks_created,
            report.leads_moved,
            report.failed,
            report.not_looked_at
        );
    }
    if let Some(first) = &report.stopped {
        // The library stopped the run; this says so and ends it with exit 5.
        return Err(Failure::new(
            ExitStatus::Unreachable,
            format!(
                "nudge stopped at amoCRM's first unreachable answer and sent nothing after it; \
                 {} items not looked at: {first}",
                report.not_looked_at
            ),
            Some(
                "check the network and https://status.amocrm.ru; nothing was lost: the next \
                 `amocrm-bin nudge` looks at the items again"
                    .into(),
            ),
        )
        .into());
    }
    Ok(status)
}
