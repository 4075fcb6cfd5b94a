//! `pull`: lead status changes made in amoCRM, read through the events API into the store
//! (`[lifecycle.pullback]`; docs/lifecycle.md).

use serde::Serialize;

use crate::engine::lifecycle::pullback::{self, PullReport};

use super::Context;

/// What `pull` read.
#[derive(Debug, Serialize)]
pub struct Pulled {
    /// Always true: a failed pull is an error.
    pub ok: bool,
    /// The events read.
    pub pulled: PullReport,
}

/// Reads the status changes since the last pull (the first pull looks `first_days` back),
/// journaled as a run.
pub fn pull(ctx: &Context) -> anyhow::Result<Pulled> {
    let store = &ctx.store;
    let first_days = ctx
        .rules
        .file
        .lifecycle
        .pullback
        .as_ref()
        .map(|p| p.first_days)
        .unwrap_or(7);
    let run = store.start_run("pull")?;
    let crm = ctx.crm()?;
    let report = match pullback::pull(store, &crm, first_days) {
        Ok(r) => r,
        Err(e) => {
            let (status, _) = crate::exit::classify(&e);
            store.finish_run(run, status.code() as i32, "{}")?;
            return Err(e);
        }
    };
    store.finish_run(run, 0, &serde_json::to_value(&report)?.to_string())?;
    Ok(Pulled {
        ok: true,
        pulled: report,
    })
}
