//! A stateful, strict emulator of the amoCRM API v4 ("sandbox") for amocrm-bin's
//! tests, demo and benchmarks. It follows shared/reference/amocrm-api.md: OAuth with
//! rotating refresh tokens, 7 rps with 429/403 blocking, HAL lists with 204 on empty,
//! whole-request validation with Symfony-style errors, links, tags, tasks, notes,
//! calls and events. Tests steer it through `Sandbox` (or `/_sandbox/...` over HTTP).

mod account;
mod api;
mod calls;
mod cf_values;
mod complex;
mod config;
mod control;
mod custom_fields;
mod entities;
mod events;
mod faults;
mod hal;
mod http;
mod ids;
mod inspect;
mod links;
mod message;
mod notes;
mod oauth;
mod query;
mod ratelimit;
mod ringostat;
mod router;
mod seed;
mod seed_default;
mod seed_fresh;
mod server;
mod shared;
mod stats;
mod store;
mod tags;
mod tasks;
mod timefmt;
mod validation;

use std::io;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

pub use config::{QueryMode, SandboxConfig};
pub use faults::Fault;
pub use seed::{
    FieldType, Seed, SeedAccount, SeedCustomFields, SeedEnum, SeedField, SeedGroup, SeedPipeline,
    SeedStatus, SeedTaskType, SeedUser,
};
pub use server::BY_HAND;
pub use stats::Stats;

use shared::Shared;

/// A running sandbox on 127.0.0.1; its server threads stop when it is dropped.
pub struct Sandbox {
    shared: Arc<Shared>,
    port: u16,
    accept: Option<JoinHandle<()>>,
}

impl Sandbox {
    pub fn start(cfg: SandboxConfig) -> io::Result<Sandbox> {
        let listener = TcpListener::bind(("127.0.0.1", cfg.port))?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared::new(cfg, format!("http://127.0.0.1:{port}")));
        let sh = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name("sandbox-accept".into())
            .spawn(move || server::accept_loop(listener, sh))?;
        Ok(Sandbox {
            shared,
            port,
            accept: Some(accept),
        })
    }

    /// "http://127.0.0.1:PORT".
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A fresh one-time authorization code (20 min TTL).
    pub fn issue_code(&self) -> String {
        self.shared.issue_code()
    }

    /// A valid access token without a refresh token (like a long-lived token).
    pub fn issue_access_token(&self) -> String {
        self.shared.issue_access_token()
    }

    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    pub fn reset_stats(&self) {
        self.shared.reset_stats();
    }

    /// Queues a fault; faults are consumed in order by matching requests.
    pub fn inject(&self, fault: Fault) {
        self.shared.inject(fault);
    }

    pub fn clear_faults(&self) {
        self.shared.clear_faults();
    }

    pub fn set_latency_ms(&self, ms: u64) {
        self.shared.set_latency_ms(ms);
    }

    /// 0 disables rate limiting.
    pub fn set_rate_limit(&self, rps: u32) {
        self.shared.set_rate_limit(rps);
    }

    /// Every issued access token now answers 401.
    pub fn expire_access_tokens(&self) {
        self.shared.expire_access_tokens();
    }

    /// Every refresh token now answers 401 "Token has been revoked".
    pub fn revoke_refresh_tokens(&self) {
        self.shared.revoke_refresh_tokens();
    }

    /// 401 for all access tokens; refresh still works.
    pub fn revoke_access_tokens(&self) {
        self.shared.revoke_access_tokens();
    }

    /// Answers `n` more API/OAuth requests, then vanishes like a crashed front end: the next
    /// request goes unanswered (not applied), open connections close, and connecting is
    /// refused until [`Sandbox::revive`]. Counted in requests, so the cut is deterministic.
    pub fn vanish_after(&self, n: u64) {
        self.shared.vanish_after(n, 0);
    }

    /// Listens again on the same port after [`Sandbox::vanish_after`].
    pub fn revive(&self) {
        self.shared.revive();
    }

    /// When it vanished (`None` while it never did).
    pub fn vanished_at(&self) -> Option<std::time::Instant> {
        *shared::lock(&self.shared.vanished_at)
    }

    /// Whether it is gone now.
    pub fn is_down(&self) -> bool {
        self.shared.down.load(Ordering::SeqCst)
    }

    /// 403 with nginx's HTML page for every /api/v4 and /oauth2 call.
    pub fn set_blocked(&self, blocked: bool) {
        self.shared.set_blocked(blocked);
    }

    /// Records of `kind` (leads|contacts|companies|tasks|notes|calls|events|tags) as
    /// GET-by-id would show them; unknown kinds give an empty list.
    pub fn entities(&self, kind: &str) -> Vec<serde_json::Value> {
        inspect::entities(&self.shared, kind).unwrap_or_default()
    }

    /// Pre-populates a record as a POST would (same validation and normalisation),
    /// bypassing limits and stats. Panics when the record does not validate.
    pub fn insert(&self, kind: &str, entity: serde_json::Value) -> i64 {
        match inspect::insert(&self.shared, kind, &entity) {
            Ok(id) => id,
            Err(e) => panic!("Sandbox::insert({kind}) rejected: {e}"),
        }
    }
}

/// The Ringostat call-log emulator served at `/calls/list` on the same port.
impl Sandbox {
    /// Sets the project's Auth-key and (optionally) its id; until then every request
    /// is refused with 401.
    pub fn ringostat_project(&self, key: &str, project_id: Option<&str>) {
        let mut log = shared::lock(&self.shared.ringostat);
        log.key = Some(key.to_string());
        log.project_id = project_id.map(String::from);
    }

    /// Adds calls to the call log: objects keyed by call-log field names.
    pub fn ringostat_add_calls(&self, calls: &[serde_json::Value]) {
        let mut log = shared::lock(&self.shared.ringostat);
        log.calls
            .extend(calls.iter().filter_map(|c| c.as_object().cloned()));
    }

    /// The query strings of the call-log requests that passed the key check.
    pub fn ringostat_requests(&self) -> Vec<String> {
        shared::lock(&self.shared.ringostat).requests.clone()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(handle) = self.accept.take() {
            let _ = handle.join();
        }
    }
}
