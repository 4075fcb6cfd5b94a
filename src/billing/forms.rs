//! The edit forms of a run (read from the panel, or kept from earlier runs), spooled to a
//! temporary file like the lists (`docs/billmanager.md` §13.7): 33 000 payer forms would
//! otherwise hold tens of MB as field maps, twice (the run's cache and the copy kept for
//! the next run). In memory stays one small entry per form: its key, the row hash it was
//! read for, when, and where its fields are in the file.

use std::collections::HashMap;
use std::io;

use super::list::Spool;
use super::model::Attrs;
use super::CachedForm;

/// Where one form is, and what it was read for.
struct Entry {
    at: u64,
    row_hash: Box<str>,
    fetched_at: i64,
    /// Read from the panel in this run (to be kept for the next one).
    fresh: bool,
}

/// Forms by `func?elid=id`: the run's own, and those kept from earlier runs.
#[derive(Default)]
pub(super) struct Forms {
    spool: Option<Spool>,
    run: HashMap<String, Entry>,
    kept: HashMap<String, Entry>,
}

/// The cache key of form `func` for `elid`.
pub(super) fn key(func: &str, elid: &str) -> String {
    format!("{func}?elid={elid}")
}

impl Forms {
    fn write(&mut self, attrs: &Attrs) -> io::Result<u64> {
        let spool = match &mut self.spool {
            Some(s) => s,
            none => none.insert(Spool::new()?),
        };
        let at = spool.push(attrs)?;
        spool.flush()?;
        Ok(at)
    }

    fn read(&self, at: u64) -> io::Result<Attrs> {
        match &self.spool {
            Some(s) => s.read(at),
            None => Err(io::Error::other("no form was kept")),
        }
    }

    /// Whether form `key` was already read (or taken over) in this run.
    pub fn has(&self, key: &str) -> bool {
        self.run.contains_key(key)
    }

    /// The run's form `key`, if read already.
    pub fn get(&self, key: &str) -> io::Result<Option<Attrs>> {
        self.run.get(key).map(|e| self.read(e.at)).transpose()
    }

    /// Adds a form read in this run (`fresh`) or taken over from an earlier one.
    pub fn put(
        &mut self,
        key: String,
        attrs: &Attrs,
        row_hash: &str,
        fetched_at: i64,
        fresh: bool,
    ) -> io::Result<()> {
        let at = self.write(attrs)?;
        self.run.insert(
            key,
            Entry {
                at,
                row_hash: row_hash.into(),
                fetched_at,
                fresh,
            },
        );
        Ok(())
    }

    /// Keeps a form from an earlier run, to be taken over while its row is unchanged.
    pub fn keep(&mut self, form: CachedForm) -> io::Result<()> {
        let at = self.write(&form.attrs)?;
        self.kept.insert(
            key(&form.func, &form.elid),
            Entry {
                at,
                row_hash: form.row_hash.into(),
                fetched_at: form.fetched_at,
                fresh: false,
            },
        );
        Ok(())
    }

    /// Takes over the kept form `key` when it was read for `row_hash` after `oldest`.
    pub fn take_kept(
        &mut self,
        key: &str,
        row_hash: &str,
        oldest: i64,
    ) -> io::Result<Option<Attrs>> {
        let Some(e) = self.kept.remove(key) else {
            return Ok(None);
        };
        if &*e.row_hash != row_hash || e.fetched_at <= oldest {
            return Ok(None);
        }
        let attrs = self.read(e.at)?;
        self.run.insert(key.to_string(), e);
        Ok(Some(attrs))
    }

    /// Hands over, once, each form read from the panel in this run.
    pub fn each_fresh(&mut self, f: &mut dyn FnMut(CachedForm)) -> io::Result<()> {
        for (key, e) in self.run.iter_mut().filter(|(_, e)| e.fresh) {
            e.fresh = false;
            let (func, elid) = key.split_once("?elid=").unwrap_or((key, ""));
            let attrs = match &self.spool {
                Some(s) => s.read(e.at)?,
                None => continue,
            };
            f(CachedForm {
                func: func.to_string(),
                elid: elid.to_string(),
                row_hash: e.row_hash.to_string(),
                fetched_at: e.fetched_at,
                attrs,
            });
        }
        Ok(())
    }
}
