//! `replay-calls --days N`: the call log of the period into the store, then every stored
//! call amoCRM has not acknowledged ([`amocrm_bin::app::calls::replay`]).

use std::io::IsTerminal;

use amocrm_bin::app::calls::push::outcome_line;
use amocrm_bin::app::calls::replay::FetchStep;
use amocrm_bin::app::{self};
use amocrm_bin::exit::ExitStatus;
use indicatif::{ProgressBar, ProgressStyle};

use super::ReplayArgs;
use crate::cli::output::print_run;
use crate::cli::Cli;

/// Runs `replay-calls --days N`.
pub fn replay(cli: &Cli, args: &ReplayArgs) -> anyhow::Result<ExitStatus> {
    let ctx = app::Context::open(&cli.config)?;
    let show = !cli.quiet && !cli.json && std::io::stderr().is_terminal();
    let mut bar: Option<ProgressBar> = None;
    let replayed = app::calls::replay::replay(&ctx, args.days, &mut |step| match step {
        FetchStep::Start { secs } if show => {
            let b = ProgressBar::new(secs);
            b.set_style(
                ProgressStyle::with_template("Ringostat call log {bar:30} {percent:>3}% {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar = Some(b);
        }
        FetchStep::Window { secs, rows, up_to } => {
            if let Some(b) = &bar {
                b.inc(secs);
                b.set_message(format!("{rows} call(s), up to {up_to}"));
            }
        }
        FetchStep::Done => {
            if let Some(b) = bar.take() {
                b.finish_and_clear();
            }
        }
        FetchStep::Start { .. } => {}
    })?;
    print_run(cli, &replayed, replayed.status, |r| {
        for p in &r.pushed {
            println!("{}", outcome_line(p));
        }
        if !cli.quiet {
            if let Some(f) = &r.fetched {
                let mut notes = String::new();
                if f.updated > 0 {
                    notes.push_str(&format!(
                        " ({} of them reported better now and updated)",
                        f.updated
                    ));
                }
                if f.unreadable > 0 {
                    notes.push_str(&format!(", {} unreadable (see the log)", f.unreadable));
                }
                eprintln!(
                    "Ringostat call log, last {} day(s): {} fetched, {} new, {} already known{notes}",
                    r.days, f.rows, f.new, f.known
                );
            }
            eprintln!(
                "replay-calls --days {}: {} to send, {} pushed, {} skipped, {} still pending",
                r.days,
                r.due,
                r.delivered(),
                r.skipped(),
                r.failed()
            );
            if r.older > 0 {
                eprintln!(
                    "{} unacknowledged call(s) are older than {} day(s) and were not sent; use a larger --days to include them",
                    r.older, r.days
                );
            }
        }
        if let Some(h) = &r.hint {
            eprintln!("hint: {h}");
        }
        if let Some(f) = &r.fetch_failed {
            eprintln!(
                "error: {} (the stored calls above were still sent)",
                f.message
            );
            if let Some(h) = &f.hint {
                eprintln!("hint: {h}");
            }
        }
    })?;
    Ok(replayed.status)
}
