//! `status`: what is queued, what is parked and why, who holds the run lock, the last runs.
//!
//! Read-only and offline: it needs neither amoCRM nor the client secret.

use amocrm_bin::exit::ExitStatus;
use amocrm_bin::store::{now, OutboxItem};
use serde_json::json;

use super::{context, Cli};

/// Runs shown.
const RUNS: usize = 5;

/// Runs `status`.
pub fn exec(cli: &Cli) -> anyhow::Result<ExitStatus> {
    let rules = context::rules(cli)?;
    let store = context::store(&rules)?;
    let items = store.outbox_items()?;
    let runs = store.recent_runs(RUNS)?;
    let holder = amocrm_bin::lock::run_lock_holder(store.path());
    let t = now();
    let parked: Vec<&OutboxItem> = items.iter().filter(|i| i.parked).collect();
    let waiting: Vec<&OutboxItem> = items
        .iter()
        .filter(|i| !i.parked && i.next_attempt_at > t)
        .collect();
    let due = items.len() - parked.len() - waiting.len();
    if cli.json {
        let v = json!({
            "ok": true,
            "outbox": {
                "queued": items.len(), "due": due, "waiting": waiting.len(),
                "parked": parked.len(), "items": items,
            },
            "run_lock": holder,
            "runs": runs,
        });
        println!("{}", amocrm_bin::log::redact(&v.to_string()));
        return Ok(ExitStatus::Ok);
    }
    println!(
        "outbox: {} queued ({due} due now, {} waiting to retry), {} parked",
        items.len(),
        waiting.len(),
        parked.len()
    );
    for (title, list) in [
        ("parked (retry with `drain --all`)", &parked),
        ("waiting", &waiting),
    ] {
        if list.is_empty() {
            continue;
        }
        println!("{title}:");
        for i in list.iter() {
            println!(
                "  {:<8} {:<10} {} attempt(s), queued by {}, next try {}",
                i.kind,
                i.bm_id,
                i.attempts,
                i.reason,
                if i.parked {
                    "only by hand".to_string()
                } else {
                    stamp(i.next_attempt_at)
                }
            );
            if let Some(e) = &i.last_error {
                println!("           last error: {}", amocrm_bin::log::redact(e));
            }
        }
    }
    match &holder {
        Some(h) => println!("run lock: held ({h})"),
        None => println!("run lock: free"),
    }
    if !runs.is_empty() {
        println!("last runs:");
        for r in &runs {
            let end = match (r.finished_at, r.exit_code) {
                (Some(_), Some(code)) => format!("exit {code}"),
                _ => "running or interrupted".to_string(),
            };
            println!(
                "  {:<8} {}  {end}  {}",
                r.command,
                stamp(r.started_at),
                amocrm_bin::log::redact(r.summary.as_deref().unwrap_or(""))
            );
        }
    }
    Ok(ExitStatus::Ok)
}

fn stamp(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}
