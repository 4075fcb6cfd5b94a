//! The local SQLite store: the only module that speaks SQL.
//!
//! It keeps what must survive between runs and be shared between processes (cron backfill,
//! the BILLmanager hook, an operator's `sync`): OAuth tokens, bindings between BILLmanager
//! and amoCRM ids, aliases (a BILLmanager entity represented by another one's amoCRM entity),
//! the outbox of pushes still to do, the run journal and name → id caches.
//!
//! ## Concurrency
//! WAL mode and a busy timeout (30 s, or `[store] busy_timeout_secs`) let readers and one writer work at once; each
//! method is one short transaction. Cross-process *ordering* (who may create an entity)
//! is handled by [`crate::lock`], not by long SQLite transactions.
//!
//! ## Files
//! The store is created with mode 0600 before SQLite opens it: it holds OAuth tokens.

mod aliases;
mod bindings;
mod cache;
mod calls;
mod error;
mod followups;
mod hooks;
mod journal;
mod lifecycle;
mod migrations;
mod outbox;
mod panel;
mod primed;
mod tokens;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

pub use bindings::{Alias, Binding};
pub use calls::{CallRecord, CallState, Intake, StoredCall};
pub use error::StoreError;
pub use followups::{FollowUp, FollowUpCounts, FollowUpKind, FollowUpTask};
pub use journal::Run;
pub use lifecycle::{LeadState, LifeTask, ServiceSnapshot, Stage};
pub use outbox::{OutboxItem, OutboxSelector};
pub use panel::CachedForm;
pub use tokens::TokenRecord;

/// Result type of store operations.
pub type Result<T> = std::result::Result<T, StoreError>;

/// An open store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Bindings and aliases read ahead for a batch ([`Store::prime_bindings`]).
    primed: std::cell::RefCell<primed::Primed>,
}

impl Store {
    /// Opens (creating with mode 0600 if needed) and migrates the store at `path`.
    pub fn open(path: &Path) -> Result<Store> {
        let err = |action, source| StoreError {
            path: path.to_path_buf(),
            action,
            source,
        };
        create_private(path).map_err(|e| err("create the store file", io_to_sqlite(e)))?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags).map_err(|e| err("open", e))?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(|e| err("configure", e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| err("switch to WAL mode", e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| err("configure", e))?;
        migrations::migrate(&mut conn).map_err(|e| err("migrate the schema", e))?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            primed: Default::default(),
        })
    }

    /// An in-memory store for unit tests.
    pub fn open_in_memory() -> Result<Store> {
        let path = PathBuf::from(":memory:");
        let mut conn = Connection::open_in_memory().map_err(|source| StoreError {
            path: path.clone(),
            action: "open",
            source,
        })?;
        migrations::migrate(&mut conn).map_err(|source| StoreError {
            path: path.clone(),
            action: "migrate the schema",
            source,
        })?;
        Ok(Store {
            conn,
            path,
            primed: Default::default(),
        })
    }

    /// Where the store lives (lock files sit next to it).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version the store is at.
    pub fn schema_version(&self) -> Result<i64> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err("read the schema version", e))
    }

    /// The schema version this binary writes.
    pub fn latest_schema_version() -> usize {
        migrations::latest()
    }

    fn err(&self, action: &'static str, source: rusqlite::Error) -> StoreError {
        StoreError {
            path: self.path.clone(),
            action,
            source,
        }
    }
}

/// Creates the file with mode 0600 if it does not exist yet, so SQLite never creates it
/// with the umask's wider mode. Existing files are tightened too.
fn create_private(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() && !dir.exists() {
            std::fs::create_dir_all(dir)?;
        }
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

fn io_to_sqlite(e: std::io::Error) -> rusqlite::Error {
    let code = match e.kind() {
        std::io::ErrorKind::PermissionDenied => rusqlite::ffi::SQLITE_PERM,
        std::io::ErrorKind::StorageFull => rusqlite::ffi::SQLITE_FULL,
        _ => rusqlite::ffi::SQLITE_CANTOPEN,
    };
    rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some(e.to_string()))
}

/// Seconds since the Unix epoch (the store's time unit).
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests;
