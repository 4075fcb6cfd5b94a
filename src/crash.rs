//! Named crash points: a test hook, not a feature. Tests prove "nothing lost, nothing
//! twice" across a `kill -9` at an exact place rather than at a random time: when the
//! environment variable `AMOCRM_BIN_CRASH_AT` names a point, the process aborts there (as a
//! `kill -9` would: no destructor, no flush). `point@subject` aborts only where that
//! subject is at stake (a BILLmanager key such as `service:413`, or a follow-up's key such
//! as `lost:413`). Unset, every point is a no-op.
//!
//! Points (docs/reliability.md):
//! - `created-before-binding`: amoCRM answered a create, its binding is not stored yet
//!   (subject: the entity's key);
//! - `bound-before-followups`: bindings stored, their notes and tasks not sent yet
//!   (subjects: the entities' keys, the follow-ups' keys);
//! - `followup-sent-before-cleared`: amoCRM took notes or tasks, their rows are not
//!   cleared yet (subjects: as above);
//! - `updated-before-binding`: amoCRM answered a PATCH, the binding's new hash is not
//!   stored yet (subject: the entity's key);
//! - `linked-before-hash`: amoCRM took an entity's links, its binding still holds
//!   `links-pending` (subjects: the linked entities' keys);
//! - `read-before-planned`: a backfill read a chunk of clients or services from the panel
//!   and has not planned it yet (subjects: `client:<id>`, `service:<id>` of the chunk).

/// The environment variable that names the point to crash at.
pub const ENV: &str = "AMOCRM_BIN_CRASH_AT";

/// Aborts the process when `AMOCRM_BIN_CRASH_AT` is `name`, or `name@s` for one of
/// `subjects`.
pub fn point<'s>(name: &str, subjects: impl IntoIterator<Item = &'s str>) {
    // Read once per process: points sit on a backfill's per-entity path.
    static WANT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let Some(want) =
        WANT.get_or_init(|| std::env::var_os(ENV).map(|v| v.to_string_lossy().into_owned()))
    else {
        return;
    };
    if hits(want, name, subjects) {
        eprintln!("{ENV}={want}: aborting here (test hook)");
        std::process::abort();
    }
}

/// Whether `want` (the variable's value) names this point.
fn hits<'s>(want: &str, name: &str, subjects: impl IntoIterator<Item = &'s str>) -> bool {
    match want.split_once('@') {
        None => want == name,
        Some((n, s)) => n == name && subjects.into_iter().any(|x| x == s),
    }
}

#[cfg(test)]
mod tests {
    use super::hits;

    #[test]
    fn a_point_is_hit_by_its_name_or_by_its_name_and_a_subject_at_stake() {
        assert!(hits("bound-before-followups", "bound-before-followups", []));
        assert!(!hits(
            "bound-before-followups",
            "created-before-binding",
            []
        ));
        let at_stake = ["service:413", "lost:413"];
        assert!(hits(
            "created-before-binding@service:413",
            "created-before-binding",
            at_stake
        ));
        assert!(hits(
            "created-before-binding@lost:413",
            "created-before-binding",
            at_stake
        ));
        assert!(!hits(
            "created-before-binding@service:41",
            "created-before-binding",
            at_stake
        ));
        assert!(!hits(
            "bound-before-followups@service:413",
            "created-before-binding",
            at_stake
        ));
    }
}
