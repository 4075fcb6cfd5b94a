//! Exit codes and the one place that turns an error into advice.
//!
//! Every typed error the library raises maps to one documented exit code, so cron jobs and
//! BILLmanager can react without parsing text. The codes are part of the public contract
//! (README "Exit codes").
//!
//! This module is the top of the library: it knows every layer's error type in order to
//! find them in an `anyhow` chain, and no layer imports it back. The codes and the
//! [`Classify`] trait the errors implement live below them all, in [`crate::status`].

pub use crate::status::{Classify, ExitStatus, Failure};

/// Walks the error chain and returns the first classified cause's status and hint.
///
/// Unclassified errors (I/O, bugs) exit 1: the "unreachable" code 5 would hide bugs behind
/// a retry, and argument errors are classified (exit 2) where clap or the rules raise them.
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
