//! `drain`: push the outbox — what the hook queued and what failed before. The pushing and
//! the outbox policy are the library's ([`amocrm_bin::app::drain`]); this prints the tally.

use amocrm_bin::app;
use amocrm_bin::exit::ExitStatus;
use amocrm_bin::log::{self, Level};

use super::args::DrainArgs;
use super::{output, Cli};

/// Runs `drain`.
pub fn exec(cli: &Cli, args: &DrainArgs) -> anyhow::Result<ExitStatus> {
    if args.background {
        log::set_level(Level::Normal, false);
    }
    let ctx = app::Context::open(&cli.config).inspect_err(|e| {
        // The log file is where the hook's background drain can be heard.
        log::record(&format!("drain: stopped: {e:#}"));
    })?;
    let Some(drained) = app::drain::drain(&ctx, args.all, args.background)? else {
        return Ok(ExitStatus::Ok);
    };
    output::print(cli, &drained, |d| {
        if d.any() {
            log::info(&d.line());
            for q in &d.tally.followups.queued {
                log::warn(&format!(
                    "drain: {} {} of {} {} → queued: {} (the next drain or run sends it)",
                    q.what,
                    q.key,
                    q.kind.as_str(),
                    q.entity,
                    q.error
                ));
            }
        } else {
            log::info(
                "drain: nothing to push (the outbox holds nothing due; `amocrm-bin status` shows it)",
            );
        }
    })?;
    if cli.json {
        log::record(&drained.line());
    }
    Ok(drained.status())
}
