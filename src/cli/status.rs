//! `status`: the authorization, what is queued, what is parked and why, who holds the run
//! lock, how many entities are bound, and the last runs with their statistics.
//!
//! Read-only and offline: it needs neither amoCRM nor the client secret, so it works in the
//! middle of an outage, which is when it is wanted.

use amocrm_bin::exit::ExitStatus;
use amocrm_bin::log::redact;
use amocrm_bin::store::{now, OutboxItem, Run, Store};
use clap::Args;
use serde_json::{json, Value};

use super::{context, Cli};

/// `status` options.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// How many of the last runs to show.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub runs: usize,
}

/// Runs `status`.
pub fn exec(cli: &Cli, args: &StatusArgs) -> anyhow::Result<ExitStatus> {
    let rules = context::rules(cli)?;
    let store = context::store(&rules)?;
    let items = store.outbox_items()?;
    let runs = store.recent_runs(args.runs)?;
    let holder = amocrm_bin::lock::run_lock_holder(store.path());
    let bindings = store.binding_counts()?;
    let calls = store.call_state_counts()?;
    let followups = store.followups_all()?;
    let fu_parked = followups.iter().filter(|f| f.parked).count();
    let (fu_due, fu_waiting): (Vec<_>, Vec<_>) = followups
        .iter()
        .filter(|f| !f.parked)
        .partition(|f| f.entity_id.is_some());
    let auth = auth(&store, rules.file.amocrm.long_lived_token_env.as_deref())?;
    let t = now();
    let parked: Vec<&OutboxItem> = items.iter().filter(|i| i.parked).collect();
    let waiting: Vec<&OutboxItem> = items
        .iter()
        .filter(|i| !i.parked && i.next_attempt_at > t)
        .collect();
    let due = items.len() - parked.len() - waiting.len();
    if cli.json {
        let runs: Vec<Value> = runs
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(r).unwrap_or_default();
                // The summary is stored as text; scripts want it as an object.
                v["summary"] = summary_of(r);
                v
            })
            .collect();
        let v = json!({
            "ok": true,
            "store": store.path(),
            "auth": auth,
            "outbox": {
                "queued": items.len(), "due": due, "waiting": waiting.len(),
                "parked": parked.len(), "items": items,
            },
            "followups": {
                "queued": followups.len(), "due": fu_due.len(), "waiting": fu_waiting.len(),
                "parked": fu_parked,
                "items": followups,
            },
            "run_lock": holder,
            "bindings": bindings
                .iter()
                .map(|(k, n)| (k.clone(), json!(n)))
                .collect::<serde_json::Map<String, Value>>(),
            "runs": runs,
            "calls": calls
                .iter()
                .map(|(state, n)| (state.as_str().to_string(), json!(n)))
                .collect::<serde_json::Map<String, Value>>(),
        });
        println!("{}", redact(&v.to_string()));
        return Ok(ExitStatus::Ok);
    }
    print_auth(&auth);
    println!(
        "outbox: {} queued ({due} due now, {} waiting to retry), {} parked",
        items.len(),
        waiting.len(),
        parked.len()
    );
    if !followups.is_empty() {
        println!(
            "notes and tasks: {} queued ({} due: the next run or `amocrm-bin drain` sends them; \
             {} wait for their entity, itself queued; {} parked, refused by amoCRM twice: fix \
             the cause, then `amocrm-bin drain --all`)",
            followups.len(),
            fu_due.len(),
            fu_waiting.len(),
            fu_parked
        );
        for f in &followups {
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
                "    {:<8} {:<10} {} attempt(s), queued by {}, next try {}",
                i.kind,
                i.bm_id,
                i.attempts,
                i.reason,
                if i.parked {
                    "only by hand".to_string()
                } else {
                    stamp(i.next_attempt_at)
                }
            );
            if let Some(e) = &i.last_error {
                println!("      last error: {}", redact(e));
            }
        }
    }
    match &holder {
        Some(h) => println!("run lock: held ({h})"),
        None => println!("run lock: free"),
    }
    let bound: Vec<String> = bindings.iter().map(|(k, n)| format!("{n} {k}")).collect();
    println!(
        "bindings: {}",
        if bound.is_empty() {
            "none yet".to_string()
        } else {
            bound.join(", ")
        }
    );
    if let Some(line) = calls_line(&calls) {
        println!("{line}");
    }
    if runs.is_empty() {
        println!("last runs: none yet");
    } else {
        println!("last runs (newest first):");
        for r in &runs {
            println!(
                "  {}  {:<8} {}",
                stamp(r.started_at),
                r.command,
                describe_run(r)
            );
        }
    }
    Ok(ExitStatus::Ok)
}

/// Stored calls by state; unparsed items and calls waiting for amoCRM say what to run.
fn calls_line(counts: &[(amocrm_bin::store::CallState, i64)]) -> Option<String> {
    use amocrm_bin::store::CallState;
    if counts.is_empty() {
        return None;
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|(state, n)| format!("{n} {}", state.as_str()))
        .collect();
    let mut line = format!("calls: {}", parts.join(", "));
    let count = |s: CallState| counts.iter().find(|(x, _)| *x == s).map_or(0, |(_, n)| *n);
    if count(CallState::Unparsed) > 0 {
        line.push_str("\n  unparsed: items received but not readable; see `amocrm-bin calls list --pending`, fix `[calls.ringostat_keys]`, then run `amocrm-bin calls reparse`");
    }
    if count(CallState::Pending) > 0 {
        line.push_str(
            "\n  pending: not yet in amoCRM; `amocrm-bin replay-calls --days N` sends them",
        );
    }
    Some(line)
}

/// The authorization as `status` shows it: account, access-token expiry, refresh token.
fn auth(store: &Store, long_lived_env: Option<&str>) -> anyhow::Result<Value> {
    if let Some(var) = long_lived_env {
        return Ok(json!({"authorized": true, "long_lived_token_env": var}));
    }
    let Some(t) = store.tokens()? else {
        return Ok(json!({"authorized": false}));
    };
    let now = now();
    Ok(json!({
        "authorized": true,
        "account_id": t.account_id,
        "account_name": t.account_name,
        "subdomain": t.subdomain,
        "base_url": t.base_url,
        "access_token_expires_at": t.expires_at,
        "access_token_expires_in_secs": (t.expires_at - now).max(0),
        "access_token_expired": t.expires_at <= now,
        "refresh_token_present": t.refresh_token.is_some(),
        "rotations": t.generation,
    }))
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

/// A run's stored summary as JSON (a summary that is not JSON stays text).
fn summary_of(r: &Run) -> Value {
    match r.summary.as_deref() {
        None => Value::Null,
        Some(s) => serde_json::from_str(&redact(s)).unwrap_or_else(|_| json!(redact(s))),
    }
}

/// One line: how the run ended, how long it took and what it did.
fn describe_run(r: &Run) -> String {
    let mut parts = Vec::new();
    match (r.finished_at, r.exit_code) {
        (Some(end), Some(code)) => {
            parts.push(format!("exit {code}"));
            parts.push(format!("{}s", end - r.started_at));
        }
        _ => parts.push(format!("running or interrupted (pid {})", r.pid)),
    }
    let s = summary_of(r);
    match &s {
        Value::Object(_) => parts.extend(statistics(&s)),
        Value::String(text) if !text.is_empty() => parts.push(text.clone()),
        _ => {}
    }
    parts.join(", ")
}

/// The statistics a summary holds, whichever command wrote it: per-kind counts (sync,
/// backfill), item tallies (drain), request counts, errors; other numbers by name.
fn statistics(s: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if s["dry_run"] == json!(true) {
        out.push("dry run".into());
    }
    if let Some(counts) = s["counts"].as_object() {
        for (kind, c) in counts {
            let tally = tally(
                c,
                &[
                    "created",
                    "updated",
                    "unchanged",
                    "skipped",
                    "joined",
                    "failed",
                ],
            );
            if !tally.is_empty() {
                out.push(format!("{kind}: {tally}"));
            }
        }
    }
    let drained = tally(s, &["done", "failed", "parked", "skipped"]);
    if !drained.is_empty() {
        out.push(drained);
    }
    if let Some(r) = s["requests"].as_object() {
        let n = |k: &str| r.get(k).and_then(Value::as_u64).unwrap_or(0);
        let mut text = format!("{} requests ({} writes", n("requests"), n("writes"));
        if n("status_429") > 0 {
            text.push_str(&format!(", {} × 429", n("status_429")));
        }
        if n("retries") > 0 {
            text.push_str(&format!(", {} retries", n("retries")));
        }
        text.push(')');
        out.push(text);
    }
    if let Some(f) = s["failures"].as_array().filter(|f| !f.is_empty()) {
        out.push(format!("{} failure(s)", f.len()));
    }
    const SHOWN: &[&str] = &[
        "dry_run",
        "counts",
        "done",
        "failed",
        "parked",
        "skipped",
        "requests",
        "failures",
        "exit_code",
        "error",
        "ok",
        "seconds",
        "peak_rss_kib",
        "since",
        "items",
    ];
    if let Some(obj) = s.as_object() {
        for (k, v) in obj.iter().filter(|(k, _)| !SHOWN.contains(&k.as_str())) {
            if let Some(n) = v.as_u64().or_else(|| v.as_array().map(|a| a.len() as u64)) {
                out.push(format!("{k} {n}"));
            }
        }
    }
    if let Some(e) = s["error"].as_str() {
        out.push(format!("error: {e}"));
    }
    out
}

/// `2 created, 1 failed`: the non-zero counters of an object, in the given order.
fn tally(v: &Value, names: &[&str]) -> String {
    names
        .iter()
        .filter_map(|k| {
            v.get(*k)
                .and_then(Value::as_u64)
                .filter(|n| *n > 0)
                .map(|n| format!("{n} {k}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn stamp(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}
