//! Diagnostics for humans: stderr by verbosity, plus an optional size-capped log file.
//!
//! Library code reports through [`info`], [`debug`] and [`warn`] instead of printing, so the
//! binary decides where text goes (stderr for operators, the log file for hook runs). Every
//! line passes through [`redact`], which replaces any registered secret with `***`; this is
//! the last line of defence behind [`crate::secret::Secret`].
//!
//! Rotation is hand-written on purpose: it is one size check and one rename to `<path>.1`.
//! Logging crates rotate by time (`tracing-appender`) or bring a configuration language
//! (`log4rs`, `flexi_logger`), and none redacts registered secrets from every line, which
//! this module must do whoever writes. The hook lives for milliseconds per panel event and
//! exits on every path, so a synchronous write is also what a log line needs to survive.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// How much goes to stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Only errors (`-q`).
    Quiet = 0,
    /// Warnings and the summary (default).
    Normal = 1,
    /// Each request and decision (`-v`).
    Verbose = 2,
    /// Everything (`-vv`).
    Debug = 3,
}

struct Sink {
    level: Level,
    stderr: bool,
    file: Option<(PathBuf, File, u64)>,
}

fn sink() -> &'static Mutex<Sink> {
    static SINK: OnceLock<Mutex<Sink>> = OnceLock::new();
    SINK.get_or_init(|| {
        Mutex::new(Sink {
            level: Level::Normal,
            stderr: true,
            file: None,
        })
    })
}

fn secrets() -> &'static Mutex<Vec<String>> {
    static SECRETS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| Mutex::new(Vec::new()))
}

/// Sets the stderr verbosity; `stderr = false` silences stderr entirely (hook mode).
pub fn set_level(level: Level, stderr: bool) {
    let mut s = sink().lock().unwrap_or_else(|e| e.into_inner());
    s.level = level;
    s.stderr = stderr;
}

/// The current verbosity.
pub fn level() -> Level {
    sink().lock().unwrap_or_else(|e| e.into_inner()).level
}

/// Opens (creating with mode 0600) the log file; lines are appended there at every level
/// down to `Verbose`. When the file passes `max_bytes` it is rotated to `<path>.1`.
pub fn open_file(path: &Path, max_bytes: u64) -> std::io::Result<()> {
    let file = open_private_append(path)?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut s = sink().lock().unwrap_or_else(|e| e.into_inner());
    s.file = Some((path.to_path_buf(), file, len.min(max_bytes)));
    drop(s);
    MAX_BYTES.get_or_init(|| max_bytes);
    Ok(())
}

static MAX_BYTES: OnceLock<u64> = OnceLock::new();

fn open_private_append(path: &Path) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

/// Remembers a secret so that [`redact`] scrubs it from every line.
pub fn register_secret(value: &str) {
    // Very short values would scrub innocent text; real tokens are long.
    if value.len() < 8 {
        return;
    }
    let mut s = secrets().lock().unwrap_or_else(|e| e.into_inner());
    if !s.iter().any(|v| v == value) {
        s.push(value.to_string());
    }
}

/// Replaces every registered secret in `text` with `***`.
pub fn redact(text: &str) -> String {
    let s = secrets().lock().unwrap_or_else(|e| e.into_inner());
    let mut out = text.to_string();
    for secret in s.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}

fn emit(level: Level, tag: &str, msg: &str) {
    let line = redact(msg);
    let mut s = sink().lock().unwrap_or_else(|e| e.into_inner());
    if s.stderr && level <= s.level {
        eprintln!("{tag}{line}");
    }
    if level <= Level::Verbose {
        let max = MAX_BYTES.get().copied().unwrap_or(u64::MAX);
        if let Some((path, file, written)) = s.file.as_mut() {
            let stamp = chrono::Local::now().format("%Y-%m-%d %H:%M:%S");
            let record = format!("{stamp} [{}] {tag}{line}\n", std::process::id());
            if *written + record.len() as u64 > max {
                let rotated = path.with_extension("log.1");
                let _ = std::fs::rename(&*path, &rotated);
                if let Ok(f) = open_private_append(path) {
                    *file = f;
                    *written = 0;
                }
            }
            if file.write_all(record.as_bytes()).is_ok() {
                *written += record.len() as u64;
            }
        }
    }
}

/// A warning: shown unless `-q`.
pub fn warn(msg: &str) {
    emit(Level::Normal, "warning: ", msg);
}

/// Progress a user normally wants to see (shown unless `-q`).
pub fn info(msg: &str) {
    emit(Level::Normal, "", msg);
}

/// Per-request and per-decision detail (`-v`).
pub fn verbose(msg: &str) {
    emit(Level::Verbose, "", msg);
}

/// Internals (`-vv`).
pub fn debug(msg: &str) {
    emit(Level::Debug, "debug: ", msg);
}

/// Writes one line to the log file only (hook events), never to stderr.
pub fn record(msg: &str) {
    let line = redact(msg);
    let mut s = sink().lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, file, written)) = s.file.as_mut() {
        let stamp = chrono::Local::now().format("%Y-%m-%d %H:%M:%S");
        let record = format!("{stamp} [{}] {line}\n", std::process::id());
        if file.write_all(record.as_bytes()).is_ok() {
            *written += record.len() as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_scrubs_registered_secrets() {
        register_secret("tok-1234567890");
        assert_eq!(redact("Bearer tok-1234567890 sent"), "Bearer *** sent");
        register_secret("short");
        assert_eq!(redact("short"), "short");
    }
}
