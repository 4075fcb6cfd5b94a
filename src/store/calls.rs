//! Call-tracking events: stored first, pushed after.
//!
//! ## States
//! - `pending`: waits for amoCRM (a new call, or one whose push failed; `last_error` says why).
//! - `delivered`: amoCRM confirmed `POST /api/v4/calls`; `amo_call_id` is its call note.
//! - `skipped`: nothing to send by rule (internal call, no client phone, …); `detail` says why.
//! - `interim`: not the call's final event; superseded when the final one arrives.
//! - `unparsed`: a received item that could not be read (`detail` says why, `raw` holds it);
//!   `calls reparse` reads it again after the key map is fixed.
//!
//! ## Store first
//! The CGI receiver writes every authenticated request body to `call_bodies` before it
//! parses anything, and every item it cannot read becomes an `unparsed` call, so a webhook
//! Ringostat will not resend is never lost. Bodies are kept for [`BODY_KEEP_SECS`].
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
    /// Received but not readable; kept for `calls reparse`.
    Unparsed,
}

impl CallState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Pending => "pending",
            CallState::Delivered => "delivered",
            CallState::Skipped => "skipped",
            CallState::Interim => "interim",
            CallState::Unparsed => "unparsed",
        }
    }

    fn parse(s: &str) -> CallState {
        match s {
            "delivered" => CallState::Delivered,
            "skipped" => CallState::Skipped,
            "interim" => CallState::Interim,
            "unparsed" => CallState::Unparsed,
            _ => CallState::Pending,
        }
    }
}

/// One call row as intake writes it (built by `calls::setup` from a parsed event) and as
/// every reader gets it back inside [`StoredCall`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct CallRecord {
    /// Provider (`ringostat`).
    pub provider: String,
    /// The provider's call id (of the report kept).
    pub call_id: String,
    /// `calls::fingerprint::fingerprint`.
    #[serde(skip)]
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
    #[serde(skip)]
    pub rank: i64,
    /// The neutral event as JSON.
    #[serde(skip)]
    pub event: String,
    /// The provider's payload as received (for `unparsed`: the item's text).
    #[serde(skip)]
    pub raw: String,
    /// State: pending, skipped or interim at intake; later delivered.
    pub state: CallState,
    /// Why it was skipped or not parsed, or what the push did.
    pub detail: Option<String>,
}

impl CallRecord {
    /// An item that could not be parsed, keyed by a digest of its text so that Ringostat's
    /// resends of the same item are counted once.
    pub fn unparsed(raw: &str, error: &str, received_at: i64) -> CallRecord {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(raw.as_bytes());
        let key: String = digest.iter().take(10).map(|b| format!("{b:02x}")).collect();
        CallRecord {
            provider: "unparsed".into(),
            call_id: key,
            fingerprint: String::new(),
            direction: "inbound".into(),
            status: "unknown".into(),
            ended: false,
            internal: false,
            started_at: received_at,
            duration: 0,
            billsec: 0,
            client_phone: None,
            rank: 0,
            event: "{}".into(),
            raw: raw.into(),
            state: CallState::Unparsed,
            detail: Some(error.into()),
        }
    }
}

/// How long request bodies stay in `call_bodies` (the items themselves stay as calls).
pub const BODY_KEEP_SECS: i64 = 30 * 86_400;

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

/// A stored call: its [`CallRecord`] and what happened to it since.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredCall {
    /// Row id.
    pub id: i64,
    /// The row as stored.
    #[serde(flatten)]
    pub call: CallRecord,
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

/// One more report of a call already stored.
fn count_duplicate(tx: &Transaction<'_>, id: i64, t: i64) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE calls SET duplicates = duplicates + 1, updated_at = ?2 WHERE id = ?1",
        params![id, t],
    )?;
    Ok(())
}

const COLUMNS: &str = "id, provider, call_id, fingerprint, direction, status, ended, internal, \
     started_at, duration, billsec, client_phone, rank, event, raw, state, detail, attempts, \
     last_error, amo_call_id, amo_entity, user_id, delivered_at, duplicates, received_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<StoredCall> {
    Ok(StoredCall {
        id: r.get(0)?,
        call: CallRecord {
            provider: r.get(1)?,
            call_id: r.get(2)?,
            fingerprint: r.get(3)?,
            direction: r.get(4)?,
            status: r.get(5)?,
            ended: r.get::<_, i64>(6)? != 0,
            internal: r.get::<_, i64>(7)? != 0,
            started_at: r.get(8)?,
            duration: r.get(9)?,
            billsec: r.get(10)?,
            client_phone: r.get(11)?,
            rank: r.get(12)?,
            event: r.get(13)?,
            raw: r.get(14)?,
            state: CallState::parse(&r.get::<_, String>(15)?),
            detail: r.get(16)?,
        },
        attempts: r.get(17)?,
        last_error: r.get(18)?,
        amo_call_id: r.get(19)?,
        amo_entity: r.get(20)?,
        user_id: r.get(21)?,
        delivered_at: r.get(22)?,
        duplicates: r.get(23)?,
        received_at: r.get(24)?,
    })
}

/// The content columns of a call row, bound as `?1`..`?16` by [`record_values`].
const RECORD_COLUMNS: &str = "provider, call_id, fingerprint, direction, status, ended, \
     internal, started_at, duration, billsec, client_phone, rank, event, raw, state, detail";

/// A [`CallRecord`] as the values of [`RECORD_COLUMNS`], then `extra`.
fn record_values(c: &CallRecord, extra: &[i64]) -> Vec<rusqlite::types::Value> {
    use rusqlite::types::Value as V;
    let text = |s: &str| V::Text(s.to_string());
    let opt = |s: &Option<String>| s.as_deref().map_or(V::Null, text);
    let mut v = vec![
        text(&c.provider),
        text(&c.call_id),
        text(&c.fingerprint),
        text(&c.direction),
        text(&c.status),
        V::Integer(c.ended as i64),
        V::Integer(c.internal as i64),
        V::Integer(c.started_at),
        V::Integer(c.duration),
        V::Integer(c.billsec),
        opt(&c.client_phone),
        V::Integer(c.rank),
        text(&c.event),
        text(&c.raw),
        text(c.state.as_str()),
        opt(&c.detail),
    ];
    v.extend(extra.iter().map(|x| V::Integer(*x)));
    v
}

/// Overwrites a stored call's report with a better one.
fn replace(tx: &Transaction<'_>, id: i64, c: &CallRecord, t: i64) -> rusqlite::Result<()> {
    tx.execute(
        &format!(
            "UPDATE calls SET ({RECORD_COLUMNS}) = (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,
                 ?12, ?13, ?14, ?15, ?16), updated_at = ?17 WHERE id = ?18"
        ),
        rusqlite::params_from_iter(record_values(c, &[t, id])),
    )
    .map(drop)
}

/// Intake inside a transaction; see [`Store::call_intake`].
fn intake(tx: &Transaction<'_>, c: &CallRecord, window: i64) -> rusqlite::Result<Intake> {
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
                replace(tx, id, c, t)?;
                Intake::Replaced(id)
            } else {
                count_duplicate(tx, id, t)?;
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
                replace(tx, id, c, t)?;
                tx.execute(
                    "UPDATE calls SET duplicates = duplicates + 1 WHERE id = ?1",
                    params![id],
                )?;
                Intake::Replaced(id)
            } else {
                count_duplicate(tx, id, t)?;
                Intake::Duplicate {
                    id,
                    by_fingerprint: true,
                }
            }
        }
        (None, None) => {
            tx.execute(
                &format!(
                    "INSERT INTO calls ({RECORD_COLUMNS}, received_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                         ?16, ?17, ?17)"
                ),
                rusqlite::params_from_iter(record_values(c, &[t])),
            )?;
            let id = tx.last_insert_rowid();
            tx.execute(
                "INSERT INTO call_keys (provider, call_id, call) VALUES (?1, ?2, ?3)",
                params![c.provider, c.call_id, id],
            )?;
            Intake::New(id)
        }
    };
    Ok(outcome)
}

impl Store {
    /// Stores a call unless it is already known (by provider id, or by fingerprint within
    /// `window` seconds with overlapping times); see the module doc.
    pub fn call_intake(&self, c: &CallRecord, window: i64) -> Result<Intake> {
        let run = || -> rusqlite::Result<Intake> {
            let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
            let outcome = intake(&tx, c, window)?;
            tx.commit()?;
            Ok(outcome)
        };
        run().map_err(|e| self.err("store a call", e))
    }

    /// Replaces an `unparsed` row by the call its item turned out to be: the row is
    /// removed and the call taken in as if just received (so it may be a duplicate of a
    /// call the call log or a resend brought meanwhile), in one transaction.
    pub fn call_reparsed(
        &self,
        unparsed: i64,
        calls: &[CallRecord],
        window: i64,
    ) -> Result<Vec<Intake>> {
        let run = || -> rusqlite::Result<Vec<Intake>> {
            let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)?;
            tx.execute("DELETE FROM call_keys WHERE call = ?1", params![unparsed])?;
            tx.execute(
                "DELETE FROM calls WHERE id = ?1 AND state = 'unparsed'",
                params![unparsed],
            )?;
            let mut out = Vec::new();
            for c in calls {
                out.push(intake(&tx, c, window)?);
            }
            tx.commit()?;
            Ok(out)
        };
        run().map_err(|e| self.err("store a re-parsed call", e))
    }

    /// Records why an `unparsed` row still cannot be read.
    pub fn call_unparsed_again(&self, id: i64, error: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE calls SET detail = ?2, attempts = attempts + 1, updated_at = ?3
                 WHERE id = ?1 AND state = 'unparsed'",
                params![id, error, now()],
            )
            .map(drop)
            .map_err(|e| self.err("update a call", e))
    }

    /// Keeps a request body as received, before anything parses it; bodies older than
    /// [`BODY_KEEP_SECS`] are dropped on the way.
    pub fn call_body_received(&self, body: &str) -> Result<i64> {
        let t = now();
        let run = || -> rusqlite::Result<i64> {
            self.conn.execute(
                "DELETE FROM call_bodies WHERE received_at < ?1",
                params![t - BODY_KEEP_SECS],
            )?;
            self.conn.execute(
                "INSERT INTO call_bodies (received_at, body) VALUES (?1, ?2)",
                params![t, body],
            )?;
            Ok(self.conn.last_insert_rowid())
        };
        run().map_err(|e| self.err("store a request body", e))
    }

    /// The request bodies received since `since`, oldest first (id, time, body).
    pub fn call_bodies_since(&self, since: i64) -> Result<Vec<(i64, i64, String)>> {
        let run = || -> rusqlite::Result<Vec<(i64, i64, String)>> {
            let mut stmt = self.conn.prepare(
                "SELECT id, received_at, body FROM call_bodies WHERE received_at >= ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map(params![since], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect()
        };
        run().map_err(|e| self.err("read the request bodies", e))
    }

    /// Calls in one state, oldest first.
    pub fn calls_in_state(&self, state: CallState) -> Result<Vec<StoredCall>> {
        self.calls_query(
            &format!("SELECT {COLUMNS} FROM calls WHERE state = ?1 ORDER BY started_at, id"),
            params![state.as_str()],
        )
    }

    /// How many calls are in each state (for `status`).
    pub fn call_state_counts(&self) -> Result<Vec<(CallState, i64)>> {
        let run = || -> rusqlite::Result<Vec<(CallState, i64)>> {
            let mut stmt = self
                .conn
                .prepare("SELECT state, COUNT(*) FROM calls GROUP BY state ORDER BY state")?;
            let rows = stmt.query_map([], |r| {
                Ok((CallState::parse(&r.get::<_, String>(0)?), r.get(1)?))
            })?;
            rows.collect()
        };
        run().map_err(|e| self.err("count the calls", e))
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

    /// How many stored calls started before `t` (`calls list` and `report calls` say how
    /// many their window leaves out).
    pub fn calls_before(&self, t: i64) -> Result<u64> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM calls WHERE started_at < ?1",
                params![t],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .map_err(|e| self.err("count calls", e))
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

    fn call(id: &str, fp: &str, start: i64, dur: i64, rank: i64) -> CallRecord {
        CallRecord {
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
        assert_eq!((stored.call.call_id.as_str(), stored.duplicates), ("b", 3));
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
        assert_eq!(c.call.state, CallState::Delivered);
        assert_eq!(c.last_error, None);
        assert_eq!(s.calls_unacknowledged(0).unwrap().len(), 1);
    }
}
