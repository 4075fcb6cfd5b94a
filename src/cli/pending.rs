//! Subcommands whose engine has not landed yet say so plainly (exit 2) instead of
//! pretending to succeed.

use amocrm_bin::exit::{ExitStatus, Failure};

/// Fails with exit code 2, naming the issue that brings the engine.
pub fn exec(name: &str, issue: &str) -> anyhow::Result<ExitStatus> {
    Err(Failure::usage(
        format!(
            "`{name}` is not available in this build yet (its engine lands with issue {issue})"
        ),
        "nothing was sent; run `amocrm-bin --help` for the commands this build supports",
    )
    .into())
}
