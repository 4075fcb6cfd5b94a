//! Pushing stored calls to amoCRM, shared by every subcommand, and how outcomes read.

use serde_json::{json, Value};

use crate::calls::{CallSetup, PushOutcome, Pusher};
use crate::exit::{classify, ExitStatus};

use crate::app::Context;

/// The result of pushing one call.
pub struct Pushed {
    /// Row id.
    pub id: i64,
    /// What happened.
    pub outcome: Result<PushOutcome, String>,
    /// Exit status of a failure.
    pub status: ExitStatus,
    /// Advice for a failure.
    pub hint: Option<String>,
}

/// Pushes calls in order; after a failure that concerns every call (authorization,
/// amoCRM unreachable, rule file), the rest are recorded as not sent with that error.
pub fn push_all(ctx: &Context, setup: &CallSetup, ids: &[i64]) -> Vec<Pushed> {
    let (rules, store) = (&ctx.rules, &ctx.store);
    let mut out = Vec::new();
    let failed = |e: &anyhow::Error| {
        let (status, hint) = classify(e);
        (crate::log::redact(&format!("{e:#}")), status, hint)
    };
    let crm = match ctx.crm() {
        Ok(c) => c,
        Err(e) => {
            let (text, status, hint) = failed(&e);
            for &id in ids {
                let _ = store.call_failed(id, &text);
                out.push(Pushed {
                    id,
                    outcome: Err(text.clone()),
                    status,
                    hint: hint.clone(),
                });
            }
            return out;
        }
    };
    let pusher = Pusher::new(store, setup, rules, &crm);
    let mut stop: Option<(String, ExitStatus, Option<String>)> = None;
    for &id in ids {
        if let Some((text, status, hint)) = &stop {
            let text = format!("not sent after an earlier failure: {text}");
            let _ = store.call_failed(id, &text);
            out.push(Pushed {
                id,
                outcome: Err(text),
                status: *status,
                hint: hint.clone(),
            });
            continue;
        }
        match pusher.push(id) {
            Ok(o) => {
                let pushed = Pushed {
                    id,
                    outcome: Ok(o),
                    status: ExitStatus::Ok,
                    hint: None,
                };
                // The words `calls ingest` prints, not a Rust `Debug` value.
                crate::log::record(&outcome_line(&pushed));
                out.push(pushed)
            }
            Err(e) => {
                let (text, status, hint) = failed(&e);
                crate::log::record(&format!("call {id}: push failed: {text}"));
                if crate::calls::concerns_every_call(status) {
                    stop = Some((text.clone(), status, hint.clone()));
                }
                out.push(Pushed {
                    id,
                    outcome: Err(text),
                    status,
                    hint,
                });
            }
        }
    }
    out
}

/// One outcome for `--json`.
pub fn outcome_json(p: &Pushed) -> Value {
    match &p.outcome {
        Ok(PushOutcome::Delivered {
            amo_call_id,
            entity,
            detail,
        }) => {
            json!({"id": p.id, "state": "delivered", "amo_call_id": amo_call_id, "entity": entity, "detail": detail})
        }
        Ok(PushOutcome::Skipped(why)) => json!({"id": p.id, "state": "skipped", "detail": why}),
        Ok(PushOutcome::Done(state)) => json!({"id": p.id, "state": state}),
        Err(e) => json!({"id": p.id, "state": "pending", "error": e}),
    }
}

/// One outcome as a line.
pub fn outcome_line(p: &Pushed) -> String {
    match &p.outcome {
        Ok(PushOutcome::Delivered {
            amo_call_id,
            entity,
            detail,
        }) => format!(
            "call {:<5} delivered → {entity} (amoCRM call {amo_call_id}): {detail}",
            p.id
        ),
        Ok(PushOutcome::Skipped(why)) => format!("call {:<5} skipped: {why}", p.id),
        Ok(PushOutcome::Done(state)) => format!("call {:<5} already {}", p.id, state.as_str()),
        Err(e) => format!("call {:<5} NOT SENT (kept for replay-calls): {e}", p.id),
    }
}

/// The worst failure's status and hint.
pub fn worst(pushed: &[Pushed]) -> Option<(ExitStatus, Option<String>)> {
    pushed
        .iter()
        .filter(|p| p.outcome.is_err())
        .max_by_key(|p| p.status)
        .map(|p| (p.status, p.hint.clone()))
}
