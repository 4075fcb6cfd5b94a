//! Lifecycle automation (`[lifecycle]`, docs/lifecycle.md), one test per part of issue 8,
//! each through the binary against the sandbox with its own BILLmanager fixture: a copy of
//! examples/billmanager edited the way billing would change it (ids:
//! examples/billmanager/README.md).

use std::path::Path;

use chrono::{Duration, Utc};
use serde_json::{json, Value};

use crate::support::{edit_rows, root, run, World};

/// Sales pipeline and its stages in the sandbox seed (sandbox/README.md).
const SALES: i64 = 3177727;
const NEW_ORDER: i64 = 32392159;
const AWAITING_PAYMENT: i64 = 32392161;
const ACTIVE: i64 = 32392162;
const SUSPENDED: i64 = 32392163;
const LOST: i64 = 143;
/// Seed users.
const ANNA: i64 = 504141;
const BORIS: i64 = 504142;
const SVETLANA: i64 = 504143;

const STATUS_RULES: &str = r#"
[[lifecycle.status]]
when = { "service.status" = "ordered", "service.trial" = false }
pipeline = "Sales"
status = "New order"

[[lifecycle.status]]
when = { "service.status" = ["active", "processing"], "service.trial" = false }
pipeline = "Sales"
status = "Active"

[[lifecycle.status]]
when = { "service.status" = "suspended" }
pipeline = "Sales"
status = "Suspended"

[[lifecycle.status]]
when = { "service.status" = "deleted", "service.trial" = false }
pipeline = "Sales"
status = "143"
"#;

/// The example rule file without its `[lifecycle…]` tables (each test brings its own).
fn strip_lifecycle(rules: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in rules.lines() {
        let t = line.trim_start();
        if t.starts_with('[') {
            skipping = t.starts_with("[lifecycle") || t.starts_with("[[lifecycle");
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
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

/// A private copy of the demo BILLmanager data.
fn fixture() -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    copy_dir(&root().join("examples/billmanager"), data.path());
    data
}

/// A world on `data` whose `[lifecycle]` is exactly `lifecycle`; authorized.
fn world(data: &Path, lifecycle: &str, edit: impl FnOnce(String) -> String) -> World {
    let w = World::with_data(Default::default(), data, |r| {
        edit(format!("{}\n{lifecycle}\n", strip_lifecycle(&r)))
    });
    w.authorize();
    w
}

fn row<'a>(rows: &'a mut [Value], id: &str) -> &'a mut Value {
    rows.iter_mut()
        .find(|r| r["id"]["$"] == id)
        .unwrap_or_else(|| panic!("no row {id}"))
}

/// Sets BILLmanager fields of service `id` (a status code drops the display `$orig`).
fn set_service(data: &Path, id: &str, fields: &[(&str, &str)]) {
    edit_rows(data, "item.json", |rows| {
        let r = row(rows, id);
        for (k, v) in fields {
            r[*k] = json!({ "$": v });
        }
    });
}

/// Adds a service row: (id, client, product, itemtype, status code, period, created, payer, user).
#[allow(clippy::too_many_arguments)]
fn add_service(
    data: &Path,
    id: &str,
    client: &str,
    product: &str,
    itemtype: &str,
    status: &str,
    period: &str,
    created: chrono::NaiveDateTime,
    payer: &str,
    user: &str,
) {
    let created = created.format("%Y-%m-%d %H:%M:%S").to_string();
    edit_rows(data, "item.json", |rows| {
        rows.push(json!({
            "id": {"$": id}, "account": {"$": "client", "$orig": client},
            "pricelist": {"$": product}, "itemtype": {"$": itemtype},
            "status": {"$": status}, "period": {"$": period},
            "createdate": {"$": created}, "cost": {"$": "1190.00 RUB", "$orig": "1190.00"},
            "payer": {"$": payer}, "user": {"$": user},
        }));
    });
}

fn ok(w: &World, args: &[&str]) -> String {
    let (rc, out, err) = run(w.cmd().args(args));
    assert_eq!(rc, 0, "{args:?}: {out}{err}");
    out
}

/// The amoCRM id bound to a BILLmanager entity.
fn amo_id(w: &World, entity: &str, elid: &str) -> i64 {
    // Contacts are bound per BILLmanager user; these tests name them by user id.
    let entity = if entity == "contact" { "user" } else { entity };
    let out = ok(
        w,
        &[
            "bindings", "show", "--entity", entity, "--elid", elid, "--json",
        ],
    );
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    v["binding"]["amo_id"].as_i64().unwrap()
}

fn entity(w: &World, kind: &str, id: i64) -> Value {
    w.sandbox
        .entities(kind)
        .into_iter()
        .find(|e| e["id"].as_i64() == Some(id))
        .unwrap_or_else(|| panic!("no {kind} {id}"))
}

fn stage(w: &World, lead: i64) -> (i64, i64) {
    let l = entity(w, "leads", lead);
    (
        l["pipeline_id"].as_i64().unwrap(),
        l["status_id"].as_i64().unwrap(),
    )
}

/// A manager's change in amoCRM (made by `user` in amoCRM's interface: sent through the API
/// marked as by hand, so the sandbox neither rate-limits nor counts it).
fn by_hand(w: &World, kind: &str, id: i64, user: i64, mut body: Value) {
    body["updated_by"] = json!(user);
    let token = w.sandbox.issue_access_token();
    let resp = reqwest::blocking::Client::new()
        .patch(format!("{}/api/v4/{kind}/{id}", w.sandbox.base_url()))
        .bearer_auth(&token)
        .header(sandbox::BY_HAND, "1")
        .json(&body)
        .send()
        .unwrap();
    assert!(resp.status().is_success(), "{:?}", resp.text());
}

fn field_value(e: &Value, name: &str) -> Option<String> {
    e["custom_fields_values"]
        .as_array()?
        .iter()
        .find(|f| f["field_name"] == name)
        .and_then(|f| f["values"][0]["value"].as_str().map(String::from))
}

fn notes_on(w: &World, kind: &str, id: i64) -> Vec<String> {
    w.sandbox
        .entities("notes")
        .into_iter()
        .filter(|n| n["entity_type"] == kind && n["entity_id"].as_i64() == Some(id))
        .filter_map(|n| n["params"]["text"].as_str().map(String::from))
        .collect()
}

fn tasks(w: &World) -> Vec<Value> {
    w.sandbox.entities("tasks")
}

/// Runs the binary as BILLmanager runs an addon handler, without the background drain.
fn hook(w: &World, func: &str, elid: &str) {
    let out = w
        .cmd()
        .env("PARAM_func", func)
        .env("PARAM_elid", elid)
        .env("AUTH_USER", "admin")
        .env("EVENT_TYPE", "after")
        .env("AMOCRM_BIN_HOOK_NO_DRAIN", "1")
        .write_stdin(b"<?xml version=\"1.0\"?>\n<doc/>\n".to_vec())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn lead_status_follows_billing_through_sync_backfill_and_the_hook_but_not_a_managers_hand() {
    let data = fixture();
    let w = world(data.path(), STATUS_RULES, |r| r);
    ok(&w, &["sync", "--entity", "lead", "--elid", "401"]);
    let l401 = amo_id(&w, "lead", "401");
    assert_eq!(
        stage(&w, l401),
        (SALES, ACTIVE),
        "created where billing says"
    );

    // Billing suspends the service: `sync` moves the lead, as a robot.
    set_service(data.path(), "401", &[("status", "3")]);
    let out = ok(&w, &["-v", "sync", "--entity", "lead", "--elid", "401"]);
    assert_eq!(stage(&w, l401), (SALES, SUSPENDED), "{out}");
    assert!(
        out.contains("Active → Suspended (lifecycle.status[2])"),
        "{out}"
    );
    let moved = w
        .sandbox
        .entities("events")
        .into_iter()
        .find(|e| e["type"] == "lead_status_changed" && e["entity_id"].as_i64() == Some(l401))
        .unwrap();
    assert_eq!(moved["created_by"], 0, "our moves are a robot's: {moved}");
    let writes = w.sandbox.stats().writes;
    ok(&w, &["sync", "--entity", "lead", "--elid", "401"]);
    assert_eq!(
        w.sandbox.stats().writes,
        writes,
        "an unchanged re-run writes nothing"
    );

    // A manager moves it while billing stays the same: the next sync leaves it there.
    by_hand(
        &w,
        "leads",
        l401,
        BORIS,
        json!({"status_id": AWAITING_PAYMENT}),
    );
    set_service(data.path(), "401", &[("cost", "600.00")]);
    ok(&w, &["sync", "--entity", "lead", "--elid", "401"]);
    assert_eq!(stage(&w, l401), (SALES, AWAITING_PAYMENT));
    assert_eq!(
        entity(&w, "leads", l401)["price"],
        600,
        "other fields still sync"
    );

    // Billing resumes it: `backfill` applies the rules too.
    set_service(data.path(), "401", &[("status", "2")]);
    ok(&w, &["backfill", "--since", "2024-01-01"]);
    assert_eq!(stage(&w, l401), (SALES, ACTIVE));
    let (l402, l404) = (amo_id(&w, "lead", "402"), amo_id(&w, "lead", "404"));
    assert_eq!(stage(&w, l404), (SALES, ACTIVE));

    // The hook queues a suspension, `drain` pushes it: the lead moves.
    set_service(data.path(), "404", &[("status", "3")]);
    hook(&w, "service.postsuspend", "404");
    ok(&w, &["drain"]);
    assert_eq!(stage(&w, l404), (SALES, SUSPENDED));

    // A lead an operator closed by hand stays closed, and the run says why.
    by_hand(&w, "leads", l402, SVETLANA, json!({"status_id": LOST}));
    set_service(data.path(), "402", &[("status", "3")]);
    let out = ok(&w, &["sync", "--entity", "lead", "--elid", "402"]);
    assert_eq!(stage(&w, l402), (SALES, LOST));
    assert!(out.contains("closed the lead by hand"), "{out}");

    // Unless the rule says so.
    let rules = std::fs::read_to_string(&w.rules).unwrap().replace(
        "status = \"Suspended\"\n",
        "status = \"Suspended\"\noverride_closed = true\n",
    );
    std::fs::write(&w.rules, rules).unwrap();
    set_service(data.path(), "402", &[("cost", "250.00")]);
    ok(&w, &["sync", "--entity", "lead", "--elid", "402"]);
    assert_eq!(
        stage(&w, l402),
        (SALES, SUSPENDED),
        "override_closed = true"
    );
}

#[test]
fn returning_client_whose_lead_was_lost_gets_a_new_lead_for_the_same_manager_notes_and_a_task() {
    let data = fixture();
    // Client 103 (Альфа Трейд СПб) will order hosting again.
    let now = Utc::now().naive_utc();
    add_service(
        data.path(),
        "413",
        "103",
        "Hosting-Pro",
        "vhost",
        "2",
        "12",
        now - Duration::hours(1),
        "303",
        "204",
    );
    let w = world(
        data.path(),
        "[lifecycle.lost_returns]\ntask_hours = 48\ntask_text = \"{client.name} is back ({service.product}); lead #{lost.id} was lost\"\n",
        |r| r,
    );
    ok(&w, &["sync", "--entity", "lead", "--elid", "404"]);
    let lost = amo_id(&w, "lead", "404");
    // Svetlana took the client over and closed the deal as lost.
    by_hand(
        &w,
        "leads",
        lost,
        SVETLANA,
        json!({"responsible_user_id": SVETLANA, "status_id": LOST}),
    );
    // Meanwhile the client changed both phone and e-mail in BILLmanager.
    edit_rows(data.path(), "user.json", |rows| {
        let u = row(rows, "204");
        u["email"] = json!({"$": "a.volkova@other-mail.example"});
        u["phone"] = json!({"$": "+7 (921) 000-00-01"});
    });
    let contacts_before = w.sandbox.entities("contacts").len();

    let out = ok(&w, &["-v", "sync", "--entity", "lead", "--elid", "413"]);
    let new = amo_id(&w, "lead", "413");
    assert_ne!(new, lost, "a lost lead never swallows a purchase");
    assert_eq!(
        w.sandbox.entities("contacts").len(),
        contacts_before,
        "no duplicate contact"
    );
    let lead = entity(&w, "leads", new);
    assert_eq!(
        lead["responsible_user_id"], SVETLANA,
        "the same manager: {out}"
    );
    assert_eq!(stage(&w, lost), (SALES, LOST), "the lost lead stays closed");
    let on_new = notes_on(&w, "leads", new);
    assert!(
        on_new.iter().any(|n| n.contains(&format!("#{lost}"))),
        "{on_new:?}"
    );
    let on_lost = notes_on(&w, "leads", lost);
    assert!(
        on_lost.iter().any(|n| n.contains(&format!("#{new}"))),
        "{on_lost:?}"
    );
    let t: Vec<Value> = tasks(&w)
        .into_iter()
        .filter(|t| t["entity_id"].as_i64() == Some(new))
        .collect();
    assert_eq!(t.len(), 1, "{t:?}");
    assert_eq!(t[0]["responsible_user_id"], SVETLANA);
    assert_eq!(t[0]["entity_type"], "leads");
    let text = t[0]["text"].as_str().unwrap();
    assert!(
        text.contains("Hosting-Pro") && text.contains(&format!("#{lost}")),
        "{text}"
    );
    let due = t[0]["complete_till"].as_i64().unwrap() - Utc::now().timestamp();
    assert!(
        (47 * 3600..=48 * 3600 + 60).contains(&due),
        "due in 48 h: {due}"
    );

    let writes = w.sandbox.stats().writes;
    ok(&w, &["sync", "--entity", "lead", "--elid", "413"]);
    assert_eq!(w.sandbox.stats().writes, writes, "notes and task only once");
}

#[test]
fn nudge_gives_one_warm_up_task_per_stuck_trial_client_and_never_a_second_while_it_is_open() {
    let data = fixture();
    let now = Utc::now().naive_utc();
    // Client 104: its trial (405) is months old and its only order (406) is still unpaid.
    set_service(data.path(), "406", &[("status", "1")]);
    // Client 106: a ten-day trial, but a paid order (409, suspended) — no warm-up needed.
    add_service(
        data.path(),
        "414",
        "106",
        "VPS-2",
        "vds",
        "2",
        "-100",
        now - Duration::days(10),
        "305",
        "208",
    );
    // Client 101: a trial only three days old.
    add_service(
        data.path(),
        "415",
        "101",
        "VPS-3",
        "vds",
        "2",
        "-100",
        now - Duration::days(3),
        "301",
        "201",
    );
    let w = world(
        data.path(),
        "[lifecycle.nudge]\ntrial_age_days = 7\nagain_after_days = 0\ntask_hours = 24\n\
         task_text = \"Warm up {client.name}: the {service.product} trial is {trial.days} days old\"\n",
        |r| r,
    );
    for elid in ["405", "414"] {
        ok(&w, &["sync", "--entity", "lead", "--elid", elid]);
    }
    let trial = amo_id(&w, "lead", "405");
    by_hand(
        &w,
        "leads",
        trial,
        BORIS,
        json!({"responsible_user_id": BORIS}),
    );

    let writes = w.sandbox.stats().writes;
    let out = ok(&w, &["nudge", "--dry-run"]);
    assert!(out.contains("would create a task"), "{out}");
    assert_eq!(w.sandbox.stats().writes, writes, "a dry run writes nothing");

    let out = ok(&w, &["nudge"]);
    let t = tasks(&w);
    assert_eq!(t.len(), 1, "one client is stuck: {out}\n{t:#?}");
    assert_eq!(t[0]["entity_id"].as_i64(), Some(trial));
    assert_eq!(t[0]["responsible_user_id"], BORIS, "the lead's manager");
    let text = t[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("Warm up Пётр Иванов: the VPS-2 trial is "),
        "{text}"
    );

    // Cron runs it again: the task is still open, so nothing happens.
    let writes = w.sandbox.stats().writes;
    let out = ok(&w, &["nudge"]);
    assert!(out.contains("still open"), "{out}");
    assert_eq!(w.sandbox.stats().writes, writes);
    assert_eq!(tasks(&w).len(), 1);

    // Boris called and closed the task; the client still has not paid: another one.
    let id = t[0]["id"].as_i64().unwrap();
    by_hand(
        &w,
        "tasks",
        id,
        BORIS,
        json!({"is_completed": true, "result": {"text": "called"}}),
    );
    let (rc, out, err) = run(w.cmd().args(["nudge", "--json"]));
    assert_eq!(rc, 0, "{out}{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["tasks_created"], 1, "{v}");
    assert_eq!(tasks(&w).len(), 2);
}

#[test]
fn abandoned_cart_moves_its_lead_to_awaiting_payment_and_gets_one_task() {
    let data = fixture();
    let now = Utc::now().naive_utc();
    // Client 102 put three orders in the cart and paid none of them.
    for (id, product, age) in [
        ("416", "VPS-2", 30),
        ("417", "Domain", 2),
        ("418", "VPS-3", 50),
    ] {
        add_service(
            data.path(),
            id,
            "102",
            product,
            "vds",
            "1",
            "1",
            now - Duration::hours(age),
            "302",
            "203",
        );
    }
    let w = world(
        data.path(),
        "[lifecycle.abandoned_cart]\nhours = 24\npipeline = \"Sales\"\nstatus = \"Awaiting payment\"\n\
         task_text = \"{service.product} #{service.id} unpaid for {cart.hours} h\"\n",
        |r| r,
    );
    for elid in ["416", "417", "418"] {
        ok(&w, &["sync", "--entity", "lead", "--elid", elid]);
    }
    let (l416, l417, l418) = (
        amo_id(&w, "lead", "416"),
        amo_id(&w, "lead", "417"),
        amo_id(&w, "lead", "418"),
    );
    assert_eq!(stage(&w, l416), (SALES, NEW_ORDER));
    // A manager already gave up on 418.
    by_hand(&w, "leads", l418, BORIS, json!({"status_id": LOST}));

    let out = ok(&w, &["nudge"]);
    assert_eq!(stage(&w, l416), (SALES, AWAITING_PAYMENT), "{out}");
    assert_eq!(stage(&w, l417), (SALES, NEW_ORDER), "only two hours old");
    assert_eq!(stage(&w, l418), (SALES, LOST), "closed by hand: left alone");
    let t = tasks(&w);
    assert_eq!(t.len(), 1, "{t:#?}");
    assert_eq!(t[0]["entity_id"].as_i64(), Some(l416));
    assert_eq!(t[0]["responsible_user_id"], ANNA, "the lead's manager");
    let text = t[0]["text"].as_str().unwrap();
    assert!(text.starts_with("VPS-2 #416 unpaid for 3"), "{text}");

    let writes = w.sandbox.stats().writes;
    let out = ok(&w, &["nudge"]);
    assert!(out.contains("already handled"), "{out}");
    assert_eq!(w.sandbox.stats().writes, writes, "once per order");
}

#[test]
fn contacts_and_leads_carry_links_to_their_billmanager_pages() {
    let data = fixture();
    set_service(data.path(), "401", &[("itemtype", "vds")]);
    let w = world(data.path(), "[lifecycle.links]\nnote = true\n", |r| {
        r.replace(
            "panel_url = \"https://billing.example.com/billmgr\"",
            "panel_url = \"https://my.host.example:1500/billmgr/\"",
        )
    });
    ok(&w, &["sync", "--entity", "lead", "--elid", "401"]);
    let client_page = "https://my.host.example:1500/billmgr?startform=account.edit&elid=101";
    let service_page = "https://my.host.example:1500/billmgr?startform=vds.edit&elid=401";
    for user in ["201", "202"] {
        let c = entity(&w, "contacts", amo_id(&w, "contact", user));
        assert_eq!(field_value(&c, "Client page").as_deref(), Some(client_page));
        let notes = notes_on(&w, "contacts", c["id"].as_i64().unwrap());
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains(client_page), "{notes:?}");
    }
    let lead = amo_id(&w, "lead", "401");
    let l = entity(&w, "leads", lead);
    assert_eq!(
        field_value(&l, "Service page").as_deref(),
        Some(service_page)
    );
    let notes = notes_on(&w, "leads", lead);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].contains(service_page) && notes[0].contains(client_page),
        "{notes:?}"
    );
    let writes = w.sandbox.stats().writes;
    ok(&w, &["sync", "--entity", "lead", "--elid", "401"]);
    assert_eq!(
        w.sandbox.stats().writes,
        writes,
        "links and notes only once"
    );
}

#[test]
fn managers_are_assigned_by_rule_by_round_robin_and_a_clients_existing_manager_wins() {
    let data = fixture();
    let w = world(
        data.path(),
        "[lifecycle.assignment]\nround_robin = [\"boris@example.com\", \"svetlana@example.com\"]\n\
         [[lifecycle.assignment.rules]]\nwhen = { \"service.product\" = \"VPS-2\" }\nresponsible = \"anna@example.com\"\n",
        |r| r,
    );
    let responsible = |kind: &str, bm: &str| {
        entity(
            &w,
            &format!("{}s", kind).replace("companys", "companies"),
            amo_id(&w, kind, bm),
        )["responsible_user_id"]
            .as_i64()
            .unwrap()
    };
    // New clients in turn: 101 → Boris, 102 → Svetlana (company, contacts and lead alike).
    ok(&w, &["sync", "--entity", "lead", "--elid", "401"]);
    ok(&w, &["sync", "--entity", "lead", "--elid", "403"]);
    for (kind, bm, who) in [
        ("company", "301", BORIS),
        ("contact", "201", BORIS),
        ("contact", "202", BORIS),
        ("lead", "401", BORIS),
        ("company", "302", SVETLANA),
        ("contact", "203", SVETLANA),
        ("lead", "403", SVETLANA),
    ] {
        assert_eq!(responsible(kind, bm), who, "{kind} {bm}");
    }
    // Client 103 pays as the same organisation as 102: its company (and so its manager) is
    // Svetlana's; its VPS-2 order goes to Anna by rule.
    ok(&w, &["sync", "--entity", "lead", "--elid", "404"]);
    assert_eq!(
        responsible("contact", "204"),
        SVETLANA,
        "the client's manager"
    );
    assert_eq!(
        responsible("lead", "404"),
        ANNA,
        "lifecycle.assignment.rules[0]"
    );
    // Client 106 already is Svetlana's in amoCRM (the website created the contact): she
    // keeps the client, although round-robin would give it to Boris now.
    let site = w.sandbox.insert(
        "contacts",
        json!({"name": "Jane (site)", "responsible_user_id": SVETLANA,
               "custom_fields_values": [{"field_code": "EMAIL", "values": [{"value": "jane@doe.example", "enum_code": "WORK"}]}]}),
    );
    ok(&w, &["sync", "--entity", "lead", "--elid", "409"]);
    assert_eq!(amo_id(&w, "contact", "208"), site, "adopted");
    assert_eq!(responsible("contact", "208"), SVETLANA);
    assert_eq!(responsible("contact", "209"), SVETLANA, "the whole card");
    assert_eq!(
        responsible("lead", "409"),
        SVETLANA,
        "the existing manager wins"
    );
    // Round-robin went on where it stopped: the next new client is Boris's.
    ok(&w, &["sync", "--entity", "lead", "--elid", "407"]); // skipped (website order) …
    ok(&w, &["sync", "--entity", "lead", "--elid", "408"]); // … its client is not
    assert_eq!(responsible("lead", "408"), BORIS);
}

#[test]
fn pulled_back_status_changes_let_the_rules_see_a_lead_a_manager_closed_again_by_hand() {
    let data = fixture();
    let w = world(
        data.path(),
        &format!("{STATUS_RULES}\n[lifecycle.pullback]\nfirst_days = 1\n"),
        |r| r,
    );
    ok(&w, &["sync", "--entity", "lead", "--elid", "401"]);
    let lead = amo_id(&w, "lead", "401");
    // The service is deleted: the rules close the lead as lost.
    set_service(data.path(), "401", &[("status", "4")]);
    ok(&w, &["sync", "--entity", "lead", "--elid", "401"]);
    assert_eq!(stage(&w, lead), (SALES, LOST));
    // A manager reopens it to talk to the client, then closes it as lost again, by hand.
    by_hand(&w, "leads", lead, BORIS, json!({"status_id": ACTIVE}));
    by_hand(&w, "leads", lead, BORIS, json!({"status_id": LOST}));

    let (rc, out, err) = run(w.cmd().args(["pull", "--json"]));
    assert_eq!(rc, 0, "{out}{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        v["pulled"]["events"], 3,
        "ours to Lost, then two by hand: {v}"
    );
    assert_eq!(v["pulled"]["closed_by_hand"], 1, "{v}");
    let (_, out, _) = run(w.cmd().args(["pull", "--json"]));
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["pulled"]["events"], 0, "the cursor moved on: {v}");

    // The client comes back and billing reactivates the service. The lead is lost as
    // before, but now by a manager's hand (only the events say so): it stays closed.
    set_service(data.path(), "401", &[("status", "2")]);
    let out = ok(&w, &["sync", "--entity", "lead", "--elid", "401"]);
    assert_eq!(stage(&w, lead), (SALES, LOST), "{out}");
    assert!(out.contains("closed the lead by hand"), "{out}");
}

/// Link notes on every new contact and lead, and the lost-returns rule.
const RETURNS_AND_LINKS: &str = "[lifecycle.links]\nnote = true\n\n[lifecycle.lost_returns]\ntask_hours = 48\ntask_text = \"{client.name} is back ({service.product}); lead #{lost.id} was lost\"\n";

/// Issue 22's panel: client 103's first lead (404) was closed as lost by hand and the
/// client orders again (service 413). A backfill then creates every other contact and
/// lead with its link note, and the returning client's lead with a note on each lead and
/// a task. The data directory is returned to live as long as the world.
fn returning_world() -> (tempfile::TempDir, World) {
    let data = fixture();
    add_service(
        data.path(),
        "413",
        "103",
        "Hosting-Pro",
        "vhost",
        "2",
        "12",
        Utc::now().naive_utc() - Duration::hours(1),
        "303",
        "204",
    );
    let w = world(data.path(), RETURNS_AND_LINKS, |r| r);
    ok(&w, &["sync", "--entity", "lead", "--elid", "404"]);
    let lost = amo_id(&w, "lead", "404");
    by_hand(
        &w,
        "leads",
        lost,
        SVETLANA,
        json!({"responsible_user_id": SVETLANA, "status_id": LOST}),
    );
    (data, w)
}

/// What amoCRM holds after a run, for comparing with a clean run.
#[derive(Debug, PartialEq, Eq)]
struct Holdings {
    notes: usize,
    returning_notes: usize,
    tasks: usize,
    returning_tasks: usize,
    contacts: usize,
    leads: usize,
}

/// Counts what amoCRM holds, asserting no note or task is there twice.
fn holdings(w: &World) -> Holdings {
    let notes = w.sandbox.entities("notes");
    let mut seen = std::collections::BTreeSet::new();
    for n in &notes {
        let k = (
            n["entity_type"].to_string(),
            n["entity_id"].as_i64(),
            n["params"]["text"].to_string(),
        );
        assert!(seen.insert(k.clone()), "a note twice: {k:?}");
    }
    let tasks = tasks(w);
    let mut seen = std::collections::BTreeSet::new();
    for t in &tasks {
        let k = (t["entity_id"].as_i64(), t["text"].to_string());
        assert!(seen.insert(k.clone()), "a task twice: {k:?}");
    }
    let text = |n: &Value| n["params"]["text"].as_str().unwrap_or("").to_string();
    Holdings {
        returning_notes: notes
            .iter()
            .filter(|n| {
                let t = text(n);
                t.starts_with("Returning client") || t.starts_with("The client came back")
            })
            .count(),
        notes: notes.len(),
        returning_tasks: tasks
            .iter()
            .filter(|t| t["text"].as_str().unwrap_or("").contains(" is back ("))
            .count(),
        tasks: tasks.len(),
        contacts: w.sandbox.entities("contacts").len(),
        leads: w.sandbox.entities("leads").len(),
    }
}

const BACKFILL: [&str; 3] = ["backfill", "--since", "2024-01-01"];

/// What a backfill of [`returning_world`] leaves without faults.
fn clean_run() -> Holdings {
    let (_data, w) = returning_world();
    ok(&w, &BACKFILL);
    let h = holdings(&w);
    // Service 413, and any other order of client 103 newer than its lost lead.
    assert!(h.returning_tasks >= 1, "{h:?}");
    assert_eq!(h.returning_notes, 2 * h.returning_tasks, "{h:?}");
    assert_eq!(h.tasks, h.returning_tasks, "{h:?}");
    assert!(h.notes > h.returning_notes + 2, "link notes too: {h:?}");
    h
}

fn status_json(w: &World) -> Value {
    serde_json::from_str(ok(w, &["status", "--json"]).trim()).unwrap()
}

#[test]
fn notes_and_tasks_under_a_503_storm_are_queued_reported_and_sent_exactly_once_after_recovery() {
    let clean = clean_run();
    for recovery in ["backfill", "drain"] {
        let (_data, w) = returning_world();
        let before = holdings(&w);
        for path in [
            "/api/v4/tasks",
            "/api/v4/leads/notes",
            "/api/v4/contacts/notes",
        ] {
            w.sandbox.inject(sandbox::Fault::Status {
                code: 503,
                count: 100_000,
                path_prefix: Some(path.into()),
            });
        }
        let (rc, out, err) = run(w.cmd().args(BACKFILL));
        assert_eq!(rc, 1, "partial, not success: {out}{err}");
        let notes = clean.notes - before.notes;
        let tasks = clean.tasks - before.tasks;
        let queued = notes + tasks;
        assert!(
            out.contains(&format!(
                "notes: 0 sent, {notes} queued; tasks: 0 sent, {tasks} queued"
            )),
            "{out}"
        );
        assert!(
            out.contains("QUEUED task lost:413 of lead service:413: "),
            "each is named: {out}"
        );
        assert_eq!(holdings(&w).notes, before.notes, "nothing got through");
        let s = status_json(&w);
        assert_eq!(s["followups"]["due"], queued, "{s}");

        // A run under the same storm tries them again and keeps them.
        let (rc, out, err) = run(w.cmd().args(["drain", "--json"]));
        assert_eq!(rc, 1, "{out}{err}");
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["followups"]["queued"].as_array().unwrap().len(), queued);

        w.sandbox.clear_faults();
        match recovery {
            "backfill" => ok(&w, &BACKFILL),
            _ => ok(&w, &["drain", "--all"]),
        };
        assert_eq!(holdings(&w), clean, "after recovery by {recovery}");
        assert_eq!(status_json(&w)["followups"]["queued"], 0);

        // Nothing is sent twice.
        let writes = w.sandbox.stats().writes;
        ok(&w, &BACKFILL);
        ok(&w, &["drain", "--all"]);
        assert_eq!(
            w.sandbox.stats().writes,
            writes,
            "{recovery}: a further run sends nothing"
        );
        assert_eq!(holdings(&w), clean);
    }
}

#[test]
fn notes_and_tasks_survive_a_kill_9_at_each_crash_point_exactly_once() {
    let clean = clean_run();
    let points: &[&[&str]] = &[
        &["created-before-binding@service:413"],
        &["bound-before-followups@service:413"],
        &["followup-sent-before-cleared@service:413"],
        &["followup-sent-before-cleared@lost:413"],
        // Three in a row, wherever each first applies.
        &[
            "created-before-binding",
            "bound-before-followups",
            "followup-sent-before-cleared",
        ],
    ];
    for crashes in points {
        let (_data, w) = returning_world();
        for point in *crashes {
            let (rc, out, err) = run(w.cmd().env("AMOCRM_BIN_CRASH_AT", point).args(BACKFILL));
            assert_eq!(rc, -1, "{point}: killed by a signal: {out}{err}");
            let name = point.split('@').next().unwrap();
            assert!(err.contains(name), "{point}: {err}");
        }
        ok(&w, &BACKFILL);
        assert_eq!(holdings(&w), clean, "after {crashes:?}");
        assert_eq!(status_json(&w)["followups"]["queued"], 0);
        let writes = w.sandbox.stats().writes;
        ok(&w, &BACKFILL);
        assert_eq!(
            w.sandbox.stats().writes,
            writes,
            "{crashes:?}: nothing twice"
        );
    }
}

#[test]
fn a_note_request_whose_answer_was_lost_is_looked_up_next_run_not_sent_twice() {
    let clean = clean_run();
    for path in ["/api/v4/leads/notes", "/api/v4/tasks"] {
        let (_data, w) = returning_world();
        // amoCRM takes the first request there, and its answer never arrives.
        w.sandbox.inject(sandbox::Fault::LostResponse {
            count: 1,
            path_prefix: Some(path.into()),
        });
        let (rc, out, err) = run(w.cmd().args(BACKFILL));
        assert_eq!(
            rc, 1,
            "{path}: may not have arrived, so partial: {out}{err}"
        );
        assert!(out.contains("QUEUED "), "{out}");
        let s = status_json(&w);
        assert!(
            s["followups"]["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["sending"] == true),
            "{s}"
        );
        let (rc, out, err) = run(w.cmd().args(["--json", "drain"]));
        assert_eq!(rc, 0, "{out}{err}");
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        assert!(v["followups"]["found_sent"].as_u64().unwrap() > 0, "{v}");
        assert_eq!(holdings(&w), clean, "{path}");
        assert_eq!(status_json(&w)["followups"]["queued"], 0);
    }
}
