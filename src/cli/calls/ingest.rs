//! `calls ingest` from stdin or `--file`, and `--explain`.

use std::io::Read;

use amocrm_bin::calls::parse::item_object;
use amocrm_bin::calls::ringostat::key_use;
use amocrm_bin::calls::{parse_body, CallSetup};
use amocrm_bin::exit::{ExitStatus, Failure};
use serde_json::{json, Value};

use super::intake::{format, intake_word, parsed, take, to_push};
use super::push::{outcome_json, outcome_line, push_all, worst};
use super::IngestArgs;
use crate::cli::{context, Cli};

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
    let rules = context::rules(cli)?;
    let store = context::store(&rules)?;
    let setup = CallSetup::from_rules(&rules)?;
    let body = read_input(args)?;
    let taken = match take(&store, &setup, &body, format(args.format))? {
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
        for t in &taken {
            match &t.error {
                None => println!(
                    "call {:<5} {}: {}",
                    t.intake.id(),
                    t.call_id,
                    intake_word(t.intake)
                ),
                Some(e) => println!(
                    "item {:<5} refused (kept as unparsed call {}): {e}",
                    t.position,
                    t.intake.id()
                ),
            }
        }
    }
    let ids = to_push(&store, &parsed(&taken))?;
    super::push::start_ingest_budget();
    let pushed = if args.no_push {
        Vec::new()
    } else {
        push_all(&rules, &store, &setup, &ids)
    };
    let refused = taken.iter().filter(|t| t.error.is_some()).count();
    let (status, hint) = match worst(&pushed) {
        Some(w) => w,
        None if refused > 0 => (
            ExitStatus::Usage,
            Some("the refused items are kept as `unparsed`: fix `[calls.ringostat_keys]` and run `amocrm-bin calls reparse`, or send them again fixed; the others were stored".into()),
        ),
        None => (ExitStatus::Ok, None),
    };
    if cli.json {
        let items: Vec<Value> = taken
            .iter()
            .map(|t| match &t.error {
                None => json!({"position": t.position, "call_id": t.call_id, "id": t.intake.id(), "intake": intake_word(t.intake)}),
                Some(e) => json!({"position": t.position, "error": e, "unparsed_id": t.intake.id()}),
            })
            .collect();
        println!(
            "{}",
            json!({
                "ok": status == ExitStatus::Ok,
                "exit_code": status.code(),
                "items": items,
                "pushed": pushed.iter().map(outcome_json).collect::<Vec<_>>(),
                "hint": hint,
            })
        );
    } else {
        for p in &pushed {
            println!("{}", outcome_line(p));
        }
        if let Some(h) = hint.filter(|_| status != ExitStatus::Ok) {
            eprintln!("hint: {h}");
            if status != ExitStatus::Usage || worst(&pushed).is_some() {
                eprintln!("hint: the calls are stored; after fixing, run `amocrm-bin replay-calls --days N`");
            }
        }
    }
    Ok(status)
}

/// `calls ingest --explain`: for each item, the keys it carried, which ones the key map
/// read (and for what), which it looked for in vain, and the event it became. Nothing is
/// stored or sent.
pub fn explain(cli: &Cli, args: &IngestArgs) -> anyhow::Result<ExitStatus> {
    let rules = context::rules(cli)?;
    let setup = CallSetup::from_rules(&rules)?;
    let body = read_input(args)?;
    let items = parse_body(
        &body,
        &setup.parse_options(format(args.format), setup.now()),
    )
    .map_err(|why| {
        Failure::usage(
            format!("cannot read the call events: {why}"),
            "send one webhook body as Ringostat posts it (JSON or form fields)",
        )
    })?;
    let mut out = Vec::new();
    for item in &items {
        let keys = item_object(&item.raw).map(|o| key_use(&o, &setup.keys));
        let event = match &item.event {
            Ok(e) => json!({
                "provider": e.provider, "call_id": e.call_id, "direction": e.direction.as_str(),
                "status": e.status.as_str(), "provider_status": e.provider_status,
                "is_callback": e.is_callback, "client_phone": e.client_phone,
                "started_at": e.started_at.to_rfc3339(), "billsec": e.billsec,
            }),
            Err(e) => json!({"error": e}),
        };
        if cli.json {
            out.push(json!({
                "position": item.position,
                "carried": keys.as_ref().map(|k| k.carried.clone()),
                "read": keys.as_ref().map(|k| k.read.iter().map(|(n, key, v)| json!({"name": n, "key": key, "value": v})).collect::<Vec<_>>()),
                "absent": keys.as_ref().map(|k| k.absent.iter().map(|(n, key)| json!({"name": n, "key": key})).collect::<Vec<_>>()),
                "unused": keys.as_ref().map(|k| k.unused.clone()),
                "event": event,
            }));
            continue;
        }
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
    if cli.json {
        println!("{}", json!({"ok": true, "items": out}));
    }
    Ok(ExitStatus::Ok)
}
