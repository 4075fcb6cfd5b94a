//! State shared by the server threads and the `Sandbox` handle. Each concern has
//! its own lock so that stats, faults and the rate limiter never wait on a slow
//! write to the store.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::config::SandboxConfig;
use crate::faults::{Fault, FaultQueue};
use crate::oauth::{Client, OAuth};
use crate::ratelimit::RateLimiter;
use crate::stats::{Stats, StatsRecorder};
use crate::store::Store;
use crate::timefmt::now;

pub struct Shared {
    pub retry_after_secs: u64,
    pub block_after_429s: Option<u32>,
    /// "http://127.0.0.1:PORT".
    pub base_url: String,
    pub latency_ms: AtomicU64,
    pub latency_per_entity_ms: AtomicU64,
    pub blocked: AtomicBool,
    pub shutdown: AtomicBool,
    /// amoCRM has vanished: nothing listens on the port (connections are refused) and the
    /// connections that were open are closed without an answer (`vanish_after`).
    pub down: AtomicBool,
    /// API requests still answered before the sandbox vanishes (`None`: it stays).
    pub vanish_after: Mutex<Option<u64>>,
    /// When it vanished.
    pub vanished_at: Mutex<Option<std::time::Instant>>,
    /// Milliseconds after vanishing it comes back by itself (0: only `revive`).
    pub revive_after_ms: AtomicU64,
    pub limiter: Mutex<RateLimiter>,
    pub stats: Mutex<StatsRecorder>,
    pub faults: Mutex<FaultQueue>,
    pub oauth: Mutex<OAuth>,
    pub store: Mutex<Store>,
    /// The Ringostat call-log emulator (`/calls/list`).
    pub ringostat: Mutex<crate::ringostat::CallLog>,
}

/// Locks, surviving a poisoned mutex (a panicking handler must not brick the server).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn new(cfg: SandboxConfig, base_url: String) -> Shared {
        let client = Client {
            client_id: cfg.client_id.clone(),
            client_secret: cfg.client_secret.clone(),
            redirect_uri: cfg.redirect_uri.clone(),
            access_ttl: cfg.access_token_ttl_secs,
            account_id: cfg.seed.account.id,
            subdomain: cfg.seed.account.subdomain.clone(),
            user_id: cfg.seed.account.current_user_id,
        };
        Shared {
            retry_after_secs: cfg.retry_after_secs,
            block_after_429s: cfg.block_after_429s,
            base_url,
            latency_ms: AtomicU64::new(cfg.latency_ms),
            latency_per_entity_ms: AtomicU64::new(cfg.latency_per_entity_ms),
            blocked: AtomicBool::new(false),
            shutdown: AtomicBool::new(false),
            down: AtomicBool::new(false),
            vanish_after: Mutex::new(None),
            vanished_at: Mutex::new(None),
            revive_after_ms: AtomicU64::new(0),
            limiter: Mutex::new(RateLimiter::new(cfg.rate_limit_rps)),
            stats: Mutex::new(StatsRecorder::default()),
            faults: Mutex::new(FaultQueue::default()),
            oauth: Mutex::new(OAuth::new(client, &cfg.preset_codes, now())),
            store: Mutex::new(Store::new(cfg.seed, cfg.query_mode)),
            ringostat: Mutex::new(Default::default()),
        }
    }

    /// The host part used as `api_domain` in tokens.
    pub fn host(&self) -> &str {
        self.base_url.trim_start_matches("http://")
    }

    pub fn stats(&self) -> Stats {
        lock(&self.stats).stats.clone()
    }

    pub fn reset_stats(&self) {
        lock(&self.stats).reset();
    }

    pub fn inject(&self, fault: Fault) {
        lock(&self.faults).push(fault);
    }

    pub fn clear_faults(&self) {
        lock(&self.faults).clear();
    }

    pub fn issue_code(&self) -> String {
        lock(&self.oauth).issue_code(now())
    }

    pub fn issue_access_token(&self) -> String {
        let ttl = lock(&self.oauth).client.access_ttl;
        lock(&self.oauth).issue_access(self.host(), now(), ttl)
    }

    pub fn set_latency_ms(&self, ms: u64) {
        self.latency_ms.store(ms, Ordering::Relaxed);
    }

    pub fn set_rate_limit(&self, rps: u32) {
        lock(&self.limiter).rps = rps;
    }

    pub fn set_blocked(&self, blocked: bool) {
        self.blocked.store(blocked, Ordering::Relaxed);
        if !blocked {
            lock(&self.limiter).consecutive_429 = 0;
        }
    }

    /// Answers `n` more API requests, then vanishes (as a crashed amoCRM front end): the
    /// request after them is dropped unanswered and not applied, every open connection is
    /// closed, and new connections are refused until [`Shared::revive`] (or `for_ms` later,
    /// when not 0). Counted by requests, not by time, so a test's cut is deterministic.
    pub fn vanish_after(&self, n: u64, for_ms: u64) {
        self.revive_after_ms.store(for_ms, Ordering::Relaxed);
        *lock(&self.vanish_after) = Some(n);
    }

    /// Called at each API request's arrival: true when it finds amoCRM gone (it may be the
    /// one that makes it vanish).
    pub fn gone(&self) -> bool {
        if self.down.load(Ordering::SeqCst) {
            return true;
        }
        let mut left = lock(&self.vanish_after);
        match *left {
            Some(0) => {
                *left = None;
                *lock(&self.vanished_at) = Some(std::time::Instant::now());
                self.down.store(true, Ordering::SeqCst);
                true
            }
            Some(n) => {
                *left = Some(n - 1);
                false
            }
            None => false,
        }
    }

    /// Listens again after vanishing (the accept loop binds the same port).
    pub fn revive(&self) {
        *lock(&self.vanish_after) = None;
        self.down.store(false, Ordering::SeqCst);
    }

    /// Whether it is time to come back by itself.
    pub fn revive_due(&self) -> bool {
        let ms = self.revive_after_ms.load(Ordering::Relaxed);
        ms > 0
            && lock(&self.vanished_at)
                .is_some_and(|at| at.elapsed() >= std::time::Duration::from_millis(ms))
    }

    pub fn expire_access_tokens(&self) {
        lock(&self.oauth).expire_access(now());
    }

    pub fn revoke_access_tokens(&self) {
        lock(&self.oauth).revoke_access();
    }

    pub fn revoke_refresh_tokens(&self) {
        lock(&self.oauth).revoke_refresh();
    }
}
