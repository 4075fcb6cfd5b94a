//! The use-case layer: one function per command, each building on a [`Context`] (the rule
//! set, the store, the client and the panel, built once from the global flags) and returning
//! an outcome the binary's printer renders as text or `--json`. Policy (what is queued,
//! retried, parked, dropped) is decided here and below, never in the CLI.

pub mod auth;
pub mod backfill;
pub mod bindings;
pub mod calls;
pub mod capture;
pub mod check;
mod context;
pub mod drain;
pub mod hook;
pub mod init;
pub mod nudge;
pub mod outbox;
pub mod pull;
pub mod report;
mod run;
pub mod status;
pub mod sync;

pub use context::{load_rules, Context};
pub use run::Ran;

/// The request counts a run reports, for the printer.
pub use crate::crm::amo::RequestStats;
