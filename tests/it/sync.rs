//! `sync`: BILLmanager clients, payers and services become contacts, companies and leads.
//! Fixture ids: examples/billmanager/README.md.

use serde_json::{json, Value};

use crate::support::{run, World};

fn embedded_ids(v: &Value, kind: &str) -> Vec<i64> {
    v.pointer(&format!("/_embedded/{kind}"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.get("id").and_then(Value::as_i64))
                .collect()
        })
        .unwrap_or_default()
}

fn phones(c: &Value) -> Vec<String> {
    c.get("custom_fields_values")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|f| f.get("field_code").and_then(Value::as_str) == Some("PHONE"))
        .flat_map(|f| f["values"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.get("value").and_then(Value::as_str).map(String::from))
        .collect()
}

fn binding(w: &World, entity: &str, elid: &str) -> Value {
    // Contacts are bound per BILLmanager user; these tests name them by user id.
    let entity = if entity == "contact" { "user" } else { entity };
    let (rc, out, err) = run(w.cmd().args([
        "bindings", "show", "--entity", entity, "--elid", elid, "--json",
    ]));
    assert_eq!(rc, 0, "{err}");
    serde_json::from_str(out.trim()).unwrap()
}

#[test]
fn two_users_one_payer_give_two_contacts_one_company_and_rightly_linked_leads() {
    let w = World::new();
    w.authorize();
    for elid in ["401", "402"] {
        let (rc, out, err) = run(w.cmd().args(["sync", "--entity", "lead", "--elid", elid]));
        assert_eq!(rc, 0, "{out}{err}");
    }
    let contacts = w.sandbox.entities("contacts");
    let companies = w.sandbox.entities("companies");
    let leads = w.sandbox.entities("leads");
    assert_eq!((contacts.len(), companies.len(), leads.len()), (2, 1, 2));
    let company = companies[0]["id"].as_i64().unwrap();
    for c in &contacts {
        assert_eq!(
            embedded_ids(c, "companies"),
            vec![company],
            "each contact joins the payer's company"
        );
    }
    let ivan = binding(&w, "contact", "201")["binding"]["amo_id"]
        .as_i64()
        .unwrap();
    let maria = binding(&w, "contact", "202")["binding"]["amo_id"]
        .as_i64()
        .unwrap();
    let lead_of = |service: &str| {
        let id = binding(&w, "lead", service)["binding"]["amo_id"]
            .as_i64()
            .unwrap();
        leads
            .iter()
            .find(|l| l["id"].as_i64() == Some(id))
            .unwrap()
            .clone()
    };
    let (l401, l402) = (lead_of("401"), lead_of("402"));
    assert_eq!(
        embedded_ids(&l401, "contacts"),
        vec![ivan],
        "VPS ordered by Ivan"
    );
    assert_eq!(
        embedded_ids(&l402, "contacts"),
        vec![maria],
        "domain ordered by Maria"
    );
    assert_eq!(embedded_ids(&l401, "companies"), vec![company]);
    assert_eq!(l401["price"], 590);
    assert_eq!(l401["name"], "VPS-1 #401");
    let tags: Vec<&str> = l401["_embedded"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(tags.contains(&"BILL"), "{tags:?}");
}

#[test]
fn same_phone_in_another_format_adopts_the_existing_contact() {
    let w = World::new();
    w.authorize();
    // The website created this contact with the phone written the Russian way.
    let existing = w.sandbox.insert(
        "contacts",
        json!({"name": "Петя (сайт)", "custom_fields_values": [{"field_code": "PHONE", "values": [{"value": "8 (916) 123-45-67", "enum_code": "MOB"}]}]}),
    );
    let (rc, out, err) = run(w
        .cmd()
        .args(["sync", "--entity", "contact", "--elid", "104"]));
    assert_eq!(rc, 0, "{out}{err}");
    let contacts = w.sandbox.entities("contacts");
    assert_eq!(contacts.len(), 1, "no duplicate: {contacts:#?}");
    assert_eq!(contacts[0]["id"].as_i64(), Some(existing));
    assert_eq!(
        phones(&contacts[0]),
        vec!["8 (916) 123-45-67".to_string()],
        "the hand-written phone is kept, not duplicated"
    );
    assert!(out.contains("same phone"), "{out}");
    assert_eq!(
        binding(&w, "contact", "205")["binding"]["amo_id"].as_i64(),
        Some(existing)
    );
}

#[test]
fn reordered_trial_within_timeout_joins_the_existing_lead() {
    let w = World::new();
    w.authorize();
    assert_eq!(
        run(w.cmd().args(["sync", "--entity", "lead", "--elid", "405"])).0,
        0
    );
    let (rc, out, err) = run(w.cmd().args(["sync", "--entity", "lead", "--elid", "406"]));
    assert_eq!(rc, 0, "{out}{err}");
    assert_eq!(w.sandbox.entities("leads").len(), 1);
    assert!(
        out.contains("joined") && out.contains("new_purchase_timeout_days"),
        "{out}"
    );
    let trial = binding(&w, "lead", "405")["binding"]["amo_id"].clone();
    assert_eq!(binding(&w, "lead", "406")["binding"]["amo_id"], trial);
    let lead = &w.sandbox.entities("leads")[0];
    let tags: Vec<&str> = lead["_embedded"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(tags.contains(&"trial"), "tag rule for trials: {tags:?}");
}

#[test]
fn site_originated_order_is_skipped_with_the_reason() {
    let w = World::new();
    w.authorize();
    let (rc, out, err) = run(w.cmd().args(["sync", "--entity", "lead", "--elid", "407"]));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(
        out.contains("skipped") && out.contains("ordered on the website"),
        "{out}"
    );
    assert!(w.sandbox.entities("leads").is_empty());
}

#[test]
fn running_the_same_sync_twice_makes_no_writes_the_second_time() {
    let w = World::new();
    w.authorize();
    assert_eq!(
        run(w.cmd().args(["sync", "--entity", "lead", "--elid", "404"])).0,
        0
    );
    let before = w.sandbox.stats();
    let (rc, out, err) = run(w.cmd().args(["sync", "--entity", "lead", "--elid", "404"]));
    assert_eq!(rc, 0, "{out}{err}");
    let after = w.sandbox.stats();
    assert_eq!(after.writes, before.writes, "second run wrote: {out}");
    assert!(out.contains("unchanged"), "{out}");
}

#[test]
fn payers_with_the_same_inn_share_one_company() {
    let w = World::new();
    w.authorize();
    for elid in ["102", "103"] {
        let (rc, out, err) = run(w
            .cmd()
            .args(["sync", "--entity", "contact", "--elid", elid]));
        assert_eq!(rc, 0, "{out}{err}");
    }
    assert_eq!(w.sandbox.entities("companies").len(), 1);
    let contacts = w.sandbox.entities("contacts");
    assert_eq!(contacts.len(), 2);
    let company = w.sandbox.entities("companies")[0]["id"].as_i64().unwrap();
    assert!(contacts
        .iter()
        .all(|c| embedded_ids(c, "companies") == vec![company]));
    assert_eq!(
        binding(&w, "company", "303")["binding"]["amo_id"].as_i64(),
        Some(company)
    );
    // The payers' own fields (BM_PAYER_ID) must not make them overwrite each other forever.
    let before = w.sandbox.stats().writes;
    for elid in ["102", "103", "102"] {
        assert_eq!(
            run(w
                .cmd()
                .args(["sync", "--entity", "contact", "--elid", elid]))
            .0,
            0
        );
    }
    assert_eq!(
        w.sandbox.stats().writes,
        before,
        "re-syncing payers that share an INN writes nothing"
    );
}

#[test]
fn dry_run_prints_the_plan_field_by_field_and_writes_nothing() {
    let w = World::new();
    w.authorize();
    w.sandbox.reset_stats();
    let (rc, out, err) =
        run(w
            .cmd()
            .args(["sync", "--entity", "lead", "--elid", "404", "--dry-run"]));
    assert_eq!(rc, 0, "{out}{err}");
    assert_eq!(w.sandbox.stats().writes, 0);
    assert!(out.contains("would create"), "{out}");
    assert!(
        out.contains("Product = ") && out.contains("pipeline = Sales (3177727)"),
        "{out}"
    );
    // Dates as dates, stages by name: what a person checks before the real run.
    assert!(out.contains("          Expires = 20"), "{out}");
    assert!(out.contains("          status = "), "{out}");
    assert!(!out.contains("status_id = "), "{out}");
    assert!(w.sandbox.entities("leads").is_empty());
}

#[test]
fn unknown_elid_names_the_missing_entity() {
    let w = World::new();
    w.authorize();
    let (rc, _, err) = run(w.cmd().args(["sync", "--entity", "lead", "--elid", "999"]));
    assert_eq!(rc, 2, "{err}");
    assert!(err.contains("999") && err.contains("service"), "{err}");
    assert!(err.contains("--elid"), "{err}");
}

#[test]
fn inactive_responsible_user_is_a_rule_error_before_anything_is_sent() {
    let w = World::with(Default::default(), |r| {
        r.replace(
            "responsible = \"anna@example.com\"",
            "responsible = \"504144\"",
        )
    });
    w.authorize();
    let (rc, _, err) = run(w.cmd().args(["sync", "--entity", "lead", "--elid", "404"]));
    assert_eq!(rc, 2, "{err}");
    assert!(
        err.contains("sync.responsible") && err.contains("deactivated"),
        "{err}"
    );
    assert_eq!(w.sandbox.stats().writes, 0);
}

#[test]
fn rejected_lead_shows_the_field_path_exits_4_and_stays_queued() {
    let w = World::new();
    w.authorize();
    // Cache the account's dictionaries, then make them stale: the VPS-2 option "was deleted".
    assert_eq!(
        run(w
            .cmd()
            .args(["sync", "--entity", "lead", "--elid", "404", "--dry-run"]))
        .0,
        0
    );
    w.make_lead_option_stale("VPS-2");
    let conn = rusqlite::Connection::open(w.store()).unwrap();
    let (rc, out, err) = run(w.cmd().args(["sync", "--entity", "lead", "--elid", "404"]));
    assert_eq!(rc, 4, "{out}{err}");
    assert!(
        out.contains("FAILED")
            && out.contains("custom_fields_values.")
            && out.contains("NotSupportedChoice"),
        "{out}"
    );
    assert!(w.sandbox.entities("leads").is_empty());
    let queued: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM outbox WHERE kind = 'lead' AND bm_id = '404'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(queued, 1, "the failed push is queued for the next run");
    // The stale cache was dropped, so the next run reads fresh dictionaries and succeeds.
    let (rc, out, err) = run(w.cmd().args(["sync", "--entity", "lead", "--elid", "404"]));
    assert_eq!(rc, 0, "{out}{err}");
    assert_eq!(w.sandbox.entities("leads").len(), 1);
}

/// Copies a fixture directory (shared by other test modules).
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn updates_merge_values_and_keep_what_operators_added_by_hand() {
    let data = tempfile::tempdir().unwrap();
    copy_dir(
        &crate::support::root().join("examples/billmanager"),
        data.path(),
    );
    let w = World::with_data(Default::default(), data.path(), |r| r);
    w.authorize();
    assert_eq!(
        run(w
            .cmd()
            .args(["sync", "--entity", "contact", "--elid", "101"]))
        .0,
        0
    );
    let ivan = binding(&w, "contact", "201")["binding"]["amo_id"]
        .as_i64()
        .unwrap();
    // A manager adds a second phone and a tag by hand, in amoCRM's interface.
    let token = w.sandbox.issue_access_token();
    let contact = w
        .sandbox
        .entities("contacts")
        .into_iter()
        .find(|c| c["id"].as_i64() == Some(ivan))
        .unwrap();
    let mut phones: Vec<Value> = contact["custom_fields_values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field_code"] == "PHONE")
        .unwrap()["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| json!({"value": v["value"], "enum_code": "WORK"}))
        .collect();
    phones.push(json!({"value": "+74950001122", "enum_code": "MOB"}));
    let resp = reqwest::blocking::Client::new()
        .patch(format!("{}/api/v4/contacts/{ivan}", w.sandbox.base_url()))
        .bearer_auth(token)
        .header(sandbox::BY_HAND, "1")
        .json(&json!({"custom_fields_values": [{"field_code": "PHONE", "values": phones}], "tags_to_add": [{"name": "VIP"}]}))
        .send()
        .unwrap();
    assert!(resp.status().is_success(), "{:?}", resp.text());
    // The client changes their e-mail in BILLmanager.
    let users = data.path().join("user.json");
    let text = std::fs::read_to_string(&users)
        .unwrap()
        .replace("ivan@romashka.example", "ivan.petrov@romashka.example");
    std::fs::write(&users, text).unwrap();
    let (rc, out, err) = run(w
        .cmd()
        .args(["-v", "sync", "--entity", "contact", "--elid", "101"]));
    assert_eq!(rc, 0, "{out}{err}");
    let contact = w
        .sandbox
        .entities("contacts")
        .into_iter()
        .find(|c| c["id"].as_i64() == Some(ivan))
        .unwrap();
    let values = |code: &str| -> Vec<String> {
        contact["custom_fields_values"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["field_code"] == code)
            .flat_map(|f| {
                f["values"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v["value"].as_str().unwrap().to_string())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    assert!(
        values("PHONE").contains(&"+74950001122".to_string()),
        "hand-added phone kept: {:?}",
        values("PHONE")
    );
    assert!(
        values("EMAIL").contains(&"ivan.petrov@romashka.example".to_string()),
        "{:?}",
        values("EMAIL")
    );
    assert!(
        values("EMAIL").contains(&"ivan@romashka.example".to_string()),
        "old e-mail kept: {:?}",
        values("EMAIL")
    );
    let tags: Vec<&str> = contact["_embedded"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(tags.contains(&"VIP") && tags.contains(&"BILL"), "{tags:?}");
    assert_eq!(w.sandbox.entities("contacts").len(), 2);
}

#[test]
fn entities_created_before_since_are_not_sent() {
    let w = World::with(Default::default(), |r| {
        r.replace("since = \"2024-01-01\"", "since = \"2024-06-01\"")
    });
    w.authorize();
    let (rc, out, err) = run(w.cmd().args(["sync", "--entity", "lead", "--elid", "410"]));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(
        out.contains("skipped") && out.contains("before [sync] since = 2024-06-01"),
        "{out}"
    );
    assert!(w.sandbox.entities("leads").is_empty());
}
