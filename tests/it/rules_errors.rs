//! Rule-file errors: exit 2, naming the line and the key.

use crate::support::{run, World};

#[test]
fn unknown_key_names_line_and_key() {
    let w = World::with(Default::default(), |r| {
        r.replace(
            "timeout_secs = 20",
            "timeout_secs = 20\nclient_secert = \"x\"",
        )
    });
    let (rc, _, err) = run(w.cmd().args(["sync", "--entity", "lead", "--elid", "1"]));
    assert_eq!(rc, 2, "{err}");
    assert!(err.contains("rules.toml:25:1"), "{err}");
    assert!(err.contains("client_secert"), "{err}");
}

#[test]
fn example_rule_file_parses() {
    let path = crate::support::root().join("examples/rules.toml");
    amocrm_bin::rules::RuleSet::load(&path).expect("examples/rules.toml parses");
}

#[test]
fn unknown_pipeline_name_exits_2_naming_it() {
    let w = World::with(Default::default(), |r| {
        r.replace("status = \"Trial\"", "status = \"Tryal\"")
    });
    w.authorize();
    let (rc, _, err) = run(w.cmd().args(["sync", "--entity", "lead", "--elid", "405"]));
    assert_eq!(rc, 2, "{err}");
    assert!(
        err.contains("pipelines[0].status") && err.contains("Tryal"),
        "{err}"
    );
    assert!(w.sandbox.entities("leads").is_empty());
}

#[test]
fn missing_rule_file_exits_2_with_advice() {
    let w = World::new();
    let (rc, _, err) = run(w
        .cmd()
        .env("AMOCRM_BIN_CONFIG", w.path("nope.toml"))
        .args(["auth", "--status"]));
    assert_eq!(rc, 2);
    assert!(err.contains("nope.toml") && err.contains("hint:"), "{err}");
}

/// Runs `cmd` to the end with `stdin`, and returns (exit code, stderr, peak resident memory
/// of that process in KiB).
///
/// The peak is taken by GNU `time` (Debian's `time`, which `.ci/run` installs), not by
/// this test's own `wait4`: Linux carries the high-water mark of the process that forked
/// across `exec`, and std spawns from this test binary, whose resident set holds every
/// other test's sandbox (a child of ours read 233 860 KiB that way). `time` is small,
/// and the binary is its child.
#[cfg(target_os = "linux")]
fn run_measured(cmd: std::process::Command, stdin: &[u8]) -> (i32, String, u64) {
    use std::io::Write;
    use std::process::Stdio;
    let time = std::path::Path::new("/usr/bin/time");
    assert!(
        time.exists(),
        "GNU time is missing: `apt-get install time` (.ci/run does)"
    );
    let mut measured = std::process::Command::new(time);
    measured
        .args(["-f", "PEAK_KIB %M", "--"])
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            measured.env(k, v);
        }
    }
    if let Some(dir) = cmd.get_current_dir() {
        measured.current_dir(dir);
    }
    let mut child = measured
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("time and amocrm-bin start");
    let _ = child.stdin.take().unwrap().write_all(stdin);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let peak = err
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("PEAK_KIB "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak from time: {err}"));
    (out.status.code().unwrap_or(-1), err, peak)
}

/// The binary in `w`'s hermetic environment, as a plain `std` command (for `time`).
#[cfg(target_os = "linux")]
fn binary(w: &World, config: &str) -> std::process::Command {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin!("amocrm-bin"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AMOCRM_BIN_CONFIG", config)
        .env("AMOCRM_CLIENT_SECRET", crate::support::SECRET)
        .current_dir(w.dir.path());
    c
}

#[cfg(target_os = "linux")]
#[test]
fn dev_zero_as_the_rule_file_exits_2_at_once_in_bounded_memory() {
    let w = World::new();
    let started = std::time::Instant::now();
    let mut cmd = binary(&w, "/dev/zero");
    cmd.args(["sync", "--entity", "lead", "--elid", "405"]);
    let (rc, err, peak_kib) = run_measured(cmd, b"");
    assert_eq!(rc, 2, "{err}");
    assert!(err.contains("rule file too large"), "{err}");
    assert!(err.contains("/dev/zero") && err.contains("hint:"), "{err}");
    assert!(peak_kib < 50 * 1024, "peak {peak_kib} KiB");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );

    // The hook reads the same variable: it still answers the panel, unchanged, and stops
    // at the cap too.
    let doc = b"<?xml version=\"1.0\"?>\n<doc><elid>401</elid><ok/></doc>\n";
    let mut hook = binary(&w, "/dev/zero");
    hook.env("AUTH_USER", "admin")
        .env("EVENT_TYPE", "after")
        .env("PARAM_func", "service.postopen")
        .env("PARAM_elid", "401")
        .env("AMOCRM_BIN_HOOK_NO_DRAIN", "1");
    let (rc, err, peak_kib) = run_measured(hook, doc);
    assert_eq!(rc, 0, "{err}");
    assert!(peak_kib < 50 * 1024, "hook peak {peak_kib} KiB");
}

#[cfg(target_os = "linux")]
#[test]
fn calls_ingest_refuses_an_endless_file_at_the_cap() {
    let w = World::new();
    let mut cmd = binary(&w, w.rules.to_str().unwrap());
    cmd.args(["calls", "ingest", "--no-push", "--file", "/dev/zero"]);
    let (rc, err, peak_kib) = run_measured(cmd, b"");
    assert_eq!(rc, 2, "{err}");
    assert!(
        err.contains("input too large") && err.contains("/dev/zero"),
        "{err}"
    );
    assert!(err.contains("split"), "{err}");
    assert!(peak_kib < 50 * 1024, "peak {peak_kib} KiB");
}
