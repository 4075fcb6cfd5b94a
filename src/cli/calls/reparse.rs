//! `calls reparse`: read the stored `unparsed` items again with the rule file as it is now
//! (after a fix to `[calls.ringostat_keys]` or `[calls.statuses]`), store what they turn
//! out to be with the usual dedupe, then push ([`amocrm_bin::app::calls::reparse`]).

use amocrm_bin::app::calls::{intake_word, push::outcome_line, Reread};
use amocrm_bin::app::{self};
use amocrm_bin::exit::ExitStatus;

use super::ReparseArgs;
use crate::cli::output::print;
use crate::cli::Cli;

/// Runs `calls reparse`.
pub fn reparse(cli: &Cli, args: &ReparseArgs) -> anyhow::Result<ExitStatus> {
    let ctx = app::Context::open(&cli.config)?;
    let reparsed = app::calls::reparse(&ctx, args.no_push)?;
    print(cli, &reparsed, |r| {
        for item in &r.items {
            match item {
                Reread::Read {
                    unparsed_id,
                    call_id,
                    intake,
                } => println!(
                    "unparsed {:<5} → call {:<5} {}: {}",
                    unparsed_id,
                    intake.id(),
                    call_id,
                    intake_word(*intake)
                ),
                Reread::Still { unparsed_id, error } => {
                    println!("unparsed {unparsed_id:<5} still not readable: {error}")
                }
            }
        }
        for p in &r.pushed {
            println!("{}", outcome_line(p));
        }
        if !cli.quiet {
            let (read, still) = r.counts();
            eprintln!("calls reparse: {read} item(s) read, {still} still unparsed");
        }
        if let Some(h) = &r.hint {
            eprintln!("hint: {h}");
        }
    })?;
    Ok(reparsed.status)
}
