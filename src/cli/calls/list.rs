//! `calls list`: stored calls of the last days with their state and last error.

use amocrm_bin::calls::CallSetup;
use amocrm_bin::exit::ExitStatus;
use amocrm_bin::store::CallState;
use serde_json::json;

use super::ListArgs;
use crate::cli::{context, Cli};

/// Runs `calls list`.
pub fn list(cli: &Cli, args: &ListArgs) -> anyhow::Result<ExitStatus> {
    let rules = context::rules(cli)?;
    let store = context::store(&rules)?;
    let setup = CallSetup::from_rules(&rules)?;
    let to = amocrm_bin::store::now() + 1;
    let from = to - 1 - i64::from(args.days) * 86_400;
    let calls: Vec<_> = store
        .calls_between(from, to)?
        .into_iter()
        .filter(|c| {
            !args.pending || matches!(c.call.state, CallState::Pending | CallState::Unparsed)
        })
        .collect();
    if cli.json {
        println!("{}", json!({"ok": true, "calls": calls}));
        return Ok(ExitStatus::Ok);
    }
    let mut unparsed = 0;
    for c in &calls {
        let at = setup
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
    eprintln!("{} call(s)", calls.len());
    if unparsed > 0 {
        eprintln!("hint: fix `[calls.ringostat_keys]` (see `amocrm-bin calls ingest --explain`), then run `amocrm-bin calls reparse`");
    }
    Ok(ExitStatus::Ok)
}
