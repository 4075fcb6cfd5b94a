//! Exit statuses and the trait errors classify themselves with.
//!
//! This module sits below every layer: the rule file, the store, the locks, the billing
//! reader and the amoCRM client each implement [`Classify`] for their own errors here, so
//! none of them imports [`crate::exit`], which sits on top. The outbox policy
//! (`engine::outbox`) walks an error chain and asks each cause; `exit` reads the same walk.
//! The codes are part of the public contract (README "Exit codes").

use std::fmt;

/// The documented exit codes of `amocrm-bin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitStatus {
    /// Everything requested was done.
    Ok = 0,
    /// Some items failed (queued in the outbox for the next run), could not be linked, or
    /// were sent without their phone, or a note or task that follows a write failed and
    /// was queued for the next run or drain: the run names each.
    Partial = 1,
    /// Bad command line or rule file; nothing was sent.
    Usage = 2,
    /// amoCRM authorization is missing or revoked: run `amocrm-bin auth --code CODE`.
    AuthNeeded = 3,
    /// amoCRM rejected the data (validation errors).
    Rejected = 4,
    /// amoCRM or BILLmanager could not be reached after retries.
    Unreachable = 5,
    /// Another run holds the lock.
    Locked = 6,
}

impl ExitStatus {
    /// The numeric process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// A failure that knows its exit code and the advice to print with it.
///
/// Library layers raise their own typed errors; this wrapper is for failures that are
/// not tied to one layer (bad arguments, a subcommand whose engine is missing).
#[derive(Debug)]
pub struct Failure {
    /// Which exit code the process ends with.
    pub status: ExitStatus,
    /// What went wrong, in one sentence.
    pub message: String,
    /// What the user should do about it.
    pub hint: Option<String>,
}

impl Failure {
    /// A usage error (exit 2) with advice.
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Failure {
            status: ExitStatus::Usage,
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// A failure with the given status and advice.
    pub fn new(status: ExitStatus, message: impl Into<String>, hint: Option<String>) -> Self {
        Failure {
            status,
            message: message.into(),
            hint,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Errors that know which exit code they mean, what the user should do, and what becomes
/// of the work they interrupted.
///
/// This is the one classification of failures (issue 23): the exit code, whether a run
/// stops, and what the outbox does with a failed item (`engine::outbox::verdict`) are all
/// read from these methods, so each error type decides them once, where it is defined.
pub trait Classify {
    /// The exit code this error ends the process with.
    fn exit_status(&self) -> ExitStatus;
    /// Advice: the command or setting that fixes it.
    fn hint(&self) -> Option<String> {
        None
    }
    /// Whether the other side could not be asked, or its answer could not be read (no
    /// connection, 5xx or 429 after the retries, a lost answer): not the item's fault, so it
    /// is retried later unchanged, and a drain stops, since the next items would fail alike.
    fn is_transient(&self) -> bool {
        false
    }
    /// Whether the run must stop and leave queued work as it is, because nothing can be
    /// pushed until a person acts (authorization, a block, an unpaid account, the rule
    /// file). By default: errors that exit 2 (usage) or 3 (authorization).
    fn is_fatal(&self) -> bool {
        matches!(
            self.exit_status(),
            ExitStatus::Usage | ExitStatus::AuthNeeded
        )
    }
    /// Whether the receiver answered and refused this item (amoCRM's validation errors, an
    /// unexpected 4xx): sending it unchanged fails the same way, so it is parked soon.
    fn is_refused(&self) -> bool {
        false
    }
    /// Whether the entity the item names does not exist at the source (BILLmanager has no
    /// such id): the item is dropped, as no retry can succeed.
    fn is_gone(&self) -> bool {
        false
    }
}

impl Classify for Failure {
    fn exit_status(&self) -> ExitStatus {
        self.status
    }
    fn hint(&self) -> Option<String> {
        self.hint.clone()
    }
}
