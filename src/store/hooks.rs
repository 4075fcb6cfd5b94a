//! How long the store waits for another process's write: the command's setting, or the
//! hook's short one.

use std::time::Duration;

use super::{Result, Store};

impl Store {
    /// Caps how long a statement waits for another process's write (30 s until set).
    ///
    /// Commands wait `[store] busy_timeout_secs`. The hook runs inside a panel request: a
    /// store kept busy (a stuck process, a slow disk) must make it give up and log within a
    /// second or two, not hold the panel.
    pub fn set_busy_timeout(&self, timeout: Duration) -> Result<()> {
        self.conn
            .busy_timeout(timeout)
            .map_err(|e| self.err("configure", e))
    }
}
