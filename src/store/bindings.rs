//! Bindings: which amoCRM entity stands for which BILLmanager entity.
//!
//! A binding is one-to-one on each side (UNIQUE (kind, bm_id) and UNIQUE (kind, amo_id)), as
//! vdirsyncer's status table. When several BILLmanager entities must share one amoCRM entity
//! (a re-ordered trial bound to the existing lead, two payers with the same INN in one
//! company), the extra ones get an [`Alias`] pointing at the BILLmanager entity that owns the
//! binding, so the one-to-one invariant still holds and the reason is on record.

use rusqlite::{params, OptionalExtension, Row};

use super::{now, Result, Store};

/// One BILLmanager entity bound to one amoCRM entity.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Binding {
    /// `contact`, `company`, `lead`, … (the amoCRM entity kind).
    pub kind: String,
    /// The BILLmanager key, e.g. `user:17`, `payer:5`, `service:42`.
    pub bm_id: String,
    /// The amoCRM entity id.
    pub amo_id: i64,
    /// Hash of the last payload pushed; equal hash means nothing to update.
    pub payload_hash: String,
    /// Unix time of the last successful push.
    pub synced_at: i64,
}

/// A BILLmanager entity represented by another BILLmanager entity's amoCRM entity.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Alias {
    /// Entity kind, as in [`Binding::kind`].
    pub kind: String,
    /// The aliased BILLmanager key.
    pub bm_id: String,
    /// The BILLmanager key that owns the binding.
    pub target_id: String,
    /// Why (shown by `bindings show`).
    pub reason: String,
}

fn binding_from_row(r: &Row<'_>) -> rusqlite::Result<Binding> {
    Ok(Binding {
        kind: r.get(0)?,
        bm_id: r.get(1)?,
        amo_id: r.get(2)?,
        payload_hash: r.get(3)?,
        synced_at: r.get(4)?,
    })
}

const COLUMNS: &str = "kind, bm_id, amo_id, payload_hash, synced_at";

/// The keys aliased to one target, by the `aliases_by_target` index (migration 6).
pub(super) const ALIASES_TO: &str =
    "SELECT bm_id FROM aliases WHERE kind = ?1 AND target_id = ?2 ORDER BY bm_id";

/// Drops the aliases to a forgotten binding, by the same index.
pub(super) const FORGET_ALIASES_TO: &str = "DELETE FROM aliases WHERE kind = ?1 AND target_id = ?2";

impl Store {
    /// The binding of a BILLmanager entity, following an alias if there is one.
    pub fn binding(&self, kind: &str, bm_id: &str) -> Result<Option<Binding>> {
        if let Some(primed) = self.primed.borrow().binding(kind, bm_id) {
            return Ok(primed);
        }
        let direct = self.binding_exact(kind, bm_id)?;
        if direct.is_some() {
            return Ok(direct);
        }
        match self.alias(kind, bm_id)? {
            Some(a) => self.binding_exact(kind, &a.target_id),
            None => Ok(None),
        }
    }

    /// Prepared once per connection: a backfill asks this several times per entity.
    pub(super) fn binding_exact(&self, kind: &str, bm_id: &str) -> Result<Option<Binding>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM bindings WHERE kind = ?1 AND bm_id = ?2"
            ))
            .and_then(|mut st| {
                st.query_row(params![kind, bm_id], binding_from_row)
                    .optional()
            })
            .map_err(|e| self.err("read a binding", e))
    }

    /// The binding that points at an amoCRM entity. Prepared once per connection: a
    /// backfill's lookup index asks it for every entity of a kind it walks.
    pub fn binding_by_amo(&self, kind: &str, amo_id: i64) -> Result<Option<Binding>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM bindings WHERE kind = ?1 AND amo_id = ?2"
            ))
            .and_then(|mut st| {
                st.query_row(params![kind, amo_id], binding_from_row)
                    .optional()
            })
            .map_err(|e| self.err("read a binding", e))
    }

    /// What the panel said at the last sync of an entity adopted under `adopt = "fill"`
    /// (JSON text); `None` for entities this tool created or that follow billing.
    pub fn filled(&self, kind: &str, bm_id: &str) -> Result<Option<String>> {
        self.conn
            .prepare_cached("SELECT panel FROM filled WHERE kind = ?1 AND bm_id = ?2")
            .and_then(|mut st| st.query_row(params![kind, bm_id], |r| r.get(0)).optional())
            .map_err(|e| self.err("read what a filled entity was sent", e))
    }

    /// Records what the panel said when a filled entity was last synced.
    pub fn put_filled(&self, kind: &str, bm_id: &str, panel: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO filled (kind, bm_id, panel) VALUES (?1, ?2, ?3)
                 ON CONFLICT (kind, bm_id) DO UPDATE SET panel = excluded.panel",
            )
            .and_then(|mut st| st.execute(params![kind, bm_id, panel]))
            .map(|_| ())
            .map_err(|e| self.err("record what a filled entity was sent", e))
    }

    /// Records (or updates) a binding right after the amoCRM write succeeded.
    ///
    /// If another BILLmanager entity was bound to the same amoCRM entity (an operator merged
    /// two contacts in amoCRM, say), the older binding becomes an alias of this one.
    pub fn put_binding(&self, b: &Binding) -> Result<()> {
        self.forget_primed();
        // IMMEDIATE: take the write lock before reading, so a commit by another process
        // between our read and our write cannot make SQLite fail with SQLITE_BUSY_SNAPSHOT
        // (the busy timeout does not cover that case).
        let tx = rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )
        .map_err(|e| self.err("begin a transaction", e))?;
        let previous: Option<String> = tx
            .query_row(
                "SELECT bm_id FROM bindings WHERE kind = ?1 AND amo_id = ?2 AND bm_id <> ?3",
                params![b.kind, b.amo_id, b.bm_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err("read a binding", e))?;
        if let Some(old) = previous {
            tx.execute(
                "DELETE FROM bindings WHERE kind = ?1 AND bm_id = ?2",
                params![b.kind, old],
            )
            .map_err(|e| self.err("write a binding", e))?;
            tx.execute(
                "INSERT OR REPLACE INTO aliases (kind, bm_id, target_id, reason, created_at)
                 VALUES (?1, ?2, ?3, 'same amoCRM entity', ?4)",
                params![b.kind, old, b.bm_id, now()],
            )
            .map_err(|e| self.err("write an alias", e))?;
        }
        tx.execute(
            "INSERT INTO bindings (kind, bm_id, amo_id, payload_hash, synced_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(kind, bm_id) DO UPDATE SET amo_id = excluded.amo_id,
                 payload_hash = excluded.payload_hash, synced_at = excluded.synced_at",
            params![b.kind, b.bm_id, b.amo_id, b.payload_hash, b.synced_at],
        )
        .map_err(|e| self.err("write a binding", e))?;
        tx.commit().map_err(|e| self.err("commit a binding", e))
    }

    /// All bindings of a kind (or of every kind), ordered by kind and BILLmanager key.
    pub fn bindings(&self, kind: Option<&str>) -> Result<Vec<Binding>> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM bindings WHERE ?1 IS NULL OR kind = ?1 ORDER BY kind, bm_id"
            ))
            .map_err(|e| self.err("list bindings", e))?;
        let rows = stmt
            .query_map(params![kind], binding_from_row)
            .map_err(|e| self.err("list bindings", e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err("list bindings", e))
    }

    /// Up to `limit` bindings of `kind` whose BILLmanager key sorts after `after`, in key
    /// order: a walk over every binding of a large account a page at a time (by the
    /// `(kind, bm_id)` unique index), never all of them in memory.
    pub fn bindings_after(&self, kind: &str, after: &str, limit: usize) -> Result<Vec<Binding>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM bindings WHERE kind = ?1 AND bm_id > ?2 ORDER BY bm_id LIMIT ?3"
            ))
            .map_err(|e| self.err("list bindings", e))?;
        let rows = stmt
            .query_map(params![kind, after, limit as i64], binding_from_row)
            .map_err(|e| self.err("list bindings", e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err("list bindings", e))
    }

    /// Number of bindings per kind.
    pub fn binding_counts(&self) -> Result<Vec<(String, i64)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT kind, COUNT(*) FROM bindings GROUP BY kind ORDER BY kind")
            .map_err(|e| self.err("count bindings", e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err("count bindings", e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err("count bindings", e))
    }

    /// Removes a binding (and aliases to it); the next sync searches amoCRM again.
    pub fn forget_binding(&self, kind: &str, bm_id: &str) -> Result<bool> {
        self.forget_primed();
        let n = self
            .conn
            .execute(
                "DELETE FROM bindings WHERE kind = ?1 AND bm_id = ?2",
                params![kind, bm_id],
            )
            .map_err(|e| self.err("delete a binding", e))?;
        // Two statements, each by an index: with `OR` SQLite walks every alias of the kind.
        for sql in [
            "DELETE FROM aliases WHERE kind = ?1 AND bm_id = ?2",
            FORGET_ALIASES_TO,
            "DELETE FROM filled WHERE kind = ?1 AND bm_id = ?2",
        ] {
            self.conn
                .execute(sql, params![kind, bm_id])
                .map_err(|e| self.err("delete an alias", e))?;
        }
        Ok(n > 0)
    }

    /// The alias of a BILLmanager entity, if it is represented by another one.
    pub fn alias(&self, kind: &str, bm_id: &str) -> Result<Option<Alias>> {
        if let Some(primed) = self.primed.borrow().alias(kind, bm_id) {
            return Ok(primed);
        }
        self.alias_stored(kind, bm_id)
    }

    /// The alias as the store holds it (nothing primed).
    pub(super) fn alias_stored(&self, kind: &str, bm_id: &str) -> Result<Option<Alias>> {
        self.conn
            .prepare_cached(
                "SELECT kind, bm_id, target_id, reason FROM aliases WHERE kind = ?1 AND bm_id = ?2",
            )
            .and_then(|mut st| {
                st.query_row(params![kind, bm_id], |r| {
                    Ok(Alias {
                        kind: r.get(0)?,
                        bm_id: r.get(1)?,
                        target_id: r.get(2)?,
                        reason: r.get(3)?,
                    })
                })
                .optional()
            })
            .map_err(|e| self.err("read an alias", e))
    }

    /// The BILLmanager keys aliased to `target_id` (e.g. every payer sharing one INN).
    pub fn aliases_to(&self, kind: &str, target_id: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached(ALIASES_TO)
            .map_err(|e| self.err("read aliases", e))?;
        let rows = stmt
            .query_map(params![kind, target_id], |r| r.get(0))
            .map_err(|e| self.err("read aliases", e))?;
        rows.collect::<rusqlite::Result<Vec<String>>>()
            .map_err(|e| self.err("read aliases", e))
    }

    /// Makes `bm_id` share the amoCRM entity of `target_id`. An alias already on record
    /// is left as it is: every backfill re-states each payer's alias, and a write per payer
    /// cost an unchanged run thousands of write transactions.
    pub fn put_alias(&self, kind: &str, bm_id: &str, target_id: &str, reason: &str) -> Result<()> {
        if self
            .alias(kind, bm_id)?
            .is_some_and(|a| a.target_id == target_id && a.reason == reason)
        {
            return Ok(());
        }
        self.forget_primed();
        self.conn
            .execute(
                "INSERT OR REPLACE INTO aliases (kind, bm_id, target_id, reason, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![kind, bm_id, target_id, reason, now()],
            )
            .map(drop)
            .map_err(|e| self.err("write an alias", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_after_walks_one_kind_a_page_at_a_time() {
        let s = Store::open_in_memory().unwrap();
        for (kind, key, id) in [
            ("lead", "service:3", 3),
            ("lead", "service:1", 1),
            ("contact", "user:1", 7),
            ("lead", "service:2", 2),
        ] {
            s.put_binding(&Binding {
                kind: kind.into(),
                bm_id: key.into(),
                amo_id: id,
                payload_hash: String::new(),
                synced_at: 0,
            })
            .unwrap();
        }
        let mut seen = Vec::new();
        let mut after = String::new();
        loop {
            let page = s.bindings_after("lead", &after, 2).unwrap();
            assert!(page.len() <= 2);
            let Some(last) = page.last() else { break };
            after = last.bm_id.clone();
            seen.extend(page.into_iter().map(|b| b.amo_id));
        }
        assert_eq!(seen, [1, 2, 3], "every lead once, in key order, no contact");
    }
}
