//! `sync --entity KIND --elid N`: one BILLmanager entity now.

use amocrm_bin::app::{self, sync::SyncRequest};
use amocrm_bin::exit::ExitStatus;

use super::args::{EntityArg, SyncArgs};
use super::{output, Cli};

/// Runs `sync`.
pub fn exec(cli: &Cli, args: &SyncArgs) -> anyhow::Result<ExitStatus> {
    let ctx = app::Context::open(&cli.config)?;
    let (ran, status) = app::sync::sync(
        &ctx,
        &SyncRequest {
            kind: args.entity.kind(),
            elid: args.elid.trim(),
            user: args.entity == EntityArg::User,
            dry_run: args.dry_run,
        },
    )?;
    output::report_run(cli, &ran, status)?;
    Ok(status)
}
