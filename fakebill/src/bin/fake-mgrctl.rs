//! `fake-mgrctl`: stands in for `/usr/local/mgr5/sbin/mgrctl` in amocrm-bin's tests and demo.
//!
//! Usage, as amocrm-bin calls mgrctl: `fake-mgrctl -m billmgr <func> [key=value ...] out=json`
//! (`-o json` works too). Answers come from the fixture directory in `FAKEBILL_DIR`, laid
//! out as described in the `fakebill` crate docs.
//!
//! Exit codes: an error document (unknown function or elid) is printed on stdout with exit
//! 0, the behaviour docs/billmanager.md §1.4 calls the safest assumption for the real
//! mgrctl; `FAKEBILL_ERROR_EXIT=1` makes it exit 1 instead, to exercise the other case.
//! Bad usage exits 2; a simulated panel failure exits 1 with a message on stderr.
//!
//! Other environment variables:
//! - `FAKEBILL_LOG=<file>`: append one line per invocation (the arguments), so tests can
//!   count calls;
//! - `FAKEBILL_FAIL=1`: the panel is down (stderr message, exit 1);
//! - `FAKEBILL_GARBAGE=1`: print the answer cut in half (truncated JSON), exit 0;
//! - `FAKEBILL_SLEEP_MS=<n>`: wait before answering (timeout tests);
//! - `FAKEBILL_DELAY_MS=<n>`: the cost of one real mgrctl call (a process plus a panel
//!   request), added to every call, for the benchmark's slow panel;
//! - `FAKEBILL_SHAPES=assumed`: answer in the project's earlier assumed shapes instead of
//!   the real ones (see `fakebill::answer`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use fakebill::answer::{answer_as, Shapes};

struct Call {
    manager: String,
    func: String,
    params: Vec<(String, String)>,
    format: Option<String>,
}

fn parse_args(args: &[String]) -> Result<Call, String> {
    let (mut manager, mut func, mut format) = (None, None, None);
    let mut params = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-m" => manager = it.next().cloned(),
            "-o" => format = it.next().cloned(),
            _ if a.starts_with('-') => return Err(format!("option {a} is not supported")),
            _ => match a.split_once('=') {
                Some(("out", v)) => format = Some(v.to_string()),
                Some((k, v)) if func.is_some() => params.push((k.to_string(), v.to_string())),
                Some(_) => return Err(format!("`{a}` given before the function name")),
                None if func.is_none() => func = Some(a.clone()),
                None => return Err(format!("unexpected word `{a}`; parameters are key=value")),
            },
        }
    }
    Ok(Call {
        manager: manager.ok_or("-m <manager> is required")?,
        func: func.ok_or("no function given")?,
        params,
        format,
    })
}

fn log_invocation(args: &[String]) {
    let Some(path) = std::env::var_os("FAKEBILL_LOG") else {
        return;
    };
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{}", args.join(" "));
    }
}

fn flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == "1")
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    log_invocation(&args);
    let call = match parse_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "fake-mgrctl: {e}\nusage: fake-mgrctl -m billmgr <func> [key=value ...] out=json"
            );
            return ExitCode::from(2);
        }
    };
    for var in ["FAKEBILL_SLEEP_MS", "FAKEBILL_DELAY_MS"] {
        if let Some(ms) = std::env::var(var).ok().and_then(|v| v.parse().ok()) {
            std::thread::sleep(Duration::from_millis(ms));
        }
    }
    if flag("FAKEBILL_FAIL") {
        eprintln!(
            "Error: cannot connect to {}: connection refused (FAKEBILL_FAIL=1)",
            call.manager
        );
        return ExitCode::from(1);
    }
    if call.manager != "billmgr" {
        eprintln!(
            "fake-mgrctl: unknown manager `{}`; only billmgr is faked",
            call.manager
        );
        return ExitCode::from(1);
    }
    if !matches!(call.format.as_deref(), Some("json") | Some("sjson")) {
        eprintln!("fake-mgrctl: only out=json (or -o json) is supported");
        return ExitCode::from(2);
    }
    let Some(dir) = std::env::var_os("FAKEBILL_DIR").map(PathBuf::from) else {
        eprintln!("fake-mgrctl: set FAKEBILL_DIR to a fixture directory");
        return ExitCode::from(1);
    };
    let ans = answer_as(Shapes::from_env(), &dir, &call.func, &call.params);
    let body = if flag("FAKEBILL_GARBAGE") {
        ans.body
            .chars()
            .take(ans.body.chars().count() / 2)
            .collect()
    } else {
        ans.body
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{body}");
    if ans.is_error && flag("FAKEBILL_ERROR_EXIT") {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
