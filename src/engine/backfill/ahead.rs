//! [`Ahead`]: the hand-over between a backfill's planning thread and its form reader. The
//! reader reads the forms of client chunks at most two chunks ahead of the planning, and a
//! chunk is planned only once its forms are read, so no form is read twice. Each side
//! waits on a condition variable for the other's step instead of polling.

use std::sync::{Condvar, Mutex, MutexGuard};

/// Where both sides are, under one lock.
#[derive(Default)]
struct State {
    /// Client chunks the planning has started to read.
    read: usize,
    /// Client chunks whose forms the reader has read (`usize::MAX` once it stopped).
    fetched: usize,
    /// The planning is over: the reader stops.
    done: bool,
}

/// Shared by the planning thread and the form reader of one backfill.
#[derive(Default)]
pub(super) struct Ahead {
    state: Mutex<State>,
    moved: Condvar,
}

impl Ahead {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic on the other side leaves plain counters behind: still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'g>(&self, guard: MutexGuard<'g, State>) -> MutexGuard<'g, State> {
        self.moved.wait(guard).unwrap_or_else(|e| e.into_inner())
    }

    /// The reader: waits until chunk `n` may be read (the planning has started chunk
    /// `n - 1`); false when the planning is over and nothing more is wanted.
    pub(super) fn may_fetch(&self, n: usize) -> bool {
        let mut s = self.lock();
        while n > s.read + 1 && !s.done {
            s = self.wait(s);
        }
        !s.done
    }

    /// The reader: one more chunk's forms are read.
    pub(super) fn fetched(&self) {
        self.lock().fetched += 1;
        self.moved.notify_all();
    }

    /// The reader stopped (it read every chunk, or it was told to stop, or it panicked):
    /// the planning waits for it no longer.
    pub(super) fn reader_stopped(&self) {
        self.lock().fetched = usize::MAX;
        self.moved.notify_all();
    }

    /// The planning: starts reading the next client chunk once its forms are read.
    pub(super) fn start_chunk(&self) {
        let mut s = self.lock();
        let n = s.read;
        s.read += 1;
        self.moved.notify_all();
        while s.fetched <= n {
            s = self.wait(s);
        }
    }

    /// The planning is over: the reader stops at its next chunk.
    fn finish(&self) {
        self.lock().done = true;
        self.moved.notify_all();
    }
}

/// Marks the reader stopped when dropped, so a reader that panics never leaves the
/// planning waiting.
pub(super) struct StopGuard<'a>(pub(super) &'a Ahead);

impl Drop for StopGuard<'_> {
    fn drop(&mut self) {
        self.0.reader_stopped();
    }
}

/// Marks the planning over when dropped, so planning that stops (or panics) never leaves
/// the reader waiting.
pub(super) struct FinishGuard<'a>(pub(super) &'a Ahead);

impl Drop for FinishGuard<'_> {
    fn drop(&mut self) {
        self.0.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::{Ahead, FinishGuard, StopGuard};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// The reader stays at most two chunks ahead, and every chunk is planned after its
    /// forms are read.
    #[test]
    fn the_reader_stays_within_two_chunks_and_each_chunk_waits_for_its_forms() {
        let ahead = Ahead::default();
        let fetched = AtomicUsize::new(0);
        let chunks = 50;
        std::thread::scope(|s| {
            s.spawn(|| {
                let _stop = StopGuard(&ahead);
                for n in 0..chunks {
                    if !ahead.may_fetch(n) {
                        break;
                    }
                    fetched.store(n + 1, Ordering::SeqCst);
                    ahead.fetched();
                }
            });
            let _finish = FinishGuard(&ahead);
            for n in 0..chunks {
                ahead.start_chunk();
                // Chunk `n` is planned: its forms are read, and at most two chunks' more.
                let f = fetched.load(Ordering::SeqCst);
                assert!(f > n, "chunk {n} planned before its forms ({f} read)");
                assert!(f <= n + 3, "{f} chunks read at chunk {n}");
            }
        });
    }

    /// Finishing early releases a reader waiting for the planning, and a reader that
    /// stopped (or panicked) releases the planning.
    #[test]
    fn neither_side_waits_for_a_side_that_stopped() {
        let ahead = Ahead::default();
        std::thread::scope(|s| {
            let reader = s.spawn(|| (0..10).take_while(|&n| ahead.may_fetch(n)).count());
            drop(FinishGuard(&ahead));
            assert!(reader.join().unwrap() <= 2);
        });
        // What a panicking reader's unwinding does: the guard is dropped.
        let ahead = Ahead::default();
        drop(StopGuard(&ahead));
        ahead.start_chunk();
        ahead.start_chunk();
    }
}
