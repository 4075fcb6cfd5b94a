//! `calls ingest` (stdin, `--file`, JSON lines, CGI), `calls list` and `replay-calls`.
//!
//! Order of work, always: parse → store every event → answer (print, or the CGI response)
//! → push. A push failure never loses an event: it stays pending with its error and
//! `replay-calls --days N` sends it later, oldest first.

use std::io::{Read, Write};
use std::path::PathBuf;

use amocrm_bin::calls::{parse_body, CallSetup, Format, PushOutcome, Pusher};
use amocrm_bin::crm::amo::AmoCrm;
use amocrm_bin::exit::{classify, ExitStatus, Failure};
use amocrm_bin::lock::{try_lock, LockKind};
use amocrm_bin::rules::RuleSet;
use amocrm_bin::store::{CallState, Intake, Store};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Value};

use super::args::ReplayArgs;
use super::{context, Cli};

/// `calls` options.
#[derive(Debug, Args)]
pub struct CallsArgs {
    #[command(subcommand)]
    pub command: CallsCommand,
}

/// `calls` subcommands.
#[derive(Debug, Subcommand)]
pub enum CallsCommand {
    /// Store call-tracking events, then push them to amoCRM.
    ///
    /// Reads a Ringostat webhook (JSON or form fields) or a neutral `amocrm-bin.call/1`
    /// event, a JSON array of them, or one per line, from stdin or --file. Every event is
    /// stored (deduplicated) before anything is sent; a failed push stays stored for
    /// `replay-calls`. With REQUEST_METHOD set (a web server's CGI) it reads the request
    /// body, answers 200 (or 400 with the reason) and pushes after answering.
    #[command(after_long_help = examples!(
        "amocrm-bin calls ingest --file call.json",
        "tail -n 100 calls.jsonl | amocrm-bin calls ingest --no-push",
    ))]
    Ingest(IngestArgs),
    /// Stored calls of the last days with their state and last error.
    #[command(after_long_help = examples!(
        "amocrm-bin calls list --days 3 --pending",
    ))]
    List(ListArgs),
}

/// The event format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Neutral when the object has `schema`, else Ringostat.
    Auto,
    /// Ringostat webhook parameters.
    Ringostat,
    /// The neutral schema `amocrm-bin.call/1`.
    Neutral,
}

/// `calls ingest` options.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Read events from this file instead of stdin.
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Event format.
    #[arg(long, value_enum, default_value = "auto")]
    pub format: FormatArg,
    /// Only store; `replay-calls` sends later.
    #[arg(long)]
    pub no_push: bool,
}

/// `calls list` options.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// How many days back.
    #[arg(long, value_name = "N", default_value_t = 7)]
    pub days: u32,
    /// Only calls amoCRM has not acknowledged.
    #[arg(long)]
    pub pending: bool,
}

/// Largest request body the CGI handler reads.
const MAX_BODY: u64 = 1 << 20;

fn format(f: FormatArg) -> Format {
    match f {
        FormatArg::Auto => Format::Auto,
        FormatArg::Ringostat => Format::Ringostat,
        FormatArg::Neutral => Format::Neutral,
    }
}

/// Runs `calls`.
pub fn exec(cli: &Cli, args: &CallsArgs) -> anyhow::Result<ExitStatus> {
    match &args.command {
        CallsCommand::Ingest(a) if std::env::var_os("REQUEST_METHOD").is_some() => Ok(cgi(cli, a)),
        CallsCommand::Ingest(a) => ingest(cli, a),
        CallsCommand::List(a) => list(cli, a),
    }
}

/// One item of a body after intake.
struct Taken {
    position: usize,
    call_id: String,
    intake: Option<Intake>,
    error: Option<String>,
}

fn intake_word(i: Intake) -> &'static str {
    match i {
        Intake::New(_) => "stored",
        Intake::Replaced(_) => "replaced a weaker report of the same call",
        Intake::Duplicate {
            by_fingerprint: false,
            ..
        } => "duplicate (same call id), ignored",
        Intake::Duplicate {
            by_fingerprint: true,
            ..
        } => "duplicate (another leg of a stored call), ignored",
    }
}

/// Parses and stores a body; `Err` only when the body as a whole is unreadable.
fn take(
    store: &Store,
    setup: &CallSetup,
    body: &str,
    f: Format,
) -> anyhow::Result<Result<Vec<Taken>, String>> {
    let items = match parse_body(body, &setup.parse_options(f, setup.now())) {
        Ok(items) => items,
        Err(e) => return Ok(Err(e)),
    };
    let mut out = Vec::new();
    for item in items {
        match item.event {
            Ok(e) => {
                let intake = setup.store(store, &e)?;
                amocrm_bin::log::record(&format!(
                    "call {}:{} {}",
                    e.provider,
                    e.call_id,
                    intake_word(intake)
                ));
                out.push(Taken {
                    position: item.position,
                    call_id: e.call_id,
                    intake: Some(intake),
                    error: None,
                })
            }
            Err(msg) => out.push(Taken {
                position: item.position,
                call_id: String::new(),
                intake: None,
                error: Some(msg),
            }),
        }
    }
    Ok(Ok(out))
}

/// The stored calls this intake made pushable.
fn to_push(store: &Store, taken: &[Taken]) -> anyhow::Result<Vec<i64>> {
    let mut ids = Vec::new();
    for t in taken {
        if let Some(Intake::New(id) | Intake::Replaced(id)) = t.intake {
            if !ids.contains(&id) && store.call(id)?.map(|c| c.state) == Some(CallState::Pending) {
                ids.push(id);
            }
        }
    }
    Ok(ids)
}

/// The result of pushing one call.
pub struct Pushed {
    /// Row id.
    pub id: i64,
    /// What happened.
    pub outcome: Result<PushOutcome, String>,
    /// Exit status of a failure.
    pub status: ExitStatus,
    /// Advice for a failure.
    pub hint: Option<String>,
}

/// Pushes calls in order; after a failure that concerns every call (authorization,
/// amoCRM unreachable, rule file), the rest are recorded as not sent with that error.
pub fn push_all(rules: &RuleSet, store: &Store, setup: &CallSetup, ids: &[i64]) -> Vec<Pushed> {
    let mut out = Vec::new();
    let failed = |e: &anyhow::Error| {
        let (status, hint) = classify(e);
        (amocrm_bin::log::redact(&format!("{e:#}")), status, hint)
    };
    let client = match context::client(rules, store, true) {
        Ok(c) => c,
        Err(e) => {
            let (text, status, hint) = failed(&e);
            for &id in ids {
                let _ = store.call_failed(id, &text);
                out.push(Pushed {
                    id,
                    outcome: Err(text.clone()),
                    status,
                    hint: hint.clone(),
                });
            }
            return out;
        }
    };
    let crm = AmoCrm::new(client);
    let pusher = Pusher::new(store, setup, rules, &crm);
    let mut stop: Option<(String, ExitStatus, Option<String>)> = None;
    for &id in ids {
        if let Some((text, status, hint)) = &stop {
            let text = format!("not sent after an earlier failure: {text}");
            let _ = store.call_failed(id, &text);
            out.push(Pushed {
                id,
                outcome: Err(text),
                status: *status,
                hint: hint.clone(),
            });
            continue;
        }
        match pusher.push(id) {
            Ok(o) => {
                amocrm_bin::log::record(&format!("call {id}: {o:?}"));
                out.push(Pushed {
                    id,
                    outcome: Ok(o),
                    status: ExitStatus::Ok,
                    hint: None,
                })
            }
            Err(e) => {
                let (text, status, hint) = failed(&e);
                amocrm_bin::log::record(&format!("call {id}: push failed: {text}"));
                let everyone = matches!(
                    status,
                    ExitStatus::AuthNeeded
                        | ExitStatus::Unreachable
                        | ExitStatus::Usage
                        | ExitStatus::Locked
                );
                if everyone {
                    stop = Some((text.clone(), status, hint.clone()));
                }
                out.push(Pushed {
                    id,
                    outcome: Err(text),
                    status,
                    hint,
                });
            }
        }
    }
    out
}

fn outcome_json(p: &Pushed) -> Value {
    match &p.outcome {
        Ok(PushOutcome::Delivered {
            amo_call_id,
            entity,
            detail,
        }) => {
            json!({"id": p.id, "state": "delivered", "amo_call_id": amo_call_id, "entity": entity, "detail": detail})
        }
        Ok(PushOutcome::Skipped(why)) => json!({"id": p.id, "state": "skipped", "detail": why}),
        Ok(PushOutcome::Done(state)) => json!({"id": p.id, "state": state}),
        Err(e) => json!({"id": p.id, "state": "pending", "error": e}),
    }
}

fn outcome_line(p: &Pushed) -> String {
    match &p.outcome {
        Ok(PushOutcome::Delivered {
            amo_call_id,
            entity,
            detail,
        }) => format!(
            "call {:<5} delivered → {entity} (amoCRM call {amo_call_id}): {detail}",
            p.id
        ),
        Ok(PushOutcome::Skipped(why)) => format!("call {:<5} skipped: {why}", p.id),
        Ok(PushOutcome::Done(state)) => format!("call {:<5} already {}", p.id, state.as_str()),
        Err(e) => format!("call {:<5} NOT SENT (kept for replay-calls): {e}", p.id),
    }
}

/// The worst failure's status and hint.
fn worst(pushed: &[Pushed]) -> Option<(ExitStatus, Option<String>)> {
    pushed
        .iter()
        .filter(|p| p.outcome.is_err())
        .max_by_key(|p| p.status)
        .map(|p| (p.status, p.hint.clone()))
}

fn read_input(args: &IngestArgs) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    match &args.file {
        Some(path) => {
            bytes = std::fs::read(path).map_err(|e| {
                Failure::usage(
                    format!("cannot read `{}`: {e}", path.display()),
                    "pass an existing file with --file, or pipe the events to stdin",
                )
            })?;
        }
        None => {
            std::io::stdin().read_to_end(&mut bytes)?;
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn ingest(cli: &Cli, args: &IngestArgs) -> anyhow::Result<ExitStatus> {
    let rules = context::rules(cli)?;
    let store = context::store(&rules)?;
    let setup = CallSetup::from_rules(&rules)?;
    let body = read_input(args)?;
    let taken = match take(&store, &setup, &body, format(args.format))? {
        Ok(t) => t,
        Err(why) => {
            return Err(Failure::usage(
                format!("cannot read the call events: {why}"),
                "send a Ringostat webhook (JSON or form fields) or neutral events, one per line; see docs/calls-guide.md",
            )
            .into())
        }
    };
    if !cli.json {
        for t in &taken {
            match (&t.intake, &t.error) {
                (Some(i), _) => println!("call {:<5} {}: {}", i.id(), t.call_id, intake_word(*i)),
                (None, Some(e)) => println!("item {:<5} refused: {e}", t.position),
                _ => {}
            }
        }
    }
    let ids = to_push(&store, &taken)?;
    let pushed = if args.no_push {
        Vec::new()
    } else {
        push_all(&rules, &store, &setup, &ids)
    };
    let refused = taken.iter().filter(|t| t.error.is_some()).count();
    let (status, hint) = match worst(&pushed) {
        Some(w) => w,
        None if refused > 0 => (
            ExitStatus::Usage,
            Some("fix the refused items and send them again; the others were stored".into()),
        ),
        None => (ExitStatus::Ok, None),
    };
    if cli.json {
        let items: Vec<Value> = taken
            .iter()
            .map(|t| match (&t.intake, &t.error) {
                (Some(i), _) => json!({"position": t.position, "call_id": t.call_id, "id": i.id(), "intake": intake_word(*i)}),
                (None, e) => json!({"position": t.position, "error": e}),
            })
            .collect();
        println!(
            "{}",
            json!({
                "ok": status == ExitStatus::Ok,
                "exit_code": status.code(),
                "items": items,
                "pushed": pushed.iter().map(outcome_json).collect::<Vec<_>>(),
                "hint": hint,
            })
        );
    } else {
        for p in &pushed {
            println!("{}", outcome_line(p));
        }
        if let Some(h) = hint.filter(|_| status != ExitStatus::Ok) {
            eprintln!("hint: {h}");
            if status != ExitStatus::Usage || worst(&pushed).is_some() {
                eprintln!("hint: the calls are stored; after fixing, run `amocrm-bin replay-calls --days N`");
            }
        }
    }
    Ok(status)
}

/// Runs `replay-calls --days N`.
pub fn replay(cli: &Cli, args: &ReplayArgs) -> anyhow::Result<ExitStatus> {
    let rules = context::rules(cli)?;
    let store = context::store(&rules)?;
    let setup = CallSetup::from_rules(&rules)?;
    let _run = try_lock(store.path(), LockKind::Run, "replay-calls")?;
    let since = amocrm_bin::store::now() - i64::from(args.days) * 86_400;
    let due: Vec<i64> = store
        .calls_unacknowledged(since)?
        .iter()
        .map(|c| c.id)
        .collect();
    let older = store.calls_unacknowledged(0)?.len() - due.len();
    let pushed = push_all(&rules, &store, &setup, &due);
    let count = |f: &dyn Fn(&Pushed) -> bool| pushed.iter().filter(|p| f(p)).count();
    let delivered = count(&|p| matches!(p.outcome, Ok(PushOutcome::Delivered { .. })));
    let skipped = count(&|p| matches!(p.outcome, Ok(PushOutcome::Skipped(_))));
    let failed = count(&|p| p.outcome.is_err());
    let (status, hint) = worst(&pushed).unwrap_or((ExitStatus::Ok, None));
    if cli.json {
        println!(
            "{}",
            json!({
                "ok": failed == 0,
                "exit_code": status.code(),
                "days": args.days,
                "delivered": delivered,
                "skipped": skipped,
                "failed": failed,
                "older_pending": older,
                "calls": pushed.iter().map(outcome_json).collect::<Vec<_>>(),
                "hint": hint,
            })
        );
    } else {
        for p in &pushed {
            println!("{}", outcome_line(p));
        }
        if !cli.quiet {
            eprintln!(
                "replay-calls --days {}: {} to send, {delivered} delivered, {skipped} skipped, {failed} still pending",
                args.days,
                due.len()
            );
            if older > 0 {
                eprintln!(
                    "{older} unacknowledged call(s) are older than {} day(s) and were not sent; use a larger --days to include them",
                    args.days
                );
            }
        }
        if let Some(h) = hint {
            eprintln!("hint: {h}");
        }
    }
    Ok(status)
}

fn list(cli: &Cli, args: &ListArgs) -> anyhow::Result<ExitStatus> {
    let rules = context::rules(cli)?;
    let store = context::store(&rules)?;
    let setup = CallSetup::from_rules(&rules)?;
    let to = amocrm_bin::store::now() + 1;
    let from = to - 1 - i64::from(args.days) * 86_400;
    let calls: Vec<_> = store
        .calls_between(from, to)?
        .into_iter()
        .filter(|c| !args.pending || c.state == CallState::Pending)
        .collect();
    if cli.json {
        println!("{}", json!({"ok": true, "calls": calls}));
        return Ok(ExitStatus::Ok);
    }
    for c in &calls {
        let at = setup
            .zone
            .local(
                &chrono::DateTime::<chrono::Utc>::from_timestamp(c.started_at, 0)
                    .unwrap_or_default(),
            )
            .format("%Y-%m-%d %H:%M:%S");
        let what = match c.state {
            CallState::Pending => c
                .last_error
                .as_deref()
                .map(|e| format!("{} attempt(s), last error: {e}", c.attempts))
                .unwrap_or_else(|| "not sent yet".into()),
            _ => c.detail.clone().unwrap_or_default(),
        };
        println!(
            "{:<5} {at} {:<8} {:<9} {:<16} {:<9} {what}",
            c.id,
            c.direction,
            c.status,
            c.client_phone.as_deref().unwrap_or("-"),
            c.state.as_str(),
        );
    }
    eprintln!("{} call(s)", calls.len());
    Ok(ExitStatus::Ok)
}

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
    let mut out = std::io::stdout().lock();
    let _ = write!(
        out,
        "Status: {status} {reason}\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n\r\n{body}\n"
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
fn cgi(cli: &Cli, args: &IngestArgs) -> ExitStatus {
    let fail = |status: u16, msg: &str| {
        respond(status, &json!({"ok": false, "error": msg}));
        if status >= 500 {
            ExitStatus::Unreachable
        } else {
            ExitStatus::Usage
        }
    };
    let rules = match context::rules(cli) {
        Ok(r) => r,
        Err(e) => {
            amocrm_bin::log::warn(&format!("calls CGI: {e:#}"));
            return fail(
                500,
                "the receiver's rule file has a problem; see the server's error log",
            );
        }
    };
    let setup = match CallSetup::from_rules(&rules) {
        Ok(s) => s,
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
        "POST" | "PUT" => {
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
        other => return fail(405, &format!("method `{other}` is not accepted; use POST")),
    };
    let store = match context::store(&rules) {
        Ok(s) => s,
        Err(e) => {
            amocrm_bin::log::warn(&format!("calls CGI: {e:#}"));
            return fail(
                500,
                "the receiver cannot open its store; see the server's error log",
            );
        }
    };
    let taken = match take(&store, &setup, &body, format(args.format)) {
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
    let items: Vec<Value> = taken
        .iter()
        .map(|t| match (&t.intake, &t.error) {
            (Some(i), _) => json!({"call_id": t.call_id, "id": i.id(), "intake": intake_word(*i)}),
            (None, e) => json!({"position": t.position, "error": e}),
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
    let ids = match to_push(&store, &taken) {
        Ok(ids) => ids,
        Err(e) => {
            amocrm_bin::log::warn(&format!("calls CGI: {e:#}"));
            return ExitStatus::Unreachable;
        }
    };
    let pushed = push_all(&rules, &store, &setup, &ids);
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
