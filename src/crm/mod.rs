//! Talking to amoCRM: the HTTP client ([`amo`]) and its typed errors.

pub mod amo;
mod error;

pub use error::{CrmError, FieldError, ItemErrors};
