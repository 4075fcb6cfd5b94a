//! Preparing and verifying an installation, never syncing: `init` writes a first rule file
//! from the live account, `setup-fields` creates the custom fields the rules map but the
//! account lacks, and `check` holds the rule file against the account and the panel before
//! anything is sent.
//!
//! It stands above the sync engine and uses the engine's own resolvers and converter, so
//! what it accepts is what a run accepts; the engine never imports it back.
//!
//! # Rooms
//! - [`check`](mod@check) gathers the account findings: [`names`] (the run's resolvers, call tracking
//!   included), [`field_check`] (values and field types), over [`attr_kind`] (what is known
//!   of each stable attribute); [`select_coverage`] adds what a sample of the panel shows, and
//!   [`tags`] what the account's tag lists show; [`panel_sample`] reads that sample. All of
//!   them report a [`Finding`].
//! - [`attributes`] and [`panel_sources`]: attribute names nothing fills, and where in the
//!   panel's answers each attribute comes from.
//! - [`init`] and [`new_fields`]: the rule file `init` writes, the fields `setup-fields`
//!   creates.

pub mod attr_kind;
pub mod attributes;
pub mod check;
pub mod field_check;
pub mod finding;
pub mod init;
pub mod names;
pub mod new_fields;
pub mod panel_sample;
pub mod panel_sources;
pub mod select_coverage;
pub mod tags;

#[cfg(test)]
mod check_tests;

pub use check::check;
pub use finding::{Finding, Severity};
pub use select_coverage::{sample_findings, sampled_attributes};
pub use tags::{tag_findings, tag_uses, TagUse};
