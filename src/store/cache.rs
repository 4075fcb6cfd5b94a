//! Name → id caches (fields, pipelines, statuses, users) so a sync of one entity does not
//! re-read the account's dictionaries from amoCRM every time.

use rusqlite::{params, OptionalExtension};

use super::{now, Result, Store};

impl Store {
    /// A cached value younger than `max_age` seconds.
    pub fn cache_get(&self, namespace: &str, key: &str, max_age: i64) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT value FROM cache WHERE namespace = ?1 AND key = ?2 AND fetched_at >= ?3",
                params![namespace, key, now() - max_age],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err("read the cache", e))
    }

    /// Stores a value.
    pub fn cache_put(&self, namespace: &str, key: &str, value: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO cache (namespace, key, value, fetched_at) VALUES (?1, ?2, ?3, ?4)",
                params![namespace, key, value, now()],
            )
            .map(drop)
            .map_err(|e| self.err("write the cache", e))
    }

    /// Drops a namespace (e.g. after `check` found the account changed).
    pub fn cache_clear(&self, namespace: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM cache WHERE namespace = ?1", params![namespace])
            .map(drop)
            .map_err(|e| self.err("clear the cache", e))
    }
}
