//! `status`: the authorization, what is queued, what is parked and why, who holds the run
//! lock, how many entities are bound, and the last runs ([`amocrm_bin::app::status`]).

use amocrm_bin::app;
use amocrm_bin::exit::ExitStatus;
use amocrm_bin::log::redact;
use clap::Args;
use serde_json::{json, Value};

use super::output::{print, stamp};
use super::Cli;

/// `status` options.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// How many of the last runs to show.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub runs: usize,
}

/// Runs `status`.
pub fn exec(cli: &Cli, args: &StatusArgs) -> anyhow::Result<ExitStatus> {
    let ctx = app::Context::open(&cli.config)?;
    let status = app::status::status(&ctx, args.runs)?;
    print(cli, &status, text)?;
    Ok(ExitStatus::Ok)
}

fn text(s: &app::status::Status) {
    let (parked, waiting) = (s.parked(), s.waiting());
    let due = s.due();
    let (fu_due, fu_waiting, fu_parked) = s.followup_counts();
    print_auth(&s.auth);
    println!(
        "outbox: {} queued ({due} due now, {} waiting to retry), {} parked",
        s.items.len(),
        waiting.len(),
        parked.len()
    );
    if !s.followups.is_empty() {
        println!(
            "notes and tasks: {} queued ({} due: the next run or `amocrm-bin drain` sends them; \
                 {} wait for their entity, itself queued; {} parked, refused by amoCRM twice: fix \
                 the cause, then `amocrm-bin drain --all`)",
            s.followups.len(),
            fu_due,
            fu_waiting,
            fu_parked
        );
        for f in &s.followups {
            println!(
                "    {:<4} {:<28} {} {}: {} attempt(s){}{}",
                f.what.as_str(),
                f.key,
                f.kind,
                f.bm_id,
                f.attempts,
                if f.parked { ", parked" } else { "" },
                f.last_error
                    .as_deref()
                    .map(|e| format!(", last error: {e}"))
                    .unwrap_or_default()
            );
        }
    }
    for (title, list) in [
        (
            "parked (fix the cause, then `amocrm-bin drain --all`; junk: `amocrm-bin outbox drop \
                 --parked`, or `--id N` from `amocrm-bin outbox list`)",
            &parked,
        ),
        ("waiting to retry", &waiting),
    ] {
        if list.is_empty() {
            continue;
        }
        println!("  {title}:");
        for i in list.iter() {
            println!(
                "    {:<8} {:<10} {} attempt(s), queued by {}; {}",
                i.kind,
                i.bm_id,
                i.attempts,
                i.reason,
                super::output::outbox_standing(i.parked, i.next_attempt_at, s.now)
            );
            if let Some(e) = &i.last_error {
                println!("      last error: {}", redact(e));
            }
        }
    }
    match &s.holder {
        Some(h) => println!("run lock: held ({h})"),
        None => println!("run lock: free"),
    }
    let bound: Vec<String> = s.bindings.iter().map(|(k, n)| format!("{n} {k}")).collect();
    println!(
        "bindings: {}",
        if bound.is_empty() {
            "none yet".to_string()
        } else {
            bound.join(", ")
        }
    );
    if let Some(line) = s.calls_line() {
        println!("{line}");
    }
    if s.runs.is_empty() {
        println!("last runs: none yet");
    } else {
        println!("last runs (newest first):");
        for r in &s.runs {
            println!(
                "  {}  {:<8} {}",
                stamp(r.started_at),
                r.command,
                app::status::describe_run(r)
            );
        }
    }
}

fn print_auth(a: &Value) {
    if a["authorized"] != json!(true) {
        println!("amoCRM: not authorized: run `amocrm-bin auth --code CODE`");
        return;
    }
    if let Some(var) = a["long_lived_token_env"].as_str() {
        println!("amoCRM: long-lived token from ${var} (no expiry is stored)");
        return;
    }
    let account = match (a["account_name"].as_str(), a["account_id"].as_i64()) {
        (Some(n), Some(id)) => format!("account {n} (id {id})"),
        _ => "account not yet read".into(),
    };
    println!(
        "amoCRM: {account} at {}",
        a["base_url"].as_str().unwrap_or("")
    );
    let expires = a["access_token_expires_at"].as_i64().unwrap_or(0);
    let left = a["access_token_expires_in_secs"].as_i64().unwrap_or(0);
    let access = if a["access_token_expired"] == json!(true) {
        format!(
            "access token expired {} (refreshed on the next call)",
            stamp(expires)
        )
    } else {
        format!(
            "access token valid until {} ({}h {}m left)",
            stamp(expires),
            left / 3600,
            (left % 3600) / 60
        )
    };
    let refresh = if a["refresh_token_present"] == json!(true) {
        "refresh token present"
    } else {
        "no refresh token: run `amocrm-bin auth --code CODE`"
    };
    println!(
        "  {access}; {refresh}; {} rotation(s)",
        a["rotations"].as_i64().unwrap_or(0)
    );
}
