//! Retry schedule: exponential backoff with a little jitter, capped.
//!
//! `AMOCRM_BIN_TEST_BACKOFF_MS` replaces the base delay (tests use it to ride out fault
//! storms quickly); the 429 `retry_after` the server asks for is always honoured.
//!
//! Hand-written on purpose. What to retry is amoCRM-specific and lives with the client (429
//! waits for `retry_after` and slows every process through the pacer, 401 refreshes the token
//! once, other 4xx are final), and the schedule itself is a dozen lines. `backoff` is
//! unmaintained (RUSTSEC-2025-0012); `backon` would bring a builder and a sleeper trait to
//! wrap the same two numbers, and the test knob above would still be ours (cargo keeps its
//! retry hand-written for the same reasons).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// When set, retries stop once it has passed (and no sleep runs past it): a caller that
/// must finish in bounded time (`calls ingest` answering a webhook) sets it; what was not
/// sent stays stored for a later run.
static DEADLINE: Mutex<Option<Instant>> = Mutex::new(None);

/// Bounds every retry of this process to `deadline` (`None`: only `MAX_ATTEMPTS`).
pub fn set_deadline(deadline: Option<Instant>) {
    if let Ok(mut d) = DEADLINE.lock() {
        *d = deadline;
    }
}

fn deadline() -> Option<Instant> {
    DEADLINE.lock().ok().and_then(|d| *d)
}

/// Whether the retry deadline has passed.
pub fn out_of_time() -> bool {
    deadline().is_some_and(|d| Instant::now() >= d)
}

/// How many times a request is tried before giving up on transient failures.
pub const MAX_ATTEMPTS: u32 = 7;

fn base_ms() -> u64 {
    std::env::var("AMOCRM_BIN_TEST_BACKOFF_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500)
}

/// Delay before attempt `attempt + 1` (attempt counts from 1).
pub fn backoff(attempt: u32) -> Duration {
    let base = base_ms();
    let exp = base.saturating_mul(1 << attempt.saturating_sub(1).min(6));
    let jitter = (std::process::id() as u64 * 7919 + attempt as u64 * 104729) % (base / 4 + 1);
    let wait = Duration::from_millis((exp + jitter).min(30_000));
    match deadline() {
        Some(d) => wait.min(d.saturating_duration_since(Instant::now())),
        None => wait,
    }
}

/// A transport error described without anything secret (reqwest errors carry only the URL).
pub fn describe_transport(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "connection broke while reading the answer"
    } else {
        "request failed"
    };
    let mut msg = format!("{kind}: {e}");
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_ends_retries_and_shortens_the_last_wait() {
        set_deadline(Some(Instant::now() + Duration::from_millis(50)));
        assert!(backoff(6) <= Duration::from_millis(50));
        assert!(!out_of_time());
        set_deadline(Some(Instant::now()));
        assert!(out_of_time());
        set_deadline(None);
        assert!(!out_of_time());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(2) > backoff(1));
        assert!(backoff(30) <= Duration::from_secs(30));
    }
}
