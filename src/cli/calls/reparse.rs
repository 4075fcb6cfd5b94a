//! `calls reparse`: read the stored `unparsed` items again with the rule file as it is now
//! (after a fix to `[calls.ringostat_keys]` or `[calls.statuses]`), store what they turn
//! out to be with the usual dedupe, then push.

use amocrm_bin::calls::{parse_body, CallSetup, Format};
use amocrm_bin::exit::ExitStatus;
use amocrm_bin::lock::{try_lock, LockKind};
use amocrm_bin::store::CallState;
use serde_json::json;

use super::intake::{intake_word, to_push};
use super::push::{outcome_json, outcome_line, push_all, worst};
use super::ReparseArgs;
use crate::cli::{context, Cli};

/// Runs `calls reparse`.
pub fn reparse(cli: &Cli, args: &ReparseArgs) -> anyhow::Result<ExitStatus> {
    let rules = context::rules(cli)?;
    let store = context::store(&rules)?;
    let setup = CallSetup::from_rules(&rules)?;
    let _run = try_lock(store.path(), LockKind::Run, "calls reparse")?;
    let opts = setup.parse_options(Format::Auto, setup.now());
    let window = i64::from(setup.calls.dedup_window_secs);
    let (mut read, mut still) = (Vec::new(), Vec::new());
    let mut intakes = Vec::new();
    for row in store.calls_in_state(CallState::Unparsed)? {
        let items = parse_body(&row.call.raw, &opts);
        let events: Result<Vec<_>, String> = match items {
            Ok(items) => items.into_iter().map(|i| i.event).collect(),
            Err(e) => Err(e),
        };
        match events {
            Ok(events) => {
                let records: Vec<_> = events.iter().map(|e| setup.new_call(e)).collect();
                let done = store.call_reparsed(row.id, &records, window)?;
                for (e, i) in events.iter().zip(&done) {
                    amocrm_bin::log::record(&format!(
                        "unparsed call {} re-parsed: {}:{} {}",
                        row.id,
                        e.provider,
                        e.call_id,
                        intake_word(*i)
                    ));
                    read.push(json!({"unparsed_id": row.id, "call_id": e.call_id, "id": i.id(), "intake": intake_word(*i)}));
                    if !cli.json {
                        println!(
                            "unparsed {:<5} → call {:<5} {}: {}",
                            row.id,
                            i.id(),
                            e.call_id,
                            intake_word(*i)
                        );
                    }
                }
                intakes.extend(done);
            }
            Err(why) => {
                store.call_unparsed_again(row.id, &why)?;
                if !cli.json {
                    println!("unparsed {:<5} still not readable: {why}", row.id);
                }
                still.push(json!({"unparsed_id": row.id, "error": why}));
            }
        }
    }
    let ids = to_push(&store, &intakes)?;
    let pushed = if args.no_push {
        Vec::new()
    } else {
        push_all(&rules, &store, &setup, &ids)
    };
    let (status, hint) = match worst(&pushed) {
        Some(w) => w,
        None if !still.is_empty() => (
            ExitStatus::Partial,
            Some("`amocrm-bin calls ingest --explain --file ITEM` shows which keys an item carries; map them in `[calls.ringostat_keys]`".into()),
        ),
        None => (ExitStatus::Ok, None),
    };
    if cli.json {
        println!(
            "{}",
            json!({
                "ok": status == ExitStatus::Ok,
                "exit_code": status.code(),
                "reparsed": read,
                "still_unparsed": still,
                "pushed": pushed.iter().map(outcome_json).collect::<Vec<_>>(),
                "hint": hint,
            })
        );
    } else {
        for p in &pushed {
            println!("{}", outcome_line(p));
        }
        if !cli.quiet {
            eprintln!(
                "calls reparse: {} item(s) read, {} still unparsed",
                read.len(),
                still.len()
            );
        }
        if let Some(h) = hint {
            eprintln!("hint: {h}");
        }
    }
    Ok(status)
}
