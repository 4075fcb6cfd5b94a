//! The outbox: syncs still to push. Nothing is lost: a push that failed, a hook event that
//! could not be sent at once, an item rejected by amoCRM — each stays here with its last
//! error until a later run succeeds. Items that keep failing are parked, not dropped.

use rusqlite::{params, Row};

use super::{now, Result, Store};

/// One queued sync.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OutboxItem {
    /// Row id.
    pub id: i64,
    /// Entity kind to sync (`contact`, `company`, `lead`, …).
    pub kind: String,
    /// BILLmanager id (elid) to sync.
    pub bm_id: String,
    /// Why it was queued (event name, "retry", …).
    pub reason: String,
    /// Failed attempts so far.
    pub attempts: i64,
    /// Unix time before which it is not retried.
    pub next_attempt_at: i64,
    /// The last error, for `status`.
    pub last_error: Option<String>,
    /// Parked items are not retried automatically.
    pub parked: bool,
    /// Unix time of the last change; a newer event changes it.
    pub updated_at: i64,
}

fn item_from_row(r: &Row<'_>) -> rusqlite::Result<OutboxItem> {
    Ok(OutboxItem {
        id: r.get(0)?,
        kind: r.get(1)?,
        bm_id: r.get(2)?,
        reason: r.get(3)?,
        attempts: r.get(4)?,
        next_attempt_at: r.get(5)?,
        last_error: r.get(6)?,
        parked: r.get::<_, i64>(7)? != 0,
        updated_at: r.get(8)?,
    })
}

const COLUMNS: &str =
    "id, kind, bm_id, reason, attempts, next_attempt_at, last_error, parked, updated_at";

impl Store {
    /// Queues a sync; an item already queued for the same entity is made due now (and
    /// un-parked), so repeated events never pile up duplicates.
    pub fn enqueue(&self, kind: &str, bm_id: &str, reason: &str) -> Result<()> {
        let t = now();
        self.conn
            .execute(
                "INSERT INTO outbox (kind, bm_id, reason, next_attempt_at, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?4)
                 ON CONFLICT(kind, bm_id) DO UPDATE SET reason = excluded.reason,
                     next_attempt_at = MIN(outbox.next_attempt_at, excluded.next_attempt_at),
                     parked = 0, updated_at = excluded.updated_at",
                params![kind, bm_id, reason, t],
            )
            .map(drop)
            .map_err(|e| self.err("queue a sync", e))
    }

    /// Items due now (not parked), oldest first.
    pub fn due_items(&self, limit: usize) -> Result<Vec<OutboxItem>> {
        self.outbox_query(
            &format!(
                "SELECT {COLUMNS} FROM outbox WHERE parked = 0 AND next_attempt_at <= ?1
                 ORDER BY next_attempt_at, id LIMIT ?2"
            ),
            params![now(), limit as i64],
        )
    }

    /// Every item (for `status`).
    pub fn outbox_items(&self) -> Result<Vec<OutboxItem>> {
        self.outbox_query(
            &format!("SELECT {COLUMNS} FROM outbox ORDER BY id LIMIT ?1"),
            params![i64::MAX],
        )
    }

    fn outbox_query(&self, sql: &str, p: impl rusqlite::Params) -> Result<Vec<OutboxItem>> {
        let mut stmt = self
            .conn
            .prepare(sql)
            .map_err(|e| self.err("read the outbox", e))?;
        let rows = stmt
            .query_map(p, item_from_row)
            .map_err(|e| self.err("read the outbox", e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err("read the outbox", e))
    }

    /// Removes an item after its sync succeeded, unless a newer event re-queued it while the
    /// sync ran (then it stays, so that event's change is pushed too).
    pub fn outbox_done(&self, item: &OutboxItem) -> Result<()> {
        self.conn
            .execute(
                "DELETE FROM outbox WHERE id = ?1 AND updated_at = ?2 AND attempts = ?3",
                params![item.id, item.updated_at, item.attempts],
            )
            .map(drop)
            .map_err(|e| self.err("update the outbox", e))
    }

    /// Removes any queued item for an entity (a direct sync just pushed it).
    pub fn outbox_clear(&self, kind: &str, bm_id: &str) -> Result<()> {
        self.conn
            .execute(
                "DELETE FROM outbox WHERE kind = ?1 AND bm_id = ?2",
                params![kind, bm_id],
            )
            .map(drop)
            .map_err(|e| self.err("update the outbox", e))
    }

    /// Records a failed attempt: backoff doubles from 1 minute up to 6 hours; after
    /// `park_after` attempts (or at once when `permanent`) the item is parked.
    pub fn outbox_failed(
        &self,
        kind: &str,
        bm_id: &str,
        error: &str,
        permanent: bool,
        park_after: i64,
    ) -> Result<()> {
        let t = now();
        self.conn
            .execute(
                "INSERT INTO outbox (kind, bm_id, reason, attempts, next_attempt_at, last_error,
                     parked, created_at, updated_at)
                 VALUES (?1, ?2, 'retry', 1, ?3 + 60, ?4, ?5, ?3, ?3)
                 ON CONFLICT(kind, bm_id) DO UPDATE SET attempts = outbox.attempts + 1,
                     last_error = excluded.last_error,
                     next_attempt_at = ?3 + MIN(21600, 60 * (1 << MIN(outbox.attempts, 12))),
                     parked = CASE WHEN ?5 = 1 OR outbox.attempts + 1 >= ?6 THEN 1 ELSE 0 END,
                     updated_at = ?3",
                params![kind, bm_id, t, error, permanent as i64, park_after],
            )
            .map(drop)
            .map_err(|e| self.err("update the outbox", e))
    }

    /// Makes every item (parked too) due now: an operator fixed the cause.
    pub fn outbox_retry_all(&self) -> Result<usize> {
        self.conn
            .execute(
                "UPDATE outbox SET parked = 0, next_attempt_at = ?1",
                params![now()],
            )
            .map_err(|e| self.err("update the outbox", e))
    }

    /// Removes the items `selector` names (an operator decided they are junk); returns how
    /// many.
    pub fn outbox_drop(&self, selector: &OutboxSelector) -> Result<usize> {
        let (filter, p) = selector.sql();
        self.conn
            .execute(
                &format!("DELETE FROM outbox WHERE {filter}"),
                rusqlite::params_from_iter(p),
            )
            .map_err(|e| self.err("update the outbox", e))
    }

    /// Makes the items `selector` names due now, parked ones too; returns how many.
    pub fn outbox_retry(&self, selector: &OutboxSelector) -> Result<usize> {
        let (filter, p) = selector.sql();
        self.conn
            .execute(
                &format!(
                    "UPDATE outbox SET parked = 0, next_attempt_at = {} WHERE {filter}",
                    now()
                ),
                rusqlite::params_from_iter(p),
            )
            .map_err(|e| self.err("update the outbox", e))
    }
}

/// Which outbox items an operator's `outbox drop|retry` means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxSelector {
    /// One item by its row id (as `outbox list` prints it).
    Id(i64),
    /// The item of one entity.
    Entity {
        /// `contact`, `company`, `lead`, `user`, …
        kind: String,
        /// BILLmanager id.
        bm_id: String,
    },
    /// Every parked item.
    Parked,
}

impl OutboxSelector {
    fn sql(&self) -> (String, Vec<rusqlite::types::Value>) {
        use rusqlite::types::Value as V;
        match self {
            OutboxSelector::Id(id) => ("id = ?1".into(), vec![V::Integer(*id)]),
            OutboxSelector::Entity { kind, bm_id } => (
                "kind = ?1 AND bm_id = ?2".into(),
                vec![V::Text(kind.clone()), V::Text(bm_id.clone())],
            ),
            OutboxSelector::Parked => ("parked = 1".into(), Vec::new()),
        }
    }
}
