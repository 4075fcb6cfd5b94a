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
        "FAKEBILL_DELAY_MS",
        "FAKEBILL_SHAPES",
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
fn real_lists_filter_only_with_filter_on_and_stay_arrays() {
    // Without `filter=on` a real panel ignores the hint and answers the whole list.
    let doc = json(&run(
        &["-m", "billmgr", "user", "account=101", "out=json"],
        &[],
    ));
    assert_eq!(elems(&doc).len(), 9);
    // `filter=on&<column>=<value>`; `account` is the client's NAME in the user list.
    let doc = json(&run(
        &[
            "-m",
            "billmgr",
            "user",
            "filter=on",
            "account=ООО «Ромашка»",
            "out=json",
        ],
        &[],
    ));
    let rows = elems(&doc);
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["account_id"]["$"] == "101"));
    // One row is still an array.
    let doc = json(&run(
        &[
            "-m",
            "billmgr",
            "-o",
            "json",
            "item",
            "filter=on",
            "id=407",
            "out=json",
        ],
        &[],
    ));
    assert!(doc["doc"]["elem"].is_array());
    assert_eq!(doc["doc"]["elem"][0]["source"]["$"], "site");
    let doc = json(&run(
        &[
            "-m",
            "billmgr",
            "profile",
            "filter=on",
            "account=Пётр Иванов",
            "out=json",
        ],
        &[],
    ));
    assert!(elems(&doc).is_empty());
}

#[test]
fn assumed_shapes_filter_by_hints_and_print_one_row_as_an_object() {
    let assumed = demo().join("../billmanager-assumed");
    let env = [
        ("FAKEBILL_SHAPES", "assumed"),
        ("FAKEBILL_DIR", assumed.to_str().unwrap()),
    ];
    let doc = json(&run(
        &["-m", "billmgr", "user", "account=101", "out=json"],
        &env,
    ));
    let rows = elems(&doc);
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r["account"]["$"] == "101"));
    let doc = json(&run(
        &["-m", "billmgr", "item", "elid=407", "out=json"],
        &env,
    ));
    assert!(doc["doc"]["elem"].is_object());
    let doc = json(&run(
        &["-m", "billmgr", "account.edit", "elid=999", "out=json"],
        &env,
    ));
    assert_eq!(doc["doc"]["error"]["$type"], "missed");
    assert_eq!(doc["doc"]["error"]["$object"], "elid");
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
    assert_eq!(doc["doc"]["error"]["$type"], "value");
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
