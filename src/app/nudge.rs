//! `nudge` (cron): warm-up tasks for stuck trials and abandoned carts (`[lifecycle.nudge]`,
//! `[lifecycle.abandoned_cart]`; docs/lifecycle.md).

use serde::{Serialize, Serializer};
use serde_json::json;

use crate::engine::lifecycle::nudge::NudgeReport;
use crate::engine::Engine;
use crate::exit::{ExitStatus, Failure};
use crate::lock::{try_lock, LockKind};

use super::Context;

/// What a nudge did.
pub struct Nudged {
    /// The engine's report.
    pub report: NudgeReport,
    /// The exit status.
    pub status: ExitStatus,
    /// The journaled summary.
    pub summary: serde_json::Value,
    /// Nothing written.
    pub dry_run: bool,
}

impl Nudged {
    /// The error that ends a run amoCRM stopped answering (exit 5), after its items are
    /// shown.
    pub fn stopped_error(&self) -> Option<anyhow::Error> {
        let first = self.report.stopped.as_ref()?;
        Some(
            Failure::new(
                ExitStatus::Unreachable,
                format!(
                    "nudge stopped at amoCRM's first unreachable answer and sent nothing after \
                     it; {} items not looked at: {first}",
                    self.report.not_looked_at
                ),
                Some(
                    "check the network and https://status.amocrm.ru; nothing was lost: the next \
                     `amocrm-bin nudge` looks at the items again"
                        .into(),
                ),
            )
            .into(),
        )
    }
}

impl Serialize for Nudged {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut v = self.summary.clone();
        v["ok"] = json!(self.status == ExitStatus::Ok);
        v["items"] = serde_json::to_value(&self.report.items).map_err(serde::ser::Error::custom)?;
        v.serialize(s)
    }
}

/// Creates the due tasks and moves the due leads, journaled as a run.
pub fn nudge(ctx: &Context, dry_run: bool) -> anyhow::Result<Nudged> {
    let (rules, store) = (&ctx.rules, &ctx.store);
    let _lock = if dry_run {
        None
    } else {
        Some(try_lock(store.path(), LockKind::Run, "nudge")?)
    };
    let run = store.start_run("nudge")?;
    let result = (|| {
        let billing = ctx.billing()?;
        let crm = ctx.batched_crm()?;
        let engine = Engine::new(rules, store, &crm, billing.as_ref(), dry_run)?;
        engine.nudge(crate::billing::panel_now(&rules.file.billmanager))
    })();
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            let (status, _) = crate::exit::classify(&e);
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
        "dry_run": dry_run,
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
    Ok(Nudged {
        report,
        status,
        summary,
        dry_run,
    })
}
