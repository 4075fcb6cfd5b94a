//! Issue 22's smaller edges: what used to pass in silence is said, counted and ends
//! "partial" (phones left out, a client with no users, a purged service).

use serde_json::Value;

use crate::first_hour::country_of;
use crate::support::{root, run, World};

/// A private copy of the demo BILLmanager data with `file`'s rows that `drop` selects removed.
fn fixture_without(file: &str, drop: impl Fn(&Value) -> bool) -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    crate::sync::copy_dir(&root().join("examples/billmanager"), data.path());
    remove_rows(data.path(), file, drop);
    data
}

/// Removes the rows `drop` selects from a list fixture (`doc.elem`).
fn remove_rows(dir: &std::path::Path, file: &str, drop: impl Fn(&Value) -> bool) {
    let path = dir.join(file);
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let rows = v["doc"]["elem"].as_array_mut().unwrap();
    let before = rows.len();
    rows.retain(|r| !drop(r));
    assert!(rows.len() < before, "nothing removed from {file}");
    std::fs::write(&path, v.to_string()).unwrap();
}

fn field<'a>(row: &'a Value, name: &str) -> &'a str {
    row[name]["$"].as_str().unwrap_or_default()
}

#[test]
fn phones_left_out_are_counted_in_the_summary_and_the_run_is_partial() {
    // Client 104's only user types "8 (916) 123-45-67": a Russian number, not a US one.
    let w = World::with(Default::default(), |r| {
        r.replace("default_country = \"RU\"", "default_country = \"US\"")
    });
    w.authorize();
    let (rc, out, err) = run(w
        .cmd()
        .args(["sync", "--entity", "contact", "--elid", "104"]));
    assert_eq!(rc, 1, "{out}{err}");
    assert!(
        err.contains("1 entity sent without a phone: `8 (916) 123-45-67` is not a valid phone number (read with default country US) (user:205)"),
        "{err}"
    );
    assert!(err.contains("set `[sync] default_country`"), "{err}");
    let contacts = w.sandbox.entities("contacts");
    assert_eq!(contacts.len(), 1, "the contact itself is sent");
    // Only the contact's fields: its timestamps may hold the digits 916 too.
    let fields = contacts[0]["custom_fields_values"].to_string();
    assert!(
        !fields.contains("916") && !fields.contains("PHONE"),
        "the invalid phone is never sent as typed: {}",
        contacts[0]
    );

    // With the right country the same client passes, and the summary says nothing of phones.
    let w = World::new();
    w.authorize();
    let (rc, out, err) = run(w
        .cmd()
        .args(["sync", "--entity", "contact", "--elid", "104"]));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(!err.contains("without a phone"), "{err}");
}

#[test]
fn a_client_with_no_users_is_named_and_the_run_is_partial() {
    let data = fixture_without("user.json", |u| field(u, "account_id") == "104");
    let w = World::with_data(Default::default(), data.path(), |r| r);
    w.authorize();
    let (rc, out, err) = run(w
        .cmd()
        .args(["sync", "--entity", "contact", "--elid", "104"]));
    assert_eq!(rc, 1, "{out}{err}");
    assert!(
        out.contains("client:104") && out.contains("has no users in BILLmanager"),
        "{out}"
    );
    assert!(out.contains("add a user to the client"), "{out}");
    assert!(w.sandbox.entities("contacts").is_empty());
    let (rc, out, _) = run(w
        .cmd()
        .args(["--json", "sync", "--entity", "contact", "--elid", "104"]));
    assert_eq!(rc, 1);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["unlinked"][0]["key"], "client:104", "{v}");

    // A client with users is not flagged.
    let (rc, out, err) = run(w
        .cmd()
        .args(["sync", "--entity", "contact", "--elid", "105"]));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(!out.contains("has no users"), "{out}");
}

/// Lead `id`'s status as the sandbox holds it.
fn lead_status(w: &World, id: i64) -> i64 {
    w.sandbox
        .entities("leads")
        .into_iter()
        .find(|l| l["id"] == id)
        .unwrap_or_else(|| panic!("no lead {id}"))["status_id"]
        .as_i64()
        .unwrap()
}

fn lead_of(w: &World, service: &str) -> i64 {
    let (rc, out, err) = run(w.cmd().args([
        "bindings", "show", "--entity", "lead", "--elid", service, "--json",
    ]));
    assert_eq!(rc, 0, "{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    v["binding"]["amo_id"].as_i64().unwrap()
}

#[test]
fn a_service_purged_before_any_run_saw_it_deleted_is_named_and_the_run_is_partial() {
    let data = tempfile::tempdir().unwrap();
    crate::sync::copy_dir(&root().join("examples/billmanager"), data.path());
    let w = World::with_data(Default::default(), data.path(), |r| r);
    w.authorize();
    let backfill = |w: &World| run(w.cmd().args(["backfill", "--since", "2020-01-01"]));
    let (rc, out, err) = backfill(&w);
    assert_eq!(rc, 0, "{out}{err}");
    let active = lead_of(&w, "404");
    let stage = lead_status(&w, active);
    lead_of(&w, "405"); // deleted; re-order 406 joined its lead
    lead_of(&w, "410"); // bound while the panel listed it as deleted

    // The panel purges 404 (active when last seen), 405 (its lead lives on through 406) and
    // 410 (seen deleted: the rules for deleted services had their turn).
    remove_rows(data.path(), "item.json", |s| {
        ["404", "405", "410"].contains(&field(s, "id"))
    });
    let (rc, out, err) = backfill(&w);
    assert_eq!(rc, 1, "{out}{err}");
    let named: Vec<&str> = out.lines().filter(|l| l.contains("NOT LINKED")).collect();
    assert_eq!(named.len(), 1, "{out}");
    assert!(
        named[0].contains("service:404")
            && named[0].contains("no longer lists service 404 (last seen `active`)")
            && named[0].contains(&format!("lead {active}"))
            && named[0].contains("bindings forget --entity lead --elid 404"),
        "{out}"
    );
    assert_eq!(lead_status(&w, active), stage, "not moved by guess");

    // `sync` of that service says the same (not "no such service"); of the others, why
    // there is nothing to do.
    let (rc, out, err) = run(w.cmd().args(["sync", "--entity", "lead", "--elid", "404"]));
    assert_eq!(rc, 1, "{out}{err}");
    assert!(out.contains("no longer lists service 404"), "{out}");
    let (rc, out, err) = run(w.cmd().args(["sync", "--entity", "lead", "--elid", "405"]));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(
        out.contains("skipped") && out.contains("service:406 joined its lead"),
        "{out}"
    );
    let (rc, out, err) = run(w.cmd().args(["sync", "--entity", "lead", "--elid", "410"]));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(
        out.contains("skipped") && out.contains("saw it deleted"),
        "{out}"
    );
    // An id the panel never had and nothing is bound to is still a usage error.
    let (rc, _, err) = run(w.cmd().args(["sync", "--entity", "lead", "--elid", "999"]));
    assert_eq!(rc, 2, "{err}");

    // Once the operator forgets the binding, the runs are clean again.
    let (rc, _, err) = run(w
        .cmd()
        .args(["bindings", "forget", "--entity", "lead", "--elid", "404"]));
    assert_eq!(rc, 0, "{err}");
    let (rc, out, err) = backfill(&w);
    assert_eq!(rc, 0, "{out}{err}");
}

/// The demo data with `account.edit` answering `country` as the panel's directory id, as
/// real panels do (docs/billmanager.md): `182` for the Russian clients, `233` (an
/// illustrative id) for the American one.
fn fixture_with_country_ids() -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    crate::sync::copy_dir(&root().join("examples/billmanager"), data.path());
    for client in ["101", "102", "103", "104", "105", "106"] {
        let path = data.path().join(format!("account.edit/{client}.json"));
        let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let id = if client == "106" { "233" } else { "182" };
        v["doc"]["country"] = serde_json::json!({"$": id});
        std::fs::write(&path, v.to_string()).unwrap();
    }
    data
}

#[test]
fn country_ids_from_the_panel_are_mapped_and_check_warns_when_a_map_misses_them_all() {
    let data = fixture_with_country_ids();
    // The example maps the directory id as well as the names.
    let w = World::with_data(Default::default(), data.path(), |r| r);
    w.authorize();
    let (rc, out, err) = run(w.cmd().arg("check"));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(!out.contains("falls to `default"), "{out}");
    for (client, user, want) in [("101", "201", "Russia"), ("106", "208", "Other")] {
        let (rc, out, err) = run(w
            .cmd()
            .args(["sync", "--entity", "contact", "--elid", client]));
        assert_eq!(rc, 0, "{out}{err}");
        assert_eq!(
            country_of(&w, user).as_deref(),
            Some(want),
            "client {client}"
        );
    }

    // A map of names only: every id falls to `default`, and `check` says so.
    let names = World::with_data(Default::default(), data.path(), |r| {
        r.replace("\"182\" = \"Russia\", ", "")
    });
    names.authorize();
    let (rc, out, err) = run(names.cmd().arg("check"));
    assert_eq!(rc, 0, "a warning, not a problem: {out}{err}");
    let line = out
        .lines()
        .find(|l| l.contains("falls to `default"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.starts_with("warning: fields.contact.\"Country\"")
            && line.contains("every sampled value of `client.country` falls to `default = \"Other\"` (`182`, `233`)")
            && line.contains("directory ids"),
        "{line}"
    );
    let (rc, _, _) = run(names.cmd().args(["check", "--strict"]));
    assert_ne!(rc, 0, "--strict fails on it");
}
