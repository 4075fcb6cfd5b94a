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
    // 2: call-tracking events (store/calls.rs): the calls, every provider id they were
    // reported under, and the amoCRM writes already done for each.
    "CREATE TABLE calls (
         id              INTEGER PRIMARY KEY AUTOINCREMENT,
         provider        TEXT NOT NULL,
         call_id         TEXT NOT NULL,
         fingerprint     TEXT NOT NULL,
         direction       TEXT NOT NULL,
         status          TEXT NOT NULL,
         ended           INTEGER NOT NULL,
         internal        INTEGER NOT NULL,
         started_at      INTEGER NOT NULL,
         duration        INTEGER NOT NULL,
         billsec         INTEGER NOT NULL,
         client_phone    TEXT,
         rank            INTEGER NOT NULL,
         event           TEXT NOT NULL,
         raw             TEXT NOT NULL,
         received_at     INTEGER NOT NULL,
         state           TEXT NOT NULL,
         detail          TEXT,
         attempts        INTEGER NOT NULL DEFAULT 0,
         last_error      TEXT,
         last_attempt_at INTEGER,
         amo_call_id     INTEGER,
         amo_entity      TEXT,
         user_id         INTEGER,
         delivered_at    INTEGER,
         duplicates      INTEGER NOT NULL DEFAULT 0,
         updated_at      INTEGER NOT NULL
     );
     CREATE INDEX calls_by_fingerprint ON calls (fingerprint, started_at);
     CREATE INDEX calls_by_state ON calls (state, started_at);
     CREATE INDEX calls_by_start ON calls (started_at);
     CREATE TABLE call_keys (
         provider TEXT NOT NULL,
         call_id  TEXT NOT NULL,
         call     INTEGER NOT NULL REFERENCES calls (id),
         PRIMARY KEY (provider, call_id)
     );
     CREATE TABLE call_steps (
         call    INTEGER NOT NULL REFERENCES calls (id),
         step    TEXT NOT NULL,
         amo_id  INTEGER,
         done_at INTEGER NOT NULL,
         PRIMARY KEY (call, step)
     );
     CREATE INDEX call_steps_by_amo_id ON call_steps (amo_id);",
    // 3: lifecycle automation (store/lifecycle.rs): lead stages we set and read back,
    // service snapshots, client managers, tasks we created, named values.
    "CREATE TABLE life_leads (
         amo_id        INTEGER PRIMARY KEY,
         rule_pipeline INTEGER,
         rule_status   INTEGER,
         set_pipeline  INTEGER,
         set_status    INTEGER,
         set_at        INTEGER,
         seen_pipeline INTEGER,
         seen_status   INTEGER,
         seen_by       INTEGER,
         seen_at       INTEGER
     );
     CREATE TABLE life_services (
         service_id      TEXT PRIMARY KEY,
         status          TEXT NOT NULL,
         expires_at      TEXT,
         previous_status TEXT,
         event           TEXT,
         seen_at         INTEGER NOT NULL
     );
     CREATE TABLE life_clients (
         client_id  TEXT PRIMARY KEY,
         manager_id INTEGER NOT NULL,
         source     TEXT NOT NULL,
         updated_at INTEGER NOT NULL
     );
     CREATE TABLE life_tasks (
         purpose     TEXT NOT NULL,
         subject     TEXT NOT NULL,
         task_id     INTEGER NOT NULL,
         entity_type TEXT NOT NULL,
         entity_id   INTEGER NOT NULL,
         created_at  INTEGER NOT NULL,
         PRIMARY KEY (purpose, subject, task_id)
     );
     CREATE TABLE life_values (
         name       TEXT PRIMARY KEY,
         value      TEXT NOT NULL,
         updated_at INTEGER NOT NULL
     );",
    // 4: call webhook bodies as received, stored before parsing (store/calls.rs); calls
    // whose item could not be parsed are rows in state `unparsed` until `calls reparse`.
    "CREATE TABLE call_bodies (
         id          INTEGER PRIMARY KEY AUTOINCREMENT,
         received_at INTEGER NOT NULL,
         body        TEXT NOT NULL
     );
     CREATE INDEX call_bodies_by_time ON call_bodies (received_at);",
    // 5: BILLmanager edit forms kept between runs (issue 12): reused while the entity's list
    // row is unchanged and the form is younger than `[billmanager] form_max_age_hours`.
    "CREATE TABLE panel_forms (
         func       TEXT NOT NULL,
         elid       TEXT NOT NULL,
         row_hash   TEXT NOT NULL,
         fetched_at INTEGER NOT NULL,
         attrs      TEXT NOT NULL,
         PRIMARY KEY (func, elid)
     );",
    // 6: lookups by the other column. `aliases_to` (every company a backfill plans asks
    // which payers share it) walked every alias of the kind: at 33 334 payers that made
    // an unchanged 100 000-client backfill take minutes. Forgetting a call's keys walked
    // every key.
    "CREATE INDEX aliases_by_target ON aliases (kind, target_id, bm_id);
     CREATE INDEX call_keys_by_call ON call_keys (call);",
    // 7: what the panel said at the last sync of an entity adopted under `[sync] adopt =
    // "fill"` (issue 22): a later sync sends only the fields the panel changed since, never
    // the ones `fill` left as people typed them.
    "CREATE TABLE filled (
         kind  TEXT NOT NULL,
         bm_id TEXT NOT NULL,
         panel TEXT NOT NULL,
         PRIMARY KEY (kind, bm_id)
     );",
    // 8: notes and tasks that follow a write (issue 22): each is stored before its entity's
    // create request is sent, due once the entity is bound, and removed once amoCRM took it
    // (store/followups.rs). `sending` = a POST may have reached amoCRM: the next run looks
    // before sending again. `parked`: amoCRM refused it twice; only `drain --all` retries.
    "CREATE TABLE followups (
         key         TEXT PRIMARY KEY,
         kind        TEXT NOT NULL,
         bm_id       TEXT NOT NULL,
         what        TEXT NOT NULL,
         target_id   INTEGER,
         text        TEXT NOT NULL,
         task_type   INTEGER,
         hours       INTEGER,
         responsible INTEGER,
         purpose     TEXT,
         subject     TEXT,
         sending     INTEGER NOT NULL DEFAULT 0,
         parked      INTEGER NOT NULL DEFAULT 0,
         attempts    INTEGER NOT NULL DEFAULT 0,
         last_error  TEXT,
         created_at  INTEGER NOT NULL,
         updated_at  INTEGER NOT NULL
     );
     CREATE INDEX followups_by_entity ON followups (kind, bm_id);",
];

/// Brings the schema up to date.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    // Up to date (every run but the first after an upgrade): no write lock, so a store that
    // another process keeps busy can still be read (`status` is what the busy hint suggests).
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current as usize >= MIGRATIONS.len() {
        return Ok(());
    }
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
