//! The command line: clap definitions, the legacy `--command` form, dispatch, and the one
//! place where errors become text and exit codes.
//!
//! Output rule: data goes to stdout (JSON with `--json`), diagnostics to stderr. In hook mode
//! nothing but the panel's XML may reach stdout.

/// `--help` examples: shown after the options (`after_long_help`) and as the man pages'
/// EXAMPLES section. Doc comments cannot carry them: clap joins a paragraph's lines.
macro_rules! examples {
    ($($line:literal),+ $(,)?) => {
        concat!("Examples:", $("\n  ", $line),+)
    };
}

mod args;
mod auth;
mod backfill;
mod bindings;
mod calls;
mod capture;
mod check;
mod completions;
mod drain;
mod hook;
mod init;
mod nudge;
mod outbox;
mod output;
mod pull;
mod report;
mod status;
mod sync;

use std::process::ExitCode;

use amocrm_bin::exit::{classify, ExitStatus};
use amocrm_bin::log;
use clap::Parser;

pub use args::{Cli, Command};

/// Rewrites the legacy form `--command sync --entity lead --elid 42` (what BILLmanager's
/// `amocrm_bin.py` was called with) into `sync --entity lead --elid 42`.
pub fn rewrite_legacy(args: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut command = None;
    let mut iter = args.into_iter();
    if let Some(bin) = iter.next() {
        out.push(bin);
    }
    let mut rest = Vec::new();
    while let Some(a) = iter.next() {
        if a == "--command" {
            command = iter.next();
        } else if let Some(v) = a.strip_prefix("--command=") {
            command = Some(v.to_string());
        } else {
            rest.push(a);
        }
    }
    match command {
        Some(c) => {
            // Global flags may stay before the subcommand; clap accepts them after it too.
            out.push(c);
            out.extend(rest);
        }
        None => out.extend(rest),
    }
    out
}

/// Parses arguments, runs the command and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    // `std::env::args()` panics on an argument that is not UTF-8; refuse it instead.
    let raw: Vec<String> = match std::env::args_os().map(|a| a.into_string()).collect() {
        Ok(raw) => raw,
        Err(bad) => {
            eprintln!(
                "error: argument `{}` is not valid UTF-8\nhint: pass ids, dates and paths as UTF-8 text",
                bad.to_string_lossy()
            );
            return ExitCode::from(ExitStatus::Usage.code());
        }
    };
    // BILLmanager runs addon handlers without arguments and always sets `PARAM_func`.
    if raw.len() == 1 && std::env::var_os("PARAM_func").is_some() {
        return hook::main();
    }
    // A web server runs a CGI program without arguments: that is the call-tracking webhook.
    let cgi = raw.len() == 1 && std::env::var_os("REQUEST_METHOD").is_some();
    let raw = if cgi {
        vec![raw[0].clone(), "calls".into(), "ingest".into()]
    } else {
        raw
    };
    // An empty AMOCRM_BIN_CONFIG (a web server's or cron's file with `=` and nothing after it)
    // would reach clap as "a value is required for '--config'", a flag nobody passed.
    let given = raw
        .iter()
        .any(|a| a == "--config" || a.starts_with("--config="));
    if !given && std::env::var_os("AMOCRM_BIN_CONFIG").is_some_and(|v| v.is_empty()) {
        let reason = "AMOCRM_BIN_CONFIG is set but empty";
        let hint = format!(
            "set it to the rule file's path where this runs (the web server's or cron's \
             environment), or unset it to use {}",
            amocrm_bin::rules::DEFAULT_PATH
        );
        if cgi {
            calls::cgi::respond(
                500,
                &serde_json::json!({"ok": false, "error": reason, "hint": hint}),
            );
        } else {
            eprintln!("error: {reason}\nhint: {hint}");
        }
        return ExitCode::from(ExitStatus::Usage.code());
    }
    let args = rewrite_legacy(raw);
    let cli = match Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                ExitStatus::Usage.code()
            } else {
                0
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let json = cli.json;
    log::set_level(cli.level(), true);
    match run(cli) {
        Ok(status) => ExitCode::from(status.code()),
        Err(err) => report(&err, json),
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    match &cli.command {
        Command::Auth(a) => auth::exec(&cli, a),
        Command::Check(a) => check::exec(&cli, a),
        Command::Init(a) => init::init(&cli, a),
        Command::SetupFields(a) => init::setup_fields(&cli, a),
        Command::Sync(a) => sync::exec(&cli, a),
        Command::Bindings(a) => bindings::exec(&cli, a),
        Command::Backfill(a) => backfill::exec(&cli, a),
        Command::ReplayCalls(a) => calls::replay(&cli, a),
        Command::Calls(a) => calls::exec(&cli, a),
        Command::Report(a) => report::exec(&cli, a),
        Command::Drain(a) => drain::exec(&cli, a),
        Command::Outbox(a) => outbox::exec(&cli, a),
        Command::Status(a) => status::exec(&cli, a),
        Command::Nudge(a) => nudge::exec(&cli, a),
        Command::Pull => pull::exec(&cli),
        Command::Capture(a) => capture::exec(&cli, a),
        Command::Completions(a) => completions::completions(a),
        Command::Man(a) => completions::man(a),
    }
}

/// Prints `error: …`, the cause chain and the advice; returns the classified exit code.
fn report(err: &anyhow::Error, json: bool) -> ExitCode {
    let (status, hint) = classify(err);
    let status = if status == ExitStatus::Ok {
        ExitStatus::Partial
    } else {
        status
    };
    let message = log::redact(&format!("{err}"));
    let mut causes = Vec::new();
    for cause in err.chain().skip(1) {
        let text = log::redact(&cause.to_string());
        if !message.contains(&text) {
            causes.push(text);
        }
    }
    eprintln!("error: {message}");
    for c in &causes {
        eprintln!("  caused by: {c}");
    }
    if let Some(h) = &hint {
        eprintln!("hint: {}", log::redact(h));
    }
    if json {
        let v = serde_json::json!({
            "ok": false,
            "exit_code": status.code(),
            "error": message,
            "causes": causes,
            "hint": hint.map(|h| log::redact(&h)),
        });
        println!("{v}");
    }
    ExitCode::from(status.code())
}

#[cfg(test)]
mod tests {
    use super::rewrite_legacy;

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn legacy_command_form_becomes_a_subcommand() {
        assert_eq!(
            rewrite_legacy(v("amocrm-bin --command sync --entity lead --elid 42")),
            v("amocrm-bin sync --entity lead --elid 42")
        );
        assert_eq!(
            rewrite_legacy(v("amocrm-bin -v --command=sync --entity lead --elid 42")),
            v("amocrm-bin sync -v --entity lead --elid 42")
        );
        assert_eq!(
            rewrite_legacy(v("amocrm-bin auth --status")),
            v("amocrm-bin auth --status")
        );
    }
}
