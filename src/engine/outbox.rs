//! Outbox policy: what becomes of an item whose push failed (retry, park, drop, keep), and
//! whether the run goes on. Decided once, here, from the errors' own classification
//! ([`Classify`]); `drain`, `sync` and `backfill` only record and print the verdict.
//!
//! The store ([`crate::store::Store::outbox_failed`]) applies the backoff and the park
//! threshold it is given; [`PARK_AFTER`] is that threshold, for every caller.

use crate::billing::BillingError;
use crate::crm::CrmError;
use crate::status::{Classify, ExitStatus, Failure};

/// Failed attempts after which an item is parked (shown by `status`, retried by
/// `drain --all`): the one park threshold.
pub const PARK_AFTER: i64 = 10;

/// Walks an error chain and returns the first classified cause (a [`Failure`] attached as
/// context first: it is the caller's more specific advice).
///
/// Unclassified errors (I/O, bugs) give `None`; [`crate::exit`] turns that into exit 1.
pub fn classified(err: &anyhow::Error) -> Option<&dyn Classify> {
    // anyhow finds context values only through its own downcast, not through the chain.
    if let Some(f) = err.downcast_ref::<Failure>() {
        return Some(f);
    }
    err.chain().find_map(as_classified)
}

/// The exit status an error chain means: its first classified cause's, or 1 (partial) for
/// an unclassified one (5 would hide bugs behind a retry).
pub fn status(err: &anyhow::Error) -> ExitStatus {
    classified(err).map_or(ExitStatus::Partial, |c| c.exit_status())
}

fn as_classified<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a dyn Classify> {
    if let Some(x) = e.downcast_ref::<Failure>() {
        return Some(x);
    }
    if let Some(x) = e.downcast_ref::<crate::rules::RulesError>() {
        return Some(x);
    }
    if let Some(x) = e.downcast_ref::<CrmError>() {
        return Some(x);
    }
    if let Some(x) = e.downcast_ref::<crate::store::StoreError>() {
        return Some(x);
    }
    if let Some(x) = e.downcast_ref::<BillingError>() {
        return Some(x);
    }
    if let Some(x) = e.downcast_ref::<crate::lock::LockHeld>() {
        return Some(x);
    }
    None
}

/// Why an item failed, as the outbox sees it (read from the error's [`Classify`] methods).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Nothing can be pushed until a person acts (authorization, block, payment, rule file).
    Fatal,
    /// The other side could not be asked or answered unreadably: the next items fail alike.
    Transient,
    /// The receiver refused this item's data.
    Refused,
    /// The source has no such entity.
    Gone,
    /// Anything else: this item's trouble (a busy store, an unlinked row, a bug).
    Other,
}

impl Cause {
    /// Classifies an error raised while pushing one item. amoCRM's answer decides first,
    /// then BILLmanager's, then the first classified cause.
    pub fn of(err: &anyhow::Error) -> Cause {
        let crm = err.chain().find_map(|c| c.downcast_ref::<CrmError>());
        let billing = || err.chain().find_map(|c| c.downcast_ref::<BillingError>());
        let cause: Option<&dyn Classify> = match (crm, billing()) {
            (Some(c), _) => Some(c),
            (None, Some(b)) => Some(b),
            (None, None) => classified(err),
        };
        cause.map_or(Cause::Other, Cause::of_classified)
    }

    /// Classifies one typed error.
    pub fn of_classified(c: &dyn Classify) -> Cause {
        if c.is_fatal() {
            Cause::Fatal
        } else if c.is_gone() {
            Cause::Gone
        } else if c.is_transient() {
            Cause::Transient
        } else if c.is_refused() {
            Cause::Refused
        } else if matches!(c.exit_status(), ExitStatus::Usage | ExitStatus::AuthNeeded) {
            // A 403 problem+json: one method refused, fatal for a drain that pushes the
            // same methods for every item (the trait's default `is_fatal` rule).
            Cause::Fatal
        } else {
            Cause::Other
        }
    }
}

/// What becomes of the item itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Recorded with its error; retried after the backoff.
    Retry,
    /// Recorded and parked: a person must look (`status`), `drain --all` retries it.
    Park,
    /// Removed from the queue: nothing to push, ever.
    Drop,
    /// Left as it is (no attempt counted): the run stops before it.
    Keep,
}

/// The outbox's decision for one failed item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// What becomes of the item.
    pub fate: Fate,
    /// Whether the run stops after it (the next items would fail the same way).
    pub stop: bool,
}

/// Decides what becomes of an item that failed with `cause` after `attempts` failed
/// attempts recorded before this one. Pure: the callers record and print it.
///
/// - fatal: kept as it is, and the run stops;
/// - gone: dropped;
/// - refused: retried once (with fresh dictionaries), parked when refused again;
/// - transient: recorded, and the run stops; parked at [`PARK_AFTER`] attempts;
/// - other: recorded; parked at [`PARK_AFTER`] attempts.
pub fn verdict(cause: Cause, attempts: i64) -> Verdict {
    let worn_out = attempts + 1 >= PARK_AFTER;
    let (fate, stop) = match cause {
        Cause::Fatal => (Fate::Keep, true),
        Cause::Gone => (Fate::Drop, false),
        Cause::Refused if attempts >= 1 || worn_out => (Fate::Park, false),
        Cause::Transient if worn_out => (Fate::Park, true),
        Cause::Transient => (Fate::Retry, true),
        _ if worn_out => (Fate::Park, false),
        _ => (Fate::Retry, false),
    };
    Verdict { fate, stop }
}

/// Whether a direct `sync` that failed queues its entity for the next drain: yes, unless
/// the failure is the command's own (bad arguments, rule file, no such entity or route,
/// exit 2), which a retry would only repeat.
pub fn queue_after_direct_sync(err: &anyhow::Error) -> bool {
    status(err) != ExitStatus::Usage
}

#[cfg(test)]
mod tests;
