//! The edit forms of a run (read from the panel, or kept from earlier runs), spooled to a
//! temporary file like the lists (`docs/billmanager.md` §13.7): 33 000 payer forms would
//! otherwise hold tens of MB as field maps, twice (the run's cache and the copy kept for
//! the next run). In memory stays one entry of 16 bytes per form: its key, packed, and
//! where in the file its fields are, with the row hash it was read for and when.

use std::collections::HashMap;
use std::io;

use super::ids::plain_number;
use super::list::Spool;
use super::model::Attrs;
use super::CachedForm;

/// The form functions whose keys pack into a number (index into this table).
const FUNCS: [&str; 2] = ["account.edit", "profile.edit"];

/// Field names under which a spooled form carries what it was read for (a panel's field
/// names never hold a NUL).
const ROW_HASH: &str = "\0row_hash";
const FETCHED_AT: &str = "\0fetched_at";

/// Marks an index entry as read from the panel in this run (to be kept for the next one);
/// the rest is the form's offset in the spool (below 2^40).
const FRESH: u64 = 1 << 63;

/// A form's key: its function and `elid`. Packed into one number for `account.edit` and
/// `profile.edit` of a plain id below 2^32 (every form real panels give), else text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum FormKey {
    Packed(u64),
    Text(Box<str>),
}

/// The cache key of form `func` for `elid`.
pub(super) fn key(func: &str, elid: &str) -> FormKey {
    match (FUNCS.iter().position(|f| *f == func), plain_number(elid)) {
        (Some(f), Some(id)) => FormKey::Packed(((f as u64) << 32) | u64::from(id)),
        _ => FormKey::Text(format!("{func}?elid={elid}").into()),
    }
}

impl FormKey {
    /// The function and `elid` back.
    fn parts(&self) -> (String, String) {
        match self {
            FormKey::Packed(k) => (
                FUNCS[(k >> 32) as usize].to_string(),
                (k & u64::from(u32::MAX)).to_string(),
            ),
            FormKey::Text(t) => {
                let (func, elid) = t.split_once("?elid=").unwrap_or((t, ""));
                (func.to_string(), elid.to_string())
            }
        }
    }
}

/// Form key → spool entry (offset, and the [`FRESH`] mark): 16 bytes a form.
#[derive(Default)]
struct Index {
    packed: HashMap<u64, u64>,
    text: HashMap<Box<str>, u64>,
}

impl Index {
    fn get(&self, k: &FormKey) -> Option<u64> {
        match k {
            FormKey::Packed(n) => self.packed.get(n).copied(),
            FormKey::Text(t) => self.text.get(t).copied(),
        }
    }

    fn insert(&mut self, k: FormKey, v: u64) {
        match k {
            FormKey::Packed(n) => self.packed.insert(n, v),
            FormKey::Text(t) => self.text.insert(t, v),
        };
    }

    fn remove(&mut self, k: &FormKey) -> Option<u64> {
        match k {
            FormKey::Packed(n) => self.packed.remove(n),
            FormKey::Text(t) => self.text.remove(t),
        }
    }

    /// Every entry marked [`FRESH`], unmarked.
    fn take_fresh(&mut self) -> Vec<(FormKey, u64)> {
        let mut out = Vec::new();
        for (k, v) in self.packed.iter_mut().filter(|(_, v)| **v & FRESH != 0) {
            *v &= !FRESH;
            out.push((FormKey::Packed(*k), *v));
        }
        for (k, v) in self.text.iter_mut().filter(|(_, v)| **v & FRESH != 0) {
            *v &= !FRESH;
            out.push((FormKey::Text(k.clone()), *v));
        }
        out
    }
}

/// Forms by function and `elid`: the run's own, and those kept from earlier runs. What each
/// was read for (row hash, time) is spooled with its fields, so memory keeps 16 bytes a
/// form: 33 334 payer forms took about 6 MB as keyed entries with their hashes as text.
#[derive(Default)]
pub(super) struct Forms {
    spool: Option<Spool>,
    run: Index,
    kept: Index,
}

impl Forms {
    fn write(&mut self, attrs: &Attrs, row_hash: &str, fetched_at: i64) -> io::Result<u64> {
        let spool = match &mut self.spool {
            Some(s) => s,
            none => none.insert(Spool::new()?),
        };
        let mut record = attrs.clone();
        record.insert(ROW_HASH.into(), row_hash.into());
        record.insert(FETCHED_AT.into(), fetched_at.to_string());
        let at = spool.push(&record)?;
        spool.flush()?;
        Ok(at)
    }

    /// A spooled form: its fields, the row hash it was read for, and when.
    fn read(&self, at: u64) -> io::Result<(Attrs, String, i64)> {
        let mut attrs = match &self.spool {
            Some(s) => s.read(at & !FRESH)?,
            None => return Err(io::Error::other("no form was kept")),
        };
        let row_hash = attrs.remove(ROW_HASH).unwrap_or_default();
        let fetched_at = attrs
            .remove(FETCHED_AT)
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        Ok((attrs, row_hash, fetched_at))
    }

    /// Whether form `key` was already read (or taken over) in this run.
    pub fn has(&self, key: &FormKey) -> bool {
        self.run.get(key).is_some()
    }

    /// The run's form `key`, if read already.
    pub fn get(&self, key: &FormKey) -> io::Result<Option<Attrs>> {
        self.run
            .get(key)
            .map(|at| self.read(at).map(|(attrs, _, _)| attrs))
            .transpose()
    }

    /// Adds a form read in this run (`fresh`) or taken over from an earlier one.
    pub fn put(
        &mut self,
        key: FormKey,
        attrs: &Attrs,
        row_hash: &str,
        fetched_at: i64,
        fresh: bool,
    ) -> io::Result<()> {
        let at = self.write(attrs, row_hash, fetched_at)?;
        self.run.insert(key, if fresh { at | FRESH } else { at });
        Ok(())
    }

    /// Keeps a form from an earlier run, to be taken over while its row is unchanged.
    pub fn keep(&mut self, form: CachedForm) -> io::Result<()> {
        let at = self.write(&form.attrs, &form.row_hash, form.fetched_at)?;
        self.kept.insert(key(&form.func, &form.elid), at);
        Ok(())
    }

    /// Takes over the kept form `key` when it was read for `row_hash` after `oldest`.
    pub fn take_kept(
        &mut self,
        key: &FormKey,
        row_hash: &str,
        oldest: i64,
    ) -> io::Result<Option<Attrs>> {
        let Some(at) = self.kept.remove(key) else {
            return Ok(None);
        };
        let (attrs, read_for, fetched_at) = self.read(at)?;
        if read_for != row_hash || fetched_at <= oldest {
            return Ok(None);
        }
        self.run.insert(key.clone(), at);
        Ok(Some(attrs))
    }

    /// Hands over, once, each form read from the panel in this run.
    pub fn each_fresh(&mut self, f: &mut dyn FnMut(CachedForm)) -> io::Result<()> {
        for (key, at) in self.run.take_fresh() {
            let (attrs, row_hash, fetched_at) = self.read(at)?;
            let (func, elid) = key.parts();
            f(CachedForm {
                func,
                elid,
                row_hash,
                fetched_at,
                attrs,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{key, FormKey, Forms};
    use crate::billing::tests::support::attrs;
    use crate::billing::CachedForm;

    #[test]
    fn keys_pack_for_plain_ids_of_known_forms_and_give_their_parts_back() {
        assert!(matches!(key("profile.edit", "33334"), FormKey::Packed(_)));
        assert_ne!(key("profile.edit", "7"), key("account.edit", "7"));
        for (func, elid) in [
            ("profile.edit", "33334"),
            ("account.edit", "0"),
            ("account.edit", "4294967295"),
            ("profile.edit", "007"),
            ("profile.edit", "4294967296"),
            ("vds.edit", "12"),
        ] {
            assert_eq!(key(func, elid).parts(), (func.into(), elid.into()));
        }
        assert!(matches!(key("profile.edit", "007"), FormKey::Text(_)));
        assert!(matches!(key("vds.edit", "12"), FormKey::Text(_)));
    }

    #[test]
    fn kept_forms_are_taken_over_only_for_the_same_row_and_fresh_ones_handed_back_once() {
        let mut forms = Forms::default();
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

        // Same row, young enough: taken over, and then the run has it.
        let k1 = key("profile.edit", "1");
        assert_eq!(
            forms.take_kept(&k1, "h1", 50).unwrap(),
            Some(attrs(&[("vatnum", "771")]))
        );
        assert!(forms.has(&k1));
        assert_eq!(forms.get(&k1).unwrap(), Some(attrs(&[("vatnum", "771")])));
        // The row changed, or the form is too old: not taken (and not kept any more).
        let k2 = key("profile.edit", "2");
        assert_eq!(forms.take_kept(&k2, "changed", 50).unwrap(), None);
        assert!(!forms.has(&k2));
        assert_eq!(forms.take_kept(&k2, "h2", 50).unwrap(), None);
        let k3 = key("profile.edit", "3");
        assert_eq!(forms.take_kept(&k3, "h3", 50).unwrap(), None);
        // A key that does not pack works the same.
        let k4 = key("profile.edit", "x-4");
        assert_eq!(
            forms.take_kept(&k4, "h4", 50).unwrap(),
            Some(attrs(&[("vatnum", "77x-4")]))
        );

        // Fresh forms come back once, with what they were read for; taken-over ones never.
        forms
            .put(k2.clone(), &attrs(&[("vatnum", "new")]), "h2b", 200, true)
            .unwrap();
        forms
            .put(
                key("account.edit", "9"),
                &attrs(&[("country", "RU")]),
                "c9",
                201,
                true,
            )
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
        assert_eq!(forms.get(&k2).unwrap(), Some(attrs(&[("vatnum", "new")])));
    }
}
