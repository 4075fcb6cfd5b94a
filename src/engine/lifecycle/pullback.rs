//! Pull back from amoCRM: lead status changes read through the events API
//! (`GET /api/v4/events?filter[type]=lead_status_changed`, reference §14), so the rules see
//! what managers did.
//!
//! Each change is stored per lead with who made it and when (`store::LeadState::seen`).
//! Our own moves are sent with `updated_by: 0` and so come back as a robot's (`created_by`
//! 0); anything else is a manager's hand. That is how a lead closed by us, reopened and
//! closed again by a manager is still known as closed by hand.
//!
//! The cursor is the newest `created_at` read plus the ids read at that second (events of
//! one second may arrive on two pulls); the first pull reads `first_days` back.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::crm::{Crm, CrmError};
use crate::store::Store;

/// The store value holding the cursor.
const CURSOR: &str = "events_cursor";

/// What a pull did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PullReport {
    /// Events read (new ones).
    pub events: usize,
    /// Leads whose known status changed.
    pub leads: usize,
    /// Of those events, moves to won/lost by a person.
    pub closed_by_hand: usize,
    /// Unix time the pull read from.
    pub from: i64,
    /// The cursor afterwards.
    pub cursor: i64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Cursor {
    at: i64,
    ids: Vec<String>,
}

/// Reads lead status changes since the last pull and records them.
pub fn pull(store: &Store, crm: &dyn Crm, first_days: u32) -> anyhow::Result<PullReport> {
    let cursor: Option<Cursor> = store
        .life_value(CURSOR)?
        .and_then(|v| serde_json::from_str(&v).ok());
    let from = cursor
        .as_ref()
        .map(|c| c.at)
        .unwrap_or_else(|| crate::store::now() - i64::from(first_days) * 86_400);
    let mut events = Vec::new();
    crm.events(&["lead_status_changed"], from, &mut |e| events.push(e))?;
    let mut report = PullReport {
        from,
        cursor: from,
        ..PullReport::default()
    };
    let mut next = cursor.unwrap_or(Cursor {
        at: from,
        ids: Vec::new(),
    });
    let mut leads = std::collections::BTreeSet::new();
    for e in events {
        let id = match e.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => continue,
        };
        let at = e.get("created_at").and_then(Value::as_i64).unwrap_or(0);
        if at < next.at || (at == next.at && next.ids.contains(&id)) {
            continue;
        }
        if at > next.at {
            next = Cursor {
                at,
                ids: Vec::new(),
            };
        }
        next.ids.push(id);
        report.events += 1;
        let status = e.pointer("/value_after/0/lead_status");
        let (Some(lead), Some(p), Some(s)) = (
            e.get("entity_id").and_then(Value::as_i64),
            status
                .and_then(|v| v.get("pipeline_id"))
                .and_then(Value::as_i64),
            status.and_then(|v| v.get("id")).and_then(Value::as_i64),
        ) else {
            continue;
        };
        let by = e.get("created_by").and_then(Value::as_i64).unwrap_or(0);
        if store.life_lead_seen(lead, (p, s), by, at)? {
            leads.insert(lead);
        }
        if by != 0 && super::is_closed(s) {
            report.closed_by_hand += 1;
        }
    }
    report.leads = leads.len();
    report.cursor = next.at;
    store.life_value_put(CURSOR, &serde_json::to_string(&next)?)?;
    Ok(report)
}

impl super::Engine<'_> {
    /// Pulls when `[lifecycle.pullback]` is enabled (not in a dry run).
    ///
    /// The pull is optional: when the events API fails (a 404 or 403 for a missing scope, an
    /// answer we cannot read, …) the run records a degraded part and goes on, ending
    /// "partial". Only what would stop the core sync too (authorization, a blocked or unpaid
    /// account, the store) stops it here.
    pub fn pull_if_enabled(&self) -> anyhow::Result<Option<PullReport>> {
        match &self.rules.file.lifecycle.pullback {
            Some(p) if p.enabled && !self.dry_run => {
                match pull(self.store, self.crm, p.first_days) {
                    Ok(r) => Ok(Some(r)),
                    Err(e) if stops_the_core(&e) => Err(e),
                    Err(e) => {
                        self.degrade("events pull ([lifecycle.pullback])", &e, pull_fix(&e));
                        Ok(None)
                    }
                }
            }
            _ => Ok(None),
        }
    }
}

/// Failures no optional part may swallow: every later request would fail the same way.
pub(crate) fn stops_the_core(e: &anyhow::Error) -> bool {
    if e.chain()
        .any(|c| c.downcast_ref::<crate::store::StoreError>().is_some())
    {
        return true;
    }
    e.chain()
        .find_map(|c| c.downcast_ref::<CrmError>())
        .is_some_and(|c| {
            // Unreachable after its retries: the run stops there (issue 22).
            c.stops_the_run() || crate::status::Classify::is_fatal(c)
        })
}

fn pull_fix(e: &anyhow::Error) -> String {
    let off = "or set `[lifecycle.pullback] enabled = false` to stop reading events";
    match e.chain().find_map(|c| c.downcast_ref::<CrmError>()) {
        Some(CrmError::Http { status: 404, .. }) => format!(
            "amoCRM has no events API at `[amocrm] base_url`, or the integration may not use it: \
             check base_url and the integration's access to events; {off}"
        ),
        Some(CrmError::Forbidden { .. }) => format!(
            "the authorizing user may not read events: authorize as an administrator \
             (`amocrm-bin auth --code`); {off}"
        ),
        _ => format!(
            "`amocrm-bin pull -v` shows the request; the next run pulls from where this one \
             stopped; {off}"
        ),
    }
}
