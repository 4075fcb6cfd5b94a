//! `report calls --days N [--svg FILE]`: per-manager call numbers and the hour-of-day chart,
//! from the store alone (works while amoCRM is unreachable).

use std::path::PathBuf;

use amocrm_bin::calls::report::{build, chart, human_secs, table};
use amocrm_bin::calls::{svg, CallSetup};
use amocrm_bin::crm::Dictionaries;
use amocrm_bin::exit::{ExitStatus, Failure};
use clap::{Args, Subcommand};
use serde_json::json;

use super::{context, Cli};

/// `report` options.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub command: ReportCommand,
}

/// `report` subcommands.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Calls per manager (count, total and average duration of inbound, outbound and
    /// missed calls) and calls per hour of the working day.
    #[command(after_long_help = examples!(
        "amocrm-bin report calls --days 7",
        "amocrm-bin report calls --days 30 --svg calls.svg",
        "amocrm-bin report calls --json",
    ))]
    Calls(CallsReportArgs),
}

/// `report calls` options.
#[derive(Debug, Args)]
pub struct CallsReportArgs {
    /// How many days back (from now).
    #[arg(long, value_name = "N", default_value_t = 7)]
    pub days: u32,
    /// Also draw the hour chart into this SVG file.
    #[arg(long, value_name = "PATH")]
    pub svg: Option<PathBuf>,
}

/// Runs `report`.
pub fn exec(cli: &Cli, args: &ReportArgs) -> anyhow::Result<ExitStatus> {
    let ReportCommand::Calls(a) = &args.command;
    let rules = context::rules(cli)?;
    let store = context::store(&rules)?;
    let setup = CallSetup::from_rules(&rules)?;
    let to = amocrm_bin::store::now() + 1;
    let from = to - 1 - i64::from(a.days) * 86_400;
    let calls = store.calls_between(from, to)?;
    // User names from the last dictionaries read, whatever their age: a name is a label.
    let dict: Option<Dictionaries> = store
        .cache_get(
            "dictionaries",
            &rules.file.amocrm.base_url,
            10 * 365 * 86_400,
        )?
        .and_then(|t| serde_json::from_str(&t).ok());
    let report = build(&calls, &setup, dict.as_ref(), a.days, from, to);
    if let Some(path) = &a.svg {
        std::fs::write(path, svg::render(&report)).map_err(|e| {
            Failure::usage(
                format!("cannot write the SVG to `{}`: {e}", path.display()),
                "pass a writable path with --svg",
            )
        })?;
    }
    if cli.json {
        println!(
            "{}",
            json!({"ok": true, "report": report, "svg": a.svg.as_ref().map(|p| p.display().to_string())})
        );
        return Ok(ExitStatus::Ok);
    }
    println!(
        "calls from {} to {} ({} day(s))\n",
        &report.from[..16.min(report.from.len())].replace('T', " "),
        &report.to[..16.min(report.to.len())].replace('T', " "),
        a.days
    );
    print!("{}", table(&report));
    println!();
    print!("{}", chart(&report, 50));
    let t = &report.totals;
    println!(
        "\n{} internal call(s) not counted; {} outside working hours; {} not yet in amoCRM",
        t.internal, report.outside_working_hours, t.pending_delivery
    );
    if t.missed.count > 0 {
        println!(
            "missed calls waited {} on average",
            human_secs(t.missed.average_secs)
        );
    }
    if let Some(p) = &a.svg {
        eprintln!("chart written to {}", p.display());
    }
    Ok(ExitStatus::Ok)
}
