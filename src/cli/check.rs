//! `check`: the rule file against the live amoCRM account, nothing written.
//!
//! The work is the library's ([`amocrm_bin::app::check`]); this prints one line per
//! finding, key path first, so the operator can go down the list in an editor.

use amocrm_bin::app;
use amocrm_bin::exit::ExitStatus;
use amocrm_bin::setup::{Finding, Severity};
use clap::Args;

use super::output::print;
use super::Cli;

/// `check` options.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Warnings count as problems too (exit 2): tags the account does not have yet.
    #[arg(long)]
    pub strict: bool,
    /// Clients and services read from BILLmanager to find values no select option or value
    /// map covers (0: none).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub sample: usize,
    /// Read the sample from a directory of BILLmanager JSON documents (as the `files` source
    /// reads them: a capture, or `mgrctl … out=json` output saved by hand) instead of the
    /// panel.
    #[arg(long, value_name = "DIR")]
    pub sample_dir: Option<std::path::PathBuf>,
}

/// Runs `check`.
pub fn exec(cli: &Cli, args: &CheckArgs) -> anyhow::Result<ExitStatus> {
    let ctx = app::Context::open(&cli.config)?;
    let checked = app::check::run(&ctx, args.strict, args.sample, args.sample_dir.as_deref())?;
    print(cli, &checked, |c| {
        for f in &c.findings {
            println!("{}", line(f));
        }
        for p in &c.panel {
            match (&p.from, p.computed) {
                (_, true) => println!("panel: {} is computed by amocrm-bin", p.attribute),
                (Some((func, field)), _) => {
                    println!("panel: {} ← {func} `{field}`", p.attribute)
                }
                (None, _) => {}
            }
        }
        if !cli.quiet {
            eprintln!(
                "checked `{}` against amoCRM account {}: {} custom fields, {} pipelines, {} \
                 users, {} tags",
                c.rules.display(),
                c.account,
                c.fields,
                c.pipelines,
                c.users,
                c.tags
            );
        }
        if c.failed {
            eprintln!("{} problem(s), {} warning(s)", c.problems, c.warnings);
            eprintln!(
                "hint: fix the keys listed above (examples/rules.toml documents every key) and run \
                 `amocrm-bin check` again; nothing was sent to amoCRM"
            );
        } else if !cli.quiet {
            eprintln!("ok: the rules fit the account ({} warning(s))", c.warnings);
        }
    })?;
    Ok(checked.status())
}

fn line(f: &Finding) -> String {
    let label = match f.severity {
        Severity::Problem => "problem",
        Severity::Warning => "warning",
    };
    format!(
        "{label}: {}: {}",
        f.key,
        amocrm_bin::log::redact(&f.message)
    )
}
