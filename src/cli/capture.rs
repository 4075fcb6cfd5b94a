//! `capture DIR`: one raw answer per BILLmanager function, personal data masked, in the
//! fixture layout, for comparing a real panel with examples/billmanager/ and for bug reports.

use std::path::PathBuf;

use amocrm_bin::billing::mask::mask;
use amocrm_bin::exit::{ExitStatus, Failure};
use clap::Args;
use serde_json::{json, Value};

use super::{context, Cli};

/// Rows of each list kept in the capture.
const ROWS: usize = 20;

/// `capture` options.
#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// Directory to write into (created if missing).
    pub dir: PathBuf,
}

/// Runs `capture`.
pub fn exec(cli: &Cli, args: &CaptureArgs) -> anyhow::Result<ExitStatus> {
    let rules = context::rules(cli)?;
    let billing = amocrm_bin::billing::open(&rules.file.billmanager)?;
    let samples = billing.survey();
    std::fs::create_dir_all(&args.dir).map_err(|e| {
        Failure::usage(
            format!("cannot create {}: {e}", args.dir.display()),
            "pass a directory you can write to",
        )
    })?;
    let mut written = Vec::new();
    let mut failed = Vec::new();
    for s in &samples {
        let path = match &s.elid {
            Some(id) => {
                std::fs::create_dir_all(args.dir.join(&s.func))?;
                args.dir.join(&s.func).join(format!("{id}.json"))
            }
            None => args.dir.join(format!("{}.json", s.func)),
        };
        if let Some(e) = &s.error {
            failed.push(json!({"func": s.func, "error": e}));
        }
        if s.raw.is_empty() {
            continue;
        }
        // An answer that is not JSON is kept out: it could hold anything (a login page).
        let Ok(mut doc) = serde_json::from_slice::<Value>(&s.raw) else {
            continue;
        };
        mask(&mut doc, ROWS);
        std::fs::write(&path, serde_json::to_string_pretty(&doc)? + "\n")?;
        written.push(path.display().to_string());
    }
    let status = if failed.is_empty() {
        ExitStatus::Ok
    } else {
        ExitStatus::Partial
    };
    if cli.json {
        println!(
            "{}",
            json!({"ok": failed.is_empty(), "written": written, "failed": failed, "exit_code": status.code()})
        );
    } else {
        for w in &written {
            println!("wrote {w}");
        }
        for f in &failed {
            println!("FAILED {}: {}", f["func"], f["error"]);
        }
        if !cli.quiet {
            eprintln!(
                "personal data masked; lists cut to {ROWS} rows. Compare with examples/billmanager/ \
                 (docs/billmanager.md says which shapes are confirmed) and attach the directory to a bug report"
            );
        }
    }
    Ok(status)
}
