use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::support::{demo, fake_mgrctl_or_skip};
use crate::billing::{BillingError, BillingSource, MgrctlSource, MgrctlTransport, PanelReader};

fn source(bin: &Path, env: &[(&str, &str)], timeout: Duration) -> MgrctlSource {
    let dir = demo();
    let mut t =
        MgrctlTransport::new(bin, "billmgr", timeout).env("FAKEBILL_DIR", dir.to_str().unwrap());
    for (k, v) in env {
        t = t.env(k, v);
    }
    PanelReader::new(t)
}

fn log_file(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("amocrm-bin-{}-{name}.log", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

#[test]
fn reads_the_demo_through_fake_mgrctl_and_caches_calls() {
    let Some(bin) = fake_mgrctl_or_skip("reads_the_demo_through_fake_mgrctl") else {
        return;
    };
    let log = log_file("cache");
    let s = source(
        &bin,
        &[("FAKEBILL_LOG", log.to_str().unwrap())],
        Duration::from_secs(20),
    );
    for _ in 0..2 {
        let c = s.client("101").unwrap();
        assert_eq!(c.users.len(), 2);
        assert_eq!(s.payers_of("101").unwrap().len(), 1);
        assert_eq!(s.services_of("101").unwrap().len(), 2);
        assert_eq!(s.service("401").unwrap().product, "VPS-1");
    }
    let lines = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    let calls: Vec<&str> = lines.lines().collect();
    assert_eq!(
        calls,
        [
            "-m billmgr account out=json",
            "-m billmgr account.edit elid=101 out=json",
            "-m billmgr user out=json",
            "-m billmgr profile out=json",
            "-m billmgr profile.edit elid=301 out=json",
            "-m billmgr item out=json",
        ]
    );
}

#[test]
fn one_row_answers_and_unknown_ids() {
    let Some(bin) = fake_mgrctl_or_skip("one_row_answers_and_unknown_ids") else {
        return;
    };
    let s = source(&bin, &[], Duration::from_secs(20));
    // The fake prints a one-row list as an object.
    assert_eq!(s.service("405").unwrap().client_id, "104");
    assert!(s.service("405").unwrap().trial);
    assert!(matches!(
        s.client("999"),
        Err(BillingError::NotFound {
            entity: "client",
            ..
        })
    ));
    assert!(matches!(
        s.service("999"),
        Err(BillingError::NotFound { .. })
    ));
    let strict = source(
        &bin,
        &[("FAKEBILL_ERROR_EXIT", "1")],
        Duration::from_secs(20),
    );
    assert!(matches!(
        strict.client("999"),
        Err(BillingError::NotFound { .. })
    ));
}

#[test]
fn panel_down_garbage_and_missing_binary() {
    let Some(bin) = fake_mgrctl_or_skip("panel_down_garbage_and_missing_binary") else {
        return;
    };
    let down = source(&bin, &[("FAKEBILL_FAIL", "1")], Duration::from_secs(20));
    let e = down.client("101").unwrap_err();
    assert!(matches!(e, BillingError::Unreachable { .. }), "{e:?}");
    assert!(
        e.to_string().contains("connection refused"),
        "stderr is quoted: {e}"
    );
    let garbage = source(&bin, &[("FAKEBILL_GARBAGE", "1")], Duration::from_secs(20));
    let e = garbage.services_of("101").unwrap_err();
    assert!(matches!(e, BillingError::Malformed { .. }), "{e:?}");
    let missing = MgrctlSource::mgrctl(
        Path::new("/nonexistent/mgrctl"),
        "billmgr",
        Duration::from_secs(1),
    );
    let e = missing.client("1").unwrap_err();
    assert!(matches!(e, BillingError::Unreachable { .. }));
    assert!(e.to_string().contains("[billmanager] mgrctl"), "{e}");
}

#[test]
fn a_slow_mgrctl_is_killed_at_the_timeout() {
    let Some(bin) = fake_mgrctl_or_skip("a_slow_mgrctl_is_killed_at_the_timeout") else {
        return;
    };
    let s = source(
        &bin,
        &[("FAKEBILL_SLEEP_MS", "5000")],
        Duration::from_millis(300),
    );
    let started = Instant::now();
    let e = s.client("101").unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(e, BillingError::Unreachable { .. }), "{e:?}");
    assert!(e.to_string().contains("timeout_secs"), "{e}");
}

/// A stand-in mgrctl: a shell script that ignores its arguments and runs `body`.
#[cfg(unix)]
fn script(name: &str, body: &str) -> (tempfile::TempDir, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    (dir, path)
}

/// Reads list `item` through `program` row by row: the rows handed over (with when each
/// arrived) and the outcome.
#[cfg(unix)]
fn stream_list(
    program: &Path,
    timeout: Duration,
) -> (Vec<(String, Duration)>, Result<(), BillingError>, Duration) {
    use crate::billing::envelope::Call;
    use crate::billing::Transport;
    let t = MgrctlTransport::new(program, "billmgr", timeout);
    let call = Call {
        func: "item",
        entity: "service",
        elid: None,
    };
    let started = Instant::now();
    let mut rows = Vec::new();
    let outcome = t.open("item", &[]).and_then(|r| {
        crate::billing::stream::each_row(r, &call, &mut |row| {
            rows.push((row["id"].clone(), started.elapsed()))
        })
    });
    (rows, outcome, started.elapsed())
}

#[cfg(unix)]
const HALF: &str = r#"printf '{"doc":{"elem":[{"id":"1"},{"id":"2"},'"#;

#[cfg(unix)]
#[test]
fn a_list_is_parsed_while_mgrctl_still_prints_it() {
    let (_dir, bin) = script(
        "mgrctl",
        &format!("{HALF}\nsleep 2\nprintf '{{\"id\":\"3\"}}]}}}}'"),
    );
    let (rows, outcome, took) = stream_list(&bin, Duration::from_secs(20));
    outcome.unwrap();
    let ids: Vec<&str> = rows.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["1", "2", "3"]);
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert!(
        rows[0].1 + Duration::from_millis(500) < rows[2].1,
        "the first rows came before mgrctl finished: {rows:?}"
    );
}

#[cfg(unix)]
#[test]
fn a_timeout_in_the_middle_of_a_list_kills_mgrctl() {
    let (_dir, bin) = script("mgrctl", &format!("{HALF}\nexec sleep 30"));
    let (rows, outcome, took) = stream_list(&bin, Duration::from_millis(700));
    let e = outcome.unwrap_err();
    assert!(matches!(e, BillingError::Unreachable { .. }), "{e:?}");
    assert!(e.to_string().contains("timeout_secs"), "{e}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_eq!(rows.len(), 2, "rows before the stall were handed over");
}

#[cfg(unix)]
#[test]
fn a_non_zero_exit_after_part_of_a_list_reports_stderr() {
    let (_dir, bin) = script(
        "mgrctl",
        &format!("{HALF}\necho 'panel process crashed' >&2\nexit 3"),
    );
    let (_, outcome, _) = stream_list(&bin, Duration::from_secs(20));
    let e = outcome.unwrap_err();
    assert!(matches!(e, BillingError::Unreachable { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("panel process crashed") && text.contains("cut short"),
        "{text}"
    );
    // No output at all and a non-zero exit: stderr is quoted too.
    let (_dir, bin) = script("mgrctl", "echo 'no licence' >&2\nexit 1");
    let (_, outcome, _) = stream_list(&bin, Duration::from_secs(20));
    let text = outcome.unwrap_err().to_string();
    assert!(text.contains("no licence"), "{text}");
}

#[cfg(unix)]
#[test]
fn an_error_document_is_classified_whatever_the_exit_code() {
    for exit in [0, 1] {
        let (_dir, bin) = script(
            "mgrctl",
            &format!(
                r#"printf '{{"doc":{{"error":{{"$type":"access","msg":{{"$":"Access denied"}}}}}}}}'
exit {exit}"#
            ),
        );
        let (_, outcome, _) = stream_list(&bin, Duration::from_secs(20));
        let e = outcome.unwrap_err();
        assert!(
            matches!(e, BillingError::AccessDenied { .. }),
            "{exit}: {e:?}"
        );
    }
}

#[cfg(unix)]
#[test]
fn a_broken_list_stops_mgrctl_at_once() {
    let (_dir, bin) = script(
        "mgrctl",
        "printf '{\"doc\":{\"elem\":[{\"id\":\"1\"},nonsense'\nexec sleep 30",
    );
    let (_, outcome, took) = stream_list(&bin, Duration::from_secs(20));
    let e = outcome.unwrap_err();
    assert!(matches!(e, BillingError::Malformed { .. }), "{e:?}");
    assert!(
        took < Duration::from_secs(10),
        "the child was killed: {took:?}"
    );
}
