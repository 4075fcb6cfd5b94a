//! The amoCRM HTTP client: every request goes pace → auth → send → classify → retry, one at
//! a time on the calling thread ([`AmoClient::execute`]), or several at once in the lane
//! pool ([`AmoClient::run_fed`], in [`lanes`]) built from the same steps.
//!
//! Retry policy (after cargo's `network/retry.rs`):
//! - 429: wait `retry_after` (body) or `Retry-After` (header), at least 1 s; every process
//!   sharing the store backs off too (the pacer's penalty).
//! - 5xx and connection failures before the request was sent: exponential backoff.
//! - A write whose answer was lost (timeout, reset after sending): not retried blindly,
//!   because amoCRM may have applied it; surfaced as [`CrmError::Ambiguous`] so the caller
//!   looks the entity up before creating it again.
//! - 401: refresh once (unless another process already did), then retry once.
//! - 403 with HTML: the account is blocked; stop at once.
//! - Every retry is bounded: a request is not tried again once its next try could not end
//!   inside [`retry::BUDGET`] (60 s, attempts and waits included; `timeout_secs` is capped
//!   at [`retry::MAX_TIMEOUT`]). A request that ends unreachable then stops the run
//!   ([`Outage`]): nothing new starts, on any lane or in any later call of this client.

mod lanes;

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use reqwest::Method;
use serde_json::Value;

use super::classify::{classify, truncate, Answer, Attempt, Verdict};
use super::oauth::{CurrentToken, TokenManager, TokenSource};
use super::outage::Outage;
use super::pace::Pacer;
use super::retry::{self, backoff, describe_transport};
use crate::crm::CrmError;
use crate::store::{Store, TokenRecord};

pub use lanes::{Flow, JobFeed};

/// Counters for the run summary and the benchmark.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct RequestStats {
    /// HTTP requests sent (including retries and token calls).
    pub requests: u64,
    /// Of those, POST/PATCH requests.
    pub writes: u64,
    /// 429 answers seen.
    pub status_429: u64,
    /// Retries after transient failures.
    pub retries: u64,
}

/// How to reach the account.
pub struct ClientConfig {
    /// Account URL (`https://acme.amocrm.ru` or the sandbox).
    pub base_url: String,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Requests per second across processes.
    pub rps: u32,
    /// The shared pacing file (normally `<store>.pace`); `None` paces this process only.
    pub pace_file: Option<PathBuf>,
}

/// A blocking amoCRM API v4 client bound to one account and one store.
pub struct AmoClient<'a> {
    http: Client,
    base_url: String,
    tokens: TokenManager<'a>,
    pacer: Pacer,
    stats: RefCell<RequestStats>,
    /// The per-attempt timeout (capped at [`retry::MAX_TIMEOUT`]).
    timeout: Duration,
    /// Set by the first request that ends unreachable: no request starts after it.
    outage: Outage,
}

impl<'a> AmoClient<'a> {
    /// Builds the client; tokens are read from and rotated in `store`.
    pub fn new(
        cfg: ClientConfig,
        store: &'a Store,
        source: TokenSource,
    ) -> anyhow::Result<AmoClient<'a>> {
        // One attempt never outlasts the cap, so a stopped run ends within the budget.
        let timeout = cfg.timeout.min(retry::MAX_TIMEOUT);
        let http = Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5).min(timeout))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("amocrm-bin/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let base_url = cfg.base_url.trim_end_matches('/').to_string();
        Ok(AmoClient {
            http,
            tokens: TokenManager {
                store,
                source,
                base_url: base_url.clone(),
            },
            base_url,
            pacer: Pacer::new(cfg.rps, cfg.pace_file),
            stats: RefCell::new(RequestStats::default()),
            timeout,
            outage: Outage::default(),
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> RequestStats {
        *self.stats.borrow()
    }

    /// Exchanges a one-time authorization code and stores the pair.
    pub fn exchange_code(&self, code: &str) -> Result<TokenRecord, CrmError> {
        self.stats.borrow_mut().requests += 1;
        self.tokens.exchange_code(code, &self.http, &self.pacer)
    }

    /// Forces a refresh now (cron keeps the 3-month refresh window alive with it).
    pub fn refresh_now(&self) -> Result<(), CrmError> {
        let current = self.tokens.current(&self.http, &self.pacer)?;
        self.stats.borrow_mut().requests += 1;
        self.tokens
            .after_unauthorized(current.generation, &self.http, &self.pacer)
            .map(drop)
    }

    /// GET; `Ok(None)` is amoCRM's 204 "nothing found".
    pub fn get(&self, path: &str, query: &[(String, String)]) -> Result<Option<Value>, CrmError> {
        self.execute(Job::new(Method::GET, path, query.to_vec(), None))
    }

    /// POST (creates: not idempotent).
    pub fn post(&self, path: &str, body: &Value) -> Result<Option<Value>, CrmError> {
        self.execute(Job::new(Method::POST, path, Vec::new(), Some(body)))
    }

    /// PATCH (updates: idempotent, safe to retry).
    pub fn patch(&self, path: &str, body: &Value) -> Result<Option<Value>, CrmError> {
        self.execute(Job::new(Method::PATCH, path, Vec::new(), Some(body)))
    }

    /// Sends one request on the calling thread: pace → auth → send → classify → retry,
    /// until it is answered, refused, or out of its retry budget. An unreachable end stops
    /// the run ([`Outage`]).
    pub fn execute(&self, job: Job) -> Result<Option<Value>, CrmError> {
        let mut token = self.start_run()?;
        let mut t = Try::new(job);
        // A lone request is never cancelled: only a pool's stop does that.
        let never = AtomicBool::new(false);
        loop {
            let work = self
                .begin_try(&mut t, &token, 0)
                .map_err(|e| self.noted(e))?;
            let started = Instant::now();
            let Some(answer) = send_once(&self.http, &self.pacer, &work, &never) else {
                return Err(self.not_sent(&t));
            };
            match self.judge(&mut t, answer, started.elapsed()) {
                Next::Done(r) => return r.map_err(|e| self.noted(e)),
                Next::Retry(wait) => self.pause(wait),
                Next::Refresh => token = self.refresh(&mut t)?,
            }
        }
    }

    /// The token a run (one request, or a pool) starts with; nothing starts once the run
    /// stopped, or without a token.
    fn start_run(&self) -> Result<CurrentToken, CrmError> {
        if let Some(e) = self.outage.refuse("the next request") {
            return Err(e);
        }
        self.tokens
            .current(&self.http, &self.pacer)
            .map_err(|e| self.noted(e))
    }

    /// `e`, recorded by the outage latch when it stops the run.
    fn noted(&self, e: CrmError) -> CrmError {
        self.outage.note(&e);
        e
    }

    /// Starts try number `t.attempt + 1` of `t` as the pool's job `index`: counted, and
    /// bearing `token`. A retry is not started once the time for this run ran out
    /// ([`retry::out_of_time`]): the request then ends unreachable.
    fn begin_try(&self, t: &mut Try, token: &CurrentToken, index: usize) -> Result<Work, CrmError> {
        t.attempt += 1;
        if t.attempt > 1 && retry::out_of_time() {
            return Err(CrmError::Unreachable {
                request: t.label(),
                detail: format!(
                    "gave up after {} attempt(s): the time for this run ran out; last: {}",
                    t.attempt - 1,
                    t.last_failure
                ),
            });
        }
        self.count(&t.job.method, t.attempt, 1);
        t.generation = token.generation;
        t.first_sent.get_or_insert_with(Instant::now);
        Ok(Work {
            index,
            method: t.job.method.clone(),
            url: format!("{}{}", self.base_url, t.job.path),
            token: token.token.clone(),
            query: t.job.query.clone(),
            body: t.job.body.clone(),
        })
    }

    /// Counts a try as sent (`by` 1), or takes back one that was not (`by` -1).
    fn count(&self, method: &Method, attempt: u32, by: i64) {
        let add = |n: &mut u64| *n = n.saturating_add_signed(by);
        let mut s = self.stats.borrow_mut();
        add(&mut s.requests);
        if *method != Method::GET {
            add(&mut s.writes);
        }
        if attempt > 1 && by > 0 {
            s.retries += 1;
        }
    }

    /// Before a retry: every lane of this process pauses for `wait` (none: a 429's
    /// penalty already holds every process back).
    fn pause(&self, wait: Option<Duration>) {
        if let Some(w) = wait {
            self.pacer.pause(w.as_millis() as u64);
        }
    }

    /// After a 401: a fresh token (or the one another process already refreshed to); the
    /// refresh does not count as a try. Failing to get one stops the run.
    fn refresh(&self, t: &mut Try) -> Result<CurrentToken, CrmError> {
        let token = self
            .tokens
            .after_unauthorized(t.generation, &self.http, &self.pacer)
            .map_err(|e| self.noted(e))?;
        t.attempt -= 1;
        Ok(token)
    }

    /// The error for a request the stopped run does not send (again).
    fn not_sent(&self, t: &Try) -> CrmError {
        self.outage
            .refuse(&t.label())
            .unwrap_or_else(|| CrmError::Unreachable {
                request: t.label(),
                detail: match t.last_failure.as_str() {
                    "" => format!("{}: the run stopped", super::outage::NOT_SENT),
                    last => format!(
                        "{} again: the run stopped; last: {last}",
                        super::outage::NOT_SENT
                    ),
                },
            })
    }

    /// Acts on one try's answer: logs it, counts a 429 and penalizes every process with
    /// its wait, and turns [`classify`]'s verdict into the next step.
    fn judge(&self, t: &mut Try, answer: Answer, took: Duration) -> Next {
        let request = t.label();
        match &answer {
            Answer::Lost { detail, .. } => {
                crate::log::verbose(&format!("{request} failed: {detail}"));
            }
            Answer::Http { status, text, .. } => {
                crate::log::verbose(&format!("{request} → {status} in {} ms", took.as_millis()));
                crate::log::debug(&format!("{request} answer: {}", truncate(text, 2000)));
            }
        }
        if let Some(wait) = answer.penalty() {
            self.stats.borrow_mut().status_429 += 1;
            self.pacer.penalize(wait.as_millis() as u64);
        }
        let at = Attempt {
            method: &t.job.method,
            request: &request,
            number: t.attempt,
            refreshes: t.refreshes,
            spent: t.first_sent.map_or(Duration::ZERO, |s| s.elapsed()),
            timeout: self.timeout,
            backoff: backoff(t.attempt),
        };
        match classify(&at, answer) {
            Verdict::Done(v) => Next::Done(Ok(v)),
            Verdict::Failed(e) => Next::Done(Err(e)),
            Verdict::Retry {
                wait,
                lanes,
                failure,
            } => {
                t.last_failure = failure;
                Next::Retry(lanes.then_some(wait))
            }
            Verdict::Refresh => {
                t.refreshes += 1;
                Next::Refresh
            }
        }
    }
}

/// One request to send (possibly several times).
#[derive(Debug, Clone)]
pub struct Job {
    /// GET, POST or PATCH.
    pub method: Method,
    /// `/api/v4/...`.
    pub path: String,
    /// Query parameters.
    pub query: Vec<(String, String)>,
    /// JSON text, shared (a run keeps up to `max_in_flight` batches of 250 open: each is
    /// held once, as text, not once per copy on its way nor as a tree).
    pub body: Option<bytes::Bytes>,
}

impl Job {
    /// A request to `path` with `query`, and `body` as JSON text.
    pub fn new(
        method: Method,
        path: &str,
        query: Vec<(String, String)>,
        body: Option<&Value>,
    ) -> Job {
        Job {
            method,
            path: path.to_string(),
            query,
            body: body.map(|b| bytes::Bytes::from(b.to_string())),
        }
    }
}

/// A job and its retry state.
struct Try {
    job: Job,
    attempt: u32,
    /// Token refreshes this request asked for (after a 401).
    refreshes: u8,
    generation: i64,
    last_failure: String,
    /// When its first try started: the retry budget counts from here.
    first_sent: Option<Instant>,
}

impl Try {
    fn new(job: Job) -> Try {
        Try {
            job,
            attempt: 0,
            refreshes: 0,
            generation: 0,
            last_failure: String::new(),
            first_sent: None,
        }
    }

    fn label(&self) -> String {
        format!("{} {}", self.job.method, self.job.path)
    }
}

/// One try, ready for the wire (in a pool, by a lane's thread).
struct Work {
    index: usize,
    method: Method,
    url: String,
    token: crate::secret::Secret,
    query: Vec<(String, String)>,
    body: Option<bytes::Bytes>,
}

/// The step after a try, [`classify`]'s verdict as the client acts on it.
enum Next {
    Done(Result<Option<Value>, CrmError>),
    /// Try again, after this pause of every lane (none: the pacer's penalty already waits).
    Retry(Option<Duration>),
    Refresh,
}

/// One paced try; `None` when it was not sent (the run stopped while it waited).
fn send_once(http: &Client, pacer: &Pacer, w: &Work, cancel: &AtomicBool) -> Option<Answer> {
    if cancel.load(Ordering::SeqCst) {
        return None;
    }
    // A stop also ends a wait for the pacer (a 429's penalty may be minutes).
    let ticket = pacer.acquire_unless(cancel)?;
    if cancel.load(Ordering::SeqCst) {
        // The slot stays taken: it costs a moment of pace, never an extra arrival.
        return None;
    }
    let mut builder = http
        .request(w.method.clone(), &w.url)
        .bearer_auth(w.token.expose());
    if !w.query.is_empty() {
        builder = builder.query(&w.query);
    }
    if let Some(b) = &w.body {
        builder = builder
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(b.clone());
    }
    let sent = builder.send();
    pacer.done(ticket);
    let resp = match sent {
        Ok(r) => r,
        Err(e) => {
            return Some(Answer::Lost {
                detail: describe_transport(&e),
                reached: !e.is_connect(),
            })
        }
    };
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let is_html = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.contains("html"))
        .unwrap_or(false);
    Some(match resp.text() {
        Ok(text) => Answer::Http {
            status,
            retry_after,
            is_html,
            text,
        },
        Err(e) => Answer::Lost {
            detail: describe_transport(&e),
            reached: true,
        },
    })
}

#[cfg(test)]
mod tests;
