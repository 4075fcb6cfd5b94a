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

/// The most one request may take, every attempt and every wait between them included. An
/// outage is then reported (exit 5) within a minute instead of being retried request after
/// request (issue 22: a backfill went on for 5 minutes against a vanished amoCRM).
pub const BUDGET: Duration = Duration::from_secs(60);

/// The longest one attempt waits for its answer: `[amocrm] timeout_secs` is capped here, so
/// the requests still open when a run stops end within half of [`BUDGET`].
pub const MAX_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether a request that failed its `attempt`-th try, first sent `spent` ago, is tried
/// again after `wait`, each try taking up to `timeout`: only while the next try can end
/// inside [`BUDGET`] and [`MAX_ATTEMPTS`] is not reached. Decided here, once, for every
/// caller; the first request that is not tried again ends the run ([`super::Outage`]).
pub fn may_retry(attempt: u32, spent: Duration, wait: Duration, timeout: Duration) -> bool {
    attempt < MAX_ATTEMPTS && spent + wait + timeout.min(MAX_TIMEOUT) <= BUDGET
}

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
    // reqwest names the whole URL ("error sending request for url (…)"): with 250 ids in the
    // query that is thousands of characters before the cause. The caller's label already
    // says the method and path, so the URL is left out.
    let top = e.to_string();
    let top = top.find(" for url (").map_or(top.as_str(), |at| &top[..at]);
    let mut msg = format!("{kind}: {top}");
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
    fn a_request_is_retried_only_while_its_next_try_ends_inside_the_budget() {
        let s = Duration::from_secs;
        // Refused connections answer at once: the attempts run out first.
        assert!(may_retry(6, s(2), s(1), s(20)));
        assert!(!may_retry(MAX_ATTEMPTS, s(2), s(1), s(20)));
        // Timeouts of 20 s: a second try fits (20 + 0.5 + 20), a third does not.
        assert!(may_retry(1, s(20), Duration::from_millis(500), s(20)));
        assert!(!may_retry(2, Duration::from_millis(40_500), s(1), s(20)));
        // A 429 asking for more than the budget is not waited for.
        assert!(!may_retry(1, Duration::ZERO, s(300), s(20)));
        // A huge configured timeout counts as the cap.
        assert!(may_retry(1, s(1), s(1), s(3600)));
        // The worst case the rule allows stays inside the budget.
        for attempt in 1..MAX_ATTEMPTS {
            let spent = s(u64::from(attempt) * 5);
            if may_retry(attempt, spent, backoff(attempt), s(20)) {
                assert!(spent + backoff(attempt) + s(20) <= BUDGET);
            }
        }
    }

    #[test]
    fn a_transport_error_names_its_cause_not_the_url() {
        // A port nothing listens on: bound, then closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let ids: String = (0..250)
            .map(|i| format!("&filter[id][]={}", 7_000_000 + i))
            .collect();
        let url = format!("http://127.0.0.1:{port}/api/v4/leads?with=contacts{ids}");
        let e = reqwest::blocking::get(&url).unwrap_err();
        let text = describe_transport(&e);
        assert!(text.len() < 300, "{} characters: {text}", text.len());
        assert!(!text.contains("filter"), "{text}");
        assert!(
            text.starts_with("connection failed: error sending request"),
            "{text}"
        );
        assert!(text.to_lowercase().contains("refused"), "{text}");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(2) > backoff(1));
        assert!(backoff(30) <= Duration::from_secs(30));
    }
}
