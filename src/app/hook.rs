//! The panel hook's work after the panel got its answer: read the event, queue what it
//! names in the outbox (one SQLite insert) and start a detached `amocrm-bin drain`. It never
//! talks to amoCRM itself, so an amoCRM outage cannot slow the panel down.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;

use crate::hook::{self, events::EventMap, xml, Decision, Invocation};
use crate::log;
use crate::rules::{RuleSet, DEFAULT_PATH};
use crate::store::Store;

/// Input beyond this is streamed through without being inspected.
pub const MAX_INPUT: u64 = 16 << 20;

/// Where a hook whose rule file cannot be read complains, if that directory exists.
const FALLBACK_LOG: &str = "/usr/local/mgr5/var/amocrm-bin.log";

/// The panel's document as read from stdin.
pub struct Input {
    /// The bytes read (up to [`MAX_INPUT`]).
    pub bytes: Vec<u8>,
    /// False when the input was larger than [`MAX_INPUT`] (the rest was streamed through).
    pub complete: bool,
}

/// Queues the event the environment names (nothing when it names none); errors are the
/// caller's to log.
pub fn work(input: &Input) -> anyhow::Result<()> {
    let config = std::env::var_os("AMOCRM_BIN_CONFIG")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_PATH));
    let Some(inv) = Invocation::from_env(|k| std::env::var(k).ok()) else {
        return Ok(());
    };
    let rules = match RuleSet::load(&config) {
        Ok(r) => r,
        Err(e) => {
            if Path::new(FALLBACK_LOG).parent().is_some_and(Path::is_dir) {
                let _ = log::open_file(Path::new(FALLBACK_LOG), 10 << 20);
            }
            anyhow::bail!(
                "{}: cannot use the rule file, event not queued: {e}",
                inv.describe()
            );
        }
    };
    if let Some(path) = &rules.file.log.path {
        // Without a log file the hook still queues; there is just nowhere to say so.
        let _ = log::open_file(path, rules.file.log.max_bytes);
    }
    let doc = if input.bytes.is_empty() {
        None
    } else if !input.complete {
        log::warn(&format!(
            "hook: {}: the panel's document is larger than {} MiB; passed through without reading it",
            inv.describe(),
            MAX_INPUT >> 20
        ));
        None
    } else {
        match xml::inspect(&input.bytes) {
            Ok(d) => Some(d),
            Err(why) => {
                log::warn(&format!(
                    "hook: {}: malformed XML from the panel ({why}); passed through unchanged",
                    inv.describe()
                ));
                None
            }
        }
    };
    let map = EventMap::new(&rules.file.hook);
    let queued = match hook::decide(&inv, doc.as_ref(), &map) {
        Decision::Ignore(why) => {
            log::info(&format!("hook: {} → nothing queued: {why}", inv.describe()));
            return Ok(());
        }
        Decision::Queue(q) => q,
    };
    let store = Store::open(&rules.file.store.path)
        .with_context(|| format!("{}: event not queued", inv.describe()))?;
    store.set_busy_timeout(Duration::from_secs(2))?;
    let reason = hook::printable(&inv.func);
    for q in &queued {
        store
            .enqueue(q.target.as_str(), &q.id, &reason)
            .with_context(|| format!("{}: event not queued", inv.describe()))?;
    }
    let what: Vec<String> = queued
        .iter()
        .map(|q| format!("{} {}", q.target.as_str(), q.id))
        .collect();
    log::info(&format!(
        "hook: {} → queued {}",
        inv.describe(),
        what.join(", ")
    ));
    let disabled = std::env::var(hook::NO_DRAIN_ENV).is_ok_and(|v| !v.is_empty() && v != "0");
    if rules.file.hook.spawn_drain && !disabled {
        if let Err(e) = spawn_drain(&rules.path) {
            log::warn(&format!(
                "hook: cannot start `amocrm-bin drain` ({e}); the next drain or cron run pushes the queue"
            ));
        }
    }
    Ok(())
}

/// Starts `amocrm-bin --config <rules> drain --background` in its own process group with
/// no stdio, and does not wait for it: the panel gets its answer while the drain works.
#[allow(clippy::zombie_processes)] // the hook exits at once; init reaps the drain
pub fn spawn_drain(config: &Path) -> std::io::Result<()> {
    let exe = std::env::current_exe()?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--config")
        .arg(config)
        .args(["drain", "--background"])
        .env_remove("PARAM_func")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    // Logged (to the file; on stderr with -v) before the hook exits, so a test sees whether
    // a drain was started without waiting to see whether one shows up.
    let child = cmd.spawn()?;
    log::verbose(&format!(
        "started `amocrm-bin drain --background` (pid {})",
        child.id()
    ));
    Ok(())
}
