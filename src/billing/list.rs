//! One BILLmanager list as the reader keeps it for a run, in memory that does not grow by
//! a row's size: the rows go, as they are parsed, into a temporary table of the run's
//! [`Scratch`] database, indexed by id and by owning client (by name for `account`), and
//! come back by prepared statements (`docs/billmanager.md` §13.7).
//!
//! Owners given only by the client's name are matched against the `account` list's table
//! once the list is read (a name two clients share, or no client has, leaves the row
//! unlinked), so a lookup by owner is one indexed query.

use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension, Statement};

use super::convert::{self, Owner};
use super::error::BillingError;
use super::model::{Attrs, Unlinked};
use super::scratch::{self, Scratch};
use super::values::{first, id_order};

/// The entity word of a list's rows, for errors and reports.
pub(super) fn entity_of(func: &str) -> &'static str {
    match func {
        "account" => "client",
        "user" => "user",
        "profile" => "payer",
        _ => "service",
    }
}

/// A whole list: rows in a temporary table (`id`, `owner` the owning client's id, `named`
/// the owner's name while unresolved, `name` the client name of `account` rows, `fields`),
/// in list order by `rowid`.
pub(super) struct List {
    func: String,
    scratch: Arc<Scratch>,
    table: String,
    /// Whether rows name their client only by its name.
    named: bool,
    /// Rows no client could be tied to (the reader reports them).
    pub unlinked: Vec<Unlinked>,
    rows: u64,
}

impl List {
    /// Reads list `func`: `read` hands over each row as it is parsed, and each goes into a
    /// new table, all in one transaction. Owners given by name wait for [`List::finish`].
    pub fn load(
        scratch: &Arc<Scratch>,
        func: &str,
        read: impl FnOnce(&mut dyn FnMut(Attrs)) -> Result<(), BillingError>,
    ) -> Result<List, BillingError> {
        let mut list = List {
            func: func.to_string(),
            scratch: scratch.clone(),
            table: scratch.table("list"),
            named: false,
            unlinked: Vec::new(),
            rows: 0,
        };
        let what = list.what();
        scratch.with(&what, |conn| {
            let fail = |e| scratch::error(&what, e);
            let tx = conn.transaction().map_err(fail)?;
            tx.execute_batch(&format!(
                "CREATE TEMP TABLE {} (id TEXT, owner TEXT, named TEXT, name TEXT, fields TEXT NOT NULL)",
                list.table
            ))
            .map_err(fail)?;
            let mut insert = tx
                .prepare(&format!(
                    "INSERT INTO {} (id, owner, named, name, fields) VALUES (?1, ?2, ?3, ?4, ?5)",
                    list.table
                ))
                .map_err(fail)?;
            let mut stored = Ok(());
            read(&mut |row| {
                if stored.is_ok() {
                    stored = list.insert(&mut insert, &row);
                }
            })?;
            stored.map_err(fail)?;
            drop(insert);
            tx.commit().map_err(fail)
        })?;
        Ok(list)
    }

    fn what(&self) -> String {
        format!("the `{}` list", self.func)
    }

    fn owned(&self) -> bool {
        self.func != "account"
    }

    /// Stores a row with the keys it is looked up by, as far as the row itself says.
    fn insert(&mut self, insert: &mut Statement<'_>, row: &Attrs) -> rusqlite::Result<()> {
        self.rows += 1;
        let (mut owner, mut named, mut name) = (None, None, None);
        if !self.owned() {
            name = first(row, &["name"]);
        } else {
            match convert::owner(row) {
                Owner::Id(id) => owner = Some(id),
                Owner::Name(n) => named = Some(n),
                Owner::Missing => self.unlinked.push(self.unlinked_row(
                    convert::row_id(row),
                    "no `account_id` or `account` field names its client".into(),
                    Vec::new(),
                )),
            }
        }
        self.named |= named.is_some();
        insert.execute(params![
            convert::row_id(row),
            owner,
            named,
            name,
            scratch::encode(row)
        ])?;
        Ok(())
    }

    /// Whether rows name their client only by name (then the `account` list is needed).
    pub fn needs_accounts(&self) -> bool {
        self.named
    }

    /// Ends the read: owners given by name are matched against `accounts` (a name two
    /// clients share, or no client has, makes the row unlinked) and the indexes built.
    pub fn finish(&mut self, accounts: Option<Arc<List>>) -> Result<(), BillingError> {
        let what = self.what();
        let scratch = self.scratch.clone();
        scratch.with(&what, |conn| {
            let fail = |e| scratch::error(&what, e);
            let tx = conn.transaction().map_err(fail)?;
            let t = self.table.clone();
            if self.named {
                if let Some(a) = &accounts {
                    let a = &a.table;
                    tx.execute_batch(&format!(
                        "UPDATE {t} SET owner = (SELECT CASE WHEN count(DISTINCT a.id) = 1 THEN max(a.id) END
                             FROM {a} a WHERE a.name = {t}.named AND a.id IS NOT NULL)
                         WHERE named IS NOT NULL"
                    ))
                    .map_err(fail)?;
                }
                self.unlink_named(&tx, accounts.as_deref()).map_err(fail)?;
            }
            let key = if self.owned() { "owner" } else { "name" };
            tx.execute_batch(&format!(
                "CREATE INDEX {t}_id ON {t} (id); CREATE INDEX {t}_{key} ON {t} ({key});"
            ))
            .map_err(fail)?;
            tx.commit().map_err(fail)
        })
    }

    /// Reports each row whose owner's name matched no client, or several.
    fn unlink_named(&mut self, conn: &Connection, accounts: Option<&List>) -> rusqlite::Result<()> {
        let mut stmt = conn.prepare(&format!(
            "SELECT id, named FROM {} WHERE named IS NOT NULL AND owner IS NULL ORDER BY rowid",
            self.table
        ))?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let (id, name): (Option<String>, String) = (r.get(0)?, r.get(1)?);
            let ids = match accounts {
                Some(a) => a.clients_named(conn, &name)?,
                None => Vec::new(),
            };
            let (reason, candidates) = match ids.as_slice() {
                [] => (
                    format!("its client is named `{name}` in `account`, and no client in the `account` list has that name"),
                    Vec::new(),
                ),
                many => (
                    format!(
                        "its client is named `{name}` in `account`, and clients {} share that name; it is not guessed: rename one of them in BILLmanager",
                        many.join(" and ")
                    ),
                    ids.clone(),
                ),
            };
            let u = self.unlinked_row(id.as_deref(), reason, candidates);
            self.unlinked.push(u);
        }
        Ok(())
    }

    fn unlinked_row(&self, id: Option<&str>, reason: String, candidates: Vec<String>) -> Unlinked {
        Unlinked {
            entity: entity_of(&self.func),
            id: id
                .map(str::to_string)
                .unwrap_or_else(|| format!("#{}", self.rows)),
            reason: format!("`{}` row: {reason}", self.func),
            candidates,
        }
    }

    /// Ids of the `account` rows named `name`, in id order.
    fn clients_named(&self, conn: &Connection, name: &str) -> rusqlite::Result<Vec<String>> {
        let mut ids = conn
            .prepare_cached(&format!(
                "SELECT DISTINCT id FROM {} WHERE name = ?1 AND id IS NOT NULL",
                self.table
            ))?
            .query_map([name], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        ids.sort_by(|a, b| id_order(a, b));
        Ok(ids)
    }

    /// Row `id` (the first with that id) with its owner (`None` for `account` rows and
    /// rows no client can be tied to).
    pub fn row(&self, id: &str) -> Result<Option<(Attrs, Option<String>)>, BillingError> {
        let what = self.what();
        let found = self.scratch.with(&what, |conn| {
            conn.prepare_cached(&format!(
                "SELECT fields, owner FROM {} WHERE id = ?1 ORDER BY rowid LIMIT 1",
                self.table
            ))
            .and_then(|mut s| {
                s.query_row([id], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
                })
                .optional()
            })
            .map_err(|e| scratch::error(&what, e))
        })?;
        found
            .map(|(fields, owner)| Ok((scratch::decode(&what, &fields)?, owner)))
            .transpose()
    }

    /// The rows owned by client `client`, in list order.
    pub fn of_owner(&self, client: &str) -> Result<Vec<Attrs>, BillingError> {
        let mut rows = Vec::new();
        self.select("WHERE owner = ?1", &[client], &mut |r| rows.push(r))?;
        Ok(rows)
    }

    /// Every row, in list order; `f` must not use the reader (the scratch database is
    /// busy meanwhile).
    pub fn each(&self, f: &mut dyn FnMut(Attrs)) -> Result<(), BillingError> {
        self.select("", &[], f)
    }

    /// Hands over the rows matching `filter` (with `keys` bound to it), in list order.
    fn select(
        &self,
        filter: &str,
        keys: &[&str],
        f: &mut dyn FnMut(Attrs),
    ) -> Result<(), BillingError> {
        let what = self.what();
        self.scratch.with(&what, |conn| {
            let fail = |e| scratch::error(&what, e);
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT fields FROM {} {filter} ORDER BY rowid",
                    self.table
                ))
                .map_err(fail)?;
            let mut rows = stmt.query(rusqlite::params_from_iter(keys)).map_err(fail)?;
            while let Some(r) = rows.next().map_err(fail)? {
                let fields: String = r.get(0).map_err(fail)?;
                f(scratch::decode(&what, &fields)?);
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::billing::tests::support::attrs as row;

    /// A finished list of `rows`.
    fn list(
        scratch: &Arc<Scratch>,
        func: &str,
        rows: &[Attrs],
        accounts: Option<Arc<List>>,
    ) -> List {
        let mut list = List::load(scratch, func, |sink| {
            rows.iter().for_each(|r| sink(r.clone()));
            Ok(())
        })
        .unwrap();
        assert_eq!(list.needs_accounts(), accounts.is_some());
        list.finish(accounts).unwrap();
        list
    }

    #[test]
    fn rows_come_back_whole_by_id_owner_and_name() {
        let scratch = Arc::new(Scratch::default());
        let long = "x".repeat(1000);
        let accounts = Arc::new(list(
            &scratch,
            "account",
            &[
                row(&[("id", "1"), ("name", "Acme"), ("note", &long)]),
                row(&[("id", "2"), ("name", "Twin")]),
                row(&[("id", "3"), ("name", "Twin")]),
            ],
            None,
        ));
        let (r, owner) = accounts.row("1").unwrap().unwrap();
        assert_eq!((r["note"].len(), owner), (1000, None));
        assert!(accounts.row("9").unwrap().is_none());

        let users = list(
            &scratch,
            "user",
            &[
                row(&[("id", "10"), ("account_id", "1")]),
                row(&[("id", "11"), ("account", "Acme")]),
                row(&[("id", "12"), ("account", "Twin")]),
                row(&[("id", "13")]),
            ],
            Some(accounts),
        );
        let ids: Vec<String> = users
            .of_owner("1")
            .unwrap()
            .iter()
            .map(|r| r["id"].clone())
            .collect();
        assert_eq!(ids, ["10", "11"]);
        assert_eq!(users.row("11").unwrap().unwrap().1.as_deref(), Some("1"));
        assert_eq!(users.row("12").unwrap().unwrap().1, None);
        let unlinked: Vec<(&str, &Vec<String>)> = users
            .unlinked
            .iter()
            .map(|u| (u.id.as_str(), &u.candidates))
            .collect();
        assert_eq!(unlinked.len(), 2, "{:?}", users.unlinked);
        assert!(unlinked.contains(&("12", &vec!["2".to_string(), "3".to_string()])));
        let mut all = Vec::new();
        users.each(&mut |r| all.push(r["id"].clone())).unwrap();
        assert_eq!(all, ["10", "11", "12", "13"]);
    }
}
