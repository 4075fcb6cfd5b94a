//! Command-line surface: legacy form, pending subcommands, rate limit under a 429 storm.

use sandbox::{Fault, SandboxConfig};

use crate::support::{run, World};

#[test]
fn legacy_command_form_means_the_same_as_the_subcommand() {
    let w = World::new();
    w.authorize();
    let (rc, out, err) = run(w.cmd().args([
        "--command",
        "sync",
        "--entity",
        "contact",
        "--elid",
        "101",
        "--json",
    ]));
    assert_eq!(rc, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["counts"]["contact"]["created"], 2);
}

#[test]
fn replay_calls_with_nothing_stored_sends_nothing() {
    // Was the "not available in this build" stub until issue #6 (tests/it/calls.rs).
    let w = World::new();
    let (rc, _, err) = run(w.cmd().args(["replay-calls", "--days", "3"]));
    assert_eq!(rc, 0, "{err}");
    assert!(err.contains("0 to send"), "{err}");
}

#[test]
fn a_429_storm_is_ridden_out_without_exceeding_7_per_second() {
    let w = World::paced(SandboxConfig::default(), |r| r);
    w.authorize();
    w.sandbox.reset_stats();
    w.sandbox.inject(Fault::Status {
        code: 429,
        count: 4,
        path_prefix: Some("/api/v4".into()),
    });
    let (rc, out, err) = run(w.cmd().args(["sync", "--entity", "lead", "--elid", "404"]));
    assert_eq!(rc, 0, "{out}{err}");
    let s = w.sandbox.stats();
    assert!(s.status_429 >= 4, "{s:?}");
    assert!(
        s.max_per_second <= 7,
        "max {} requests in one second",
        s.max_per_second
    );
    assert!(!w.sandbox.entities("leads").is_empty());
}

/// README lists `completions` and `man` among the commands; the top-level help shows them.
#[test]
fn the_top_level_help_lists_completions_and_man() {
    let w = World::new();
    let (rc, out, err) = run(w.cmd().arg("--help"));
    assert_eq!(rc, 0, "{err}");
    for command in ["completions", "man"] {
        assert!(
            out.lines()
                .any(|l| l.trim_start().starts_with(&format!("{command} "))),
            "{command} missing from:\n{out}"
        );
    }
}
