//! Rendering run reports: a readable plan/summary for humans, JSON for `--json`.

use amocrm_bin::app::Ran;
use amocrm_bin::engine::{Action, Report};
use amocrm_bin::exit::ExitStatus;
use serde::Serialize;

use super::Cli;

/// The one printer: with `--json` the outcome's JSON (secrets redacted) on stdout, else its
/// text as `text` writes it.
pub fn print<T: Serialize>(cli: &Cli, outcome: &T, text: impl FnOnce(&T)) -> anyhow::Result<()> {
    if cli.json {
        let v = serde_json::to_value(outcome)?;
        println!("{}", amocrm_bin::log::redact(&v.to_string()));
    } else {
        text(outcome);
    }
    Ok(())
}

/// [`print`] for a run cron may start. Under `-q` a run that ends well prints nothing: cron
/// mails whatever a job prints, every five minutes. A run with failures prints its text, so
/// the mail says what failed; `--json` always answers.
pub fn print_run<T: Serialize>(
    cli: &Cli,
    outcome: &T,
    status: ExitStatus,
    text: impl FnOnce(&T),
) -> anyhow::Result<()> {
    if cli.quiet && !cli.json && status == ExitStatus::Ok {
        return Ok(());
    }
    print(cli, outcome, text)
}

/// One line per note or task that failed and stays queued (it names the entity and why).
pub fn queued_lines(report: &Report) -> Vec<String> {
    report
        .followups
        .queued
        .iter()
        .map(|q| {
            format!(
                "QUEUED {} {} of {} {}: {} (`amocrm-bin drain` or the next run sends it)",
                q.what,
                q.key,
                q.kind.as_str(),
                q.entity,
                q.error
            )
        })
        .collect()
}

/// Prints a run's report (every entity with its action and reason; with `-v` or in a dry run
/// the fields sent; then the counts), silent under `-q` when it ended well ([`print_run`]).
pub fn report_run(cli: &Cli, ran: &Ran, status: ExitStatus) -> anyhow::Result<()> {
    print_run(cli, ran, status, |ran| text(cli, ran))
}

fn text(cli: &Cli, ran: &Ran) {
    entity_lines(cli, ran);
    let (report, stats) = (&ran.report, &ran.stats);
    if !cli.quiet {
        for line in summary_lines(report) {
            eprintln!("{line}");
        }
        eprintln!(
            "requests: {} ({} writes, {} × 429); BILLmanager: {} calls ({} forms) in {:.1} s",
            stats.requests,
            stats.writes,
            stats.status_429,
            report.panel.calls,
            report.panel.forms,
            report.panel.millis as f64 / 1000.0
        );
    }
}

/// One line per entity with its action and reason (with `-v` or in a dry run, the fields
/// sent), then what was not linked and what stays queued; no counts.
pub fn entity_lines(cli: &Cli, ran: &Ran) {
    let report = &ran.report;
    let detailed = report.dry_run || cli.verbose > 0;
    for o in &report.outcomes {
        let verb = match (report.dry_run, o.action) {
            (true, Action::Created) => "would create",
            (true, Action::Updated) => "would update",
            (_, Action::Created) => "created",
            (_, Action::Updated) => "updated",
            (_, Action::Unchanged) => "unchanged",
            (_, Action::Skipped) => "skipped",
            (_, Action::Joined) => "joined",
            (_, Action::Failed) => "FAILED",
        };
        let id = o
            .amo_id
            .map(|i| format!(" → amoCRM {} {i}", o.kind.as_str()))
            .unwrap_or_default();
        // The detail repeats the verb for a plain create ("created"): say it once.
        let detail = if o.detail.is_empty() || o.detail == verb || o.detail == "created" {
            String::new()
        } else {
            format!(": {}", o.detail)
        };
        println!("{:<7} {:<22} {verb}{id}{detail}", o.kind.as_str(), o.key);
        if detailed {
            for (field, value) in &o.changes {
                println!("          {field} = {value}");
            }
        }
        for w in &o.warnings {
            println!("          warning: {w}");
        }
    }
    for g in &report.unlinked {
        println!(
            "{:<7} {:<22} NOT LINKED: {}",
            g.kind.as_str(),
            g.key,
            g.reason
        );
    }
    for line in queued_lines(report) {
        println!("{line}");
    }
}

/// One line per kind with the counts that are not zero, worded for a dry run as "would".
pub fn summary_lines(report: &Report) -> Vec<String> {
    let (created, updated) = if report.dry_run {
        ("would create", "would update")
    } else {
        ("created", "updated")
    };
    report
        .counts()
        .iter()
        .map(|(k, c)| {
            let parts: Vec<String> = [
                (c.created, created),
                (c.updated, updated),
                (c.unchanged, "unchanged"),
                (c.skipped, "skipped"),
                (c.joined, "joined"),
                (c.failed, "failed"),
                (c.unlinked, "not linked"),
            ]
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| {
                if report.dry_run && (*what == created || *what == updated) {
                    format!("{what} {n}")
                } else {
                    format!("{n} {what}")
                }
            })
            .collect();
            let warned = match c.warned {
                0 => String::new(),
                n => format!(" ({n} with warnings)"),
            };
            format!("{}: {}{warned}", k.as_str(), parts.join(", "))
        })
        .chain(report.phoneless_line())
        .chain(report.followups.any().then(|| report.followups.line()))
        .collect()
}

/// A timestamp as `status`, `bindings` and `pull` show it.
/// Where a queued item stands, in the one wording `status` and `outbox list` share.
pub fn outbox_standing(parked: bool, next_attempt_at: i64, now: i64) -> String {
    if parked {
        "parked: retried only by hand".into()
    } else if next_attempt_at > now {
        format!("waiting to retry, next try {}", stamp(next_attempt_at))
    } else {
        "due now".into()
    }
}

/// A Unix time as the CLI prints it (UTC).
pub fn stamp(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}
