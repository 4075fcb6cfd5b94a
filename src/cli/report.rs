//! `report calls --days N [--svg FILE]`: per-manager call numbers and the hour-of-day chart,
//! from the store alone (works while amoCRM is unreachable).

use std::path::PathBuf;

use amocrm_bin::app;
use amocrm_bin::calls::report::{chart, human_secs, table};
use amocrm_bin::exit::ExitStatus;
use clap::{Args, Subcommand};

use super::output::print;
use super::Cli;

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
    let ctx = app::Context::open(&cli.config)?;
    let calls = app::report::calls(&ctx, a.days, a.svg.as_deref())?;
    print(cli, &calls, |c| {
        let report = &c.report;
        println!(
            "calls from {} to {} ({} day(s))\n",
            &report.from[..16.min(report.from.len())].replace('T', " "),
            &report.to[..16.min(report.to.len())].replace('T', " "),
            a.days
        );
        print!("{}", table(report));
        println!();
        print!("{}", chart(report, 50));
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
        if let Some(p) = &c.svg {
            eprintln!("chart written to {p}");
        }
        if let Some(hint) = app::report::outside_window(c.older, a.days) {
            eprintln!("hint: {hint}");
        }
    })?;
    Ok(ExitStatus::Ok)
}
