//! Bindings and aliases read ahead for one batch (a backfill's chunk), in one read
//! transaction. Planning asks for the same few bindings several times per entity; each
//! question outside a transaction takes and lets go SQLite's file and WAL locks (system
//! calls), which made most of an unchanged backfill's time. A primed key is answered from
//! memory instead.
//!
//! What is primed is only ever what the store holds: any write of this store to bindings
//! or aliases forgets all of it, and the caller forgets it whenever another process may
//! have written (a backfill does so at each chunk and whenever it takes the write lock
//! again).

use std::collections::HashMap;

use rusqlite::TransactionBehavior;

use super::{Alias, Binding, Result, Store};

/// A primed binding, kept small (a backfill primes a chunk's worth at a time).
struct Bound {
    amo_id: i64,
    synced_at: i64,
    /// The key that owns the binding, when the primed key is an alias of it.
    owner: Option<Box<str>>,
    payload_hash: Box<str>,
}

/// Bindings (as [`Store::binding`] answers, aliases followed) by `kind key`, and the
/// aliases among those keys.
#[derive(Default)]
pub(super) struct Primed {
    bindings: HashMap<String, Option<Bound>>,
    aliases: HashMap<String, Alias>,
}

fn at(kind: &str, bm_id: &str) -> String {
    format!("{kind} {bm_id}")
}

impl Primed {
    /// The primed binding of a key, if it was primed (`Some(None)`: primed, not bound).
    pub(super) fn binding(&self, kind: &str, bm_id: &str) -> Option<Option<Binding>> {
        let bound = self.bindings.get(&at(kind, bm_id))?;
        Some(bound.as_ref().map(|b| Binding {
            kind: kind.to_string(),
            bm_id: b.owner.as_deref().unwrap_or(bm_id).to_string(),
            amo_id: b.amo_id,
            payload_hash: b.payload_hash.to_string(),
            synced_at: b.synced_at,
        }))
    }

    /// The primed alias of a key, if it was primed.
    pub(super) fn alias(&self, kind: &str, bm_id: &str) -> Option<Option<Alias>> {
        let at = at(kind, bm_id);
        self.bindings
            .contains_key(&at)
            .then(|| self.aliases.get(&at).cloned())
    }
}

impl Store {
    /// Reads the bindings and aliases of `keys` of `kind` in one read transaction, so the
    /// next questions about them are answered from memory (until [`Store::forget_primed`]
    /// or a write).
    pub fn prime_bindings<'k>(
        &self,
        kind: &str,
        keys: impl IntoIterator<Item = &'k str>,
    ) -> Result<()> {
        // One transaction takes the locks once; inside another one they are held already.
        let tx = if self.conn.is_autocommit() {
            Some(
                rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Deferred)
                    .map_err(|e| self.err("begin a transaction", e))?,
            )
        } else {
            None
        };
        for key in keys {
            let at = at(kind, key);
            if self.primed.borrow().bindings.contains_key(&at) {
                continue;
            }
            let alias = self.alias_stored(kind, key)?;
            let binding = match self.binding_exact(kind, key)? {
                Some(b) => Some(b),
                None => match &alias {
                    Some(a) => self.binding_exact(kind, &a.target_id)?,
                    None => None,
                },
            };
            let bound = binding.map(|b| Bound {
                amo_id: b.amo_id,
                synced_at: b.synced_at,
                owner: (b.bm_id != key).then(|| b.bm_id.into()),
                payload_hash: b.payload_hash.into(),
            });
            let mut primed = self.primed.borrow_mut();
            if let Some(a) = alias {
                primed.aliases.insert(at.clone(), a);
            }
            primed.bindings.insert(at, bound);
        }
        if let Some(tx) = tx {
            tx.commit().map_err(|e| self.err("end a read", e))?;
        }
        Ok(())
    }

    /// Forgets what was primed: the next questions read the store.
    pub fn forget_primed(&self) {
        *self.primed.borrow_mut() = Primed::default();
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{Binding, Store};

    fn bind(s: &Store, key: &str, amo_id: i64, hash: &str) {
        s.put_binding(&Binding {
            kind: "lead".into(),
            bm_id: key.into(),
            amo_id,
            payload_hash: hash.into(),
            synced_at: 0,
        })
        .unwrap();
    }

    #[test]
    fn primed_answers_equal_the_stores_and_any_write_forgets_them() {
        let s = Store::open_in_memory().unwrap();
        bind(&s, "service:1", 10, "a");
        bind(&s, "service:2", 20, "b");
        s.put_alias("lead", "service:3", "service:2", "re-order")
            .unwrap();
        let keys = ["service:1", "service:2", "service:3", "service:4"];
        let before: Vec<_> = keys
            .iter()
            .map(|k| (s.binding("lead", k).unwrap(), s.alias("lead", k).unwrap()))
            .collect();
        s.prime_bindings("lead", keys).unwrap();
        let primed: Vec<_> = keys
            .iter()
            .map(|k| (s.binding("lead", k).unwrap(), s.alias("lead", k).unwrap()))
            .collect();
        assert_eq!(primed, before);
        assert_eq!(primed[2].0.as_ref().map(|b| b.amo_id), Some(20));
        // Each write is seen at once: the bound hash, a new alias, a forgotten binding.
        bind(&s, "service:2", 20, "c");
        assert_eq!(
            s.binding("lead", "service:3")
                .unwrap()
                .unwrap()
                .payload_hash,
            "c"
        );
        s.prime_bindings("lead", keys).unwrap();
        s.put_alias("lead", "service:4", "service:1", "re-order")
            .unwrap();
        assert_eq!(s.binding("lead", "service:4").unwrap().unwrap().amo_id, 10);
        // Re-stating an alias on record writes nothing and keeps what was primed.
        s.prime_bindings("lead", keys).unwrap();
        s.put_alias("lead", "service:4", "service:1", "re-order")
            .unwrap();
        assert!(s.primed.borrow().binding("lead", "service:4").is_some());
        s.put_alias("lead", "service:4", "service:2", "re-order")
            .unwrap();
        assert_eq!(s.binding("lead", "service:4").unwrap().unwrap().amo_id, 20);
        s.prime_bindings("lead", keys).unwrap();
        s.forget_binding("lead", "service:1").unwrap();
        assert_eq!(s.binding("lead", "service:1").unwrap(), None);
        assert_eq!(s.binding("lead", "service:4").unwrap().unwrap().amo_id, 20);
    }
}
