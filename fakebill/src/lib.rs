//! A fake BILLmanager for amocrm-bin's tests and demo: the same fixture directory served
//! as `mgrctl` would print it (bin `fake-mgrctl`) and as the HTTP API would answer it
//! ([`FakeBillmanagerApi`]).
//!
//! # Fixture layout (shared with amocrm-bin's `files` source)
//! - `<dir>/<func>.json`: the answer of `<func>` (list functions: `account.json`,
//!   `user.json`, `profile.json`, `item.json`);
//! - `<dir>/<func>/<elid>.json`: the answer of `<func> elid=<elid>` when the folder
//!   `<dir>/<func>/` exists (edit forms such as `account.edit/101.json`).
//!
//! Files hold documents exactly as `mgrctl -m billmgr <func> out=json` prints them. See
//! [`answer`] for how calls are resolved, filtered and refused.
//!
//! # Finding the binary
//! A library cannot name its crate's binary, so there is no path helper here:
//! fakebill's own tests use `env!("CARGO_BIN_EXE_fake-mgrctl")`, and amocrm-bin's tests
//! look for `fake-mgrctl` next to their own executable's `target/<profile>/` directory,
//! which `cargo build --workspace` fills.
#![warn(missing_docs)]

pub mod answer;
mod api;
pub mod generate;
mod http;

pub use api::FakeBillmanagerApi;
