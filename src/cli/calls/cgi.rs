//! `calls ingest` as a CGI program: the Ringostat webhook receiver. The decisions (token,
//! method, size, what is stored and answered) are [`amocrm_bin::app::calls::cgi`]'s; this
//! writes the answer, closes stdout so the web server completes it, then pushes.

use std::io::Write;

use amocrm_bin::app::calls::cgi::{self, Received, Request};
use amocrm_bin::exit::ExitStatus;
use serde_json::Value;

use super::IngestArgs;
use crate::cli::Cli;

/// Writes a complete CGI response.
pub fn respond(status: u16, body: &Value) {
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

/// The CGI handler: never fails, always answers; pushes after answering.
pub fn cgi(cli: &Cli, args: &IngestArgs) -> ExitStatus {
    let method = std::env::var("REQUEST_METHOD").unwrap_or_default();
    let query = std::env::var("QUERY_STRING").unwrap_or_default();
    let req = Request {
        method: &method,
        query: &query,
        content_length: std::env::var("CONTENT_LENGTH")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok()),
    };
    let format = args.format.format();
    match cgi::receive(&cli.config, format, &req, &mut std::io::stdin()) {
        Received::Refused(answer) => {
            respond(answer.status, &answer.body);
            answer.exit_status()
        }
        Received::Taken(taken) => {
            let answer = &taken.answer;
            respond(answer.status, &answer.body);
            detach_stdout();
            if args.no_push {
                return answer.exit_status();
            }
            cgi::push(&taken.ctx, &taken.intaken, answer.exit_status())
        }
    }
}
