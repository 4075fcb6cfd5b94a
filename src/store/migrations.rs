//! Append-only schema migrations keyed on SQLite's `user_version`.
//!
//! Rules: never edit or remove an entry, only append; never make a change an older binary
//! could not live with (a hook from the previous release may still be running during an
//! upgrade). Migrations run in one exclusive transaction, so two processes opening a fresh
//! store at once cannot both apply them.

use rusqlite::{Connection, TransactionBehavior};

/// The migrations, in order; entry `i` moves the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: tokens, bindings, aliases, outbox, journal, caches.
    "CREATE TABLE oauth_tokens (
         id            INTEGER PRIMARY KEY CHECK (id = 1),
         access_token  TEXT NOT NULL,
         refresh_token TEXT,
         expires_at    INTEGER NOT NULL,
         base_url      TEXT NOT NULL,
         account_id    INTEGER,
         account_name  TEXT,
         subdomain     TEXT,
         generation    INTEGER NOT NULL,
         updated_at    INTEGER NOT NULL
     );
     CREATE TABLE bindings (
         kind         TEXT NOT NULL,
         bm_id        TEXT NOT NULL,
         amo_id       INTEGER NOT NULL,
         payload_hash TEXT NOT NULL,
         synced_at    INTEGER NOT NULL,
         PRIMARY KEY (kind, bm_id),
         UNIQUE (kind, amo_id)
     );
     CREATE TABLE aliases (
         kind      TEXT NOT NULL,
         bm_id     TEXT NOT NULL,
         target_id TEXT NOT NULL,
         reason    TEXT NOT NULL,
         created_at INTEGER NOT NULL,
         PRIMARY KEY (kind, bm_id)
     );
     CREATE TABLE outbox (
         id              INTEGER PRIMARY KEY AUTOINCREMENT,
         kind            TEXT NOT NULL,
         bm_id           TEXT NOT NULL,
         reason          TEXT NOT NULL,
         attempts        INTEGER NOT NULL DEFAULT 0,
         next_attempt_at INTEGER NOT NULL,
         last_error      TEXT,
         parked          INTEGER NOT NULL DEFAULT 0,
         created_at      INTEGER NOT NULL,
         updated_at      INTEGER NOT NULL,
         UNIQUE (kind, bm_id)
     );
     CREATE TABLE runs (
         id          INTEGER PRIMARY KEY AUTOINCREMENT,
         command     TEXT NOT NULL,
         pid         INTEGER NOT NULL,
         started_at  INTEGER NOT NULL,
         finished_at INTEGER,
         exit_code   INTEGER,
         summary     TEXT
     );
     CREATE TABLE cache (
         namespace  TEXT NOT NULL,
         key        TEXT NOT NULL,
         value      TEXT NOT NULL,
         fetched_at INTEGER NOT NULL,
         PRIMARY KEY (namespace, key)
     );",
];

/// Brings the schema up to date.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    let version: usize = tx.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
    }
    tx.commit()
}

/// The schema version this binary writes.
pub fn latest() -> usize {
    MIGRATIONS.len()
}
