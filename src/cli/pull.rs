//! `pull`: lead status changes made in amoCRM, read into the store
//! ([`amocrm_bin::app::pull`]).

use amocrm_bin::app;
use amocrm_bin::exit::ExitStatus;

use super::output::{print_run, stamp};
use super::Cli;

/// Runs `pull`.
pub fn exec(cli: &Cli) -> anyhow::Result<ExitStatus> {
    let ctx = app::Context::open(&cli.config)?;
    let pulled = app::pull::pull(&ctx)?;
    print_run(cli, &pulled, ExitStatus::Ok, |p| {
        let r = &p.pulled;
        println!(
            "pulled {} lead status changes ({} leads, {} closed by hand) since {}",
            r.events,
            r.leads,
            r.closed_by_hand,
            stamp(r.from)
        );
    })?;
    Ok(ExitStatus::Ok)
}
