//! `status`: the authorization, what is queued, what is parked and why, who holds the run
//! lock, how many entities are bound, and the last runs with their statistics.
//!
//! Read-only and offline: it needs neither amoCRM nor the client secret, so it works in the
//! middle of an outage, which is when it is wanted.

use std::path::PathBuf;

use serde::{Serialize, Serializer};
use serde_json::{json, Value};

use crate::log::redact;
use crate::store::{now, CallState, FollowUp, OutboxItem, Run, Store};

use super::Context;

/// Everything `status` shows.
pub struct Status {
    /// The store's path.
    pub store: PathBuf,
    /// The authorization: account, access-token expiry, refresh token.
    pub auth: Value,
    /// The outbox, oldest first.
    pub items: Vec<OutboxItem>,
    /// Notes and tasks queued.
    pub followups: Vec<FollowUp>,
    /// Who holds the run lock.
    pub holder: Option<String>,
    /// Bindings per kind.
    pub bindings: Vec<(String, i64)>,
    /// The last runs, newest first.
    pub runs: Vec<Run>,
    /// Stored calls per state.
    pub calls: Vec<(CallState, i64)>,
    /// The time the outbox was judged at.
    pub now: i64,
}

/// Reads the status (`runs`: how many of the last runs).
pub fn status(ctx: &Context, runs: usize) -> anyhow::Result<Status> {
    let store = &ctx.store;
    let items = store.outbox_items()?;
    let runs = store.recent_runs(runs)?;
    let holder = crate::lock::run_lock_holder(store.path());
    let bindings = store.binding_counts()?;
    let calls = store.call_state_counts()?;
    let followups = store.followups_all()?;
    let auth = auth(store, ctx.rules.file.amocrm.long_lived_token_env.as_deref())?;
    Ok(Status {
        store: store.path().to_path_buf(),
        auth,
        items,
        followups,
        holder,
        bindings,
        runs,
        calls,
        now: now(),
    })
}

impl Status {
    /// Parked items.
    pub fn parked(&self) -> Vec<&OutboxItem> {
        self.items.iter().filter(|i| i.parked).collect()
    }

    /// Items waiting for their next attempt.
    pub fn waiting(&self) -> Vec<&OutboxItem> {
        self.items
            .iter()
            .filter(|i| !i.parked && i.next_attempt_at > self.now)
            .collect()
    }

    /// Items due now.
    pub fn due(&self) -> usize {
        self.items.len() - self.parked().len() - self.waiting().len()
    }

    /// Notes and tasks: (due, waiting for their entity, parked).
    pub fn followup_counts(&self) -> (usize, usize, usize) {
        let parked = self.followups.iter().filter(|f| f.parked).count();
        let due = self
            .followups
            .iter()
            .filter(|f| !f.parked && f.entity_id.is_some())
            .count();
        (due, self.followups.len() - parked - due, parked)
    }

    fn json(&self) -> Value {
        let runs: Vec<Value> = self
            .runs
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(r).unwrap_or_default();
                // The summary is stored as text; scripts want it as an object.
                v["summary"] = summary_of(r);
                v
            })
            .collect();
        let (fu_due, fu_waiting, fu_parked) = self.followup_counts();
        json!({
            "ok": true,
            "store": self.store,
            "auth": self.auth,
            "outbox": {
                "queued": self.items.len(), "due": self.due(), "waiting": self.waiting().len(),
                "parked": self.parked().len(), "items": self.items,
            },
            "followups": {
                "queued": self.followups.len(), "due": fu_due, "waiting": fu_waiting,
                "parked": fu_parked,
                "items": self.followups,
            },
            "run_lock": self.holder,
            "bindings": self.bindings
                .iter()
                .map(|(k, n)| (k.clone(), json!(n)))
                .collect::<serde_json::Map<String, Value>>(),
            "runs": runs,
            "calls": self.calls
                .iter()
                .map(|(state, n)| (state.as_str().to_string(), json!(n)))
                .collect::<serde_json::Map<String, Value>>(),
        })
    }

    /// Stored calls by state, with what to run for unparsed and pending ones.
    pub fn calls_line(&self) -> Option<String> {
        calls_line(&self.calls)
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.json().serialize(s)
    }
}

/// Stored calls by state; unparsed items and calls waiting for amoCRM say what to run.
fn calls_line(counts: &[(CallState, i64)]) -> Option<String> {
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

/// A run's stored summary as JSON (a summary that is not JSON stays text).
fn summary_of(r: &Run) -> Value {
    match r.summary.as_deref() {
        None => Value::Null,
        Some(s) => serde_json::from_str(&redact(s)).unwrap_or_else(|_| json!(redact(s))),
    }
}

/// One line: how the run ended, how long it took and what it did.
pub fn describe_run(r: &Run) -> String {
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
