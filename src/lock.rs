//! Cross-process file locks next to the store (std `File::lock`, Rust ≥ 1.89).
//!
//! Three locks, each a file beside the store:
//! - `<store>.run.lock` — one batch runner (backfill, drain, replay) at a time; a second one
//!   fails fast with exit code 6.
//! - `<store>.write.lock` — held around "check binding → create in amoCRM → record binding",
//!   so two processes never create the same entity; short, waited for.
//! - `<store>.auth.lock` — held around an OAuth refresh, so the single-use refresh token is
//!   never spent twice.
//!
//! Locks are released by the OS when the process dies, so `kill -9` never leaves a stale lock.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::status::{Classify, ExitStatus};

/// Another process holds a lock we could not wait for.
#[derive(Debug)]
pub struct LockHeld {
    /// The lock file.
    pub path: PathBuf,
    /// What the holder wrote into it (pid and command), if readable.
    pub holder: String,
}

impl fmt::Display for LockHeld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "another run holds the lock `{}`", self.path.display())?;
        if !self.holder.is_empty() {
            write!(f, " ({})", self.holder)?;
        }
        Ok(())
    }
}

impl std::error::Error for LockHeld {}

impl Classify for LockHeld {
    fn exit_status(&self) -> ExitStatus {
        ExitStatus::Locked
    }
    fn hint(&self) -> Option<String> {
        Some("wait for it to finish (`amocrm-bin status` shows it) and run again; queued work is not lost".into())
    }
}

/// A held lock; released on drop.
#[derive(Debug)]
pub struct FileLock {
    file: File,
    path: PathBuf,
}

impl FileLock {
    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // A finished holder leaves no name behind, so a stale name always means a dead
        // process (see [`held`]).
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// Which lock.
#[derive(Debug, Clone, Copy)]
pub enum LockKind {
    /// One batch runner at a time.
    Run,
    /// Creating entities.
    Write,
    /// Refreshing OAuth tokens.
    Auth,
}

impl LockKind {
    fn suffix(self) -> &'static str {
        match self {
            LockKind::Run => "run.lock",
            LockKind::Write => "write.lock",
            LockKind::Auth => "auth.lock",
        }
    }
}

/// The lock file for `kind` next to the store at `store`.
pub fn lock_path(store: &Path, kind: LockKind) -> PathBuf {
    let mut name = store.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(kind.suffix());
    store.with_file_name(name)
}

fn open(path: &Path) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.create(true).read(true).write(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

fn read_holder(path: &Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_string(&mut s);
    }
    s.trim().to_string()
}

fn write_holder(file: &mut File, what: &str) {
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = write!(file, "pid {} {what}", std::process::id());
    let _ = file.flush();
}

/// How long a holder may take between locking and naming itself.
const NAMING_GRACE: Duration = Duration::from_secs(2);

/// The holder, once it has named itself. Taking the lock and writing the name are two
/// steps, so a process that just took it shows an empty file, or the name a killed
/// predecessor left: both mean "starting", and we re-read until the live holder's name is
/// there (or the grace runs out), so callers that decide by the holder's name (a backfill
/// waits for a drain) never decide on a half-written one.
fn held(path: &Path) -> LockHeld {
    let start = Instant::now();
    let mut holder = read_holder(path);
    while !names_live_process(&holder) && start.elapsed() < NAMING_GRACE {
        std::thread::sleep(Duration::from_millis(10));
        holder = read_holder(path);
    }
    LockHeld {
        path: path.to_path_buf(),
        holder,
    }
}

/// True when `holder` (`pid N what`) names a process that is running (on systems without
/// `/proc`, any name counts).
fn names_live_process(holder: &str) -> bool {
    let Some(pid) = holder
        .strip_prefix("pid ")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse::<u32>().ok())
    else {
        return false;
    };
    let proc_root = Path::new("/proc");
    !proc_root.is_dir() || proc_root.join(pid.to_string()).exists()
}

/// Takes the lock without waiting; `Err(LockHeld)` when another process has it.
pub fn try_lock(store: &Path, kind: LockKind, what: &str) -> anyhow::Result<FileLock> {
    let path = lock_path(store, kind);
    let mut file = open(&path)
        .map_err(|e| anyhow::anyhow!("cannot open lock file `{}`: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {
            write_holder(&mut file, what);
            Ok(FileLock { file, path })
        }
        Err(std::fs::TryLockError::WouldBlock) => Err(held(&path).into()),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(anyhow::anyhow!("cannot lock `{}`: {e}", path.display()))
        }
    }
}

/// Waits up to `timeout` for the lock.
pub fn lock_within(
    store: &Path,
    kind: LockKind,
    what: &str,
    timeout: Duration,
) -> anyhow::Result<FileLock> {
    let path = lock_path(store, kind);
    let mut file = open(&path)
        .map_err(|e| anyhow::anyhow!("cannot open lock file `{}`: {e}", path.display()))?;
    let start = Instant::now();
    let mut announced = false;
    loop {
        match file.try_lock() {
            Ok(()) => {
                if matches!(kind, LockKind::Run) {
                    write_holder(&mut file, what);
                }
                return Ok(FileLock { file, path });
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                if start.elapsed() >= timeout {
                    return Err(held(&path).into());
                }
                if !announced && start.elapsed() > Duration::from_secs(2) {
                    crate::log::verbose(&format!("waiting for lock `{}`", path.display()));
                    announced = true;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(anyhow::anyhow!("cannot lock `{}`: {e}", path.display()))
            }
        }
    }
}

/// Who holds the run lock right now, if anyone (for `status`).
pub fn run_lock_holder(store: &Path) -> Option<String> {
    let path = lock_path(store, LockKind::Run);
    let file = open(&path).ok()?;
    match file.try_lock() {
        Ok(()) => {
            let _ = file.unlock();
            None
        }
        Err(_) => Some(read_holder(&path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_try_lock_fails_with_holder() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("s.db");
        let first = try_lock(&store, LockKind::Run, "backfill").unwrap();
        let err = try_lock(&store, LockKind::Run, "backfill").unwrap_err();
        let held = err.downcast_ref::<LockHeld>().unwrap();
        assert!(held.holder.contains("backfill"), "{}", held.holder);
        assert!(run_lock_holder(&store).is_some());
        drop(first);
        assert!(run_lock_holder(&store).is_none());
        try_lock(&store, LockKind::Run, "drain").unwrap();
    }

    #[test]
    fn a_holder_that_has_not_named_itself_yet_is_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("s.db");
        let path = lock_path(&store, LockKind::Run);
        // A killed backfill's name is still in the file; a drain has just taken the lock.
        std::fs::write(&path, "pid 999999999 backfill").unwrap();
        let mut file = open(&path).unwrap();
        file.try_lock().unwrap();
        let naming = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            write_holder(&mut file, "drain");
            std::thread::sleep(Duration::from_millis(300));
            drop(file);
        });
        let err = try_lock(&store, LockKind::Run, "backfill").unwrap_err();
        let held = err.downcast_ref::<LockHeld>().unwrap();
        assert!(held.holder.contains("drain"), "{}", held.holder);
        naming.join().unwrap();
    }

    #[test]
    fn only_names_of_running_processes_count() {
        assert!(names_live_process(&format!(
            "pid {} drain",
            std::process::id()
        )));
        assert!(!names_live_process(""));
        assert!(!names_live_process("garbage"));
        if Path::new("/proc").is_dir() {
            assert!(!names_live_process("pid 999999999 drain"));
        }
    }
}
