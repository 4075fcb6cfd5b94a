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
//! process backs off, not only the one that was refused) and, for each recent request, the
//! latest moment it may have *arrived* at amoCRM. A process takes the file's lock, waits
//! until fewer than N of those lie within a window before now, appends its own and releases
//! the lock. Waiting while holding the lock is deliberate: it queues the processes (and the
//! threads of one process) in turn.
//!
//! amoCRM counts a request when it arrives, which is after we start it (connect, a busy
//! scheduler) and before its answer. So a request's slot is recorded at its start plus
//! [`ARRIVAL_BOUND_MS`] while it is in flight, and [`Pacer::done`] pulls it back to the
//! answer when the answer came sooner. Whatever the order of arrivals, a new start is then
//! only allowed when fewer than N earlier requests could have arrived within a window of
//! it. A request whose process was killed (`kill -9`) never reports its answer: its slot
//! keeps the in-flight bound, so the re-run cannot squeeze an eighth arrival next to it.
//!
//! The file is rewritten in place (new text first, then cut to length), so a process killed
//! mid-write leaves at worst a few extra old lines, which only slow the next sender down.
//!
//! A 429 means amoCRM counted more than we did (its arrival stamps can run late under load,
//! so two of our requests a window apart may land in one of its seconds). Besides the
//! penalty, every process then keeps one request of headroom for [`SLOW_MS`]: N − 1 per
//! window, since an account that keeps overrunning gets blocked.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// The window, with a margin for the time between our clock and the server's arrival clock.
const WINDOW_MS: u64 = 1000 + 40;

/// How late after its start a request may arrive at amoCRM, at most (connect and sending the
/// body; a slow *answer* is the server working after arrival, which no longer counts).
pub const ARRIVAL_BOUND_MS: u64 = 250;

/// How long after a 429 every process sends one request fewer per window.
pub const SLOW_MS: u64 = 60_000;

/// The shared rate limiter.
pub struct Pacer {
    rps: usize,
    file: Option<PathBuf>,
    local: Mutex<State>,
    /// This process's lanes wait until then (after a 5xx or a lost answer).
    paused_until: std::sync::atomic::AtomicU64,
}

#[derive(Default, Debug, PartialEq)]
struct State {
    penalty_until: u64,
    /// Until then (after a 429) one request fewer per window.
    slow_until: u64,
    /// Latest possible arrival of each recent request.
    sent: Vec<u64>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl State {
    /// Reads the file: the penalty deadline, then one line per request; the slow-down
    /// deadline is a `slow:` line, which a binary from before it skips as unreadable.
    fn parse(text: &str) -> State {
        let mut lines = text.lines();
        let penalty_until = lines
            .next()
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(0);
        let mut slow_until = 0;
        let mut sent = Vec::new();
        for l in lines.map(str::trim) {
            if let Some(t) = l.strip_prefix("slow:") {
                slow_until = slow_until.max(t.parse().unwrap_or(0));
            } else if let Ok(t) = l.parse() {
                sent.push(t);
            }
        }
        State {
            penalty_until,
            slow_until,
            sent,
        }
    }

    fn render(&self) -> String {
        let mut s = format!("{}\n", self.penalty_until);
        if self.slow_until > 0 {
            s.push_str(&format!("slow:{}\n", self.slow_until));
        }
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
            .retain(|t| *t + WINDOW_MS > now && *t <= now + ARRIVAL_BOUND_MS + WINDOW_MS);
        if self.slow_until <= now {
            self.slow_until = 0;
        }
        let rps = if self.slow_until > now {
            rps.saturating_sub(1).max(1)
        } else {
            rps
        };
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
            paused_until: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Every lane of this process waits `ms` before its next start (a 5xx or a lost
    /// answer: amoCRM is struggling, so nobody here adds to it).
    pub fn pause(&self, ms: u64) {
        self.paused_until
            .fetch_max(now_ms() + ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// Blocks until one more request may be sent, and records it as in flight; returns the
    /// recorded slot, for [`Pacer::done`].
    pub fn acquire(&self) -> u64 {
        let never = std::sync::atomic::AtomicBool::new(false);
        self.acquire_unless(&never).unwrap_or(0)
    }

    /// [`Pacer::acquire`], given up (`None`, no slot taken) once `cancel` is set: a run
    /// that stopped does not wait out a pause or a 429's penalty before it reports.
    pub fn acquire_unless(&self, cancel: &std::sync::atomic::AtomicBool) -> Option<u64> {
        use std::sync::atomic::Ordering;
        /// Waits are slept in slices this long, so a stop is seen soon.
        const SLICE_MS: u64 = 50;
        loop {
            let until = self.paused_until.load(Ordering::Relaxed);
            let now = now_ms();
            if cancel.load(Ordering::SeqCst) {
                return None;
            }
            if until <= now {
                break;
            }
            std::thread::sleep(Duration::from_millis((until - now).min(SLICE_MS)));
        }
        let mut ticket = None;
        self.with_state(|state, rps| loop {
            if cancel.load(Ordering::SeqCst) {
                break;
            }
            let now = now_ms();
            match state.wait_needed(now, rps) {
                Some(ms) => std::thread::sleep(Duration::from_millis(ms.min(SLICE_MS))),
                None => {
                    let t = now + ARRIVAL_BOUND_MS;
                    state.sent.push(t);
                    ticket = Some(t);
                    break;
                }
            }
        });
        ticket
    }

    /// The request holding slot `ticket` was answered (or failed): it arrived by now, so
    /// an answer sooner than the in-flight bound frees its slot sooner.
    pub fn done(&self, ticket: u64) {
        let now = now_ms();
        if now >= ticket {
            return;
        }
        self.with_state(|state, _| {
            if let Some(t) = state.sent.iter_mut().find(|t| **t == ticket) {
                *t = now;
            }
        });
    }

    /// After a 429: nobody sends for `ms`, and for [`SLOW_MS`] after that one request
    /// fewer per window.
    pub fn penalize(&self, ms: u64) {
        self.with_state(|state, _| {
            let now = now_ms();
            state.penalty_until = state.penalty_until.max(now + ms);
            state.slow_until = state.slow_until.max(now + ms + SLOW_MS);
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
                let rendered = state.render();
                let _ = file.rewind();
                let _ = file.write_all(rendered.as_bytes());
                let _ = file.set_len(rendered.len() as u64);
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
    fn a_stop_ends_a_wait_for_a_penalty_without_taking_a_slot() {
        let p = Pacer::new(7, None);
        p.penalize(60_000);
        let cancel = std::sync::atomic::AtomicBool::new(false);
        let start = std::time::Instant::now();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| p.acquire_unless(&cancel));
            std::thread::sleep(Duration::from_millis(100));
            cancel.store(true, std::sync::atomic::Ordering::SeqCst);
            assert_eq!(waiter.join().unwrap(), None);
        });
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        assert!(p.local.lock().unwrap().sent.is_empty());
    }

    #[test]
    fn penalty_blocks_everyone() {
        let mut s = State {
            penalty_until: 5000,
            slow_until: 0,
            sent: vec![],
        };
        assert_eq!(s.wait_needed(4000, 7), Some(1000));
        assert_eq!(State::parse(&s.render()), s);
    }

    #[test]
    fn after_a_429_one_request_fewer_per_window_until_the_slow_down_ends() {
        let mut s = State {
            penalty_until: 0,
            slow_until: 100_000,
            sent: vec![],
        };
        for i in 0..6 {
            assert_eq!(s.wait_needed(1000 + i, 7), None);
            s.sent.push(1000 + i);
        }
        assert!(s.wait_needed(1010, 7).is_some(), "the seventh waits");
        // Written and read back through the shared file.
        let back = State::parse(&s.render());
        assert_eq!(back, s);
        // Once it ends, seven again.
        let mut after = State {
            penalty_until: 0,
            slow_until: 100_000,
            sent: (0..6).map(|i| 100_000 + i).collect(),
        };
        assert_eq!(after.wait_needed(100_010, 7), None);
        assert_eq!(after.slow_until, 0, "cleared once over");
        // A file from a binary without the slow-down reads as before, and ours reads in one.
        assert_eq!(State::parse("0\n5000\n").slow_until, 0);
        assert_eq!(State::parse("0\nslow:9\n5000\n").sent, vec![5000]);
        // One per window never drops to none.
        let mut one = State {
            penalty_until: 0,
            slow_until: 100_000,
            sent: vec![],
        };
        assert_eq!(one.wait_needed(1000, 1), None);
    }

    #[test]
    fn penalize_sets_the_penalty_and_the_slow_down_in_the_shared_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p");
        let p = Pacer::new(7, Some(path.clone()));
        let before = now_ms();
        p.penalize(2000);
        let s = State::parse(&std::fs::read_to_string(&path).unwrap());
        assert!(s.penalty_until >= before + 2000, "{s:?}");
        assert!(s.slow_until >= s.penalty_until + SLOW_MS, "{s:?}");
    }

    #[test]
    fn an_answered_request_counts_from_its_answer_an_open_one_from_the_bound() {
        let p = Pacer::new(2, None);
        let first = p.acquire();
        let second = p.acquire();
        let started = first - ARRIVAL_BOUND_MS;
        std::thread::sleep(Duration::from_millis(30));
        p.done(first);
        let state = p.local.lock().unwrap();
        assert_eq!(state.sent.len(), 2);
        let answered = state.sent.iter().copied().min().unwrap();
        assert!(answered >= started + 30 && answered < first, "{state:?}");
        // The second never answered (its process was killed): it keeps the bound.
        assert!(state.sent.contains(&second), "{state:?}");
    }

    #[test]
    fn a_killed_processs_open_request_still_paces_the_rerun() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p");
        // The killed process: 7 starts, none answered.
        let killed = Pacer::new(7, Some(path.clone()));
        let start = std::time::Instant::now();
        for _ in 0..7 {
            killed.acquire();
        }
        drop(killed);
        // The re-run's first start waits for a window past the bound of the killed ones.
        let rerun = Pacer::new(7, Some(path));
        rerun.acquire();
        assert!(
            start.elapsed() >= Duration::from_millis(WINDOW_MS + ARRIVAL_BOUND_MS - 50),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn a_torn_write_leaves_old_lines_which_only_slow_down() {
        let old = "0\n5000\n5001\n5002\n";
        let new = "0\n5003\n";
        // Killed after writing the new text, before cutting the file to its length.
        let torn = format!("{new}{}", &old[new.len()..]);
        let mut s = State::parse(&torn);
        assert_eq!(s.sent, vec![5003, 5001, 5002]);
        assert!(s.wait_needed(5500, 3).is_some());
        assert_eq!(State::parse(new).wait_needed(5500, 3), None);
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
