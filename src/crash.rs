//! Named crash points: a test hook, not a feature. Tests prove "nothing lost, nothing
//! twice" across a `kill -9` at an exact place rather than at a random time: when the
//! environment variable `AMOCRM_BIN_CRASH_AT` names a point, the process aborts there (as a
//! `kill -9` would: no destructor, no flush). Unset, every point is a no-op.
//!
//! Points (docs/reliability.md):
//! - `created-before-binding`: amoCRM answered a create, its binding is not stored yet;
//! - `bound-before-followups`: bindings stored, their notes and tasks not sent yet;
//! - `followup-sent-before-cleared`: amoCRM took notes or tasks, their rows are not
//!   cleared yet.

/// The environment variable that names the point to crash at.
pub const ENV: &str = "AMOCRM_BIN_CRASH_AT";

/// Aborts the process when `AMOCRM_BIN_CRASH_AT` is `name`.
pub fn point(name: &str) {
    if std::env::var_os(ENV).is_some_and(|v| v == name) {
        eprintln!("{ENV}={name}: aborting here (test hook)");
        std::process::abort();
    }
}
