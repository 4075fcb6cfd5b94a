//! How the process allocates: one glibc malloc arena.
//!
//! glibc gives each thread that allocates its own arena, up to eight per core, and an arena
//! keeps what was freed in it for that arena's next allocations. A backfill runs
//! `max_in_flight` request threads and a form reader beside the planning thread, so freed
//! memory sat in arenas other threads could not reuse, and a large backfill's peak grew by
//! a few MiB (the measured figures are in docs/benchmarks.md, "Memory"). The threads wait on the
//! network, not on each other's allocations, so one arena costs no measurable speed.

/// Makes every thread allocate from one arena. Called first thing in `main`, before any
/// thread starts; elsewhere than glibc it does nothing.
pub fn one_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets an allocator tunable; M_ARENA_MAX = 1 is a valid value,
    // and no other thread exists yet to race with it.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}
