//! BILLmanager as real panels answer (`examples/billmanager`, sourced shapes) and as this
//! project first assumed (`examples/billmanager-assumed`): the main scenarios run on both,
//! through the binary. Ids: examples/billmanager/README.md.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::faults::without_lifecycle;
use crate::support::{edit_rows, root, run, World};
use crate::sync::copy_dir;

/// The two fixture sets: the real shapes (default) and the assumed ones.
const SETS: [&str; 2] = ["billmanager", "billmanager-assumed"];

fn set(name: &str) -> PathBuf {
    root().join("examples").join(name)
}

fn world_on(data: &Path, edit: impl FnOnce(String) -> String) -> World {
    let w = World::with_data(Default::default(), data, edit);
    w.authorize();
    w
}

fn json_of(out: &str, err: &str) -> Value {
    serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("not JSON: {out}\n{err}"))
}

fn embedded(v: &Value, kind: &str) -> usize {
    v.pointer(&format!("/_embedded/{kind}"))
        .and_then(Value::as_array)
        .map(Vec::len)
        .unwrap_or(0)
}

#[test]
fn backfill_links_every_user_payer_and_lead_on_both_shapes_and_a_rerun_writes_nothing() {
    for name in SETS {
        // No re-order joining (406 would join 405's lead, and joined services take turns
        // updating it: issue 13's business, not the panel's).
        let w = world_on(&set(name), |r| {
            r.replace(
                "new_purchase_timeout_days = 90",
                "new_purchase_timeout_days = 0",
            )
        });
        let (rc, out, err) = run(w
            .cmd()
            .args(["backfill", "--since", "2024-01-01", "--json"]));
        let v = json_of(&out, &err);
        assert_eq!(rc, 0, "{name}: {v}");
        assert_eq!(v["unlinked"], serde_json::json!([]), "{name}: {v}");
        let contacts = w.sandbox.entities("contacts");
        assert_eq!(contacts.len(), 9, "{name}: every user is a contact");
        for c in &contacts {
            let text = c.to_string();
            assert!(
                text.contains("\"EMAIL\"") || text.contains("@"),
                "{name}: {c}"
            );
        }
        let phones = contacts
            .iter()
            .filter(|c| c.to_string().contains("\"PHONE\""))
            .count();
        let without: Vec<String> = contacts
            .iter()
            .filter(|c| !c.to_string().contains("\"PHONE\""))
            .map(|c| c["name"].to_string())
            .collect();
        assert_eq!(
            phones, 8,
            "{name}: all but John Doe (209) have a phone; without: {without:?}; {out}{err}"
        );
        let companies = w.sandbox.entities("companies");
        assert_eq!(companies.len(), 3, "{name}: 301, 302 = 303 (INN), 304");
        let all = serde_json::to_string(&companies).unwrap();
        for inn in ["7701234567", "7709876543", "500100732259"] {
            assert!(all.contains(inn), "{name}: INN {inn} in {all}");
        }
        let leads = w.sandbox.entities("leads");
        assert!(!leads.is_empty());
        for l in &leads {
            assert!(
                embedded(l, "contacts") >= 1,
                "{name}: lead without contact {l}"
            );
        }
        assert!(v["panel"]["calls"].as_u64().unwrap() > 0, "{v}");
        // Nothing changed: the second run writes nothing.
        let writes = w.sandbox.stats().writes;
        let (rc, out, err) = run(w
            .cmd()
            .args(["backfill", "--since", "2024-01-01", "--json"]));
        let v = json_of(&out, &err);
        assert_eq!(rc, 0, "{name}: {v}");
        assert_eq!(w.sandbox.stats().writes, writes, "{name}: {v}");
    }
}

#[test]
fn a_bad_elid_exits_2_naming_the_id_on_both_shapes() {
    for name in SETS {
        let w = world_on(&set(name), |r| r);
        for entity in ["contact", "company", "lead"] {
            let (rc, out, err) = run(w.cmd().args(["sync", "--entity", entity, "--elid", "999"]));
            assert_eq!(rc, 2, "{name} {entity}: {out}{err}");
            assert!(err.contains("999"), "{name} {entity}: {err}");
        }
        assert!(w.sandbox.entities("contacts").is_empty());
    }
}

#[test]
fn a_hooked_client_that_does_not_exist_is_dropped_at_once_on_both_shapes() {
    for name in SETS {
        let w = world_on(&set(name), |r| {
            r.replace("spawn_drain = true", "spawn_drain = false")
        });
        let out = w
            .cmd()
            .env("PARAM_func", "account.edit")
            .env("PARAM_elid", "999")
            .env("PARAM_sok", "ok")
            .env("EVENT_TYPE", "after")
            .write_stdin("<doc/>")
            .output()
            .unwrap();
        assert!(out.status.success());
        let (_, out, err) = run(w.cmd().arg("drain"));
        // Not retried, not parked for ever: the first drain drops it as an id the panel
        // does not have, and says so.
        let conn = rusqlite::Connection::open(w.store()).unwrap();
        let left: i64 = conn
            .query_row("SELECT COUNT(*) FROM outbox WHERE bm_id = '999'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(left, 0, "{name}: dropped at once: {out}{err}");
        assert!(
            format!("{out}{err}").contains("BILLmanager has no client with id 999"),
            "{name}: {out}{err}"
        );
    }
}

#[test]
fn since_keeps_old_clients_contacts_and_companies_out_by_sync_and_backfill() {
    for name in SETS {
        // Client 101 registered 2024-02-10; 105 on 2025-09-09.
        let w = world_on(&set(name), |r| {
            r.replace("since = \"2024-01-01\"", "since = \"2025-07-01\"")
        });
        let (rc, out1, err) = run(w
            .cmd()
            .args(["sync", "--entity", "contact", "--elid", "101"]));
        assert_eq!(rc, 0, "{name}: {out1}{err}");
        let (rc, out2, err) = run(w
            .cmd()
            .args(["sync", "--entity", "company", "--elid", "301"]));
        assert_eq!(rc, 0, "{name}: {out2}{err}");
        assert!(
            w.sandbox.entities("contacts").is_empty() && w.sandbox.entities("companies").is_empty(),
            "{name}: nothing of client 101 is sent: {out1}{out2}"
        );
        let (rc, out, err) = run(w
            .cmd()
            .args(["backfill", "--since", "2024-01-01", "--json"]));
        // Service 412 (2026) of client 103 (registered 2025-01-14) gets its lead, with no
        // contact: that is reported, and the run ends partial.
        assert_eq!(rc, 1, "{name}: {out}{err}");
        assert!(
            out.contains("service:412") && out.contains("user 204"),
            "{out}"
        );
        let companies = serde_json::to_string(&w.sandbox.entities("companies")).unwrap();
        assert!(
            !companies.contains("7701234567") && !companies.contains("7709876543"),
            "{name}: companies of clients registered before since: {companies}"
        );
        assert!(companies.contains("500100732259"), "{name}: 105 is new");
        let (rc, out, err) = run(w.cmd().args(["sync", "--entity", "lead", "--elid", "412"]));
        assert_eq!(
            rc, 1,
            "{name}: partial, the lead has no contact: {out}{err}"
        );
        let contacts = serde_json::to_string(&w.sandbox.entities("contacts")).unwrap();
        assert!(
            !contacts.contains("anna@alfa-trade.example"),
            "{name}: {contacts}"
        );
    }
}

#[test]
fn an_individual_payer_is_no_company_by_sync_either() {
    for name in SETS {
        let w = world_on(&set(name), |r| r);
        let (rc, out, err) = run(w
            .cmd()
            .args(["sync", "--entity", "company", "--elid", "305"]));
        assert_eq!(rc, 0, "{name}: {out}{err}");
        assert!(out.contains("individual"), "{name}: {out}");
        assert!(w.sandbox.entities("companies").is_empty(), "{name}");
    }
}

#[test]
fn backfill_entity_company_sends_companies_only() {
    let w = world_on(&set("billmanager"), |r| r);
    let (rc, out, err) = run(w.cmd().args([
        "backfill",
        "--since",
        "2024-01-01",
        "--entity",
        "company",
        "--json",
    ]));
    assert_eq!(rc, 0, "{out}{err}");
    assert_eq!(w.sandbox.entities("companies").len(), 3);
    assert!(w.sandbox.entities("contacts").is_empty());
    assert!(w.sandbox.entities("leads").is_empty());
}

#[test]
fn a_client_name_two_clients_share_is_reported_never_guessed() {
    let data = tempfile::tempdir().unwrap();
    copy_dir(&set("billmanager"), data.path());
    // Client 104 renamed to 106's name: payer 305 names its client "Jane Doe" only.
    edit_rows(data.path(), "account.json", |rows| {
        for r in rows.iter_mut().filter(|r| r["id"]["$"] == "104") {
            r["name"] = serde_json::json!({"$": "Jane Doe"});
        }
    });
    let w = world_on(data.path(), |r| {
        r.replace(
            "individual_payers_as_companies = false",
            "individual_payers_as_companies = true",
        )
    });
    let (rc, out, err) = run(w
        .cmd()
        .args(["backfill", "--since", "2024-01-01", "--json"]));
    let v = json_of(&out, &err);
    assert_eq!(rc, 1, "partial: {v}");
    let unlinked = v["unlinked"].to_string();
    assert!(
        unlinked.contains("payer:305") && unlinked.contains("104 and 106"),
        "{unlinked}"
    );
    // Service 409 names its client "Jane Doe" only too.
    assert!(unlinked.contains("service:409"), "{unlinked}");
    assert!(
        v["counts"]["company"]["unlinked"].as_u64().unwrap() >= 1,
        "{v}"
    );
    let companies = serde_json::to_string(&w.sandbox.entities("companies")).unwrap();
    assert!(!companies.contains("Jane Doe"), "not guessed: {companies}");
    let conn = rusqlite::Connection::open(w.store()).unwrap();
    let queued: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM outbox WHERE kind = 'company' AND bm_id = '305'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(queued, 1, "queued for a run after the panel is fixed");
}

#[test]
fn unlinked_data_is_reported_counted_and_ends_partial_in_dry_runs_too() {
    let data = tempfile::tempdir().unwrap();
    copy_dir(&set("billmanager"), data.path());
    // User 205 (client 104's only user) loses phone and e-mail; user 209 is removed, and
    // 203 moves to a client that does not exist, so client 102 has no user.
    edit_rows(data.path(), "user.json", |rows| {
        for r in rows.iter_mut() {
            if r["id"]["$"] == "205" {
                r["email"] = serde_json::json!({});
                r["phone"] = serde_json::json!({});
                r["name"] = serde_json::json!({"$": "petr"});
            }
            if r["id"]["$"] == "203" {
                r["account"] = serde_json::json!({"$": "Нет такого клиента"});
                r.as_object_mut().unwrap().remove("account_id");
            }
        }
    });
    let w = world_on(data.path(), |r| r);
    let (rc, out, _) = run(w
        .cmd()
        .args(["backfill", "--since", "2024-01-01", "--dry-run"]));
    assert_eq!(rc, 1, "partial: {out}");
    for want in [
        "user:205",
        "no usable phone and no e-mail",
        "user:203",
        "no client in the `account` list has that name",
        "service:403",
        "client 102 has no user",
    ] {
        assert!(out.contains(want), "{want}: {out}");
    }
    let (rc, out, err) = run(w
        .cmd()
        .args(["backfill", "--since", "2024-01-01", "--json"]));
    let v = json_of(&out, &err);
    assert_eq!(rc, 1, "{v}");
    assert!(
        v["counts"]["contact"]["unlinked"].as_u64().unwrap() >= 2,
        "{v}"
    );
    assert!(
        v["counts"]["lead"]["unlinked"].as_u64().unwrap() >= 1,
        "{v}"
    );
}

#[test]
fn a_client_with_no_date_anywhere_is_reported_not_sent() {
    let data = tempfile::tempdir().unwrap();
    copy_dir(&set("billmanager"), data.path());
    edit_rows(data.path(), "account.json", |rows| {
        for r in rows.iter_mut().filter(|r| r["id"]["$"] == "105") {
            r["tz_registration_date"] = serde_json::json!({});
        }
    });
    let w = world_on(data.path(), |r| r);
    let (rc, out, err) = run(w
        .cmd()
        .args(["sync", "--entity", "contact", "--elid", "105"]));
    assert_eq!(rc, 1, "partial: {out}{err}");
    assert!(
        out.contains("client:105") && out.contains("no registration date"),
        "{out}"
    );
    assert!(w.sandbox.entities("contacts").is_empty());
    let (rc, out, err) = run(w
        .cmd()
        .args(["backfill", "--since", "2024-01-01", "--json"]));
    let v = json_of(&out, &err);
    assert_eq!(rc, 1, "{v}");
    assert!(v["unlinked"].to_string().contains("client:105"), "{v}");
}

#[test]
fn a_periodic_run_rereads_no_form_and_sends_only_what_changed() {
    let data = tempfile::tempdir().unwrap();
    copy_dir(&set("billmanager"), data.path());
    // `[lifecycle]` (pulling managers' changes back) reads amoCRM on every run by design.
    let w = world_on(data.path(), |r| {
        without_lifecycle(r).replace(
            "new_purchase_timeout_days = 90",
            "new_purchase_timeout_days = 0",
        )
    });
    let backfill = |w: &World| {
        let (rc, out, err) = run(w
            .cmd()
            .args(["backfill", "--since", "2024-01-01", "--json"]));
        let v = json_of(&out, &err);
        assert_eq!(rc, 0, "{v}");
        v
    };
    let first = backfill(&w);
    // 6 account.edit + 5 profile.edit, each read once.
    assert_eq!(first["panel"]["forms"], 11, "{first}");
    // Nothing changed: the four lists are read, no form, and amoCRM is not asked at all.
    w.sandbox.reset_stats();
    let second = backfill(&w);
    assert_eq!(second["panel"]["calls"], 4, "{second}");
    assert_eq!(second["panel"]["forms"], 0, "{second}");
    assert_eq!(
        second["requests"]["requests"],
        0,
        "{second} {:?}",
        w.sandbox.stats().by_route
    );
    // An admin edits a user's e-mail: the next run sends that change, still with no form.
    edit_rows(data.path(), "user.json", |rows| {
        for r in rows.iter_mut().filter(|r| r["id"]["$"] == "202") {
            r["email"] = serde_json::json!({"$": "maria.new@romashka.example"});
        }
    });
    let third = backfill(&w);
    assert_eq!(third["panel"]["forms"], 0, "{third}");
    assert_eq!(third["counts"]["contact"]["updated"], 1, "{third}");
    let contacts = serde_json::to_string(&w.sandbox.entities("contacts")).unwrap();
    assert!(
        contacts.contains("maria.new@romashka.example"),
        "{contacts}"
    );
    // A payer's form changes only with its list row (or after form_max_age_hours).
    edit_rows(data.path(), "profile.json", |rows| {
        for r in rows.iter_mut().filter(|r| r["id"]["$"] == "301") {
            r["status"] = serde_json::json!({"$": "off"});
        }
    });
    let fourth = backfill(&w);
    assert_eq!(
        fourth["panel"]["forms"], 1,
        "profile.edit 301 again: {fourth}"
    );
}

#[test]
fn rules_that_need_only_list_fields_read_no_client_form() {
    // The example maps `client.country` (only `account.edit` has it): drop that mapping.
    let w = world_on(&set("billmanager"), |r| {
        r.lines()
            .filter(|l| !l.starts_with("\"Country\" ="))
            .collect::<Vec<_>>()
            .join("\n")
    });
    let (rc, out, err) = run(w
        .cmd()
        .args(["backfill", "--since", "2024-01-01", "--json"]));
    let v = json_of(&out, &err);
    assert_eq!(rc, 0, "{v}");
    // The four lists and the five payers' profile.edit (vatnum lives only there).
    assert_eq!(v["panel"]["calls"], 9, "{v}");
    assert_eq!(v["panel"]["forms"], 5, "{v}");
}

#[test]
fn check_says_where_each_attribute_comes_from_on_both_shapes() {
    for (name, inn) in [
        ("billmanager", "payer.inn ← profile.edit `vatnum`"),
        ("billmanager-assumed", "payer.inn ← profile `inn`"),
    ] {
        let w = world_on(&set(name), |r| r);
        let (rc, out, err) = run(w.cmd().arg("check"));
        assert_eq!(rc, 0, "{name}: {out}{err}");
        for want in [
            inn,
            "client.registered_at ← account `tz_registration_date`",
            "client.country ← account.edit `country`",
            "service.roistat_visit ← item `roistat_visit`",
            "client.page_url is computed",
        ] {
            assert!(out.contains(want), "{name}: {want}\n{out}");
        }
    }
    // An attribute no answer has is a warning that names what was read.
    let w = world_on(&set("billmanager"), |r| {
        r.replace(
            "\"ROISTAT\" = \"service.roistat_visit\"",
            "\"ROISTAT\" = \"service.roistat\"",
        )
    });
    let (rc, out, err) = run(w.cmd().args(["check", "--json"]));
    let v = json_of(&out, &err);
    assert_eq!(rc, 0, "a warning only: {v}");
    let text = v["findings"].to_string();
    assert!(
        text.contains("billmanager.service.roistat") && text.contains("item"),
        "{text}"
    );
}

#[test]
fn capture_saves_masked_answers_that_still_read_as_a_panel() {
    let w = world_on(&set("billmanager"), |r| r);
    let out_dir = w.path("captured");
    let (rc, out, err) = run(w.cmd().args(["capture", out_dir.to_str().unwrap()]));
    assert_eq!(rc, 0, "{out}{err}");
    for f in [
        "account.json",
        "user.json",
        "profile.json",
        "item.json",
        "account.edit/101.json",
        "profile.edit/301.json",
    ] {
        let text = std::fs::read_to_string(out_dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        for secret in [
            "ivan@romashka.example",
            "7701234567",
            "Ромашка",
            "916 000-11-22",
            "Иван Петров",
        ] {
            assert!(!text.contains(secret), "{f} leaks {secret}");
        }
    }
    assert!(w.sandbox.stats().requests <= 2, "nothing sent to amoCRM");
    // The masked directory is still a panel: the same links hold.
    use amocrm_bin::billing::{BillingSource, FilesSource};
    let s = FilesSource::open(&out_dir).unwrap();
    assert_eq!(s.client("101").unwrap().users.len(), 2);
    let p = s.payers_of("101").unwrap();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].inn.as_ref().map(String::len), Some(10), "masked, kept");
}
