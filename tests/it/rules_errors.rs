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
/// of that process in KiB, as the kernel counted it for `wait4`).
#[cfg(target_os = "linux")]
#[allow(clippy::zombie_processes)] // reaped by `wait4`, which std does not know of
fn run_measured(mut cmd: std::process::Command, stdin: &[u8]) -> (i32, String, u64) {
    use std::io::{Read, Write};
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("amocrm-bin starts");
    let _ = child.stdin.take().unwrap().write_all(stdin);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value; `wait4` fills it and `status` for the
    // child this test spawned and has not waited for yet.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t, "wait4 failed");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (code, err, usage.ru_maxrss as u64)
}

/// The binary in `w`'s hermetic environment, as a plain `std` command (for `wait4`).
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
