//! `capture DIR`: one raw answer per BILLmanager function, personal data masked
//! ([`amocrm_bin::app::capture`]).

use std::path::PathBuf;

use amocrm_bin::app::{self, capture::ROWS};
use amocrm_bin::exit::ExitStatus;
use clap::Args;

use super::output::print;
use super::Cli;

/// `capture` options.
#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// Directory to write into (created if missing).
    pub dir: PathBuf,
}

/// Runs `capture`.
pub fn exec(cli: &Cli, args: &CaptureArgs) -> anyhow::Result<ExitStatus> {
    let rules = app::load_rules(&cli.config)?;
    let captured = app::capture::capture(&rules, &args.dir)?;
    print(cli, &captured, |c| {
        for w in &c.written {
            println!("wrote {w}");
        }
        for f in &c.failed {
            println!("FAILED {}: {}", f["func"], f["error"]);
        }
        if !cli.quiet {
            eprintln!(
                "personal data masked; lists cut to {ROWS} rows. Compare with examples/billmanager/ \
                 (docs/billmanager.md says which shapes are confirmed) and attach the directory to a bug report"
            );
        }
    })?;
    Ok(captured.status())
}
