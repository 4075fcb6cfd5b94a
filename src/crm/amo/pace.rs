//! Pacing: at most N requests in any one-second window, across every process that shares
//! the store (cron backfill, the hook's drain, an operator's sync).
//!
//! Hand-written on purpose: rate-limit crates (`governor`, `ratelimit`) keep their state in
//! one process's memory, and amoCRM's 7 requests per second are shared by separate
//! processes that start and end independently. The limit has to live in a locked file next
//! to the store, and amoCRM counts a request when it arrives, which the correction below
//! needs to know; neither fits a GCRA cell in memory.
//!
//! The state is a tiny file next to the store: a penalty deadline (set after a 429, so every
//! process backs off, not only the one that was refused) and the send times of the last N
//! requests. A process takes the file's lock, waits until the oldest of those is more than a
//! window old, appends its own send time and releases the lock. Waiting while holding the
//! lock is deliberate: it queues the processes in turn.
//!
//! amoCRM counts a request when it *arrives*, which can be tens of milliseconds after we
//! recorded it (connect, a busy scheduler); a late arrival followed by prompt ones would put
//! eight arrivals in one second. So once the answer is in, [`Pacer::done`] moves the
//! request's slot to that moment: an answer always comes after the arrival, so counting
//! from it keeps any N+1 arrivals more than a window apart whatever the delay was.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// The window, with a margin for the time between our clock and the server's arrival clock.
const WINDOW_MS: u64 = 1000 + 40;

/// The shared rate limiter.
pub struct Pacer {
    rps: usize,
    file: Option<PathBuf>,
    local: Mutex<State>,
}

#[derive(Default, Debug, PartialEq)]
struct State {
    penalty_until: u64,
    sent: Vec<u64>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl State {
    fn parse(text: &str) -> State {
        let mut lines = text.lines();
        let penalty_until = lines
            .next()
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(0);
        let sent = lines.filter_map(|l| l.trim().parse().ok()).collect();
        State {
            penalty_until,
            sent,
        }
    }

    fn render(&self) -> String {
        let mut s = format!("{}\n", self.penalty_until);
        for t in &self.sent {
            s.push_str(&format!("{t}\n"));
        }
        s
    }

    /// How long to wait before sending at `now`; `None` when free to go.
    fn wait_needed(&mut self, now: u64, rps: usize) -> Option<u64> {
        if self.penalty_until > now {
            return Some(self.penalty_until - now);
        }
        self.sent
            .retain(|t| *t + WINDOW_MS > now && *t <= now + WINDOW_MS);
        if self.sent.len() >= rps {
            let oldest = *self.sent.iter().min().unwrap_or(&now);
            return Some((oldest + WINDOW_MS).saturating_sub(now).max(1));
        }
        None
    }
}

impl Pacer {
    /// A pacer shared through `file` (normally `<store>.pace`), or process-local when `None`.
    pub fn new(rps: u32, file: Option<PathBuf>) -> Pacer {
        Pacer {
            rps: rps.max(1) as usize,
            file,
            local: Mutex::new(State::default()),
        }
    }

    /// Blocks until one more request may be sent, and records it as sent; returns the
    /// recorded time, for [`Pacer::done`].
    pub fn acquire(&self) -> u64 {
        let mut ticket = 0;
        self.with_state(|state, rps| loop {
            let now = now_ms();
            match state.wait_needed(now, rps) {
                Some(ms) => std::thread::sleep(Duration::from_millis(ms)),
                None => {
                    state.sent.push(now);
                    ticket = now;
                    break;
                }
            }
        });
        ticket
    }

    /// The request recorded at `ticket` was answered (or failed): its slot counts from now.
    pub fn done(&self, ticket: u64) {
        self.with_state(|state, _| {
            let now = now_ms().max(ticket);
            match state.sent.iter_mut().find(|t| **t == ticket) {
                Some(t) => *t = now,
                // A slow request whose slot already left the window still counts once more.
                None => state.sent.push(now),
            }
        });
    }

    /// After a 429: nobody sends for `ms`.
    pub fn penalize(&self, ms: u64) {
        self.with_state(|state, _| {
            state.penalty_until = state.penalty_until.max(now_ms() + ms);
        });
    }

    fn with_state(&self, f: impl FnOnce(&mut State, usize)) {
        let mut local = self.local.lock().unwrap_or_else(|e| e.into_inner());
        let Some(path) = &self.file else {
            f(&mut local, self.rps);
            return;
        };
        match open_locked(path) {
            Ok(mut file) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let mut state = State::parse(&text);
                f(&mut state, self.rps);
                let _ = file.set_len(0);
                let _ = file.rewind();
                let _ = file.write_all(state.render().as_bytes());
                let _ = file.unlock();
            }
            // Without the shared file we still pace this process.
            Err(e) => {
                crate::log::debug(&format!("pace file `{}` unusable: {e}", path.display()));
                f(&mut local, self.rps);
            }
        }
    }
}

fn open_locked(path: &PathBuf) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.create(true).read(true).write(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let file = opts.open(path)?;
    file.lock()?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_allows_rps_then_waits_for_the_oldest() {
        let mut s = State::default();
        for i in 0..7 {
            assert_eq!(s.wait_needed(1000 + i, 7), None);
            s.sent.push(1000 + i);
        }
        assert_eq!(s.wait_needed(1100, 7), Some(1000 + WINDOW_MS - 1100));
        assert_eq!(s.wait_needed(1000 + WINDOW_MS, 7), None);
    }

    #[test]
    fn penalty_blocks_everyone() {
        let mut s = State {
            penalty_until: 5000,
            sent: vec![],
        };
        assert_eq!(s.wait_needed(4000, 7), Some(1000));
        assert_eq!(State::parse(&s.render()), s);
    }

    #[test]
    fn an_answered_request_counts_from_its_answer() {
        let p = Pacer::new(2, None);
        let first = p.acquire();
        p.acquire();
        std::thread::sleep(Duration::from_millis(30));
        p.done(first);
        let state = p.local.lock().unwrap();
        assert_eq!(state.sent.len(), 2);
        assert!(state.sent.iter().all(|t| *t >= first));
        assert!(state.sent.iter().any(|t| *t >= first + 30), "{state:?}");
    }

    #[test]
    fn shared_file_paces_across_instances() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p");
        let a = Pacer::new(3, Some(path.clone()));
        let b = Pacer::new(3, Some(path));
        let start = std::time::Instant::now();
        for _ in 0..2 {
            a.acquire();
            b.acquire();
        }
        // Four sends at 3 per window: the fourth waits for the window to pass.
        assert!(start.elapsed() >= Duration::from_millis(WINDOW_MS - 50));
    }
}
