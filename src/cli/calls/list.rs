//! `calls list`: stored calls of the last days with their state and last error.

use amocrm_bin::app::{self, calls::CallState};
use amocrm_bin::exit::ExitStatus;

use super::ListArgs;
use crate::cli::output::print;
use crate::cli::Cli;

/// Runs `calls list`.
pub fn list(cli: &Cli, args: &ListArgs) -> anyhow::Result<ExitStatus> {
    let ctx = app::Context::open(&cli.config)?;
    let listed = app::calls::list(&ctx, args.days, args.pending)?;
    print(cli, &listed, |l| {
        let mut unparsed = 0;
        for c in &l.calls {
            let at = l
                .setup
                .zone
                .local(
                    &chrono::DateTime::<chrono::Utc>::from_timestamp(c.call.started_at, 0)
                        .unwrap_or_default(),
                )
                .format("%Y-%m-%d %H:%M:%S");
            let what = match c.call.state {
                CallState::Pending => c
                    .last_error
                    .as_deref()
                    .map(|e| format!("{} attempt(s), last error: {e}", c.attempts))
                    .unwrap_or_else(|| "not sent yet".into()),
                CallState::Unparsed => {
                    unparsed += 1;
                    format!(
                        "received, not readable: {}",
                        c.call.detail.as_deref().unwrap_or_default()
                    )
                }
                _ => c.call.detail.clone().unwrap_or_default(),
            };
            println!(
                "{:<5} {at} {:<8} {:<9} {:<16} {:<9} {what}",
                c.id,
                c.call.direction,
                c.call.status,
                c.call.client_phone.as_deref().unwrap_or("-"),
                c.call.state.as_str(),
            );
        }
        eprintln!("{} call(s)", l.calls.len());
        if let Some(hint) = app::report::outside_window(l.older, args.days) {
            eprintln!("hint: {hint}");
        }
        if unparsed > 0 {
            eprintln!("hint: fix `[calls.ringostat_keys]` (see `amocrm-bin calls ingest --explain`), then run `amocrm-bin calls reparse`");
        }
    })?;
    Ok(ExitStatus::Ok)
}
