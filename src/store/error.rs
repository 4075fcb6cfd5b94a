//! Store failures, classified so a locked, read-only or full store gives a clear message and
//! the right exit code instead of a raw SQLite string.

use std::fmt;
use std::path::PathBuf;

use crate::status::{Classify, ExitStatus};

/// A failure of the local SQLite store.
#[derive(Debug)]
pub struct StoreError {
    /// The store file.
    pub path: PathBuf,
    /// What the store was doing.
    pub action: &'static str,
    /// The underlying SQLite error.
    pub source: rusqlite::Error,
}

impl StoreError {
    fn code(&self) -> Option<rusqlite::ErrorCode> {
        match &self.source {
            rusqlite::Error::SqliteFailure(e, _) => Some(e.code),
            _ => None,
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "store `{}`: failed to {}: {}",
            self.path.display(),
            self.action,
            self.source
        )
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

impl Classify for StoreError {
    fn exit_status(&self) -> ExitStatus {
        match self.code() {
            Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked) => {
                ExitStatus::Locked
            }
            _ => ExitStatus::Unreachable,
        }
    }

    fn hint(&self) -> Option<String> {
        let p = self.path.display();
        Some(match self.code() {
            Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked) => {
                format!("another process keeps `{p}` busy; retry when it finishes (see `amocrm-bin status`)")
            }
            Some(rusqlite::ErrorCode::ReadOnly)
            | Some(rusqlite::ErrorCode::CannotOpen)
            | Some(rusqlite::ErrorCode::PermissionDenied) => {
                format!("make `{p}` and its directory writable by the user that runs amocrm-bin")
            }
            Some(rusqlite::ErrorCode::DiskFull) => {
                format!("the disk holding `{p}` is full; free space and re-run (nothing was lost)")
            }
            Some(rusqlite::ErrorCode::NotADatabase)
            | Some(rusqlite::ErrorCode::DatabaseCorrupt) => {
                format!("`{p}` is not a valid store; restore it from backup or move it away to start fresh (bindings will be rebuilt by search)")
            }
            _ => format!("check `{p}` (path set by `[store] path`)"),
        })
    }
}
