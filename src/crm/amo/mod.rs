//! The amoCRM API v4 over reqwest blocking.

mod client;
pub mod oauth;
pub mod pace;
pub mod retry;

pub use client::{describe_transport, validation_items, AmoClient, ClientConfig, RequestStats};
pub use oauth::{Credentials, TokenSource};
