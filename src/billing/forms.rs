//! The edit forms of a run (read from the panel, or kept from earlier runs) in a temporary
//! table of the run's [`Scratch`] database, like the lists (`docs/billmanager.md` §13.7):
//! 33 000 payer forms would otherwise hold tens of MB as field maps, twice (the run's
//! cache and the copy kept for the next run). Each row is one form, keyed by its function,
//! `elid` and whether it is the run's own or kept, with the list-row hash it was read for
//! and when.

use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension};

use super::error::BillingError;
use super::model::Attrs;
use super::scratch::{self, Scratch};
use super::CachedForm;

/// The forms table: `run` is 1 for the run's own forms (read, or taken over) and 0 for
/// those kept from earlier runs; `fresh` marks a form read from the panel in this run and
/// not yet handed back to be kept.
const TABLE: &str = "CREATE TEMP TABLE IF NOT EXISTS form (
    func TEXT NOT NULL, elid TEXT NOT NULL, run INTEGER NOT NULL, fresh INTEGER NOT NULL,
    row_hash TEXT NOT NULL, fetched_at INTEGER NOT NULL, attrs TEXT NOT NULL,
    PRIMARY KEY (func, elid, run)) WITHOUT ROWID";

const WHAT: &str = "the panel's edit forms";

/// Forms by function and `elid`: the run's own, and those kept from earlier runs.
pub(super) struct Forms {
    scratch: Arc<Scratch>,
    ready: bool,
}

impl Forms {
    /// No forms yet; the table is made on first use.
    pub fn new(scratch: Arc<Scratch>) -> Forms {
        Forms {
            scratch,
            ready: false,
        }
    }

    /// Runs `f` on the connection, once the table exists.
    fn with<R>(
        &mut self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<R>,
    ) -> Result<R, BillingError> {
        let ready = &mut self.ready;
        self.scratch.with(WHAT, |conn| {
            if !*ready {
                conn.execute_batch(TABLE)
                    .map_err(|e| scratch::error(WHAT, e))?;
                *ready = true;
            }
            f(conn).map_err(|e| scratch::error(WHAT, e))
        })
    }

    /// Whether form `func` of `elid` was already read (or taken over) in this run.
    pub fn has(&mut self, func: &str, elid: &str) -> Result<bool, BillingError> {
        self.with(|c| {
            c.prepare_cached("SELECT 1 FROM form WHERE func = ?1 AND elid = ?2 AND run = 1")?
                .exists([func, elid])
        })
    }

    /// The run's form `func` of `elid`, if read already.
    pub fn get(&mut self, func: &str, elid: &str) -> Result<Option<Attrs>, BillingError> {
        let text = self.with(|c| {
            c.prepare_cached("SELECT attrs FROM form WHERE func = ?1 AND elid = ?2 AND run = 1")?
                .query_row([func, elid], |r| r.get::<_, String>(0))
                .optional()
        })?;
        text.map(|t| scratch::decode(WHAT, &t)).transpose()
    }

    /// Adds a form read from the panel in this run (to be kept for the next one).
    pub fn put(
        &mut self,
        func: &str,
        elid: &str,
        attrs: &Attrs,
        row_hash: &str,
        fetched_at: i64,
    ) -> Result<(), BillingError> {
        self.write(func, elid, true, attrs, row_hash, fetched_at)
    }

    /// Keeps a form from an earlier run, to be taken over while its row is unchanged.
    pub fn keep(&mut self, form: CachedForm) -> Result<(), BillingError> {
        let CachedForm {
            func,
            elid,
            row_hash,
            fetched_at,
            attrs,
        } = form;
        self.write(&func, &elid, false, &attrs, &row_hash, fetched_at)
    }

    /// Stores a form of the run (read in it, so fresh) or kept from an earlier one.
    fn write(
        &mut self,
        func: &str,
        elid: &str,
        run: bool,
        attrs: &Attrs,
        row_hash: &str,
        fetched_at: i64,
    ) -> Result<(), BillingError> {
        let attrs = scratch::encode(attrs);
        self.with(|c| {
            c.prepare_cached(
                "INSERT OR REPLACE INTO form (func, elid, run, fresh, row_hash, fetched_at, attrs)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![func, elid, run, run, row_hash, fetched_at, attrs])
            .map(drop)
        })
    }

    /// Takes over the kept form `func` of `elid` when it was read for `row_hash` after
    /// `oldest`; a kept form not taken over is dropped.
    pub fn take_kept(
        &mut self,
        func: &str,
        elid: &str,
        row_hash: &str,
        oldest: i64,
    ) -> Result<Option<Attrs>, BillingError> {
        let text = self.with(|c| {
            let taken = c
                .prepare_cached(
                    "UPDATE OR REPLACE form SET run = 1, fresh = 0
                     WHERE func = ?1 AND elid = ?2 AND run = 0 AND row_hash = ?3 AND fetched_at > ?4
                     RETURNING attrs",
                )?
                .query_row(params![func, elid, row_hash, oldest], |r| {
                    r.get::<_, String>(0)
                })
                .optional()?;
            if taken.is_none() {
                c.prepare_cached("DELETE FROM form WHERE func = ?1 AND elid = ?2 AND run = 0")?
                    .execute([func, elid])?;
            }
            Ok(taken)
        })?;
        text.map(|t| scratch::decode(WHAT, &t)).transpose()
    }

    /// Hands over, once, each form read from the panel in this run.
    pub fn each_fresh(&mut self, f: &mut dyn FnMut(CachedForm)) -> Result<(), BillingError> {
        let mut damaged = None;
        self.with(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT func, elid, row_hash, fetched_at, attrs FROM form WHERE run = 1 AND fresh = 1",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let attrs: String = r.get(4)?;
                match scratch::decode(WHAT, &attrs) {
                    Ok(attrs) => f(CachedForm {
                        func: r.get(0)?,
                        elid: r.get(1)?,
                        row_hash: r.get(2)?,
                        fetched_at: r.get(3)?,
                        attrs,
                    }),
                    Err(e) => damaged = Some(e),
                }
            }
            c.prepare_cached("UPDATE form SET fresh = 0 WHERE run = 1 AND fresh = 1")?
                .execute([])
                .map(drop)
        })?;
        damaged.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::Forms;
    use crate::billing::scratch::Scratch;
    use crate::billing::tests::support::attrs;
    use crate::billing::CachedForm;

    #[test]
    fn kept_forms_are_taken_over_only_for_the_same_row_and_fresh_ones_handed_back_once() {
        let mut forms = Forms::new(Arc::new(Scratch::default()));
        let form = |elid: &str, hash: &str, at: i64| CachedForm {
            func: "profile.edit".into(),
            elid: elid.into(),
            row_hash: hash.into(),
            fetched_at: at,
            attrs: attrs(&[("vatnum", &format!("77{elid}"))]),
        };
        forms.keep(form("1", "h1", 100)).unwrap();
        forms.keep(form("2", "h2", 100)).unwrap();
        forms.keep(form("3", "h3", 10)).unwrap();
        forms.keep(form("x-4", "h4", 100)).unwrap();
        let p = "profile.edit";

        // Same row, young enough: taken over, and then the run has it.
        assert_eq!(
            forms.take_kept(p, "1", "h1", 50).unwrap(),
            Some(attrs(&[("vatnum", "771")]))
        );
        assert!(forms.has(p, "1").unwrap());
        assert_eq!(
            forms.get(p, "1").unwrap(),
            Some(attrs(&[("vatnum", "771")]))
        );
        // The row changed, or the form is too old: not taken (and not kept any more).
        assert_eq!(forms.take_kept(p, "2", "changed", 50).unwrap(), None);
        assert!(!forms.has(p, "2").unwrap());
        assert_eq!(forms.take_kept(p, "2", "h2", 50).unwrap(), None);
        assert_eq!(forms.take_kept(p, "3", "h3", 50).unwrap(), None);
        // Any id works the same.
        assert_eq!(
            forms.take_kept(p, "x-4", "h4", 50).unwrap(),
            Some(attrs(&[("vatnum", "77x-4")]))
        );

        // Fresh forms come back once, with what they were read for; taken-over ones never.
        forms
            .put(p, "2", &attrs(&[("vatnum", "new")]), "h2b", 200)
            .unwrap();
        forms
            .put("account.edit", "9", &attrs(&[("country", "RU")]), "c9", 201)
            .unwrap();
        let mut handed = Vec::new();
        forms.each_fresh(&mut |f| handed.push(f)).unwrap();
        handed.sort_by(|a, b| a.func.cmp(&b.func));
        assert_eq!(handed.len(), 2);
        assert_eq!(
            (
                handed[0].func.as_str(),
                handed[0].elid.as_str(),
                handed[0].row_hash.as_str(),
                handed[0].fetched_at
            ),
            ("account.edit", "9", "c9", 201)
        );
        assert_eq!(handed[0].attrs, attrs(&[("country", "RU")]));
        assert_eq!(
            (
                handed[1].elid.as_str(),
                handed[1].row_hash.as_str(),
                handed[1].fetched_at
            ),
            ("2", "h2b", 200)
        );
        assert_eq!(handed[1].attrs, attrs(&[("vatnum", "new")]));
        let mut again = 0;
        forms.each_fresh(&mut |_| again += 1).unwrap();
        assert_eq!(again, 0);
        assert_eq!(
            forms.get(p, "2").unwrap(),
            Some(attrs(&[("vatnum", "new")]))
        );
    }
}
