//! `fake-mgrctl` run as amocrm-bin runs mgrctl.

mod common;

use std::process::{Command, Output};

use common::{demo, elems};
use serde_json::Value;

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fake-mgrctl"));
    cmd.args(args).env("FAKEBILL_DIR", demo());
    for v in [
        "FAKEBILL_LOG",
        "FAKEBILL_FAIL",
        "FAKEBILL_GARBAGE",
        "FAKEBILL_ERROR_EXIT",
        "FAKEBILL_SLEEP_MS",
    ] {
        cmd.env_remove(v);
    }
    cmd.envs(env.iter().copied());
    cmd.output().unwrap()
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn whole_lists_are_served_verbatim() {
    let out = run(&["-m", "billmgr", "item", "out=json"], &[]);
    let expected = std::fs::read_to_string(demo().join("item.json")).unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        expected.trim()
    );
}

#[test]
fn lists_are_filtered_by_account_and_elid() {
    let doc = json(&run(
        &["-m", "billmgr", "user", "account=101", "out=json"],
        &[],
    ));
    let rows = elems(&doc);
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["account"]["$"] == "101"));
    // One row comes back as an object, BILLmanager's one-element quirk.
    let doc = json(&run(
        &["-m", "billmgr", "-o", "json", "item", "elid=407"],
        &[],
    ));
    assert!(doc["doc"]["elem"].is_object());
    assert_eq!(doc["doc"]["elem"]["source"]["$"], "site");
    // Filtering uses `$orig` (item's account column shows the client's name).
    let doc = json(&run(
        &["-m", "billmgr", "item", "account=104", "out=json"],
        &[],
    ));
    assert_eq!(elems(&doc).len(), 2);
    let doc = json(&run(
        &["-m", "billmgr", "profile", "account=104", "out=json"],
        &[],
    ));
    assert!(elems(&doc).is_empty());
}

#[test]
fn edit_forms_and_error_documents() {
    let doc = json(&run(
        &["-m", "billmgr", "account.edit", "elid=101", "out=json"],
        &[],
    ));
    assert_eq!(doc["doc"]["name"]["$"], "ООО «Ромашка»");
    let doc = json(&run(
        &["-m", "billmgr", "account.edit", "elid=999", "out=json"],
        &[],
    ));
    assert_eq!(doc["doc"]["error"]["$type"], "missed");
    assert_eq!(doc["doc"]["error"]["$object"], "elid");
    let doc = json(&run(&["-m", "billmgr", "nosuch.func", "out=json"], &[]));
    assert_eq!(doc["doc"]["error"]["$object"], "nosuch.func");
    let out = run(
        &["-m", "billmgr", "account.edit", "elid=999", "out=json"],
        &[("FAKEBILL_ERROR_EXIT", "1")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"error\""));
}

#[test]
fn simulated_failures() {
    let out = run(
        &["-m", "billmgr", "user", "out=json"],
        &[("FAKEBILL_FAIL", "1")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(!out.stderr.is_empty());
    let out = run(
        &["-m", "billmgr", "user", "out=json"],
        &[("FAKEBILL_GARBAGE", "1")],
    );
    assert!(out.status.success());
    assert!(serde_json::from_slice::<Value>(&out.stdout).is_err());
}

#[test]
fn bad_usage_exits_2() {
    assert_eq!(run(&["user", "out=json"], &[]).status.code(), Some(2));
    assert_eq!(
        run(&["-m", "billmgr", "user"], &[]).status.code(),
        Some(2),
        "no out=json"
    );
    assert_eq!(
        run(&["-m", "billmgr", "out=json"], &[]).status.code(),
        Some(2)
    );
    assert_eq!(
        run(&["-m", "billmgr", "-x", "user", "out=json"], &[])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn each_invocation_is_logged() {
    let log = std::env::temp_dir().join(format!("fakebill-log-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let env = [("FAKEBILL_LOG", log.to_str().unwrap())];
    run(&["-m", "billmgr", "user", "account=101", "out=json"], &env);
    run(&["-m", "billmgr", "item", "out=json"], &env);
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [
            "-m billmgr user account=101 out=json",
            "-m billmgr item out=json"
        ]
    );
}
