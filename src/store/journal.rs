//! The run journal: one row per command run, for `status` and for cron post-mortems.

use rusqlite::params;

use super::{now, Result, Store};

/// One finished or running command.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Run {
    /// Row id.
    pub id: i64,
    /// The command (`sync`, `backfill`, `hook`, …).
    pub command: String,
    /// Process id.
    pub pid: i64,
    /// Unix start time.
    pub started_at: i64,
    /// Unix end time; `None` while running or after a crash.
    pub finished_at: Option<i64>,
    /// Exit code.
    pub exit_code: Option<i64>,
    /// JSON summary (counts, requests); never holds secrets.
    pub summary: Option<String>,
}

impl Store {
    /// Records the start of a run; returns its id.
    pub fn start_run(&self, command: &str) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO runs (command, pid, started_at) VALUES (?1, ?2, ?3)",
                params![command, std::process::id() as i64, now()],
            )
            .map_err(|e| self.err("write the run journal", e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records the end of a run.
    pub fn finish_run(&self, id: i64, exit_code: i32, summary: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE runs SET finished_at = ?2, exit_code = ?3, summary = ?4 WHERE id = ?1",
                params![id, now(), exit_code, summary],
            )
            .map(drop)
            .map_err(|e| self.err("write the run journal", e))
    }

    /// The latest runs, newest first.
    pub fn recent_runs(&self, limit: usize) -> Result<Vec<Run>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, command, pid, started_at, finished_at, exit_code, summary
                 FROM runs ORDER BY id DESC LIMIT ?1",
            )
            .map_err(|e| self.err("read the run journal", e))?;
        let rows = stmt
            .query_map(params![limit as i64], |r| {
                Ok(Run {
                    id: r.get(0)?,
                    command: r.get(1)?,
                    pid: r.get(2)?,
                    started_at: r.get(3)?,
                    finished_at: r.get(4)?,
                    exit_code: r.get(5)?,
                    summary: r.get(6)?,
                })
            })
            .map_err(|e| self.err("read the run journal", e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err("read the run journal", e))
    }
}
