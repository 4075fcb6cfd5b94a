//! Tests of the billing layer: the envelope parser, value readers and converters, the
//! three sources over the shared fixtures (`examples/billmanager`, the demo set, and
//! `tests/fixtures/billmanager/{quirks,malformed,errors}`).

mod api;
mod convert;
mod envelope;
mod files;
mod mgrctl;
mod panel;
pub(super) mod support;
mod values;
