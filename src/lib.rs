//! amocrm-bin: BILLmanager → amoCRM (Kommo) synchronisation.
//!
//! # Layers
//! - [`rules`] reads and validates the one TOML rule file; everything the operator configures
//!   lives there and every error names the line and key.
//! - [`store`] is the only module that speaks SQL: OAuth tokens, bindings between BILLmanager
//!   and amoCRM ids, the outbox of pushes that failed, the run journal and name caches.
//! - [`crm`] talks to amoCRM over HTTP (reqwest blocking): OAuth with single-use refresh
//!   rotation, pacing to 7 requests per second across every process that shares the store,
//!   retries with backoff, typed errors.
//! - [`lock`] holds the cross-process file locks (run lock, write lock, token lock).
//! - [`hook`] turns a BILLmanager addon-handler invocation into outbox entries (pure; the
//!   binary echoes the panel's XML first and starts a detached `drain` to push them).
//! - [`calls`] turns call-tracking events (Ringostat, neutral schema) into amoCRM calls,
//!   contacts, leads and tasks: stored first, pushed after, replayed after an outage.
//! - [`setup`] prepares and verifies an installation (`init`, `setup-fields`, `check`) with the
//!   engine's own resolvers; it never syncs, and the engine never imports it.
//! - [`app`] is the use-case layer on top: one function per command over a [`app::Context`]
//!   built once, returning an outcome; nothing in the library imports it.
//! - The binary's `cli` module (not part of this library) parses arguments, calls one `app`
//!   function and prints its outcome; the library never prints to stdout.
//!
//! # Invariants
//! - A binding is written right after the amoCRM write that created the entity succeeded.
//! - Nothing secret (tokens, client secret) reaches a log line, an error message or `--json`
//!   output: secrets are [`secret::Secret`] values and the logger redacts known secrets.
#![warn(missing_docs)]

pub mod alloc;
pub mod app;
pub mod billing;
pub mod calls;
pub mod crash;
pub mod crm;
pub mod engine;
pub mod exit;
pub mod hook;
pub mod lock;
pub mod log;
pub mod phone;
pub mod rules;
pub mod secret;
pub mod setup;
pub mod spelling;
pub mod status;
pub mod store;
