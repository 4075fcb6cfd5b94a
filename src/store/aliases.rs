//! Every alias, for `bindings list`: the payers that share one company by INN and the
//! services that joined another service's lead are bound through another key, so a list of
//! bindings alone would leave them out.

use rusqlite::params;

use super::{Alias, Result, Store};

impl Store {
    /// The aliases of `kind` (or of every kind), by kind and key.
    pub fn aliases(&self, kind: Option<&str>) -> Result<Vec<Alias>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT kind, bm_id, target_id, reason FROM aliases
                 WHERE ?1 IS NULL OR kind = ?1 ORDER BY kind, bm_id",
            )
            .map_err(|e| self.err("read aliases", e))?;
        let rows = stmt
            .query_map(params![kind], |r| {
                Ok(Alias {
                    kind: r.get(0)?,
                    bm_id: r.get(1)?,
                    target_id: r.get(2)?,
                    reason: r.get(3)?,
                })
            })
            .map_err(|e| self.err("read aliases", e))?;
        rows.collect::<rusqlite::Result<Vec<Alias>>>()
            .map_err(|e| self.err("read aliases", e))
    }
}
