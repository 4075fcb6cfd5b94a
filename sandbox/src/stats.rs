//! Counters the tests and benchmarks assert on: request volume, writes, error
//! answers and the peak request rate seen by the server.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Stats {
    /// Every request to /api/v4 and /oauth2 (not /_sandbox).
    pub requests: u64,
    /// POST/PATCH/DELETE to /api/v4 that were applied (2xx, incl. lost responses).
    pub writes: u64,
    pub status_429: u64,
    /// 5xx answers, including injected ones.
    pub status_5xx: u64,
    /// Max request arrivals (incl. ones answered 429) in any sliding 1000 ms window.
    pub max_per_second: u32,
    /// Max requests being processed at once (arrived, not answered yet).
    #[serde(default)]
    pub max_open: u32,
    /// Arrivals per "METHOD /path" with numeric segments replaced by `{id}`.
    pub by_route: BTreeMap<String, u64>,
    /// Arrivals in each whole second since the counters were reset: the benchmark prints it
    /// to show where a run leaves the rate limit unused.
    #[serde(default)]
    pub per_second: Vec<u32>,
    pub code_grants: u64,
    pub refresh_grants: u64,
    /// Times a spent (already rotated) refresh token was presented.
    pub refresh_token_reuse: u64,
    /// 401 answers.
    pub unauthorized: u64,
}

const WINDOW: Duration = Duration::from_millis(1000);

#[derive(Default)]
pub struct StatsRecorder {
    pub stats: Stats,
    arrivals: VecDeque<Instant>,
    open: u32,
    /// When the counters were last reset (the first arrival, until a reset).
    since: Option<Instant>,
}

/// "PATCH /api/v4/leads/{id}" for "PATCH /api/v4/leads/123".
pub fn route_label(method: &str, path: &str) -> String {
    let path: Vec<&str> = path
        .trim_end_matches('/')
        .split('/')
        .map(|seg| {
            if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
                "{id}"
            } else {
                seg
            }
        })
        .collect();
    format!("{method} {}", path.join("/"))
}

impl StatsRecorder {
    pub fn arrival(&mut self, route: String, now: Instant) {
        self.stats.requests += 1;
        *self.stats.by_route.entry(route).or_insert(0) += 1;
        while self
            .arrivals
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            self.arrivals.pop_front();
        }
        self.arrivals.push_back(now);
        let second = now.duration_since(*self.since.get_or_insert(now)).as_secs() as usize;
        if self.stats.per_second.len() <= second {
            self.stats.per_second.resize(second + 1, 0);
        }
        self.stats.per_second[second] += 1;
        self.open += 1;
        self.stats.max_open = self.stats.max_open.max(self.open);
        let n = self.arrivals.len() as u32;
        self.stats.max_per_second = self.stats.max_per_second.max(n);
    }

    /// An arrived request is done with (answered, or its connection dropped).
    pub fn closed(&mut self) {
        self.open = self.open.saturating_sub(1);
    }

    /// Accounts for the answer given to an /api/v4 or /oauth2 request.
    pub fn answered(&mut self, method: &str, is_api: bool, status: u16) {
        match status {
            429 => self.stats.status_429 += 1,
            401 => self.stats.unauthorized += 1,
            500..=599 => self.stats.status_5xx += 1,
            _ => {}
        }
        let write = matches!(method, "POST" | "PATCH" | "DELETE" | "PUT");
        if is_api && write && (200..300).contains(&status) {
            self.stats.writes += 1;
        }
    }

    pub fn reset(&mut self) {
        *self = StatsRecorder {
            since: Some(Instant::now()),
            ..StatsRecorder::default()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::route_label;

    #[test]
    fn labels_replace_ids() {
        assert_eq!(
            route_label("POST", "/api/v4/leads/77/link"),
            "POST /api/v4/leads/{id}/link"
        );
        assert_eq!(
            route_label("GET", "/api/v4/contacts"),
            "GET /api/v4/contacts"
        );
    }
}
