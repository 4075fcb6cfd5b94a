//! Exit codes and the one place that turns an error into advice.
//!
//! Every typed error the library raises maps to one documented exit code, so cron jobs and
//! BILLmanager can react without parsing text. The codes are part of the public contract
//! (README "Exit codes").

use std::fmt;

/// The documented exit codes of `amocrm-bin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitStatus {
    /// Everything requested was done.
    Ok = 0,
    /// Some items failed; they were queued in the outbox for the next run.
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

/// Walks the error chain and returns the first classified cause's status and hint.
///
/// Unclassified errors (I/O, bugs) end with exit code 2 only when they come from argument
/// handling; otherwise the generic failure code 5 would hide bugs, so they map to 1.
pub fn classify(err: &anyhow::Error) -> (ExitStatus, Option<String>) {
    // A `Failure` attached with `.context(…)` is the caller's more specific advice; anyhow
    // finds context values only through its own downcast, not through the chain.
    if let Some(f) = err.downcast_ref::<Failure>() {
        return (f.status, f.hint.clone());
    }
    for cause in err.chain() {
        if let Some(c) = as_classified(cause) {
            return (c.exit_status(), c.hint());
        }
    }
    (ExitStatus::Partial, None)
}

fn as_classified<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a dyn Classify> {
    if let Some(x) = e.downcast_ref::<Failure>() {
        return Some(x);
    }
    if let Some(x) = e.downcast_ref::<crate::rules::RulesError>() {
        return Some(x);
    }
    if let Some(x) = e.downcast_ref::<crate::crm::CrmError>() {
        return Some(x);
    }
    if let Some(x) = e.downcast_ref::<crate::store::StoreError>() {
        return Some(x);
    }
    if let Some(x) = e.downcast_ref::<crate::billing::BillingError>() {
        return Some(x);
    }
    if let Some(x) = e.downcast_ref::<crate::lock::LockHeld>() {
        return Some(x);
    }
    None
}
