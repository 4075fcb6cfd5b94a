//! `calls ingest` from stdin or `--file`, and `--explain`.

use std::io::Read;

use amocrm_bin::app::calls::explain::{Explained, Explanation};
use amocrm_bin::calls::CallSetup;
use amocrm_bin::exit::{ExitStatus, Failure};

use amocrm_bin::app::calls::push::{outcome_line, worst};
use amocrm_bin::app::{self};

use super::IngestArgs;
use crate::cli::output::print;
use crate::cli::Cli;

fn read_input(args: &IngestArgs) -> anyhow::Result<String> {
    let cap = amocrm_bin::calls::MAX_INGEST_INPUT;
    let mut bytes = Vec::new();
    let source = match &args.file {
        Some(path) => {
            let file = std::fs::File::open(path).map_err(|e| {
                Failure::usage(
                    format!("cannot read `{}`: {e}", path.display()),
                    "pass an existing file with --file, or pipe the events to stdin",
                )
            })?;
            file.take(cap + 1).read_to_end(&mut bytes).map_err(|e| {
                Failure::usage(
                    format!("cannot read `{}`: {e}", path.display()),
                    "pass an existing file with --file, or pipe the events to stdin",
                )
            })?;
            format!("`{}`", path.display())
        }
        None => {
            std::io::stdin().take(cap + 1).read_to_end(&mut bytes)?;
            "stdin".to_string()
        }
    };
    if bytes.len() as u64 > cap {
        return Err(Failure::usage(
            format!("input too large: {source} is over {} MiB", cap >> 20),
            "split the events into files of a few MiB (one event per line splits anywhere) and ingest each",
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Runs `calls ingest` (not as CGI).
pub fn ingest(cli: &Cli, args: &IngestArgs) -> anyhow::Result<ExitStatus> {
    let ctx = app::Context::open(&cli.config)?;
    let setup = CallSetup::from_rules(&ctx.rules)?;
    let body = read_input(args)?;
    let intaken = match app::calls::take(&ctx, setup, &body, args.format.format())? {
        Ok(t) => t,
        Err(why) => {
            return Err(Failure::usage(
                format!("cannot read the call events: {why}"),
                "send a Ringostat webhook (JSON or form fields) or neutral events, one per line; see docs/calls-guide.md",
            )
            .into())
        }
    };
    if !cli.json {
        for t in &intaken.taken {
            match &t.error {
                None => println!("call {:<5} {}: {}", t.intake.id(), t.call_id, t.words()),
                Some(e) => println!(
                    "item {:<5} refused (kept as unparsed call {}): {e}",
                    t.position,
                    t.intake.id()
                ),
            }
        }
    }
    let ingested = app::calls::ingest(&ctx, intaken, args.no_push)?;
    print(cli, &ingested, |i| {
        for p in &i.pushed {
            println!("{}", outcome_line(p));
        }
        if let Some(h) = i.hint.as_ref().filter(|_| i.status != ExitStatus::Ok) {
            eprintln!("hint: {h}");
            if i.status != ExitStatus::Usage || worst(&i.pushed).is_some() {
                eprintln!("hint: the calls are stored; after fixing, run `amocrm-bin replay-calls --days N`");
            }
        }
    })?;
    Ok(ingested.status)
}

/// `calls ingest --explain`: for each item, the keys it carried, which ones the key map
/// read (and for what), which it looked for in vain, and the event it became. Nothing is
/// stored or sent.
pub fn explain(cli: &Cli, args: &IngestArgs) -> anyhow::Result<ExitStatus> {
    let rules = app::load_rules(&cli.config)?;
    let body = read_input(args)?;
    let explanation = app::calls::explain::explain(&rules, &body, args.format.format())?;
    print(cli, &explanation, text)?;
    Ok(ExitStatus::Ok)
}

/// Each item's keys and event, for a person setting up the key map.
fn text(explanation: &Explanation) {
    for Explained { item, keys } in &explanation.items {
        println!("item {}", item.position);
        if let Some(k) = &keys {
            println!("  carried: {}", k.carried.join(", "));
            for (name, key, value) in &k.read {
                let via = if name == key {
                    String::new()
                } else {
                    format!(" (as `{key}`)")
                };
                println!("  read {name}{via} = {value}");
            }
            let absent: Vec<String> = k
                .absent
                .iter()
                .map(|(n, key)| {
                    if n == key {
                        n.clone()
                    } else {
                        format!("{n} (as `{key}`)")
                    }
                })
                .collect();
            println!("  not in the payload: {}", absent.join(", "));
            println!(
                "  carried but not read (map them in [calls.ringostat_keys]): {}",
                if k.unused.is_empty() {
                    "none".to_string()
                } else {
                    k.unused.join(", ")
                }
            );
        }
        match &item.event {
            Ok(e) => println!(
                "  → {} call {} {} {}{} from {}, status {} (provider: `{}`), {} s of talk",
                e.provider,
                e.call_id,
                e.direction.as_str(),
                e.started_at.to_rfc3339(),
                if e.is_callback { " (callback)" } else { "" },
                e.client_phone.as_deref().unwrap_or("-"),
                e.status.as_str(),
                e.provider_status,
                e.billsec
            ),
            Err(e) => println!("  → not readable: {e}"),
        }
    }
}
