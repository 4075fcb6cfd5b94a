//! The amoCRM HTTP client: every request goes through [`AmoClient::request`], which paces,
//! authorizes, retries and classifies.
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

use std::cell::RefCell;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use reqwest::Method;
use serde_json::Value;

use super::classify::{classify, truncate, Answer, Attempt, Verdict};
use super::oauth::{TokenManager, TokenSource};
use super::outage::Outage;
use super::pace::Pacer;
use super::retry::{self, backoff, describe_transport};
use crate::crm::CrmError;
use crate::store::{Store, TokenRecord};

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
        self.request(Method::GET, path, query, None)
    }

    /// POST (creates: not idempotent).
    pub fn post(&self, path: &str, body: &Value) -> Result<Option<Value>, CrmError> {
        self.request(Method::POST, path, &[], Some(body))
    }

    /// PATCH (updates: idempotent, safe to retry).
    pub fn patch(&self, path: &str, body: &Value) -> Result<Option<Value>, CrmError> {
        self.request(Method::PATCH, path, &[], Some(body))
    }

    /// Sends one request with pacing, authorization, retries and classification.
    pub fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Option<Value>, CrmError> {
        let job = Job {
            method,
            path: path.to_string(),
            query: query.to_vec(),
            body: body.map(|b| bytes::Bytes::from(b.to_string())),
        };
        let mut answer = None;
        self.run_many(vec![job], 1, &mut |_, r| {
            answer = Some(r);
            Flow::Continue(Vec::new())
        })?;
        answer.unwrap_or(Ok(None))
    }

    /// Sends `jobs` with up to `lanes` requests open at once (the pacer still allows at
    /// most `rps` *starts* per second, across processes). Retries, 429s and token refreshes
    /// are handled here, on the calling thread; worker threads only send. `on_answer` gets
    /// each job's final result (by its index, in the order answers arrive) and may add jobs
    /// (a chunk sent again without its rejected items) or stop: then nothing new starts, and
    /// the answers of requests already open are still delivered, so no created entity goes
    /// unrecorded. A 429 or a 5xx slows every lane: the 429 through the shared penalty, the
    /// 5xx through a pause of this process's pacer.
    pub fn run_many(
        &self,
        jobs: Vec<Job>,
        lanes: usize,
        on_answer: &mut dyn FnMut(usize, Result<Option<Value>, CrmError>) -> Flow,
    ) -> Result<(), CrmError> {
        let lanes = lanes.min(jobs.len().max(1));
        let mut feed = Fixed {
            jobs: Some(jobs),
            on_answer,
        };
        self.run_fed(lanes, &mut feed)
    }

    /// [`Self::run_many`] for a caller that hands out jobs as it goes ([`JobFeed`]): it is
    /// asked for more whenever a lane is free, and may read and plan while requests are
    /// open, so a long run keeps `lanes` requests open without pausing between rounds.
    /// Jobs are numbered in the order they are handed out (by `more` or by an answer).
    ///
    /// The first job that ends unreachable after its retries stops the run for good
    /// ([`Outage`]): its error goes to the feed, nothing new starts, retries of the open
    /// jobs are not sent (each is answered "not sent"), and once the open requests are in,
    /// the error is returned. A later call fails at once, sending nothing.
    pub fn run_fed(&self, lanes: usize, feed: &mut dyn JobFeed) -> Result<(), CrmError> {
        if let Some(e) = self.outage.refuse("the next request") {
            return Err(e);
        }
        let mut token = match self.tokens.current(&self.http, &self.pacer) {
            Ok(t) => t,
            Err(e) => {
                self.outage.note(&e);
                return Err(e);
            }
        };
        let mut tries: Vec<Try> = Vec::new();
        let mut queue: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
        let lanes = lanes.clamp(1, 64);
        let (work_tx, work_rx) = std::sync::mpsc::channel::<Work>();
        let work_rx = std::sync::Mutex::new(work_rx);
        let (done_tx, done_rx) = std::sync::mpsc::channel::<(usize, Option<Answer>, Duration)>();
        // Set on a stop: requests not on the wire yet are not sent.
        let cancel = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            for _ in 0..lanes {
                let done_tx = done_tx.clone();
                let work_rx = &work_rx;
                let (http, pacer, cancel) = (&self.http, &self.pacer, &cancel);
                scope.spawn(move || loop {
                    let next = work_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok(w)) = next else { break };
                    let started = Instant::now();
                    let answer = send_once(http, pacer, &w, cancel);
                    if done_tx.send((w.index, answer, started.elapsed())).is_err() {
                        break;
                    }
                });
            }
            drop(done_tx);
            let mut open = 0usize;
            let mut stopped = false;
            let mut fatal: Option<CrmError> = None;
            loop {
                while open < lanes && !stopped {
                    if queue.is_empty() {
                        for job in feed.more(lanes - open, open == 0) {
                            queue.push_back(tries.len());
                            tries.push(Try::new(job));
                        }
                    }
                    let Some(i) = queue.pop_front() else { break };
                    let t = &mut tries[i];
                    t.attempt += 1;
                    let out_of_time = t.attempt > 1 && super::retry::out_of_time();
                    if out_of_time {
                        let err = CrmError::Unreachable {
                            request: t.label(),
                            detail: format!(
                                "gave up after {} attempt(s): the time for this run ran out; last: {}",
                                t.attempt - 1,
                                t.last_failure
                            ),
                        };
                        if self.outage.note(&err) {
                            fatal.get_or_insert(copy(&err));
                        }
                        feed.answered(i, Err(err));
                        stopped = true;
                        cancel.store(true, std::sync::atomic::Ordering::SeqCst);
                        continue;
                    }
                    {
                        let mut s = self.stats.borrow_mut();
                        s.requests += 1;
                        if t.job.method != Method::GET {
                            s.writes += 1;
                        }
                        if t.attempt > 1 {
                            s.retries += 1;
                        }
                    }
                    t.generation = token.generation;
                    t.first_sent.get_or_insert_with(Instant::now);
                    let work = Work {
                        index: i,
                        method: t.job.method.clone(),
                        url: format!("{}{}", self.base_url, t.job.path),
                        token: token.token.clone(),
                        query: t.job.query.clone(),
                        body: t.job.body.clone(),
                    };
                    if work_tx.send(work).is_err() {
                        break;
                    }
                    open += 1;
                }
                if open == 0 {
                    break;
                }
                // Requests are open: the caller reads and plans until an answer is in.
                let next = loop {
                    match done_rx.try_recv() {
                        Ok(d) => break Some(d),
                        Err(std::sync::mpsc::TryRecvError::Empty) => {
                            if stopped || !feed.meanwhile() {
                                break done_rx.recv().ok();
                            }
                        }
                        Err(std::sync::mpsc::TryRecvError::Disconnected) => break None,
                    }
                };
                let Some((i, answer, took)) = next else {
                    break;
                };
                open -= 1;
                let Some(answer) = answer else {
                    {
                        let mut s = self.stats.borrow_mut();
                        s.requests -= 1;
                        if tries[i].job.method != Method::GET {
                            s.writes -= 1;
                        }
                    }
                    // Never on the wire: answered "not sent", so its items are counted.
                    let err = self.not_sent(&tries[i]);
                    tries[i].job.body = None;
                    feed.answered(i, Err(err));
                    continue;
                };
                let next = self.judge(&mut tries[i], answer, took);
                if matches!(next, Next::Done(_)) {
                    // A long fed run must not keep every body it sent.
                    tries[i].job.body = None;
                }
                match next {
                    Next::Done(r) => {
                        // The one stop decision: an unreachable answer ends the run.
                        let outage = match &r {
                            Err(e) if self.outage.note(e) => Some(copy(e)),
                            _ => None,
                        };
                        let flow = feed.answered(i, r);
                        if let Some(e) = outage {
                            fatal.get_or_insert(e);
                            stopped = true;
                            cancel.store(true, std::sync::atomic::Ordering::SeqCst);
                        }
                        match flow {
                            Flow::Stop => {
                                stopped = true;
                                cancel.store(true, std::sync::atomic::Ordering::SeqCst);
                            }
                            Flow::Continue(more) => {
                                for job in more {
                                    let n = tries.len();
                                    tries.push(Try::new(job));
                                    if stopped {
                                        // A chunk sent again without its rejected items,
                                        // after the stop: answered, never left waiting.
                                        let err = self.not_sent(&tries[n]);
                                        feed.answered(n, Err(err));
                                    } else {
                                        queue.push_back(n);
                                    }
                                }
                            }
                        }
                    }
                    Next::Retry(wait) => {
                        if stopped {
                            // Not tried again: its items are answered, so none is forgotten.
                            let err = self.not_sent(&tries[i]);
                            tries[i].job.body = None;
                            feed.answered(i, Err(err));
                            continue;
                        }
                        if let Some(w) = wait {
                            self.pacer.pause(w.as_millis() as u64);
                        }
                        // First in line: a failing request keeps its lane until it is
                        // answered or gives up, so an outage never starts the next job
                        // (each would pay the whole retry budget again; issue 22).
                        queue.push_front(i);
                    }
                    Next::Refresh => {
                        match self.tokens.after_unauthorized(
                            tries[i].generation,
                            &self.http,
                            &self.pacer,
                        ) {
                            Ok(t) => {
                                token = t;
                                tries[i].attempt -= 1;
                                if stopped {
                                    let err = self.not_sent(&tries[i]);
                                    feed.answered(i, Err(err));
                                } else {
                                    queue.push_front(i);
                                }
                            }
                            Err(e) => {
                                self.outage.note(&e);
                                stopped = true;
                                cancel.store(true, std::sync::atomic::Ordering::SeqCst);
                                if fatal.is_none() {
                                    fatal = Some(e);
                                }
                            }
                        }
                    }
                }
            }
            // Jobs handed out but never started (the run stopped first): answered "not
            // sent", so the caller counts and queues their items instead of losing track.
            while let Some(i) = queue.pop_front() {
                let err = self.not_sent(&tries[i]);
                feed.answered(i, Err(err));
            }
            drop(work_tx);
            match fatal {
                Some(e) => Err(e),
                None => Ok(()),
            }
        })
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
    /// its wait, and turns [`classify`]'s verdict into the pool's next step.
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

/// The caller of [`AmoClient::run_fed`]: hands out jobs and takes their answers.
pub trait JobFeed {
    /// Jobs to start now, ideally at most `room`; `idle` when no request is open, and then
    /// an empty answer ends the run.
    fn more(&mut self, room: usize, idle: bool) -> Vec<Job>;
    /// Work to do while requests are open (reading, planning); true when some was done and
    /// there may be more.
    fn meanwhile(&mut self) -> bool {
        false
    }
    /// A job's final result, by its number.
    fn answered(&mut self, index: usize, result: Result<Option<Value>, CrmError>) -> Flow;
}

/// The jobs of [`AmoClient::run_many`], all known up front.
struct Fixed<'f> {
    jobs: Option<Vec<Job>>,
    on_answer: &'f mut dyn FnMut(usize, Result<Option<Value>, CrmError>) -> Flow,
}

impl JobFeed for Fixed<'_> {
    /// All at once, so they are numbered before any job an answer adds.
    fn more(&mut self, _room: usize, _idle: bool) -> Vec<Job> {
        self.jobs.take().unwrap_or_default()
    }
    fn answered(&mut self, index: usize, result: Result<Option<Value>, CrmError>) -> Flow {
        (self.on_answer)(index, result)
    }
}

/// After an answer: go on (with more jobs), or start nothing new.
pub enum Flow {
    /// Keep going; send these too.
    Continue(Vec<Job>),
    /// Start nothing new; answers of open requests still arrive.
    Stop,
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

/// What a worker thread sends.
struct Work {
    index: usize,
    method: Method,
    url: String,
    token: crate::secret::Secret,
    query: Vec<(String, String)>,
    body: Option<bytes::Bytes>,
}

enum Next {
    Done(Result<Option<Value>, CrmError>),
    /// Try again, after this pause of every lane (none: the pacer's penalty already waits).
    Retry(Option<Duration>),
    Refresh,
}

/// One paced try, on a worker thread; `None` when it was not sent (the run stopped).
fn send_once(
    http: &Client,
    pacer: &Pacer,
    w: &Work,
    cancel: &std::sync::atomic::AtomicBool,
) -> Option<Answer> {
    use std::sync::atomic::Ordering;
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

/// A copy of an unreachable error (to hand one to the feed and return the other).
fn copy(e: &CrmError) -> CrmError {
    match e {
        CrmError::Unreachable { request, detail } => CrmError::Unreachable {
            request: request.clone(),
            detail: detail.clone(),
        },
        other => CrmError::Unreachable {
            request: String::new(),
            detail: other.to_string(),
        },
    }
}
