//! `init` and `setup-fields`: the rules and the custom fields from the live account
//! ([`amocrm_bin::app::init`]); this asks before creating and prints.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use amocrm_bin::app::{self, init::FieldsPlan};
use amocrm_bin::exit::{ExitStatus, Failure};
use amocrm_bin::setup::new_fields::NewField;
use clap::Args;

use super::output::print;
use super::Cli;

/// `init` options.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Print the rules on stdout instead of appending them to the rule file.
    #[arg(long)]
    pub print: bool,
    /// Your go-live date (YYYY-MM-DD), written as `[sync] since`: entities created before it
    /// are never sent, and cron's `backfill` reads it from there. Unset: written commented
    /// out.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub since: Option<String>,
}

/// `setup-fields` options.
#[derive(Debug, Args)]
pub struct SetupFieldsArgs {
    /// Create the fields without asking.
    #[arg(long)]
    pub yes: bool,
}

/// Runs `init`.
pub fn init(cli: &Cli, args: &InitArgs) -> anyhow::Result<ExitStatus> {
    let since = args
        .since
        .as_deref()
        .map(app::backfill::parse_since)
        .transpose()?;
    let rules = app::load_rules(&cli.config)?;
    let path = rules.path.clone();
    let made = app::init::init(rules, args.print, since)?;
    if args.print {
        print!("{}", made.generated.trim_start());
        println!();
        return Ok(ExitStatus::Ok);
    }
    if !cli.quiet {
        eprintln!(
            "wrote the rules for amoCRM account {} into `{}`: {} pipeline(s){}, {} user(s); \
             [lifecycle] and [calls] are there commented out",
            made.account,
            path.display(),
            made.pipelines,
            made.main_pipeline
                .as_ref()
                .map(|p| format!(" (new leads go to `{p}`)"))
                .unwrap_or_default(),
            made.users
        );
        eprintln!(
            "next: `amocrm-bin setup-fields` creates the custom fields the rules map, then \
             `amocrm-bin check`"
        );
    }
    Ok(ExitStatus::Ok)
}

/// Runs `setup-fields`.
pub fn setup_fields(cli: &Cli, args: &SetupFieldsArgs) -> anyhow::Result<ExitStatus> {
    let ctx = app::Context::open(&cli.config)?;
    let fields = app::init::setup_fields(&ctx, args.yes, &mut |plan: &FieldsPlan| {
        for s in &plan.skipped {
            println!("skipped: {}: {}", s.key, s.reason);
        }
        if plan.create.is_empty() {
            return Ok(true);
        }
        if !cli.json {
            println!("fields to create in amoCRM account {}:", plan.account);
            for f in &plan.create {
                println!("  {}", describe(f));
            }
        }
        Ok(args.yes || confirm(plan.create.len(), &plan.account)?)
    })?;
    if fields.declined {
        eprintln!("nothing created");
        return Ok(fields.status());
    }
    print(cli, &fields, |f| {
        if f.made.is_empty() {
            if !cli.quiet {
                eprintln!(
                    "every field the rules map exists in amoCRM account {}; nothing to create",
                    f.account
                );
            }
            return;
        }
        for (f, id) in &f.made {
            println!(
                "created: {} field `{}`{}",
                f.kind.as_str(),
                f.name,
                id.map(|id| format!(" (id {id})")).unwrap_or_default()
            );
        }
        if !cli.quiet {
            eprintln!("next: `amocrm-bin check`");
        }
    })?;
    Ok(fields.status())
}

fn describe(f: &NewField) -> String {
    let mut s = format!("{} `{}`: {}", f.kind.as_str(), f.name, f.field_type);
    if let Some(c) = &f.code {
        s.push_str(&format!(", code {c}"));
    }
    if !f.options.is_empty() {
        s.push_str(&format!(", options {}", f.options.join(", ")));
    }
    if f.api_only {
        s.push_str(", read-only in amoCRM's interface");
    }
    s
}

/// Asks on the terminal (stdin). No answer (end of input) is a usage error naming `--yes`.
fn confirm(n: usize, account: &str) -> anyhow::Result<bool> {
    eprint!("create these {n} field(s) in amoCRM account {account}? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line)?;
    if !std::io::stdin().is_terminal() {
        // The answer came from a pipe and was not echoed.
        eprintln!("{}", line.trim());
    }
    if read == 0 {
        return Err(Failure::usage(
            "no answer to the question (stdin is closed)",
            "run `amocrm-bin setup-fields --yes` to create the fields without asking",
        )
        .into());
    }
    Ok(matches!(
        line.trim().to_lowercase().as_str(),
        "y" | "yes" | "д" | "да"
    ))
}
