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

use std::cell::RefCell;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use reqwest::Method;
use serde_json::Value;

use super::oauth::{TokenManager, TokenSource};
use super::pace::Pacer;
use super::retry::{backoff, describe_transport, MAX_ATTEMPTS};
use crate::crm::{CrmError, FieldError, ItemErrors};
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
}

impl<'a> AmoClient<'a> {
    /// Builds the client; tokens are read from and rotated in `store`.
    pub fn new(
        cfg: ClientConfig,
        store: &'a Store,
        source: TokenSource,
    ) -> anyhow::Result<AmoClient<'a>> {
        let http = Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(Duration::from_secs(5).min(cfg.timeout))
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
        let request = format!("{method} {path}");
        let idempotent = method != Method::POST;
        let url = format!("{}{}", self.base_url, path);
        let mut token = self.tokens.current(&self.http, &self.pacer)?;
        let mut refreshed = false;
        let mut attempt = 0u32;
        let mut last_failure = String::new();
        loop {
            attempt += 1;
            if attempt > MAX_ATTEMPTS {
                return Err(CrmError::Unreachable {
                    request,
                    detail: format!("gave up after {MAX_ATTEMPTS} attempts; last: {last_failure}"),
                });
            }
            let ticket = self.pacer.acquire();
            let mut builder = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(token.token.expose());
            if !query.is_empty() {
                builder = builder.query(query);
            }
            if let Some(b) = body {
                builder = builder.json(b);
            }
            {
                let mut s = self.stats.borrow_mut();
                s.requests += 1;
                if method != Method::GET {
                    s.writes += 1;
                }
                if attempt > 1 {
                    s.retries += 1;
                }
            }
            let started = Instant::now();
            let sent = builder.send();
            self.pacer.done(ticket);
            let resp = match sent {
                Ok(r) => r,
                Err(e) => {
                    let detail = describe_transport(&e);
                    crate::log::verbose(&format!("{request} failed: {detail}"));
                    // A connect failure never reached amoCRM; anything later may have.
                    if e.is_connect() || idempotent {
                        last_failure = detail;
                        std::thread::sleep(backoff(attempt));
                        continue;
                    }
                    return Err(CrmError::Ambiguous { request, detail });
                }
            };
            let status = resp.status().as_u16();
            let retry_header = resp
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
            let text = match resp.text() {
                Ok(t) => t,
                Err(e) => {
                    let detail = describe_transport(&e);
                    if idempotent {
                        last_failure = detail;
                        std::thread::sleep(backoff(attempt));
                        continue;
                    }
                    return Err(CrmError::Ambiguous { request, detail });
                }
            };
            crate::log::verbose(&format!(
                "{request} → {status} in {} ms",
                started.elapsed().as_millis()
            ));
            crate::log::debug(&format!("{request} answer: {}", truncate(&text, 2000)));
            match status {
                204 => return Ok(None),
                200..=299 => {
                    if text.trim().is_empty() {
                        return Ok(None);
                    }
                    return serde_json::from_str(&text)
                        .map(Some)
                        .map_err(|e| CrmError::Decode {
                            request,
                            detail: e.to_string(),
                        });
                }
                401 => {
                    if refreshed {
                        return Err(CrmError::AuthNeeded {
                            detail: "amoCRM rejects the freshly refreshed token".into(),
                            advice: "re-authorize: `amocrm-bin auth --code CODE`; check that `base_url` is \
                                     the account the integration was authorized in"
                                .into(),
                        });
                    }
                    refreshed = true;
                    token = self.tokens.after_unauthorized(
                        token.generation,
                        &self.http,
                        &self.pacer,
                    )?;
                    attempt -= 1;
                    continue;
                }
                429 => {
                    self.stats.borrow_mut().status_429 += 1;
                    let body_wait = serde_json::from_str::<Value>(&text)
                        .ok()
                        .and_then(|v| v.get("retry_after").and_then(Value::as_u64));
                    let secs = body_wait.or(retry_header).unwrap_or(1).clamp(1, 300);
                    self.pacer.penalize(secs * 1000);
                    last_failure = "429 Too Many Requests".into();
                    continue;
                }
                403 if is_html || serde_json::from_str::<Value>(&text).is_err() => {
                    return Err(CrmError::Blocked)
                }
                403 => {
                    return Err(CrmError::Forbidden {
                        request,
                        detail: problem_detail(&text),
                    })
                }
                402 => return Err(CrmError::PaymentRequired),
                400 | 422 => {
                    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    let items = validation_items(&v);
                    if !items.is_empty() {
                        return Err(CrmError::Validation {
                            request,
                            detail: problem_detail(&text),
                            items,
                        });
                    }
                    return Err(CrmError::Http {
                        request,
                        status,
                        detail: problem_detail(&text),
                    });
                }
                500..=599 => {
                    last_failure = format!("HTTP {status}: {}", problem_detail(&text));
                    std::thread::sleep(backoff(attempt));
                    continue;
                }
                _ => {
                    return Err(CrmError::Http {
                        request,
                        status,
                        detail: problem_detail(&text),
                    })
                }
            }
        }
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// `title: detail` of a problem+json body, or the body's start.
fn problem_detail(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => {
            let title = v.get("title").and_then(Value::as_str).unwrap_or("");
            let detail = v.get("detail").and_then(Value::as_str).unwrap_or("");
            match (title.is_empty(), detail.is_empty()) {
                (false, false) => format!("{title}: {detail}"),
                (false, true) => title.to_string(),
                (true, false) => detail.to_string(),
                _ => truncate(text, 200).to_string(),
            }
        }
        Err(_) => truncate(text.trim(), 200).to_string(),
    }
}

/// Parses `validation-errors` into per-item field errors.
pub fn validation_items(v: &Value) -> Vec<ItemErrors> {
    let Some(list) = v.get("validation-errors").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .map(|item| ItemErrors {
            request_id: match item.get("request_id") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            },
            errors: item
                .get("errors")
                .and_then(Value::as_array)
                .map(|errs| {
                    errs.iter()
                        .map(|e| FieldError {
                            code: e
                                .get("code")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_string(),
                            path: e
                                .get("path")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_string(),
                            detail: e
                                .get("detail")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}
