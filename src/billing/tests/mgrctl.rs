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
