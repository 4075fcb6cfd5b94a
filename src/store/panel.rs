//! BILLmanager edit forms kept between runs, so a periodic run re-reads a form only when
//! the entity's list row changed or the form grew old (`docs/billmanager.md` §13.6).

use rusqlite::params;

use std::collections::BTreeMap;

use super::{Result, Store};

/// A BILLmanager form kept from an earlier run: reused while its list row is unchanged and
/// it is younger than `[billmanager] form_max_age_hours`. A row of this store, so it is
/// defined here; the panel reader hands these over.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedForm {
    /// The form function (`account.edit`, `profile.edit`).
    pub func: String,
    /// The entity id.
    pub elid: String,
    /// Hash of the entity's list row when the form was read.
    pub row_hash: String,
    /// When it was read (Unix seconds).
    pub fetched_at: i64,
    /// The form's fields by name, as the panel wrote them.
    pub attrs: BTreeMap<String, String>,
}

impl Store {
    /// Hands over every kept form younger than `max_age` seconds, one at a time (a large
    /// panel keeps tens of thousands).
    pub fn each_panel_form(&self, max_age: i64, f: &mut dyn FnMut(CachedForm)) -> Result<()> {
        let oldest = super::now() - max_age;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT func, elid, row_hash, fetched_at, attrs FROM panel_forms WHERE fetched_at > ?1",
            )
            .map_err(|e| self.err("read kept BILLmanager forms", e))?;
        let rows = stmt
            .query_map(params![oldest], |r| {
                let attrs: String = r.get(4)?;
                Ok(CachedForm {
                    func: r.get(0)?,
                    elid: r.get(1)?,
                    row_hash: r.get(2)?,
                    fetched_at: r.get(3)?,
                    attrs: serde_json::from_str(&attrs).unwrap_or_default(),
                })
            })
            .map_err(|e| self.err("read kept BILLmanager forms", e))?;
        for row in rows {
            f(row.map_err(|e| self.err("read kept BILLmanager forms", e))?);
        }
        Ok(())
    }

    /// Keeps forms read in this run (replacing older copies), in one transaction.
    pub fn keep_panel_forms(&self, forms: &[CachedForm]) -> Result<()> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(|e| self.err("keep BILLmanager forms", e))?;
        for f in forms {
            let attrs = serde_json::to_string(&f.attrs).unwrap_or_else(|_| "{}".into());
            tx.execute(
                "INSERT OR REPLACE INTO panel_forms (func, elid, row_hash, fetched_at, attrs)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![f.func, f.elid, f.row_hash, f.fetched_at, attrs],
            )
            .map_err(|e| self.err("keep BILLmanager forms", e))?;
        }
        tx.commit()
            .map_err(|e| self.err("keep BILLmanager forms", e))
    }
}
