//! What one answer from amoCRM means: [`classify`] is a pure function of the request, the
//! try and the answer, so every branch of the retry policy (see [`super::client`]) is a row
//! of one table test. The client acts on its [`Verdict`]: it waits, refreshes, or hands the
//! result on.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use super::retry;
use crate::crm::{CrmError, FieldError, ItemErrors};

/// What one try brought back.
#[derive(Debug)]
pub enum Answer {
    /// No (complete) answer; `reached` is false when the connection never opened, so the
    /// request cannot have been applied.
    Lost {
        /// The transport error, without secrets.
        detail: String,
        /// Whether the request may have reached amoCRM.
        reached: bool,
    },
    /// An HTTP answer.
    Http {
        /// The status code.
        status: u16,
        /// `Retry-After` in seconds, when present and numeric.
        retry_after: Option<u64>,
        /// Whether `Content-Type` names HTML (a blocked account's page).
        is_html: bool,
        /// The body.
        text: String,
    },
}

impl Answer {
    /// A 429's wait: `retry_after` of the body, else the header, else 1 s, within 1..=300 s.
    /// Every process sharing the pacer waits it out (the client penalizes the pacer with it
    /// whether or not the request is tried again).
    pub fn penalty(&self) -> Option<Duration> {
        let Answer::Http {
            status: 429,
            retry_after,
            text,
            ..
        } = self
        else {
            return None;
        };
        let body_wait = serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|v| v.get("retry_after").and_then(Value::as_u64));
        let secs = body_wait.or(*retry_after).unwrap_or(1).clamp(1, 300);
        Some(Duration::from_secs(secs))
    }
}

/// What [`classify`] needs to know about the try that got the answer.
#[derive(Debug, Clone)]
pub struct Attempt<'a> {
    /// The request's method: a POST (a create) is not idempotent.
    pub method: &'a Method,
    /// `METHOD /path`, for errors.
    pub request: &'a str,
    /// This try's number, from 1.
    pub number: u32,
    /// Token refreshes this request already asked for.
    pub refreshes: u8,
    /// Time since its first try started (the retry budget counts from there).
    pub spent: Duration,
    /// The longest one try may take.
    pub timeout: Duration,
    /// The wait before the next try after a 5xx or a failed connection.
    pub backoff: Duration,
}

/// What to do after one try.
#[derive(Debug)]
pub enum Verdict {
    /// Done: amoCRM's answer (`None`: 204 or an empty body, amoCRM's "nothing found").
    Done(Option<Value>),
    /// Done: a final error (a refusal, a lost write, a blocked account, or no answer within
    /// the retry budget).
    Failed(CrmError),
    /// Try again after `wait`. `lanes`: every lane of this process pauses for it (a 5xx or
    /// a failed connection); otherwise the 429's penalty ([`Answer::penalty`]) already
    /// holds every process back. `failure` says what went wrong, for a later give-up.
    Retry {
        /// How long to wait.
        wait: Duration,
        /// Whether the client pauses its pacer for `wait`.
        lanes: bool,
        /// The failure, as a give-up will quote it.
        failure: String,
    },
    /// Refresh the token (once more), then try again.
    Refresh,
}

/// Refreshes one request may ask for before a 401 means the tokens are not accepted.
pub const MAX_REFRESHES: u8 = 2;

/// The verdict on `answer` to the try `at` (the retry policy at the top of
/// [`super::client`], one branch per status class).
pub fn classify(at: &Attempt<'_>, answer: Answer) -> Verdict {
    let request = at.request.to_string();
    let (status, is_html, text) = match answer {
        // A connect failure never reached amoCRM; anything later may have, and a create
        // sent again could be created twice.
        Answer::Lost { detail, reached } => {
            if !reached || *at.method != Method::POST {
                return retry_or_give_up(at, at.backoff, true, detail);
            }
            return Verdict::Failed(CrmError::Ambiguous { request, detail });
        }
        ref a @ Answer::Http { status: 429, .. } => {
            let wait = a.penalty().unwrap_or(Duration::from_secs(1));
            let failure = format!("429 Too Many Requests (retry after {} s)", wait.as_secs());
            return retry_or_give_up(at, wait, false, failure);
        }
        Answer::Http {
            status,
            is_html,
            text,
            ..
        } => (status, is_html, text),
    };
    match status {
        // Success; an empty body is "nothing found".
        204 => Verdict::Done(None),
        200..=299 if text.trim().is_empty() => Verdict::Done(None),
        200..=299 => match serde_json::from_str(&text) {
            Ok(v) => Verdict::Done(Some(v)),
            Err(e) => Verdict::Failed(CrmError::Decode {
                request,
                detail: e.to_string(),
            }),
        },
        // The token a refresh hands over may be another process's refresh, made before a
        // second expiry or revocation this request has not seen: one more refresh covers
        // that. A 401 after that means amoCRM rejects the tokens it issues (an
        // authorization for another account's `base_url`).
        401 if at.refreshes >= MAX_REFRESHES => Verdict::Failed(CrmError::AuthNeeded {
            detail: "amoCRM rejects the freshly refreshed token".into(),
            advice: "re-authorize: `amocrm-bin auth --code CODE`; check that `base_url` is \
                     the account the integration was authorized in"
                .into(),
        }),
        401 => Verdict::Refresh,
        // An HTML page (or anything but JSON) is the account's block, not a method's refusal.
        403 if is_html || serde_json::from_str::<Value>(&text).is_err() => {
            Verdict::Failed(CrmError::Blocked)
        }
        403 => Verdict::Failed(CrmError::Forbidden {
            request,
            detail: problem_detail(&text),
        }),
        402 => Verdict::Failed(CrmError::PaymentRequired),
        // Rejected data: per-item field paths when amoCRM names them.
        400 | 422 => {
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let items = validation_items(&v);
            let detail = problem_detail(&text);
            if items.is_empty() {
                Verdict::Failed(CrmError::Http {
                    request,
                    status,
                    detail,
                })
            } else {
                Verdict::Failed(CrmError::Validation {
                    request,
                    detail,
                    items,
                })
            }
        }
        // amoCRM's trouble: back off and try again.
        500..=599 => {
            let failure = format!("HTTP {status}: {}", problem_detail(&text));
            retry_or_give_up(at, at.backoff, true, failure)
        }
        // Any other answer (404, 405, a redirect) is final.
        _ => Verdict::Failed(CrmError::Http {
            request,
            status,
            detail: problem_detail(&text),
        }),
    }
}

/// Retry after `wait`, or give up when the next try could not end inside the budget
/// ([`retry::may_retry`]): then the request ends unreachable, which stops the run.
fn retry_or_give_up(at: &Attempt<'_>, wait: Duration, lanes: bool, failure: String) -> Verdict {
    if retry::may_retry(at.number, at.spent, wait, at.timeout) {
        return Verdict::Retry {
            wait,
            lanes,
            failure,
        };
    }
    Verdict::Failed(CrmError::Unreachable {
        request: at.request.to_string(),
        detail: format!(
            "gave up after {} attempt{} in {:.1} s (the retry budget is {} s); last: {failure}",
            at.number,
            if at.number == 1 { "" } else { "s" },
            at.spent.as_secs_f64(),
            retry::BUDGET.as_secs(),
        ),
    })
}

/// The first `max` characters of `s`.
pub fn truncate(s: &str, max: usize) -> &str {
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
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
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
                            code: text(e, "code"),
                            path: text(e, "path"),
                            detail: text(e, "detail"),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

#[cfg(test)]
mod tests;
