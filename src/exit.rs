//! Exit codes and the one place that turns an error into advice.
//!
//! Every typed error the library raises maps to one documented exit code, so cron jobs and
//! BILLmanager can react without parsing text. The codes are part of the public contract
//! (README "Exit codes").
//!
//! This module is the top of the library, and no layer imports it back. The codes and the
//! [`Classify`] trait the errors implement live below them all, in [`crate::status`]; the
//! walk that finds the classified cause in an `anyhow` chain is the outbox policy's
//! ([`crate::engine::outbox::classified`]), so a run's exit code and what becomes of its
//! queued items are read from the same cause.

pub use crate::status::{Classify, ExitStatus, Failure};

/// Walks the error chain and returns the first classified cause's status and hint.
///
/// Unclassified errors (I/O, bugs) exit 1: the "unreachable" code 5 would hide bugs behind
/// a retry, and argument errors are classified (exit 2) where clap or the rules raise them.
/// The walk itself is the library's ([`crate::engine::outbox::classified`]), so the outbox
/// policy and the exit code read the same cause.
pub fn classify(err: &anyhow::Error) -> (ExitStatus, Option<String>) {
    match crate::engine::outbox::classified(err) {
        Some(c) => (c.exit_status(), c.hint()),
        None => (ExitStatus::Partial, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backfill_stopped_by_an_outage_exits_5_with_the_hint_that_nothing_was_lost() {
        let err = crate::engine::backfill::stopped_example();
        let (status, hint) = classify(&err);
        assert_eq!(status, ExitStatus::Unreachable);
        assert!(hint.unwrap().contains("nothing was lost"));
    }
}
