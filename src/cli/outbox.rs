//! `outbox list|drop|retry`: the operator's hands on the queue. `status` shows it; these
//! remove junk (an item for an entity that will never sync) or retry one item after fixing
//! its cause, without retrying everything as `drain --all` does.

use amocrm_bin::exit::{ExitStatus, Failure};
use amocrm_bin::log::redact;
use amocrm_bin::store::{OutboxItem, OutboxSelector};
use clap::{Args, Subcommand};
use serde_json::json;

use super::args::EntityArg;
use super::{context, Cli};

/// `outbox` options.
#[derive(Debug, Args)]
pub struct OutboxArgs {
    #[command(subcommand)]
    pub command: OutboxCommand,
}

/// Which items: one by id, one entity's, or every parked one.
#[derive(Debug, Args)]
pub struct Which {
    /// The item's id, as `outbox list` prints it.
    #[arg(long, value_name = "N", conflicts_with_all = ["entity", "parked"])]
    pub id: Option<i64>,
    /// The entity kind (with `--elid`).
    #[arg(long, value_enum, requires = "elid")]
    pub entity: Option<EntityArg>,
    /// The BILLmanager id (with `--entity`).
    #[arg(long, value_name = "N", requires = "entity")]
    pub elid: Option<String>,
    /// Every parked item.
    #[arg(long, conflicts_with_all = ["entity", "id"])]
    pub parked: bool,
}

/// `outbox` subcommands.
#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Every queued item with its id, attempts and last error.
    #[command(after_long_help = examples!(
        "amocrm-bin outbox list",
        "amocrm-bin outbox list --parked --json",
    ))]
    List {
        /// Only parked items.
        #[arg(long)]
        parked: bool,
    },
    /// Remove items from the queue: they are not pushed (a later panel event queues the
    /// entity again).
    #[command(after_long_help = examples!(
        "amocrm-bin outbox drop --id 7",
        "amocrm-bin outbox drop --entity lead --elid 999",
        "amocrm-bin outbox drop --parked",
    ))]
    Drop(Which),
    /// Make items due now, parked ones too; the next `drain` pushes them.
    #[command(after_long_help = examples!(
        "amocrm-bin outbox retry --id 7 && amocrm-bin drain",
    ))]
    Retry(Which),
}

impl Which {
    fn selector(&self) -> anyhow::Result<OutboxSelector> {
        match (self.id, self.entity, &self.elid, self.parked) {
            (Some(id), ..) => Ok(OutboxSelector::Id(id)),
            (None, Some(e), Some(elid), _) => Ok(OutboxSelector::Entity {
                // The hook queues a user's own events under `user`.
                kind: match e {
                    EntityArg::User => "user".to_string(),
                    other => super::sync::kind(other).as_str().to_string(),
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
