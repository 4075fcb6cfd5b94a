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
