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
//! recording the failure on the current item. This file only records and prints.

use std::collections::HashSet;

use amocrm_bin::billing::BillingSource;
use amocrm_bin::crm::amo::AmoCrm;
use amocrm_bin::crm::Crm;
use amocrm_bin::engine::outbox::{self, Cause, Fate, PARK_AFTER};
use amocrm_bin::engine::{Action, Engine, FollowUps};
use amocrm_bin::exit::{classify, ExitStatus, Failure};
use amocrm_bin::hook::users;
use amocrm_bin::lock::{self, LockHeld, LockKind};
use amocrm_bin::log::{self, Level};
use amocrm_bin::rules::{EntityKind, RuleSet};
use amocrm_bin::store::{OutboxItem, Store};
use serde_json::json;

use super::args::DrainArgs;
use super::{context, Cli};

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

#[derive(Default)]
struct Tally {
    done: u64,
    failed: u64,
    /// Parked by this drain (newly, or with a new error).
    parked: u64,
    /// Parked before, retried by `--all`, failed again the same way: already reported.
    still_parked: u64,
    skipped: u64,
    /// Dropped: BILLmanager has no such entity.
    dropped: u64,
    /// Notes and tasks sent or queued again (those of the items pushed, then every other
    /// one due).
    followups: FollowUps,
}

/// Parked items as `status` reported them before `--all` retried them: (kind, elid) → error.
type Reported = std::collections::HashMap<(String, String), Option<String>>;

/// Runs `drain`.
pub fn exec(cli: &Cli, args: &DrainArgs) -> anyhow::Result<ExitStatus> {
    if args.background {
        log::set_level(Level::Normal, false);
    }
    let result = run(cli, args);
    if let Err(e) = &result {
        // The log file is where the hook's background drain can be heard.
        log::record(&format!("drain: stopped: {e:#}"));
    }
    result
}

fn run(cli: &Cli, args: &DrainArgs) -> anyhow::Result<ExitStatus> {
    let rules = context::rules(cli)?;
    let store = context::store(&rules)?;
    let reported: Reported = store
        .outbox_items()?
        .into_iter()
        .filter(|i| i.parked)
        .map(|i| ((i.kind, i.bm_id), i.last_error))
        .collect();
    if args.all {
        let n = store.outbox_retry_all()? + store.followups_retry_all()?;
        log::verbose(&format!("drain: {n} item(s) made due now (--all)"));
    }
    let mut seen: HashSet<(i64, i64, i64)> = HashSet::new();
    if due(&store, &seen)?.is_empty() && store.followup_counts()?.due == 0 {
        log::verbose("drain: nothing due");
        return finish(cli, &Tally::default());
    }
    // The lock first: a drain that finds another one running must not even need amoCRM.
    let mut held = match lock::try_lock(store.path(), LockKind::Run, "drain") {
        Ok(l) => Some(l),
        Err(e) if args.background && e.downcast_ref::<LockHeld>().is_some() => {
            log::verbose(&format!("drain: {e}; that run pushes the queue"));
            return Ok(ExitStatus::Ok);
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
    let billing = amocrm_bin::billing::open(&rules.file.billmanager);
    let client = context::client(&rules, &store, true);
    let (billing, crm) = match (billing, client) {
        (Ok(b), Ok(c)) => (b, AmoCrm::new(c)),
        (Err(e), _) => return Err(fail_run(&store, journal, e.into())),
        (_, Err(e)) => return Err(fail_run(&store, journal, e)),
    };
    let pusher = Pusher {
        rules: &rules,
        store: &store,
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
        if fatal.is_some() || due(&store, &seen)?.is_empty() {
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
        None => finish(cli, &tally),
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

/// Prints the summary (stderr, or JSON on stdout) and returns the exit status.
///
/// Items that were parked already, retried by `--all` and failed again with the error
/// `status` showed do not make the run "partial": nothing new went wrong, and a cron
/// `drain --all` would otherwise fail forever on one item a person must look at.
fn finish(cli: &Cli, t: &Tally) -> anyhow::Result<ExitStatus> {
    let status = status_of(t);
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
    if cli.json {
        println!(
            "{}",
            json!({"ok": status == ExitStatus::Ok, "exit_code": status.code(), "done": t.done,
                   "failed": t.failed, "parked": t.parked, "still_parked": t.still_parked,
                   "dropped": t.dropped, "skipped": t.skipped, "followups": t.followups})
        );
        log::record(&line);
    } else if t.done + t.failed + t.parked + t.skipped + t.dropped + t.still_parked > 0
        || t.followups.any()
    {
        log::info(&line);
        for q in &t.followups.queued {
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
    Ok(status)
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
