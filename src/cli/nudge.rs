//! `nudge` (cron): warm-up tasks for stuck trials and abandoned carts
//! ([`amocrm_bin::app::nudge`]).

use amocrm_bin::app;
use amocrm_bin::exit::ExitStatus;

use super::args::NudgeArgs;
use super::{output, Cli};

/// Runs `nudge`.
pub fn exec(cli: &Cli, args: &NudgeArgs) -> anyhow::Result<ExitStatus> {
    let ctx = app::Context::open(&cli.config)?;
    let nudged = app::nudge::nudge(&ctx, args.dry_run)?;
    output::print_run(cli, &nudged, nudged.status, |n| {
        let report = &n.report;
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
                if n.dry_run { " (dry run)" } else { "" },
                report.tasks_created,
                report.leads_moved,
                report.failed,
                report.not_looked_at
            );
        }
    })?;
    if cli.json {
        return Ok(nudged.status);
    }
    // The library stopped the run; this ends it with exit 5.
    match nudged.stopped_error() {
        Some(e) => Err(e),
        None => Ok(nudged.status),
    }
}
