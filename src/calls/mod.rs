//! Call-tracking events (Ringostat webhooks and the neutral schema) → amoCRM calls,
//! contacts, leads and tasks; and the call report.
//!
//! # Flow
//! 1. [`parse`] turns a body (JSON object, array, JSON lines or form fields) into
//!    [`event::CallEvent`]s: [`ringostat`] through the configurable key map, [`neutral`] for
//!    the documented schema `amocrm-bin.call/1`. Phones become E.164 ([`party`]).
//! 2. [`setup::CallSetup::store`] stores each event *first*, deduplicated by the provider's
//!    call id and by [`fingerprint`] (forwarded legs), with its initial state from
//!    [`staff::Staff::triage`] (internal calls and interim events are never sent).
//! 3. The caller answers (CGI: `200`), then [`push::Pusher`] sends each pending call:
//!    lookups, a pure [`plan::decide`], then writes recorded step by step in the store.
//! 4. `replay-calls` re-runs step 3 for calls amoCRM has not acknowledged, oldest first.
//! 5. [`report`] and [`svg`] summarise stored calls without talking to amoCRM.
//!
//! # Invariants
//! - Nothing is lost: an event is in the store before anything else happens, and a failed
//!   push leaves it pending with its error.
//! - Nothing is sent twice: a call is acknowledged only after amoCRM returned its id, and
//!   every write of a push is recorded as soon as it succeeded.
//! - No clap and no SQL here: the CLI parses arguments, the store owns SQL.

/// Largest input `calls ingest` reads from `--file` or stdin (the CGI body has its own
/// 1 MiB cap). Parsing holds about 13 times the input (50 MB of noise reached 639 MB), so
/// 8 MiB (some 25 000 neutral events) keeps a run near 100 MB; split larger exports.
pub const MAX_INGEST_INPUT: u64 = 8 << 20;

pub mod calllog;
pub mod config;
pub mod event;
pub mod fingerprint;
pub mod neutral;
pub mod options;
pub mod parse;
pub mod party;
pub mod plan;
pub mod push;
pub mod report;
pub mod ringostat;
pub mod setup;
pub mod staff;
pub mod svg;
pub mod validate;
pub mod zone;

pub use event::CallEvent;
pub use parse::{parse_body, Format};
pub use push::{concerns_every_call, start_ingest_budget, PushOutcome, Pusher, INGEST_PUSH_BUDGET};
pub use setup::CallSetup;
