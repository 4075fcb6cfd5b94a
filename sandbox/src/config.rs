//! Start-up knobs of the sandbox. Everything a test may want to vary lives here so that
//! tests never have to reach into the server's internals.

use serde::{Deserialize, Serialize};

use crate::seed::Seed;

/// How `query=` search on leads/contacts/companies behaves (§3.4: the real
/// normalisation is UNCONFIRMED, so both readings are available).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryMode {
    /// A mostly-digit query is matched digits-only against digits-only values,
    /// so `+7 916 123-45-67` finds `89161234567` by `9161234567`.
    #[default]
    Digits,
    /// Raw case-insensitive substring only: `+7…` and `8…` do not match each other.
    Strict,
}

/// Configuration of one sandbox instance (one emulated account).
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// TCP port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Admitted requests per sliding second; the next one gets 429. 0 disables the limit.
    pub rate_limit_rps: u32,
    /// `retry_after` value in 429 bodies.
    pub retry_after_secs: u64,
    /// After this many consecutive 429s the account is blocked (403 HTML).
    pub block_after_429s: Option<u32>,
    /// Added to every /api/v4 and /oauth2 response.
    pub latency_ms: u64,
    /// Added per entity a request carries (a write's array) or an answer lists (a page):
    /// a real amoCRM takes seconds for a batch of 250.
    pub latency_per_entity_ms: u64,
    /// `expires_in` of issued access tokens.
    pub access_token_ttl_secs: i64,
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
    /// Authorization codes valid once each, in addition to `Sandbox::issue_code`.
    pub preset_codes: Vec<String>,
    pub query_mode: QueryMode,
    /// Account, users, pipelines and custom-field definitions.
    pub seed: Seed,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            port: 0,
            rate_limit_rps: 7,
            retry_after_secs: 1,
            block_after_429s: None,
            latency_ms: 0,
            latency_per_entity_ms: 0,
            access_token_ttl_secs: 86_400,
            client_id: "sandbox-client-id".into(),
            client_secret: "sandbox-client-secret".into(),
            redirect_uri: "https://example.com/amocrm/callback".into(),
            preset_codes: Vec::new(),
            query_mode: QueryMode::Digits,
            seed: Seed::default(),
        }
    }
}
