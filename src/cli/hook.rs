//! Hook mode: `amocrm-bin` run by BILLmanager as an addon handler (no arguments,
//! `PARAM_func` in the environment, the panel's XML on stdin).
//!
//! The contract with the panel comes first: the input document goes back to stdout byte
//! for byte (an empty input gets an empty `<doc/>`), stdout is flushed, and only then does
//! the hook look at the event. Whatever happens afterwards — a broken rule file, a locked
//! store, malformed XML, an unknown function, even a panic — is written to the log file and
//! the exit status stays 0, so the panel's response is never altered. The hook queues the
//! sync in the outbox (one SQLite insert) and starts a detached `amocrm-bin drain`; it never
//! talks to amoCRM itself, so an amoCRM outage cannot slow the panel down.

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

use amocrm_bin::app::hook::{work, Input, MAX_INPUT};
use amocrm_bin::log::{self, Level};

/// What an empty input is answered with: the minimal valid document (§6.4).
const EMPTY_DOC: &[u8] = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc/>\n";

/// Runs the hook; always exits 0.
pub fn main() -> ExitCode {
    // Nothing may reach stderr (the panel may merge it) and a panic must not print.
    log::set_level(Level::Normal, false);
    std::panic::set_hook(Box::new(|_| {}));
    let input = echo();
    let outcome = std::panic::catch_unwind(|| work(&input));
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => log::warn(&format!("hook: {e:#}")),
        Err(_) => log::warn("hook: internal error (panic); the event was not queued"),
    }
    ExitCode::SUCCESS
}

/// Copies stdin to stdout unchanged and flushes; returns what was read (up to the cap).
fn echo() -> Input {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout().lock();
    let mut input = Input {
        bytes: Vec::new(),
        complete: true,
    };
    // A terminal is a person trying the binary, not the panel: do not wait for them.
    if !stdin.is_terminal() {
        let mut lock = stdin.lock();
        let _ = (&mut lock).take(MAX_INPUT).read_to_end(&mut input.bytes);
        let body: &[u8] = if input.bytes.is_empty() {
            EMPTY_DOC
        } else {
            &input.bytes
        };
        let _ = out.write_all(body);
        if input.bytes.len() as u64 == MAX_INPUT {
            input.complete = matches!(std::io::copy(&mut lock, &mut out), Ok(0));
        }
    } else {
        let _ = out.write_all(EMPTY_DOC);
    }
    let _ = out.flush();
    input
}
