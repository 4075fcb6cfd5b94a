//! Call-tracking events: stored first, pushed after.
//!
//! ## States
//! - `pending`: waits for amoCRM (a new call, or one whose push failed; `last_error` says why).
//! - `delivered`: amoCRM confirmed `POST /api/v4/calls`; `amo_call_id` is its call note.
//! - `skipped`: nothing to send by rule (internal call, no client phone, …); `detail` says why.
//! - `interim`: not the call's final event; superseded when the final one arrives.
//!
//! ## Deduplication
//! Every provider id a call was reported under is a row of `call_keys`, so a webhook
//! delivered twice finds its call. A forwarded leg reported under another id is matched by
//! fingerprint (same caller, direction and destination; see `calls::fingerprint`), start
//! within the window and overlap in time. A duplicate that reports the call better (an
//! answered leg after a missed one) replaces the stored event while the call is still
//! pending; after delivery it is only counted. Intake runs in one IMMEDIATE transaction, so
//! two processes receiving the same call at once store it once.
//!
//! ## Steps
//! A push is several amoCRM writes (contact, lead, tasks, the call). Each is recorded in
//! `call_steps` with the id amoCRM returned as soon as it succeeded, so a push interrupted
//! by an outage resumes where it stopped and never creates anything twice. A step row
//! without an id marks a write whose answer was lost: the next attempt looks for it first.

use rusqlite::{params, OptionalExtension, Row, Transaction, TransactionBehavior};

use super::{now, Result, Store};

/// Where a stored call is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CallState {
    /// Waiting for amoCRM.
    Pending,
    /// amoCRM confirmed it.
    Delivered,
    /// Nothing to send by rule.
    Skipped,
    /// Not the final event of its call.
    Interim,
}

impl CallState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Pending => "pending",
            CallState::Delivered => "delivered",
            CallState::Skipped => "skipped",
            CallState::Interim => "interim",
        }
    }

    fn parse(s: &str) -> CallState {
        match s {
            "delivered" => CallState::Delivered,
            "skipped" => CallState::Skipped,
            "interim" => CallState::Interim,
            _ => CallState::Pending,
        }
    }
}

/// A call to store (built by `calls::intake` from a parsed event).
#[derive(Debug, Clone)]
pub struct NewCall {
    /// Provider (`ringostat`).
    pub provider: String,
    /// The provider's call id.
    pub call_id: String,
    /// `calls::fingerprint::fingerprint`.
    pub fingerprint: String,
    /// `inbound` / `outbound`.
    pub direction: String,
    /// `answered`, `missed`, …
    pub status: String,
    /// The call's final event.
    pub ended: bool,
    /// Between employees.
    pub internal: bool,
    /// Unix start.
    pub started_at: i64,
    /// Total seconds.
    pub duration: i64,
    /// Talk seconds.
    pub billsec: i64,
    /// Client phone, E.164.
    pub client_phone: Option<String>,
    /// `calls::fingerprint::rank`: the better report of one call wins.
    pub rank: i64,
    /// The neutral event as JSON.
    pub event: String,
    /// The provider's payload as received.
    pub raw: String,
    /// Initial state: pending, skipped or interim.
    pub state: CallState,
    /// Why it was skipped.
    pub detail: Option<String>,
}

/// What intake did with a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intake {
    /// A new call (row id).
    New(i64),
    /// A better report of a call not yet delivered replaced the stored one (row id).
    Replaced(i64),
    /// Already stored (row id); `by_fingerprint` when matched as another leg, not by id.
    Duplicate {
        /// The stored call.
        id: i64,
        /// Matched by fingerprint (a forwarded leg) rather than by the provider id.
        by_fingerprint: bool,
    },
}

impl Intake {
    /// The stored call's row id.
    pub fn id(self) -> i64 {
        match self {
            Intake::New(id) | Intake::Replaced(id) | Intake::Duplicate { id, .. } => id,
        }
    }
}

/// A stored call.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredCall {
    /// Row id.
    pub id: i64,
    /// Provider.
    pub provider: String,
    /// Provider call id (of the report kept).
    pub call_id: String,
    /// `inbound` / `outbound`.
    pub direction: String,
    /// `answered`, `missed`, …
    pub status: String,
    /// The final event of its call.
    pub ended: bool,
    /// Between employees.
    pub internal: bool,
    /// Unix start.
    pub started_at: i64,
    /// Total seconds.
    pub duration: i64,
    /// Talk seconds.
    pub billsec: i64,
    /// Client phone.
    pub client_phone: Option<String>,
    /// The neutral event as JSON.
    #[serde(skip)]
    pub event: String,
    /// State.
    pub state: CallState,
    /// Skip reason or what the push did.
    pub detail: Option<String>,
    /// Failed pushes so far.
    pub attempts: i64,
    /// The last push error.
    pub last_error: Option<String>,
    /// amoCRM's id of the call (its call note), once delivered.
    pub amo_call_id: Option<i64>,
    /// The entity amoCRM attached the call to (`lead:9100001`).
    pub amo_entity: Option<String>,
    /// The amoCRM user responsible for the call.
    pub user_id: Option<i64>,
    /// Unix time of delivery.
    pub delivered_at: Option<i64>,
    /// Further reports of the same call that were merged into this one.
    pub duplicates: i64,
    /// Unix time it was received.
    pub received_at: i64,
}

/// Seconds of tolerance when checking that two legs of one call overlap (providers round
/// times); the store owns the query that applies it.
pub const OVERLAP_SLACK_SECS: i64 = 2;

const COLUMNS: &str = "id, provider, call_id, direction, status, ended, internal, started_at, \
     duration, billsec, client_phone, event, state, detail, attempts, last_error, amo_call_id, \
     amo_entity, user_id, delivered_at, duplicates, received_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<StoredCall> {
    Ok(StoredCall {
        id: r.get(0)?,
        provider: r.get(1)?,
        call_id: r.get(2)?,
        direction: r.get(3)?,
        status: r.get(4)?,
        ended: r.get::<_, i64>(5)? != 0,
        internal: r.get::<_, i64>(6)? != 0,
        started_at: r.get(7)?,
        duration: r.get(8)?,
        billsec: r.get(9)?,
        client_phone: r.get(10)?,
        event: r.get(11)?,
        state: CallState::parse(&r.get::<_, String>(12)?),
        detail: r.get(13)?,
        attempts: r.get(14)?,
        last_error: r.get(15)?,
        amo_call_id: r.get(16)?,
        amo_entity: r.get(17)?,
        user_id: r.get(18)?,
        delivered_at: r.get(19)?,
        duplicates: r.get(20)?,
        received_at: r.get(21)?,
    })
}

/// Overwrites a stored call's report with a better one.
fn replace(tx: &Transaction<'_>, id: i64, c: &NewCall, t: i64) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE calls SET call_id = ?2, fingerprint = ?3, direction = ?4, status = ?5,
             ended = ?6, internal = ?7, started_at = ?8, duration = ?9, billsec = ?10,
             client_phone = ?11, rank = ?12, event = ?13, raw = ?14, state = ?15, detail = ?16,
             updated_at = ?17
         WHERE id = ?1",
        params![
            id,
            c.call_id,
            c.fingerprint,
            c.direction,
            c.status,
            c.ended as i64,
            c.internal as i64,
            c.started_at,
            c.duration,
            c.billsec,
            c.client_phone,
            c.rank,
            c.event,
            c.raw,
            c.state.as_str(),
            c.detail,
            t
        ],
    )
    .map(drop)
}

impl Store {
    /// Stores a call unless it is already known (by provider id, or by fingerprint within
    /// `window` seconds with overlapping times); see the module doc.
    pub fn call_intake(&self, c: &NewCall, window: i64) -> Result<Intake> {
        let run = || -> rusqlite::Result<Intake> {
            let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
            let t = now();
            let by_id: Option<(i64, String, i64)> = tx
                .query_row(
                    "SELECT c.id, c.state, c.rank FROM call_keys k JOIN calls c ON c.id = k.call
                     WHERE k.provider = ?1 AND k.call_id = ?2",
                    params![c.provider, c.call_id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let by_fp: Option<(i64, String, i64)> = match (&by_id, c.ended && !c.internal) {
                (None, true) => tx
                    .query_row(
                        "SELECT id, state, rank FROM calls
                         WHERE fingerprint = ?1 AND provider = ?2 AND ended = 1
                           AND started_at BETWEEN ?3 - ?4 AND ?3 + ?4
                           AND ?3 <= started_at + duration + ?5
                           AND started_at <= ?3 + ?6 + ?5
                         ORDER BY ABS(started_at - ?3), id LIMIT 1",
                        params![
                            c.fingerprint,
                            c.provider,
                            c.started_at,
                            window,
                            OVERLAP_SLACK_SECS,
                            c.duration
                        ],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .optional()?,
                _ => None,
            };
            let outcome = match (by_id, by_fp) {
                (Some((id, state, rank)), _) => {
                    let state = CallState::parse(&state);
                    let better = (state == CallState::Interim && c.ended)
                        || (state == CallState::Pending && c.ended && c.rank > rank);
                    if better {
                        replace(&tx, id, c, t)?;
                        Intake::Replaced(id)
                    } else {
                        tx.execute(
                            "UPDATE calls SET duplicates = duplicates + 1, updated_at = ?2 WHERE id = ?1",
                            params![id, t],
                        )?;
                        Intake::Duplicate {
                            id,
                            by_fingerprint: false,
                        }
                    }
                }
                (None, Some((id, state, rank))) => {
                    tx.execute(
                        "INSERT INTO call_keys (provider, call_id, call) VALUES (?1, ?2, ?3)",
                        params![c.provider, c.call_id, id],
                    )?;
                    if CallState::parse(&state) == CallState::Pending && c.rank > rank {
                        replace(&tx, id, c, t)?;
                        tx.execute(
                            "UPDATE calls SET duplicates = duplicates + 1 WHERE id = ?1",
                            params![id],
                        )?;
                        Intake::Replaced(id)
                    } else {
                        tx.execute(
                            "UPDATE calls SET duplicates = duplicates + 1, updated_at = ?2 WHERE id = ?1",
                            params![id, t],
                        )?;
                        Intake::Duplicate {
                            id,
                            by_fingerprint: true,
                        }
                    }
                }
                (None, None) => {
                    tx.execute(
                        "INSERT INTO calls (provider, call_id, fingerprint, direction, status, ended,
                             internal, started_at, duration, billsec, client_phone, rank, event, raw,
                             received_at, state, detail, updated_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                             ?16, ?17, ?15)",
                        params![
                            c.provider,
                            c.call_id,
                            c.fingerprint,
                            c.direction,
                            c.status,
                            c.ended as i64,
                            c.internal as i64,
                            c.started_at,
                            c.duration,
                            c.billsec,
                            c.client_phone,
                            c.rank,
                            c.event,
                            c.raw,
                            t,
                            c.state.as_str(),
                            c.detail
                        ],
                    )?;
                    let id = tx.last_insert_rowid();
                    tx.execute(
                        "INSERT INTO call_keys (provider, call_id, call) VALUES (?1, ?2, ?3)",
                        params![c.provider, c.call_id, id],
                    )?;
                    Intake::New(id)
                }
            };
            tx.commit()?;
            Ok(outcome)
        };
        run().map_err(|e| self.err("store a call", e))
    }

    /// One stored call.
    pub fn call(&self, id: i64) -> Result<Option<StoredCall>> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM calls WHERE id = ?1"),
                params![id],
                from_row,
            )
            .optional()
            .map_err(|e| self.err("read a call", e))
    }

    fn calls_query(&self, sql: &str, p: impl rusqlite::Params) -> Result<Vec<StoredCall>> {
        let mut stmt = self
            .conn
            .prepare(sql)
            .map_err(|e| self.err("read the calls", e))?;
        let rows = stmt
            .query_map(p, from_row)
            .map_err(|e| self.err("read the calls", e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err("read the calls", e))
    }

    /// Calls amoCRM has not acknowledged that started at or after `since`, oldest first.
    pub fn calls_unacknowledged(&self, since: i64) -> Result<Vec<StoredCall>> {
        self.calls_query(
            &format!(
                "SELECT {COLUMNS} FROM calls WHERE state = 'pending' AND started_at >= ?1
                 ORDER BY started_at, id"
            ),
            params![since],
        )
    }

    /// Every call that started in `[from, to)`, oldest first (report, `calls list`).
    pub fn calls_between(&self, from: i64, to: i64) -> Result<Vec<StoredCall>> {
        self.calls_query(
            &format!(
                "SELECT {COLUMNS} FROM calls WHERE started_at >= ?1 AND started_at < ?2
                 ORDER BY started_at, id"
            ),
            params![from, to],
        )
    }

    /// Records a failed push; the call stays pending with the error.
    pub fn call_failed(&self, id: i64, error: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE calls SET attempts = attempts + 1, last_error = ?2, last_attempt_at = ?3,
                     updated_at = ?3 WHERE id = ?1",
                params![id, error, now()],
            )
            .map(drop)
            .map_err(|e| self.err("update a call", e))
    }

    /// Marks a call delivered after amoCRM confirmed it.
    pub fn call_delivered(
        &self,
        id: i64,
        amo_call_id: i64,
        entity: &str,
        user_id: Option<i64>,
        detail: &str,
    ) -> Result<()> {
        self.conn
            .execute(
                "UPDATE calls SET state = 'delivered', amo_call_id = ?2, amo_entity = ?3,
                     user_id = ?4, detail = ?5, last_error = NULL, delivered_at = ?6,
                     last_attempt_at = ?6, updated_at = ?6
                 WHERE id = ?1 AND state = 'pending'",
                params![id, amo_call_id, entity, user_id, detail, now()],
            )
            .map(drop)
            .map_err(|e| self.err("update a call", e))
    }

    /// Marks a call as nothing-to-send, with the reason.
    pub fn call_skipped(&self, id: i64, reason: &str, internal: bool) -> Result<()> {
        self.conn
            .execute(
                "UPDATE calls SET state = 'skipped', detail = ?2, internal = MAX(internal, ?3),
                     last_error = NULL, updated_at = ?4
                 WHERE id = ?1 AND state = 'pending'",
                params![id, reason, internal as i64, now()],
            )
            .map(drop)
            .map_err(|e| self.err("update a call", e))
    }

    /// A step of a call's push: `None` never tried, `Some(None)` tried without a known
    /// outcome, `Some(Some(id))` done with amoCRM id `id`.
    pub fn call_step(&self, id: i64, step: &str) -> Result<Option<Option<i64>>> {
        self.conn
            .query_row(
                "SELECT amo_id FROM call_steps WHERE call = ?1 AND step = ?2",
                params![id, step],
                |r| r.get::<_, Option<i64>>(0),
            )
            .optional()
            .map_err(|e| self.err("read a call step", e))
    }

    /// Records a step (`amo_id` `None`: about to try it).
    pub fn call_step_set(&self, id: i64, step: &str, amo_id: Option<i64>) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO call_steps (call, step, amo_id, done_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (call, step) DO UPDATE SET amo_id = excluded.amo_id,
                     done_at = excluded.done_at",
                params![id, step, amo_id, now()],
            )
            .map(drop)
            .map_err(|e| self.err("record a call step", e))
    }

    /// Forgets an attempted step (its failure was definite: nothing was written).
    pub fn call_step_clear(&self, id: i64, step: &str) -> Result<()> {
        self.conn
            .execute(
                "DELETE FROM call_steps WHERE call = ?1 AND step = ?2 AND amo_id IS NULL",
                params![id, step],
            )
            .map(drop)
            .map_err(|e| self.err("record a call step", e))
    }

    /// Whether an amoCRM task is a call-back task a call push created.
    pub fn is_callback_task(&self, task_id: i64) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM call_steps
                 WHERE amo_id = ?1 AND step IN ('task:callback', 'task:senior')",
                params![task_id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(|e| self.err("read a call step", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(id: &str, fp: &str, start: i64, dur: i64, rank: i64) -> NewCall {
        NewCall {
            provider: "ringostat".into(),
            call_id: id.into(),
            fingerprint: fp.into(),
            direction: "inbound".into(),
            status: "answered".into(),
            ended: true,
            internal: false,
            started_at: start,
            duration: dur,
            billsec: dur,
            client_phone: Some("+79161234567".into()),
            rank,
            event: "{}".into(),
            raw: "{}".into(),
            state: CallState::Pending,
            detail: None,
        }
    }

    #[test]
    fn dedup_by_id_and_by_overlapping_fingerprint() {
        let s = Store::open_in_memory().unwrap();
        let first = s.call_intake(&call("a", "fp", 1000, 60, 1), 60).unwrap();
        assert!(matches!(first, Intake::New(_)));
        assert_eq!(
            s.call_intake(&call("a", "fp", 1000, 60, 1), 60).unwrap(),
            Intake::Duplicate {
                id: first.id(),
                by_fingerprint: false
            }
        );
        // Another leg of the same call, reported better while still pending: replaces it.
        assert_eq!(
            s.call_intake(&call("b", "fp", 1002, 90, 5), 60).unwrap(),
            Intake::Replaced(first.id())
        );
        // …and its id is now known too.
        assert!(matches!(
            s.call_intake(&call("b", "fp", 1002, 90, 5), 60).unwrap(),
            Intake::Duplicate { .. }
        ));
        // The same client calling again after hanging up is a new call.
        assert!(matches!(
            s.call_intake(&call("c", "fp", 1100, 30, 1), 60).unwrap(),
            Intake::New(_)
        ));
        let stored = s.call(first.id()).unwrap().unwrap();
        assert_eq!((stored.call_id.as_str(), stored.duplicates), ("b", 3));
    }

    #[test]
    fn delivered_calls_leave_the_replay_list_and_steps_persist() {
        let s = Store::open_in_memory().unwrap();
        let a = s
            .call_intake(&call("a", "x", 2000, 10, 1), 60)
            .unwrap()
            .id();
        let b = s
            .call_intake(&call("b", "y", 1000, 10, 1), 60)
            .unwrap()
            .id();
        let ids: Vec<i64> = s
            .calls_unacknowledged(0)
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(ids, vec![b, a], "oldest first");
        assert_eq!(s.calls_unacknowledged(1500).unwrap().len(), 1);
        s.call_failed(a, "amoCRM unreachable").unwrap();
        assert_eq!(
            s.call(a).unwrap().unwrap().last_error.as_deref(),
            Some("amoCRM unreachable")
        );
        s.call_step_set(a, "task:callback", Some(7300001)).unwrap();
        assert!(s.is_callback_task(7300001).unwrap());
        assert_eq!(
            s.call_step(a, "task:callback").unwrap(),
            Some(Some(7300001))
        );
        s.call_step_set(a, "call", None).unwrap();
        assert_eq!(s.call_step(a, "call").unwrap(), Some(None));
        s.call_delivered(a, 76780001, "lead:9100001", Some(504142), "ok")
            .unwrap();
        let c = s.call(a).unwrap().unwrap();
        assert_eq!(c.state, CallState::Delivered);
        assert_eq!(c.last_error, None);
        assert_eq!(s.calls_unacknowledged(0).unwrap().len(), 1);
    }
}
