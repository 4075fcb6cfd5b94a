//! [`Scratch`]: the panel reader's throwaway database for one run, where the lists
//! ([`super::list`]) and edit forms ([`super::forms`]) wait in temporary tables with
//! indexes instead of in memory (`docs/billmanager.md` §13.7).
//!
//! It is not the store (`src/store/`, the only module speaking SQL for what outlives a
//! run): nothing here is kept, migrated or shared. It is a private connection opened on
//! first use, `open_in_memory` with `temp_store = FILE`, so the `TEMP` tables live in an
//! unnamed file in the temporary directory (removed by the system when the run ends, even
//! after a crash), and a page cache of about 2 MB per schema, so memory stays flat however
//! large the panel is. One mutex serialises the reader's threads on it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

use super::error::BillingError;

/// Set on the connection once: temporary tables go to a file, and each schema's page
/// cache is capped at 2 000 KiB.
const SETUP: &str = "PRAGMA temp_store = FILE;
PRAGMA cache_size = -2000;
PRAGMA temp.cache_size = -2000;";

/// Statements kept prepared: three per list and a few for the forms.
const PREPARED: usize = 32;

/// A private connection set up for scratch data.
fn open() -> rusqlite::Result<Connection> {
    let conn = Connection::open_in_memory()?;
    conn.execute_batch(SETUP)?;
    conn.set_prepared_statement_cache_capacity(PREPARED);
    Ok(conn)
}

/// The run's scratch database (see the module doc).
#[derive(Default)]
pub(super) struct Scratch {
    conn: Mutex<Option<Connection>>,
    tables: AtomicU64,
}

impl Scratch {
    /// A fresh name for a temporary table (`list1`, `list2`, …): one per list read.
    pub fn table(&self, prefix: &str) -> String {
        format!(
            "{prefix}{}",
            self.tables.fetch_add(1, Ordering::Relaxed) + 1
        )
    }

    /// Runs `f` on the connection, opening it on first use; `what` names the data for the
    /// error (`the \`item\` list`).
    pub fn with<R>(
        &self,
        what: &str,
        f: impl FnOnce(&mut Connection) -> Result<R, BillingError>,
    ) -> Result<R, BillingError> {
        let mut slot = self.lock();
        let conn = match slot.take() {
            Some(c) => c,
            None => open().map_err(|e| error(what, e))?,
        };
        f(slot.insert(conn))
    }

    fn lock(&self) -> MutexGuard<'_, Option<Connection>> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Scratch data that could not be written or read: where, and what to do.
pub(super) fn error(what: &str, e: rusqlite::Error) -> BillingError {
    BillingError::Unreachable {
        detail: format!(
            "{what} could not be kept in a temporary file in {} ({e}); point TMPDIR at a writable directory with room for the panel's lists",
            std::env::temp_dir().display()
        ),
    }
}

/// A row's fields as stored in a scratch table.
pub(super) fn encode(attrs: &super::model::Attrs) -> String {
    serde_json::to_string(attrs).unwrap_or_else(|_| "{}".into())
}

/// A row's fields back from a scratch table.
pub(super) fn decode(what: &str, text: &str) -> Result<super::model::Attrs, BillingError> {
    serde_json::from_str(text).map_err(|e| BillingError::Unreachable {
        detail: format!("{what} came back damaged from its temporary file ({e})"),
    })
}
