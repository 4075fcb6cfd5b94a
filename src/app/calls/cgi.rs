//! `calls ingest` as a CGI program: the Ringostat webhook receiver's decisions.
//!
//! Authenticate (`?token=`), store the body as received, parse and store each item (an
//! item that cannot be read is kept as `unparsed`), answer, then push. The answer is 200
//! when every item was read and 400 with the first reason otherwise (Ringostat resends a
//! 4xx/5xx three more times, docs/calls.md §2.1; the resends are counted as duplicates).
//! The binary writes the answer and closes stdout before [`push`].

use std::io::Read;
use std::path::Path;

use serde_json::{json, Value};

use crate::calls::{CallSetup, Format};
use crate::exit::ExitStatus;

use super::push::{outcome_line, worst};
use super::{intake_word, push_all, Context, Intaken, Taken};

/// Largest request body the CGI handler reads.
const MAX_BODY: u64 = 1 << 20;

/// What the web server hands the program in its environment.
pub struct Request<'a> {
    /// `REQUEST_METHOD`.
    pub method: &'a str,
    /// `QUERY_STRING`.
    pub query: &'a str,
    /// `CONTENT_LENGTH`, when it is a number.
    pub content_length: Option<u64>,
}

/// The HTTP answer: its status and JSON body.
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
}

impl Answer {
    fn refusal(status: u16, msg: &str) -> Answer {
        Answer {
            status,
            body: json!({"ok": false, "error": msg}),
        }
    }

    /// The exit status the answer means: 5 for the receiver's own trouble, 2 for a refused
    /// request or item.
    pub fn exit_status(&self) -> ExitStatus {
        match self.status {
            200 => ExitStatus::Ok,
            s if s >= 500 => ExitStatus::Unreachable,
            _ => ExitStatus::Usage,
        }
    }
}

/// A request taken in: its answer, and what to push after it.
pub struct Accepted {
    /// The answer.
    pub answer: Answer,
    /// The context the items were stored with.
    pub ctx: Context,
    /// The items.
    pub intaken: Intaken,
}

/// What became of a request.
pub enum Received {
    /// Refused before anything was taken in.
    Refused(Answer),
    /// Taken in: answer, then push (boxed: it holds the context).
    Taken(Box<Accepted>),
}

/// Logs the receiver's own trouble and answers 500 with `msg`.
fn trouble(e: &anyhow::Error, msg: &str) -> Received {
    crate::log::warn(&format!("calls CGI: {e:#}"));
    Received::Refused(Answer::refusal(500, msg))
}

/// Authenticates the request, reads its body from `stdin` and stores it and its items.
pub fn receive(config: &Path, format: Format, req: &Request<'_>, stdin: &mut dyn Read) -> Received {
    let refuse = |status: u16, msg: &str| Received::Refused(Answer::refusal(status, msg));
    let rules = match super::super::load_rules(config) {
        Ok(r) => r,
        Err(e) => {
            return trouble(
                &e,
                "the receiver's rule file has a problem; see the server's error log",
            )
        }
    };
    if let Some(var) = &rules.file.calls.webhook_token_env {
        let want = std::env::var(var).unwrap_or_default();
        crate::log::register_secret(&want);
        let got = query_param(req.query, "token").unwrap_or_default();
        if want.is_empty() {
            crate::log::warn(&format!(
                "calls CGI: `[calls] webhook_token_env` names `{var}`, which is not set"
            ));
            return refuse(500, "the receiver's token is not configured");
        }
        if got != want {
            return refuse(403, "missing or wrong `token` in the URL");
        }
    }
    let body = match req.method {
        "POST" => {
            let limit = req.content_length;
            if limit.is_some_and(|n| n > MAX_BODY) {
                return refuse(413, "the body is larger than 1 MiB");
            }
            let mut bytes = Vec::new();
            if let Err(e) = stdin
                .take(limit.unwrap_or(MAX_BODY))
                .read_to_end(&mut bytes)
            {
                return refuse(400, &format!("cannot read the body: {e}"));
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
        // Ringostat may be set to GET with the parameters in the query string.
        "GET" => crate::calls::parse::form_pairs(req.query)
            .into_iter()
            .filter(|(k, _)| k != "token")
            .map(|(k, v)| format!("{}={}", enc(&k), enc(&v)))
            .collect::<Vec<_>>()
            .join("&"),
        other => {
            return refuse(
                405,
                &format!("method `{other}` is not accepted; use POST (or GET)"),
            )
        }
    };
    let ctx = match Context::with_rules(rules) {
        Ok(c) => c,
        Err(e) => {
            return trouble(
                &e,
                "the receiver cannot open its store; see the server's error log",
            )
        }
    };
    // Store first: the body as received, before anything can fail on its content.
    if let Err(e) = super::receive(&ctx, &body) {
        return trouble(
            &e,
            "the receiver cannot store the call; see the server's error log",
        );
    }
    let setup = match CallSetup::from_rules(&ctx.rules) {
        Ok(s) => s,
        Err(e) => {
            return trouble(
                &e.into(),
                "the receiver's rule file has a problem; see the server's error log",
            )
        }
    };
    let intaken = match super::take(&ctx, setup, &body, format) {
        Ok(Ok(t)) => t,
        Ok(Err(why)) => return refuse(400, &why),
        Err(e) => {
            return trouble(
                &e,
                "the receiver cannot store the call; see the server's error log",
            )
        }
    };
    let items: Vec<Value> = intaken
        .taken
        .iter()
        .map(|t| match &t.error {
            None => {
                json!({"call_id": t.call_id, "id": t.intake.id(), "intake": intake_word(t.intake)})
            }
            Some(e) => json!({"position": t.position, "error": e, "stored_as": "unparsed"}),
        })
        .collect();
    let refused: Vec<&Taken> = intaken.taken.iter().filter(|t| t.error.is_some()).collect();
    let answer = match refused.first() {
        None => Answer {
            status: 200,
            body: json!({"ok": true, "items": items}),
        },
        Some(first) => Answer {
            status: 400,
            body: json!({"ok": false, "error": format!("item {}: {}", first.position, first.error.clone().unwrap_or_default()), "items": items}),
        },
    };
    Received::Taken(Box::new(Accepted {
        answer,
        ctx,
        intaken,
    }))
}

/// Pushes what a request brought, within the ingest budget; failures go to the log. Returns
/// the worst push's status, else `status` (the answer's).
pub fn push(ctx: &Context, intaken: &Intaken, status: ExitStatus) -> ExitStatus {
    let ids = match super::to_push(ctx, &intaken.taken) {
        Ok(ids) => ids,
        Err(e) => {
            crate::log::warn(&format!("calls CGI: {e:#}"));
            return ExitStatus::Unreachable;
        }
    };
    crate::calls::start_ingest_budget();
    let pushed = push_all(ctx, &intaken.setup, &ids);
    for p in &pushed {
        if p.outcome.is_err() {
            crate::log::warn(&outcome_line(p));
        }
    }
    worst(&pushed).map(|w| w.0).unwrap_or(status)
}

fn query_param(query: &str, key: &str) -> Option<String> {
    crate::calls::parse::form_pairs(query)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// Percent-encodes a form value (for re-assembling a GET query as a body).
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{enc, Answer};
    use crate::exit::ExitStatus;

    #[test]
    fn the_answer_sets_the_exit_status_and_a_get_query_becomes_a_form_body() {
        let status = |s| Answer::refusal(s, "x").exit_status();
        assert_eq!(status(200), ExitStatus::Ok);
        assert_eq!(status(400), ExitStatus::Usage);
        assert_eq!(status(403), ExitStatus::Usage);
        assert_eq!(status(413), ExitStatus::Usage);
        assert_eq!(status(500), ExitStatus::Unreachable);
        assert_eq!(enc("a b&c=+7 (999)"), "a%20b%26c%3D%2B7%20%28999%29");
        assert_eq!(enc("Az09-_.~"), "Az09-_.~");
    }
}
