//! The amoCRM API v4 over reqwest blocking.

mod api;
mod classify;
mod client;
pub mod oauth;
mod outage;
pub mod pace;
pub mod retry;
mod write;

pub use api::{AmoCrm, CHUNK};
pub use classify::validation_items;
pub use client::{AmoClient, ClientConfig, RequestStats};
pub use oauth::{Credentials, TokenSource};
pub use outage::{Outage, NOT_SENT};
pub use retry::describe_transport;
