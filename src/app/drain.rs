//! `drain`: push the outbox — what the hook queued and what failed before.
//!
//! One drainer at a time: the run lock is taken with `try_lock`. A drain started by the
//! hook (`--background`) that finds the lock held exits 0 at once, because the holder picks
//! its items up: after releasing the lock, every drain looks at the outbox once more and
//! goes round again if an event arrived while it held the lock (that event's own drain
//! found the lock held and left). Items are pushed oldest first, each through a fresh
//! [`Engine`] (the dictionaries come from the store's cache, and a rejection drops that
//! cache so the next item reads fresh ones).
//!
//! Per item: success removes it (unless a newer event re-queued it meanwhile); a failure is
//! judged by the library's outbox policy ([`outbox::verdict`]): the error is recorded and
//! backs off; an entity BILLmanager does not have is dropped from the queue; data amoCRM
//! rejects twice is parked at once; anything else is parked after [`outbox::PARK_AFTER`]
//! attempts. Authorization trouble, an amoCRM block or a rule-file error stops the drain
//! and leaves the items as they are; amoCRM or BILLmanager being unreachable stops it after
//! recording the failure on the current item. The CLI only prints the tally.

use std::collections::HashSet;

use serde::Serialize;
use serde_json::json;

use crate::billing::BillingSource;
use crate::crm::Crm;
use crate::engine::outbox::{self, Cause, Fate, PARK_AFTER};
use crate::engine::{Action, Engine, FollowUps};
use crate::exit::{classify, ExitStatus, Failure};
use crate::hook::users;
use crate::lock::{self, LockHeld, LockKind};
use crate::log;
use crate::rules::{EntityKind, RuleSet};
use crate::store::{OutboxItem, Store};

use super::Context;

/// Items read from the outbox at a time.
const BATCH: usize = 100;

/// What became of one item.
enum Pushed {
    /// Pushed; the text says what changed.
    Done(String),
    /// Not pushed; recorded on the item (retried or parked, as the verdict says).
    Failed {
        error: String,
        verdict: outbox::Verdict,
    },
    /// Nothing can be pushed now; the items stay as they are.
    Fatal(anyhow::Error),
    /// Not ours to push (a kind another command handles).
    Skipped(String),
    /// BILLmanager says the entity does not exist: dropped from the queue, never retried.
    Gone(String),
}

/// What a drain did, item by item.
#[derive(Debug, Default, Serialize)]
pub struct Tally {
    /// Items pushed.
    pub done: u64,
    /// Items that failed and wait for a retry.
    pub failed: u64,
    /// Parked by this drain (newly, or with a new error).
    pub parked: u64,
    /// Parked before, retried by `--all`, failed again the same way: already reported.
    pub still_parked: u64,
    /// Items of a kind drain does not push.
    pub skipped: u64,
    /// Dropped: BILLmanager has no such entity.
    pub dropped: u64,
    /// Notes and tasks sent or queued again (those of the items pushed, then every other
    /// one due).
    pub followups: FollowUps,
}

/// A drain's outcome, as `--json` prints it.
#[derive(Debug, Serialize)]
pub struct Drained {
    /// True when nothing failed anew.
    pub ok: bool,
    /// The exit code.
    pub exit_code: u8,
    /// What became of the items.
    #[serde(flatten)]
    pub tally: Tally,
}

impl Drained {
    fn of(tally: Tally) -> Drained {
        let status = status_of(&tally);
        Drained {
            ok: status == ExitStatus::Ok,
            exit_code: status.code(),
            tally,
        }
    }

    /// The exit status.
    pub fn status(&self) -> ExitStatus {
        status_of(&self.tally)
    }

    /// True when the drain looked at any item or note.
    pub fn any(&self) -> bool {
        let t = &self.tally;
        t.done + t.failed + t.parked + t.skipped + t.dropped + t.still_parked > 0
            || t.followups.any()
    }

    /// The one summary line.
    ///
    /// Items that were parked already, retried by `--all` and failed again with the error
    /// `status` showed do not make the run "partial": nothing new went wrong, and a cron
    /// `drain --all` would otherwise fail forever on one item a person must look at.
    pub fn line(&self) -> String {
        let t = &self.tally;
        let mut line = format!(
            "drain: {} pushed, {} failed (queued for retry), {} parked, {} skipped",
            t.done, t.failed, t.parked, t.skipped
        );
        if t.dropped > 0 {
            line.push_str(&format!(
                ", {} dropped (BILLmanager has no such entity)",
                t.dropped
            ));
        }
        if t.still_parked > 0 {
            line.push_str(&format!(
                ", {} still parked as reported before (`amocrm-bin outbox list --parked` shows \
                 them, `amocrm-bin outbox drop --parked` drops them)",
                t.still_parked
            ));
        }
        if t.followups.any() {
            line.push_str(&format!("; {}", t.followups.line()));
        }
        line
    }
}

/// Parked items as `status` reported them before `--all` retried them: (kind, elid) → error.
type Reported = std::collections::HashMap<(String, String), Option<String>>;

/// Pushes the outbox (`all`: parked and waiting items too, made due first; `background`:
/// started by the hook, so a held lock means another drain pushes it). `None` when that other
/// drain does.
pub fn drain(ctx: &Context, all: bool, background: bool) -> anyhow::Result<Option<Drained>> {
    let result = run(ctx, all, background);
    if let Err(e) = &result {
        // The log file is where the hook's background drain can be heard.
        log::record(&format!("drain: stopped: {e:#}"));
    }
    result
}

fn run(ctx: &Context, all: bool, background: bool) -> anyhow::Result<Option<Drained>> {
    let (rules, store) = (&ctx.rules, &ctx.store);
    let reported: Reported = store
        .outbox_items()?
        .into_iter()
        .filter(|i| i.parked)
        .map(|i| ((i.kind, i.bm_id), i.last_error))
        .collect();
    if all {
        let n = store.outbox_retry_all()? + store.followups_retry_all()?;
        log::verbose(&format!("drain: {n} item(s) made due now (--all)"));
    }
    let mut seen: HashSet<(i64, i64, i64)> = HashSet::new();
    if due(store, &seen)?.is_empty() && store.followup_counts()?.due == 0 {
        log::verbose("drain: nothing due");
        return Ok(Some(Drained::of(Tally::default())));
    }
    // The lock first: a drain that finds another one running must not even need amoCRM.
    let mut held = match lock::try_lock(store.path(), LockKind::Run, "drain") {
        Ok(l) => Some(l),
        Err(e) if background && e.downcast_ref::<LockHeld>().is_some() => {
            log::verbose(&format!("drain: {e}; that run pushes the queue"));
            return Ok(None);
        }
        // Another drain (a hook's, or the one a backfill starts) is short: wait for it and
        // push what it leaves, rather than failing a cron or operator drain with exit 6.
        Err(e)
            if e.downcast_ref::<LockHeld>()
                .is_some_and(|h| h.holder.contains("drain")) =>
        {
            Some(lock::lock_within(
                store.path(),
                LockKind::Run,
                "drain",
                std::time::Duration::from_secs(120),
            )?)
        }
        Err(e) => return Err(e),
    };
    let journal = store.start_run("drain")?;
    let billing = ctx.billing();
    let crm = ctx.crm();
    let (billing, crm) = match (billing, crm) {
        (Ok(b), Ok(c)) => (b, c),
        (Err(e), _) => return Err(fail_run(store, journal, e)),
        (_, Err(e)) => return Err(fail_run(store, journal, e)),
    };
    let pusher = Pusher {
        rules,
        store,
        crm: &crm,
        billing: billing.as_ref(),
        reported: &reported,
        followups: Default::default(),
        followups_failed: Default::default(),
    };
    let mut tally = Tally::default();
    let mut fatal = None;
    loop {
        let _lock = match held.take() {
            Some(l) => l,
            None => match lock::try_lock(store.path(), LockKind::Run, "drain") {
                Ok(l) => l,
                Err(e) if e.downcast_ref::<LockHeld>().is_some() => {
                    log::verbose(&format!("drain: {e}; that run pushes the rest"));
                    break;
                }
                Err(e) => {
                    fatal = Some(e);
                    break;
                }
            },
        };
        // A store error mid-pass ends the drain like a fatal one, journal included.
        fatal = pusher.pass(&mut seen, &mut tally).unwrap_or_else(Some);
        if fatal.is_none() {
            fatal = pusher.flush_followups().err();
        }
        drop(_lock);
        // Re-check after releasing: an event queued while we held the lock saw it held.
        if fatal.is_some() || due(store, &seen)?.is_empty() {
            break;
        }
    }
    tally.followups = pusher.followups.take();
    let stats = crm.requests();
    let mut summary = json!({
        "followups": tally.followups,
        "done": tally.done, "failed": tally.failed, "parked": tally.parked,
        "still_parked": tally.still_parked, "dropped": tally.dropped,
        "skipped": tally.skipped, "requests": stats,
    });
    let status = match &fatal {
        Some(e) => {
            summary["error"] = log::redact(&format!("{e:#}")).into();
            classify(e).0
        }
        None => status_of(&tally),
    };
    summary["exit_code"] = status.code().into();
    store.finish_run(journal, status.code() as i32, &summary.to_string())?;
    match fatal {
        Some(e) => Err(e),
        None => Ok(Some(Drained::of(tally))),
    }
}

/// Closes the journal entry of a drain that could not start pushing; returns the error.
fn fail_run(store: &Store, journal: i64, e: anyhow::Error) -> anyhow::Error {
    let status = classify(&e).0;
    let summary = json!({"error": log::redact(&format!("{e:#}")), "exit_code": status.code()});
    let _ = store.finish_run(journal, status.code() as i32, &summary.to_string());
    e
}

fn status_of(t: &Tally) -> ExitStatus {
    if t.failed + t.parked > 0 || t.followups.queued_total() > 0 {
        ExitStatus::Partial
    } else {
        ExitStatus::Ok
    }
}

/// Due items this drain has not handled yet (an item re-queued by a newer event counts as
/// new: its `updated_at` changed).
fn due(store: &Store, seen: &HashSet<(i64, i64, i64)>) -> anyhow::Result<Vec<OutboxItem>> {
    Ok(store
        .due_items(seen.len() + BATCH)?
        .into_iter()
        .filter(|i| !seen.contains(&key(i)))
        .collect())
}

fn key(i: &OutboxItem) -> (i64, i64, i64) {
    (i.id, i.updated_at, i.attempts)
}

struct Pusher<'a> {
    rules: &'a RuleSet,
    store: &'a Store,
    crm: &'a dyn Crm,
    billing: &'a dyn BillingSource,
    reported: &'a Reported,
    followups: std::cell::RefCell<FollowUps>,
    /// Notes and tasks that failed in this drain: each engine skips them (tried once,
    /// counted once).
    followups_failed: std::cell::RefCell<std::collections::BTreeSet<String>>,
}

impl Pusher<'_> {
    /// Sends every note and task due (queued by an earlier run, or by an item whose own
    /// send failed); a failure is queued again and makes the drain "partial".
    fn flush_followups(&self) -> anyhow::Result<()> {
        // An engine reads the account's dictionaries: only when there is something to send.
        if self.store.followup_counts()?.due == 0 {
            return Ok(());
        }
        let engine = Engine::new(self.rules, self.store, self.crm, self.billing, false)?;
        engine.followups_failed_before(&self.followups_failed.borrow());
        let result = engine.flush_followups();
        self.followups.borrow_mut().add(engine.report().followups);
        *self.followups_failed.borrow_mut() = engine.followups_failed();
        result
    }

    /// Pushes due items until none is left; returns the fatal error that stopped it, if any.
    fn pass(
        &self,
        seen: &mut HashSet<(i64, i64, i64)>,
        tally: &mut Tally,
    ) -> anyhow::Result<Option<anyhow::Error>> {
        loop {
            let items = due(self.store, seen)?;
            if items.is_empty() {
                return Ok(None);
            }
            for item in items {
                seen.insert(key(&item));
                let what = format!("{} {} ({})", item.kind, item.bm_id, item.reason);
                match self.push(&item) {
                    Pushed::Done(detail) => {
                        self.store.outbox_done(&item)?;
                        tally.done += 1;
                        log::info(&format!("drain: {what} → done: {detail}"));
                    }
                    Pushed::Failed { error, verdict } => {
                        let error = log::redact(&error);
                        let parked = verdict.fate == Fate::Park;
                        self.store.outbox_failed(
                            &item.kind,
                            &item.bm_id,
                            &error,
                            parked,
                            PARK_AFTER,
                        )?;
                        let as_before = self
                            .reported
                            .get(&(item.kind.clone(), item.bm_id.clone()))
                            .is_some_and(|e| e.as_deref() == Some(error.as_str()));
                        let said = match (parked, as_before) {
                            (true, true) => {
                                tally.still_parked += 1;
                                "still parked, as reported before"
                            }
                            (true, false) => {
                                tally.parked += 1;
                                "parked"
                            }
                            (false, _) => {
                                tally.failed += 1;
                                "failed, will retry"
                            }
                        };
                        log::warn(&format!("drain: {what} → {said}: {error}"));
                        if verdict.stop {
                            log::warn("drain: stopping; the remaining items stay queued");
                            return Ok(Some(
                                Failure::new(
                                    ExitStatus::Unreachable,
                                    error,
                                    Some("the items stay queued; the next drain (hook or cron) retries them".into()),
                                )
                                .into(),
                            ));
                        }
                    }
                    Pushed::Fatal(e) => {
                        log::warn(&format!(
                            "drain: {what} → not pushed, drain stopped, queue kept: {e:#}"
                        ));
                        return Ok(Some(e));
                    }
                    Pushed::Gone(why) => {
                        self.store.outbox_done(&item)?;
                        tally.dropped += 1;
                        log::warn(&format!("drain: {what} → dropped: {why}"));
                    }
                    Pushed::Skipped(why) => {
                        tally.skipped += 1;
                        log::verbose(&format!("drain: {what} → left queued: {why}"));
                    }
                }
            }
        }
    }

    fn push(&self, item: &OutboxItem) -> Pushed {
        let (kind, elid) = match item.kind.as_str() {
            "contact" => (EntityKind::Contact, item.bm_id.clone()),
            "company" => (EntityKind::Company, item.bm_id.clone()),
            "lead" => (EntityKind::Lead, item.bm_id.clone()),
            "user" => match users::client_of_user(self.billing, &item.bm_id) {
                Ok(client) => {
                    log::verbose(&format!("drain: user {} is client {client}'s", item.bm_id));
                    (EntityKind::Contact, client)
                }
                Err(e) => return self.judge(item, e.into()),
            },
            other => return Pushed::Skipped(format!("`{other}` items are not pushed by drain")),
        };
        let engine = match Engine::new(self.rules, self.store, self.crm, self.billing, false) {
            Ok(e) => e,
            Err(e) => return self.judge(item, e),
        };
        engine.followups_failed_before(&self.followups_failed.borrow());
        let synced = engine.sync(kind, &elid);
        let report = engine.report();
        self.followups.borrow_mut().add(report.followups.clone());
        *self.followups_failed.borrow_mut() = engine.followups_failed();
        if let Err(e) = synced {
            return self.judge(item, e);
        }
        if report.has_rejections() {
            // A rejected option or field may mean the cached dictionaries are stale.
            let _ = self.store.cache_clear("dictionaries");
        }
        let failures: Vec<String> = report
            .outcomes
            .iter()
            .filter(|o| o.action == Action::Failed)
            .map(|o| format!("{} {}: {}", o.kind.as_str(), o.key, o.detail))
            .collect();
        match report.entity_exit_status() {
            // Gaps only (a lead with no contact, say): sent; the run journal names them.
            ExitStatus::Ok | ExitStatus::Partial if failures.is_empty() => Pushed::Done(
                report
                    .outcomes
                    .iter()
                    .map(|o| {
                        let id = o.amo_id.map(|i| format!(" → {i}")).unwrap_or_default();
                        let action = format!("{:?}", o.action).to_lowercase();
                        format!("{} {} {action}{id}", o.kind.as_str(), o.key)
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            // Once more with fresh dictionaries, then it needs a person.
            ExitStatus::Rejected => Pushed::Failed {
                error: failures.join("; "),
                verdict: outbox::verdict(Cause::Refused, item.attempts),
            },
            _ => Pushed::Failed {
                error: failures.join("; "),
                verdict: outbox::verdict(Cause::Transient, item.attempts),
            },
        }
    }

    /// Turns the library's verdict on an error raised while pushing `item` into what the
    /// drain does with it.
    fn judge(&self, item: &OutboxItem, e: anyhow::Error) -> Pushed {
        let verdict = outbox::verdict(Cause::of(&e), item.attempts);
        match verdict.fate {
            Fate::Keep => Pushed::Fatal(e),
            // The entity is gone (or never was): retrying cannot help, and keeping it would
            // report it on every run.
            Fate::Drop => Pushed::Gone(format!("{e:#}")),
            Fate::Retry | Fate::Park => Pushed::Failed {
                error: format!("{e:#}"),
                verdict,
            },
        }
    }
}
