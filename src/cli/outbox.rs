//! `outbox list|drop|retry`: the operator's hands on the queue. `status` shows it; these
//! remove junk (an item for an entity that will never sync) or retry one item after fixing
//! its cause, without retrying everything as `drain --all` does.

use amocrm_bin::exit::{ExitStatus, Failure};
use amocrm_bin::log::redact;
use amocrm_bin::store::{OutboxItem, OutboxSelector};
use serde_json::json;

use super::args::{EntityArg, OutboxArgs, OutboxCommand, Which};
use super::{context, Cli};

impl Which {
    fn selector(&self) -> anyhow::Result<OutboxSelector> {
        match (self.id, self.entity, &self.elid, self.parked) {
            (Some(id), ..) => Ok(OutboxSelector::Id(id)),
            (None, Some(e), Some(elid), _) => Ok(OutboxSelector::Entity {
                // The hook queues a user's own events under `user`.
                kind: match e {
                    EntityArg::User => "user".to_string(),
                    other => other.kind().as_str().to_string(),
                },
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

/// Runs `outbox`.
pub fn exec(cli: &Cli, args: &OutboxArgs) -> anyhow::Result<ExitStatus> {
    let rules = context::rules(cli)?;
    let store = context::store(&rules)?;
    match &args.command {
        OutboxCommand::List { parked } => {
            let items: Vec<OutboxItem> = store
                .outbox_items()?
                .into_iter()
                .filter(|i| !parked || i.parked)
                .collect();
            if cli.json {
                println!(
                    "{}",
                    redact(&json!({"ok": true, "items": items}).to_string())
                );
                return Ok(ExitStatus::Ok);
            }
            for i in &items {
                println!(
                    "{:<5} {:<8} {:<10} {}{} attempt(s), queued by {}",
                    i.id,
                    i.kind,
                    i.bm_id,
                    if i.parked { "parked, " } else { "" },
                    i.attempts,
                    i.reason
                );
                if let Some(e) = &i.last_error {
                    println!("      last error: {}", redact(e));
                }
            }
            if !cli.quiet {
                eprintln!("{} item(s)", items.len());
            }
            Ok(ExitStatus::Ok)
        }
        OutboxCommand::Drop(which) => {
            let n = store.outbox_drop(&which.selector()?)?;
            report(cli, "dropped", n)
        }
        OutboxCommand::Retry(which) => {
            let n = store.outbox_retry(&which.selector()?)?;
            report(cli, "made due now (run `amocrm-bin drain`)", n)
        }
    }
}

fn report(cli: &Cli, what: &str, n: usize) -> anyhow::Result<ExitStatus> {
    if n == 0 {
        return Err(Failure::usage(
            "no queued item matches",
            "`amocrm-bin outbox list` shows the queue with each item's id",
        )
        .into());
    }
    amocrm_bin::log::record(&format!("outbox: {n} item(s) {what}"));
    if cli.json {
        println!("{}", json!({"ok": true, "items": n}));
    } else if !cli.quiet {
        eprintln!("{n} item(s) {what}");
    }
    Ok(ExitStatus::Ok)
}
