//! `capture DIR`: one raw answer per BILLmanager function, personal data masked, in the
//! fixture layout, for comparing a real panel with examples/billmanager/ and for bug reports.

use std::path::Path;

use serde::Serialize;
use serde_json::{json, Value};

use crate::billing::mask::mask;
use crate::exit::{ExitStatus, Failure};
use crate::rules::RuleSet;

/// Rows of each list kept in the capture.
pub const ROWS: usize = 20;

/// What `capture` wrote.
#[derive(Debug, Serialize)]
pub struct Captured {
    /// True when every function answered.
    pub ok: bool,
    /// The files written.
    pub written: Vec<String>,
    /// The functions that failed: `{"func", "error"}`.
    pub failed: Vec<Value>,
    /// The exit code.
    pub exit_code: u8,
}

impl Captured {
    /// The exit status: partial when a function failed.
    pub fn status(&self) -> ExitStatus {
        if self.failed.is_empty() {
            ExitStatus::Ok
        } else {
            ExitStatus::Partial
        }
    }
}

/// Asks the panel every function once and writes the masked answers into `dir`.
pub fn capture(rules: &RuleSet, dir: &Path) -> anyhow::Result<Captured> {
    let billing = crate::billing::open(&rules.file.billmanager)?;
    let samples = billing.survey();
    std::fs::create_dir_all(dir).map_err(|e| {
        Failure::usage(
            format!("cannot create {}: {e}", dir.display()),
            "pass a directory you can write to",
        )
    })?;
    let mut written = Vec::new();
    let mut failed = Vec::new();
    for s in &samples {
        let path = match &s.elid {
            Some(id) => {
                std::fs::create_dir_all(dir.join(&s.func))?;
                dir.join(&s.func).join(format!("{id}.json"))
            }
            None => dir.join(format!("{}.json", s.func)),
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
    let mut captured = Captured {
        ok: failed.is_empty(),
        written,
        failed,
        exit_code: 0,
    };
    captured.exit_code = captured.status().code();
    Ok(captured)
}
