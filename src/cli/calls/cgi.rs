//! `calls ingest` as a CGI program: the Ringostat webhook receiver.
//!
//! Authenticate (`?token=`), store the body as received, parse and store each item (an
//! item that cannot be read is kept as `unparsed`), answer, then push. The answer is 200
//! when every item was read and 400 with the first reason otherwise (Ringostat resends a
//! 4xx/5xx three more times, docs/calls.md §2.1; the resends are counted as duplicates).

use std::io::{Read, Write};

use amocrm_bin::calls::CallSetup;
use amocrm_bin::exit::ExitStatus;
use serde_json::{json, Value};

use amocrm_bin::app::calls::push::{outcome_line, worst};
use amocrm_bin::app::calls::{intake_word, Taken};
use amocrm_bin::app::{self};

use super::IngestArgs;
use crate::cli::Cli;

/// Largest request body the CGI handler reads.
const MAX_BODY: u64 = 1 << 20;

/// Writes a complete CGI response.
fn respond(status: u16, body: &Value) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        _ => "Internal Server Error",
    };
    // RFC 9110 §15.5.6: a 405 names the methods the resource accepts.
    let allow = if status == 405 {
        "Allow: POST, GET\r\n"
    } else {
        ""
    };
    let mut out = std::io::stdout().lock();
    let _ = write!(
        out,
        "Status: {status} {reason}\r\n{allow}Content-Type: application/json\r\nCache-Control: no-store\r\n\r\n{body}\n"
    );
    let _ = out.flush();
}

/// Ends the response: closes stdout so the web server completes the HTTP answer while
/// this process goes on pushing. File descriptor 1 is re-opened on /dev/null, so a stray
/// write can never reach the client or fail.
fn detach_stdout() {
    let _ = std::io::stdout().flush();
    #[cfg(unix)]
    {
        use std::os::fd::FromRawFd;
        // SAFETY: fd 1 belongs to this process; its only Rust user (`Stdout`) was just
        // flushed, and the file opened next gets the lowest free descriptor, 1 again.
        drop(unsafe { std::fs::File::from_raw_fd(1) });
        if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
            std::mem::forget(null);
        }
    }
}

fn query_param(query: &str, key: &str) -> Option<String> {
    amocrm_bin::calls::parse::form_pairs(query)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// The CGI handler: never fails, always answers; pushes after answering.
pub fn cgi(cli: &Cli, args: &IngestArgs) -> ExitStatus {
    let fail = |status: u16, msg: &str| {
        respond(status, &json!({"ok": false, "error": msg}));
        if status >= 500 {
            ExitStatus::Unreachable
        } else {
            ExitStatus::Usage
        }
    };
    let rules = match app::load_rules(&cli.config) {
        Ok(r) => r,
        Err(e) => {
            amocrm_bin::log::warn(&format!("calls CGI: {e:#}"));
            return fail(
                500,
                "the receiver's rule file has a problem; see the server's error log",
            );
        }
    };
    let method = std::env::var("REQUEST_METHOD").unwrap_or_default();
    let query = std::env::var("QUERY_STRING").unwrap_or_default();
    if let Some(var) = &rules.file.calls.webhook_token_env {
        let want = std::env::var(var).unwrap_or_default();
        amocrm_bin::log::register_secret(&want);
        let got = query_param(&query, "token").unwrap_or_default();
        if want.is_empty() {
            amocrm_bin::log::warn(&format!(
                "calls CGI: `[calls] webhook_token_env` names `{var}`, which is not set"
            ));
            return fail(500, "the receiver's token is not configured");
        }
        if got != want {
            return fail(403, "missing or wrong `token` in the URL");
        }
    }
    let body = match method.as_str() {
        "POST" => {
            let limit = std::env::var("CONTENT_LENGTH")
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok());
            if limit.is_some_and(|n| n > MAX_BODY) {
                return fail(413, "the body is larger than 1 MiB");
            }
            let mut bytes = Vec::new();
            let read = std::io::stdin()
                .take(limit.unwrap_or(MAX_BODY))
                .read_to_end(&mut bytes);
            if let Err(e) = read {
                return fail(400, &format!("cannot read the body: {e}"));
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
        // Ringostat may be set to GET with the parameters in the query string.
        "GET" => amocrm_bin::calls::parse::form_pairs(&query)
            .into_iter()
            .filter(|(k, _)| k != "token")
            .map(|(k, v)| format!("{}={}", enc(&k), enc(&v)))
            .collect::<Vec<_>>()
            .join("&"),
        other => {
            return fail(
                405,
                &format!("method `{other}` is not accepted; use POST (or GET)"),
            )
        }
    };
    let ctx = match app::Context::with_rules(rules) {
        Ok(c) => c,
        Err(e) => {
            amocrm_bin::log::warn(&format!("calls CGI: {e:#}"));
            return fail(
                500,
                "the receiver cannot open its store; see the server's error log",
            );
        }
    };
    // Store first: the body as received, before anything can fail on its content.
    if let Err(e) = app::calls::receive(&ctx, &body) {
        amocrm_bin::log::warn(&format!("calls CGI: {e:#}"));
        return fail(
            500,
            "the receiver cannot store the call; see the server's error log",
        );
    }
    let setup = match CallSetup::from_rules(&ctx.rules) {
        Ok(s) => s,
        Err(e) => {
            amocrm_bin::log::warn(&format!("calls CGI: {e:#}"));
            return fail(
                500,
                "the receiver's rule file has a problem; see the server's error log",
            );
        }
    };
    let intaken = match app::calls::take(&ctx, setup, &body, args.format.format()) {
        Ok(Ok(t)) => t,
        Ok(Err(why)) => return fail(400, &why),
        Err(e) => {
            amocrm_bin::log::warn(&format!("calls CGI: {e:#}"));
            return fail(
                500,
                "the receiver cannot store the call; see the server's error log",
            );
        }
    };
    let taken = &intaken.taken;
    let items: Vec<Value> = taken
        .iter()
        .map(|t| match &t.error {
            None => {
                json!({"call_id": t.call_id, "id": t.intake.id(), "intake": intake_word(t.intake)})
            }
            Some(e) => json!({"position": t.position, "error": e, "stored_as": "unparsed"}),
        })
        .collect();
    let refused: Vec<&Taken> = taken.iter().filter(|t| t.error.is_some()).collect();
    if refused.is_empty() {
        respond(200, &json!({"ok": true, "items": items}));
    } else {
        let first = refused[0].error.clone().unwrap_or_default();
        respond(
            400,
            &json!({"ok": false, "error": format!("item {}: {first}", refused[0].position), "items": items}),
        );
    }
    detach_stdout();
    let status = if refused.is_empty() {
        ExitStatus::Ok
    } else {
        ExitStatus::Usage
    };
    if args.no_push {
        return status;
    }
    let ids = match app::calls::to_push(&ctx, taken) {
        Ok(ids) => ids,
        Err(e) => {
            amocrm_bin::log::warn(&format!("calls CGI: {e:#}"));
            return ExitStatus::Unreachable;
        }
    };
    amocrm_bin::calls::start_ingest_budget();
    let pushed = app::calls::push_all(&ctx, &intaken.setup, &ids);
    for p in &pushed {
        if p.outcome.is_err() {
            amocrm_bin::log::warn(&outcome_line(p));
        }
    }
    worst(&pushed).map(|w| w.0).unwrap_or(status)
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
