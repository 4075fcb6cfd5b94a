//! `pull`: lead status changes made in amoCRM, read through the events API into the store
//! (`[lifecycle.pullback]`; docs/lifecycle.md).

use amocrm_bin::crm::amo::AmoCrm;
use amocrm_bin::engine::lifecycle::pullback;
use amocrm_bin::exit::ExitStatus;
use serde_json::json;

use super::{context, Cli};

/// Runs `pull`.
pub fn exec(cli: &Cli) -> anyhow::Result<ExitStatus> {
    let rules = context::rules(cli)?;
    let store = context::store(&rules)?;
    let first_days = rules
        .file
        .lifecycle
        .pullback
        .as_ref()
        .map(|p| p.first_days)
        .unwrap_or(7);
    let run = store.start_run("pull")?;
    let crm = AmoCrm::new(context::client(&rules, &store, true)?);
    let report = match pullback::pull(&store, &crm, first_days) {
        Ok(r) => r,
        Err(e) => {
            let (status, _) = amocrm_bin::exit::classify(&e);
            store.finish_run(run, status.code() as i32, "{}")?;
            return Err(e);
        }
    };
    let summary = serde_json::to_value(&report)?;
    store.finish_run(run, 0, &summary.to_string())?;
    if cli.json {
        let mut v = json!({"ok": true});
        v["pulled"] = summary;
        println!("{v}");
    } else {
        println!(
            "pulled {} lead status changes ({} leads, {} closed by hand) since {}",
            report.events,
            report.leads,
            report.closed_by_hand,
            chrono::DateTime::from_timestamp(report.from, 0)
                .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_default()
        );
    }
    Ok(ExitStatus::Ok)
}
