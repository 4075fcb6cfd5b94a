//! Exit statuses and the trait errors classify themselves with.
//!
//! This module sits below every layer: the rule file, the store, the locks, the billing
//! reader and the amoCRM client each implement [`Classify`] for their own errors here, so
//! none of them imports [`crate::exit`], which sits on top, walks an error chain and asks
//! each cause. The codes are part of the public contract (README "Exit codes").

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

/// Errors that know which exit code they mean and what the user should do.
pub trait Classify {
    /// The exit code this error ends the process with.
    fn exit_status(&self) -> ExitStatus;
    /// Advice: the command or setting that fixes it.
    fn hint(&self) -> Option<String> {
        None
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
