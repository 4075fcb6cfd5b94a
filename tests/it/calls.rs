//! Call tracking (issue #6): Ringostat and neutral events through `calls ingest`, the CGI
//! handler, `replay-calls` and `report calls`, against the sandbox. Fixtures:
//! tests/fixtures/calls/; the example rule file's `[calls]` maps Boris (ext 101, phone
//! +7 916 000-01-01, SIP boris), Anna (ext 100) and Svetlana (ext 103, senior manager).
//! Times are rewritten relative to now wherever `--days` matters.

use std::collections::BTreeSet;

use chrono::{Duration, FixedOffset, TimeZone, Utc};
use serde_json::{json, Value};

use crate::support::{root, run, World};

const BORIS: i64 = 504142;
/// (count, total seconds, average seconds) of a report bucket.
type Nums = (u64, u64, u64);
const ANNA: i64 = 504141;
const SVETLANA: i64 = 504143;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(root().join("tests/fixtures/calls").join(name)).unwrap()
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap()
}

/// `YYYY-MM-DD HH:MM:SS` in +03:00 (the example's `utc_offset`) and its Unix time.
fn local_at(days_ago: i64, hour: u32, minute: u32) -> (String, i64) {
    let off = FixedOffset::east_opt(3 * 3600).unwrap();
    let date = (Utc::now().with_timezone(&off) - Duration::days(days_ago)).date_naive();
    let t = off
        .from_local_datetime(&date.and_hms_opt(hour, minute, 0).unwrap())
        .unwrap();
    (t.format("%Y-%m-%d %H:%M:%S").to_string(), t.timestamp())
}

/// A time `secs` seconds ago, as Ringostat writes it.
fn ago(secs: i64) -> (String, i64) {
    let off = FixedOffset::east_opt(3 * 3600).unwrap();
    let t = (Utc::now() - Duration::seconds(secs)).with_timezone(&off);
    (t.format("%Y-%m-%d %H:%M:%S").to_string(), t.timestamp())
}

fn with(mut v: Value, changes: Value) -> Value {
    for (k, x) in changes.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

fn ingest(w: &World, body: &str, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["calls", "ingest"];
    args.extend_from_slice(extra);
    run(w.cmd().args(&args).write_stdin(body.to_string()))
}

/// Ingests a fixture call that happened `secs_ago` seconds ago.
fn ingest_fixture(w: &World, fixture: &str, secs_ago: i64) -> (i32, String, String) {
    let (when, _) = ago(secs_ago);
    let event = with(fixture_json(fixture), json!({"calldate": when}));
    ingest(w, &event.to_string(), &[])
}

fn user_ids(items: &[Value]) -> BTreeSet<i64> {
    items
        .iter()
        .filter_map(|t| t["responsible_user_id"].as_i64())
        .collect()
}

fn lead_field(lead: &Value, code: &str) -> Option<String> {
    lead["custom_fields_values"]
        .as_array()?
        .iter()
        .find(|f| f["field_code"] == code)
        .and_then(|f| f["values"][0]["value"].as_str().map(String::from))
}

fn stored_calls(w: &World, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["calls", "list", "--json", "--days", "30"];
    args.extend_from_slice(extra);
    let (rc, out, err) = run(w.cmd().args(&args));
    assert_eq!(rc, 0, "{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    v["calls"].as_array().unwrap().clone()
}

#[test]
fn answered_call_from_a_new_number_creates_contact_lead_and_call_for_the_employee() {
    let w = World::new();
    w.authorize();
    let (when, unix) = ago(600);
    let event = with(
        fixture_json("ringostat_answered.json"),
        json!({"calldate": when}),
    );
    let (rc, out, err) = ingest(&w, &event.to_string(), &[]);
    assert_eq!(rc, 0, "{out}{err}");
    assert!(out.contains("delivered → lead:"), "{out}");

    let contacts = w.sandbox.entities("contacts");
    assert_eq!(contacts.len(), 1, "{contacts:#?}");
    let contact = &contacts[0];
    assert_eq!(contact["responsible_user_id"], BORIS);
    assert_eq!(
        contact["custom_fields_values"][0]["values"][0]["value"],
        "+79161234567"
    );
    let leads = w.sandbox.entities("leads");
    assert_eq!(leads.len(), 1);
    let lead = &leads[0];
    assert_eq!(lead["pipeline_id"], 3177728, "pool Partners → Partners");
    assert_eq!(lead["status_id"], 32392171);
    assert_eq!(lead["responsible_user_id"], BORIS, "the answering employee");
    assert_eq!(lead_field(lead, "UTM_SOURCE").as_deref(), Some("google"));
    assert_eq!(lead_field(lead, "UTM_MEDIUM").as_deref(), Some("cpc"));
    assert_eq!(lead_field(lead, "UTM_CAMPAIGN").as_deref(), Some("brand"));
    assert_eq!(lead["_embedded"]["contacts"][0]["id"], contact["id"]);

    let calls = w.sandbox.entities("calls");
    assert_eq!(calls.len(), 1);
    let c = &calls[0];
    assert_eq!(c["entity_type"], "lead");
    assert_eq!(c["entity_id"], lead["id"]);
    assert_eq!(c["direction"], "inbound");
    assert_eq!(c["uniq"], "ua1_-1772449531.101");
    assert_eq!(c["duration"], 80);
    assert_eq!(c["call_status"], 4);
    assert_eq!(c["source"], "Ringostat");
    assert_eq!(c["phone"], "+79161234567");
    assert_eq!(c["created_at"], unix);
    assert_eq!(c["responsible_user_id"], BORIS);
    assert_eq!(c["created_by"], BORIS);
    assert!(c["link"].as_str().unwrap().ends_with(".mp3"));
    assert!(w.sandbox.entities("tasks").is_empty());

    let stored = stored_calls(&w, &[]);
    assert_eq!(stored[0]["state"], "delivered");
    assert_eq!(stored[0]["amo_call_id"], c["id"]);
}

#[test]
fn the_same_call_delivered_twice_or_as_a_forwarded_leg_is_one_call_in_amocrm() {
    let w = World::new();
    w.authorize();
    let (when, _) = ago(300);
    let event = with(
        fixture_json("ringostat_answered.json"),
        json!({"calldate": when}),
    );
    assert_eq!(ingest(&w, &event.to_string(), &[]).0, 0);
    let writes = w.sandbox.stats().writes;

    let (rc, out, err) = ingest(&w, &event.to_string(), &[]);
    assert_eq!(rc, 0, "{out}{err}");
    assert!(out.contains("duplicate (same call id)"), "{out}");
    // The forwarded leg: another id, same caller and tracking number, a second later.
    let (when2, _) = ago(299);
    let leg = with(
        fixture_json("ringostat_forwarded_leg.json"),
        json!({"calldate": when2}),
    );
    let (rc, out, err) = ingest(&w, &leg.to_string(), &[]);
    assert_eq!(rc, 0, "{out}{err}");
    assert!(out.contains("another leg"), "{out}");

    assert_eq!(w.sandbox.entities("calls").len(), 1);
    assert_eq!(w.sandbox.entities("leads").len(), 1);
    assert!(
        w.sandbox.entities("tasks").is_empty(),
        "the missed leg made no task"
    );
    assert_eq!(
        w.sandbox.stats().writes,
        writes,
        "nothing was written again"
    );
    let stored = stored_calls(&w, &[]);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["duplicates"], 2);
}

#[test]
fn a_known_number_gets_the_call_on_its_open_lead_and_no_new_lead() {
    let w = World::new();
    w.authorize();
    let contact = w.sandbox.insert(
        "contacts",
        json!({"name": "Petr (website)", "responsible_user_id": ANNA,
               "custom_fields_values": [{"field_code": "PHONE", "values": [{"value": "8 (916) 123-45-67", "enum_code": "MOB"}]}]}),
    );
    let lead = w.sandbox.insert(
        "leads",
        json!({"name": "VPS order", "responsible_user_id": ANNA,
               "custom_fields_values": [{"field_code": "UTM_SOURCE", "values": [{"value": "newsletter"}]}],
               "_embedded": {"contacts": [{"id": contact}]}}),
    );
    let (rc, out, err) = ingest_fixture(&w, "ringostat_answered.json", 900);
    assert_eq!(rc, 0, "{out}{err}");
    assert_eq!(
        w.sandbox.entities("contacts").len(),
        1,
        "no duplicate contact"
    );
    let leads = w.sandbox.entities("leads");
    assert_eq!(leads.len(), 1, "no new lead while one is open");
    assert_eq!(
        lead_field(&leads[0], "UTM_SOURCE").as_deref(),
        Some("newsletter"),
        "a value already there is kept"
    );
    assert_eq!(
        lead_field(&leads[0], "UTM_MEDIUM").as_deref(),
        Some("cpc"),
        "an empty one is filled"
    );
    let calls = w.sandbox.entities("calls");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["entity_type"], "lead");
    assert_eq!(calls[0]["entity_id"], lead);
    assert_eq!(calls[0]["responsible_user_id"], BORIS, "who talked");
}

#[test]
fn a_missed_call_gives_two_call_back_tasks_due_ten_minutes_after_the_call() {
    let w = World::new();
    w.authorize();
    let (when, unix) = ago(1200);
    let body = fixture("ringostat_missed.form").replace(
        "2026-03-02+18%3A40%3A02",
        &when.replace(' ', "+").replace(':', "%3A"),
    );
    let (rc, out, err) = ingest(&w, &body, &[]);
    assert_eq!(rc, 0, "{out}{err}");
    let tasks = w.sandbox.entities("tasks");
    assert_eq!(tasks.len(), 2, "{tasks:#?}");
    assert_eq!(
        user_ids(&tasks),
        BTreeSet::from([ANNA, SVETLANA]),
        "the responsible manager ([calls] responsible, nobody was rung) and the senior"
    );
    let contact = w.sandbox.entities("contacts")[0]["id"].clone();
    for t in &tasks {
        assert_eq!(t["complete_till"], unix + 600);
        assert_eq!(t["entity_type"], "contacts");
        assert_eq!(t["entity_id"], contact);
        assert_eq!(t["is_completed"], false);
        assert!(t["text"]
            .as_str()
            .unwrap()
            .starts_with("Call back +79031234567"));
    }
    let calls = w.sandbox.entities("calls");
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0]["call_status"], 6,
        "did not get through ([calls] missed_call_status)"
    );
    assert_eq!(calls[0]["duration"], 0);

    // The client calls again and misses again: logged, but no second pair of tasks.
    let (when2, _) = ago(300);
    let again = fixture("ringostat_missed.form")
        .replace("ua1_-1772464802.102", "ua1_-1772465802.103")
        .replace(
            "2026-03-02+18%3A40%3A02",
            &when2.replace(' ', "+").replace(':', "%3A"),
        );
    let (rc, out, err) = ingest(&w, &again, &[]);
    assert_eq!(rc, 0, "{out}{err}");
    assert_eq!(w.sandbox.entities("calls").len(), 2);
    assert_eq!(
        w.sandbox.entities("tasks").len(),
        2,
        "one open call-back per contact"
    );
    assert!(out.contains("an open call-back task exists"), "{out}");
}

#[test]
fn an_internal_call_creates_nothing_in_amocrm() {
    let w = World::new();
    w.authorize();
    w.sandbox.reset_stats();
    let started = (Utc::now() - Duration::seconds(200))
        .with_timezone(&FixedOffset::east_opt(3 * 3600).unwrap())
        .to_rfc3339();
    let internal = with(
        fixture_json("neutral_internal.json"),
        json!({"started_at": started}),
    );
    let (rc, out, err) = ingest(&w, &internal.to_string(), &[]);
    assert_eq!(rc, 0, "{out}{err}");
    // Boris calling the tracking number from his own mobile is internal too.
    let (when, _) = ago(100);
    let own = with(
        fixture_json("ringostat_answered.json"),
        json!({"uniqueid": "own-1", "calldate": when, "caller": "+7 916 000-01-01", "caller_number": "79160000101"}),
    );
    let (rc, out2, err) = ingest(&w, &own.to_string(), &[]);
    assert_eq!(rc, 0, "{out2}{err}");
    // The intake line says what `status` will count: stored, and not sent.
    for line in [&out, &out2] {
        assert!(line.contains(": stored, not sent: internal call"), "{line}");
    }
    for kind in ["contacts", "leads", "calls", "tasks"] {
        assert!(w.sandbox.entities(kind).is_empty(), "{kind} created");
    }
    assert_eq!(w.sandbox.stats().requests, 0, "amoCRM was not even asked");
    let stored = stored_calls(&w, &[]);
    assert_eq!(stored.len(), 2);
    for c in &stored {
        assert_eq!(c["state"], "skipped");
        assert_eq!(c["internal"], true);
        assert!(c["detail"].as_str().unwrap().starts_with("internal call"));
    }
}

#[test]
fn an_unmapped_employee_answering_gives_the_senior_a_task_to_fix_the_mapping() {
    let w = World::new();
    w.authorize();
    let (rc, out, err) = ingest_fixture(&w, "ringostat_unmapped.json", 400);
    assert_eq!(rc, 0, "{out}{err}");
    let tasks = w.sandbox.entities("tasks");
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["responsible_user_id"], SVETLANA);
    let text = tasks[0]["text"].as_str().unwrap();
    assert!(
        text.contains("Olena Ivanenko") && text.contains("calls.employees"),
        "{text}"
    );
    assert_eq!(
        w.sandbox.entities("contacts")[0]["responsible_user_id"],
        ANNA,
        "nobody mapped answered: [calls] responsible"
    );
    assert_eq!(w.sandbox.entities("calls").len(), 1);
}

#[test]
fn outgoing_call_to_a_known_contact_is_logged_and_to_an_unknown_number_kept_only() {
    let w = World::new();
    w.authorize();
    let (rc, out, err) = ingest(
        &w,
        &fixture("neutral_outbound.json"),
        &["--format", "neutral"],
    );
    assert_eq!(rc, 0, "{out}{err}");
    assert!(
        out.contains("skipped: outgoing call to +79161234567"),
        "{out}"
    );
    assert!(w.sandbox.entities("contacts").is_empty());
    w.sandbox.insert(
        "contacts",
        json!({"name": "Client", "custom_fields_values": [{"field_code": "PHONE", "values": [{"value": "+79161234567", "enum_code": "WORK"}]}]}),
    );
    let again = fixture("neutral_outbound.json")
        .replace("out-1", "out-2")
        .replace("T11:05:00", "T11:45:00");
    let (rc, out, err) = ingest(&w, &again, &[]);
    assert_eq!(rc, 0, "{out}{err}");
    let calls = w.sandbox.entities("calls");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["direction"], "outbound");
    assert_eq!(calls[0]["responsible_user_id"], BORIS, "SIP login boris");
    assert_eq!(calls[0]["call_responsible"], BORIS);
    assert!(
        w.sandbox.entities("leads").is_empty(),
        "outgoing calls make no lead"
    );
}

#[test]
fn token_revoked_then_replay_calls_delivers_every_stored_call_once_and_not_older_ones() {
    let w = World::new();
    w.authorize();
    w.sandbox.revoke_refresh_tokens();
    w.sandbox.expire_access_tokens();
    // Calls keep coming while the token is dead: 5 days ago, 2 days ago, an hour ago.
    let base = fixture_json("ringostat_answered.json");
    let mut uniq = Vec::new();
    for (i, secs) in [5 * 86_400, 2 * 86_400, 3_600].into_iter().enumerate() {
        let (when, _) = ago(secs);
        let id = format!("revoked-{i}");
        let event = with(
            base.clone(),
            json!({"uniqueid": id, "calldate": when, "caller": format!("7916555000{i}"), "caller_number": format!("7916555000{i}")}),
        );
        let (rc, out, err) = ingest(&w, &event.to_string(), &[]);
        assert_eq!(rc, 3, "authorization needed: {out}{err}");
        assert!(err.contains("replay-calls"), "{err}");
        uniq.push(id);
    }
    assert!(w.sandbox.entities("calls").is_empty());
    let pending = stored_calls(&w, &["--pending"]);
    assert_eq!(pending.len(), 3, "nothing lost");
    for c in &pending {
        assert!(
            c["last_error"].as_str().unwrap().contains("authorization"),
            "{c}"
        );
    }

    // The operator re-authorizes a day later and replays three days.
    w.authorize();
    let (rc, out, err) = run(w.cmd().args(["replay-calls", "--days", "3"]));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(err.contains("older than 3 day(s)"), "{err}");
    let calls = w.sandbox.entities("calls");
    let sent: Vec<&str> = calls.iter().map(|c| c["uniq"].as_str().unwrap()).collect();
    assert_eq!(
        sent,
        vec![uniq[1].as_str(), uniq[2].as_str()],
        "oldest first, 5-day-old left"
    );

    let writes = w.sandbox.stats().writes;
    let (rc, out, err) = run(w.cmd().args(["replay-calls", "--days", "3", "--json"]));
    assert_eq!(rc, 0, "{out}{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["delivered"], 0);
    assert_eq!(w.sandbox.stats().writes, writes, "never twice");
    assert_eq!(w.sandbox.entities("calls").len(), 2);
    let still = stored_calls(&w, &["--pending"]);
    assert_eq!(still.len(), 1);
    assert_eq!(still[0]["call_id"], uniq[0].as_str());
    // A wider window takes it too.
    let (rc, _, err) = run(w.cmd().args(["replay-calls", "--days", "7"]));
    assert_eq!(rc, 0, "{err}");
    assert_eq!(w.sandbox.entities("calls").len(), 3);
}

#[test]
fn a_push_interrupted_mid_way_resumes_without_duplicates() {
    let w = World::new();
    w.authorize();
    // Contact and lead get created, then amoCRM fails on the call itself.
    w.sandbox.inject(sandbox::Fault::Status {
        code: 503,
        count: 50,
        path_prefix: Some("/api/v4/calls".into()),
    });
    let (rc, out, err) = ingest_fixture(&w, "ringostat_answered.json", 600);
    assert_eq!(rc, 5, "{out}{err}");
    assert_eq!(w.sandbox.entities("contacts").len(), 1);
    assert_eq!(w.sandbox.entities("leads").len(), 1);
    assert!(w.sandbox.entities("calls").is_empty());
    w.sandbox.clear_faults();
    let (rc, out, err) = run(w.cmd().args(["replay-calls", "--days", "1"]));
    assert_eq!(rc, 0, "{out}{err}");
    assert_eq!(
        w.sandbox.entities("contacts").len(),
        1,
        "contact not created again"
    );
    assert_eq!(
        w.sandbox.entities("leads").len(),
        1,
        "lead not created again"
    );
    assert_eq!(w.sandbox.entities("calls").len(), 1);
}

#[test]
fn cgi_answers_200_then_pushes_and_400_with_the_reason_for_malformed_input() {
    let w = World::new();
    w.authorize();
    let (when, _) = ago(120);
    let body = with(
        fixture_json("ringostat_answered.json"),
        json!({"calldate": when}),
    )
    .to_string();
    let (rc, out, err) = run(w
        .cmd()
        .env("REQUEST_METHOD", "POST")
        .env("CONTENT_TYPE", "application/json")
        .env("CONTENT_LENGTH", body.len().to_string())
        .write_stdin(body.clone()));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(out.starts_with("Status: 200 OK\r\n"), "{out}");
    let (head, json_body) = out.split_once("\r\n\r\n").unwrap();
    assert!(head.contains("Content-Type: application/json"), "{head}");
    let v: Value = serde_json::from_str(json_body.trim()).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["items"][0]["intake"], "stored");
    assert_eq!(
        w.sandbox.entities("calls").len(),
        1,
        "pushed after answering"
    );

    let bad = r#"{"calldate": "2026-03-02 10:00:00", "caller": "79160001122"}"#;
    let (_, out, _) = run(w
        .cmd()
        .env("REQUEST_METHOD", "POST")
        .env("CONTENT_LENGTH", bad.len().to_string())
        .write_stdin(bad));
    assert!(out.starts_with("Status: 400 Bad Request\r\n"), "{out}");
    assert!(out.contains("missing `uniqueid`"), "{out}");
    let (_, out, _) = run(w
        .cmd()
        .env("REQUEST_METHOD", "POST")
        .write_stdin("{not json"));
    assert!(out.starts_with("Status: 400"), "{out}");
    let (_, out, _) = run(w.cmd().env("REQUEST_METHOD", "DELETE"));
    assert!(out.starts_with("Status: 405"), "{out}");
    // PUT is not POST (docs/calls-guide.md): refused before the body is read or stored.
    let (rc, out, _) = run(w
        .cmd()
        .env("REQUEST_METHOD", "PUT")
        .env("CONTENT_LENGTH", body.len().to_string())
        .write_stdin(body.clone()));
    assert_eq!(rc, 2, "{out}");
    assert!(
        out.starts_with("Status: 405 Method Not Allowed\r\n"),
        "{out}"
    );
    assert!(out.contains("\r\nAllow: POST, GET\r\n"), "{out}");
    let stored = stored_calls(&w, &[]);
    let states: Vec<&str> = stored
        .iter()
        .map(|c| c["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["delivered", "unparsed", "unparsed"],
        "malformed items are kept for `calls reparse`, not lost"
    );
    assert!(stored[1]["detail"]
        .as_str()
        .unwrap()
        .contains("missing `uniqueid`"));
}

#[test]
fn cgi_with_a_webhook_token_refuses_requests_without_it() {
    let w = World::with(Default::default(), |r| {
        r.replace(
            "# webhook_token_env = \"AMOCRM_CALLS_TOKEN\"",
            "webhook_token_env = \"AMOCRM_CALLS_TOKEN\"",
        )
    });
    let (when, _) = ago(60);
    let body = with(
        fixture_json("ringostat_answered.json"),
        json!({"calldate": when}),
    )
    .to_string();
    let cgi = |query: &str| {
        run(w
            .cmd()
            .env("AMOCRM_CALLS_TOKEN", "s3cret-webhook")
            .env("REQUEST_METHOD", "POST")
            .env("QUERY_STRING", query)
            .write_stdin(body.clone()))
    };
    let (_, out, _) = cgi("token=wrong");
    assert!(out.starts_with("Status: 403 Forbidden"), "{out}");
    assert!(stored_calls(&w, &[]).is_empty());
    // Not authorized yet: stored, answered 200, kept for replay.
    let (_, out, err) = cgi("token=s3cret-webhook&source=ringostat");
    assert!(out.starts_with("Status: 200 OK"), "{out}{err}");
    let stored = stored_calls(&w, &["--pending"]);
    assert_eq!(stored.len(), 1);
    assert!(stored[0]["last_error"].as_str().is_some());
}

#[test]
fn refused_items_name_the_problem_and_good_lines_are_still_stored() {
    let w = World::new();
    let (w1, _) = ago(100);
    let good = with(
        fixture_json("ringostat_answered.json"),
        json!({"calldate": w1}),
    )
    .to_string();
    let body = format!("{good}\n{{\"calldate\": \"2026-03-02 10:00:00\"}}\n");
    let (rc, out, err) = ingest(&w, &body, &["--no-push"]);
    assert_eq!(rc, 2, "{out}{err}");
    assert!(
        out.contains("item 2") && out.contains("missing `uniqueid`"),
        "{out}"
    );
    let pending = stored_calls(&w, &["--pending"]);
    let states: Vec<&str> = pending
        .iter()
        .map(|c| c["state"].as_str().unwrap())
        .collect();
    assert_eq!(states.len(), 2, "{pending:#?}");
    assert!(states.contains(&"pending") && states.contains(&"unparsed"));
    let (rc, _, err) = ingest(&w, "hello", &[]);
    assert_eq!(rc, 2);
    assert!(err.contains("neither JSON nor form"), "{err}");
}

#[test]
fn report_counts_per_manager_and_draws_the_working_day_as_a_valid_svg() {
    let w = World::new();
    let answered = fixture_json("ringostat_answered.json");
    let mut lines = Vec::new();
    let mut call = |id: &str, days: i64, h: u32, m: u32, changes: Value| {
        let (when, _) = local_at(days, h, m);
        let mut v = with(answered.clone(), changes);
        v["uniqueid"] = json!(id);
        v["calldate"] = json!(when);
        lines.push(v.to_string());
    };
    // Boris (ext 101): two answered inbound calls at 10:xx, one outgoing at 11:05.
    call(
        "r1",
        1,
        10,
        15,
        json!({"billsec": "60", "duration": "70", "caller": "79160000001", "caller_number": "79160000001"}),
    );
    call(
        "r2",
        1,
        10,
        40,
        json!({"billsec": "120", "duration": "130", "caller": "79160000002", "caller_number": "79160000002"}),
    );
    call(
        "r3",
        1,
        11,
        5,
        json!({"call_type": "out", "caller": "\"Boris\" <boris>", "caller_number": null, "dst": "79160000003", "billsec": "30", "duration": "45"}),
    );
    // Anna (ext 100): one answered inbound at 14:20.
    call(
        "r4",
        1,
        14,
        20,
        json!({"employee_number": "100", "connected_with": "100", "billsec": "200", "duration": "210", "caller": "79160000004", "caller_number": "79160000004"}),
    );
    // Missed: one in working hours (waited 25 s), one at 20:10 (15 s).
    call(
        "r5",
        1,
        10,
        50,
        json!({"disposition": "NO ANSWER", "billsec": "0", "duration": "25", "employee_number": null, "employee_fio": null, "connected_with": null, "caller": "79160000005", "caller_number": "79160000005"}),
    );
    call(
        "r6",
        1,
        20,
        10,
        json!({"disposition": "NO ANSWER", "billsec": "0", "duration": "15", "employee_number": null, "employee_fio": null, "connected_with": null, "caller": "79160000006", "caller_number": "79160000006"}),
    );
    // Internal, too old, and a duplicate: none of them counts.
    call(
        "r7",
        1,
        12,
        0,
        json!({"caller": "100", "caller_number": "100"}),
    );
    call(
        "r8",
        10,
        10,
        0,
        json!({"caller": "79160000008", "caller_number": "79160000008"}),
    );
    call(
        "r1",
        1,
        10,
        15,
        json!({"billsec": "60", "duration": "70", "caller": "79160000001", "caller_number": "79160000001"}),
    );
    let (rc, out, err) = ingest(&w, &lines.join("\n"), &["--no-push"]);
    assert_eq!(rc, 0, "{out}{err}");

    let svg_path = w.path("calls.svg");
    let (rc, out, err) = run(w.cmd().args([
        "report",
        "calls",
        "--days",
        "7",
        "--json",
        "--svg",
        svg_path.to_str().unwrap(),
    ]));
    assert_eq!(rc, 0, "{out}{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    let r = &v["report"];
    let bucket = |b: &Value| {
        (
            b["count"].as_u64().unwrap(),
            b["total_secs"].as_u64().unwrap(),
            b["average_secs"].as_u64().unwrap(),
        )
    };
    assert_eq!(bucket(&r["totals"]["inbound"]), (3, 380, 127));
    assert_eq!(bucket(&r["totals"]["outbound"]), (1, 30, 30));
    assert_eq!(bucket(&r["totals"]["missed"]), (2, 40, 20));
    assert_eq!(r["totals"]["internal"], 1);
    assert_eq!(r["totals"]["pending_delivery"], 6);
    assert_eq!(r["outside_working_hours"], 1);
    let managers: Vec<(String, Nums, Nums, Nums)> = r["managers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["manager"].as_str().unwrap().to_string(),
                bucket(&m["inbound"]),
                bucket(&m["outbound"]),
                bucket(&m["missed"]),
            )
        })
        .collect();
    assert_eq!(
        managers,
        vec![
            ("(no employee)".into(), (0, 0, 0), (0, 0, 0), (2, 40, 20)),
            ("Anna (office)".into(), (1, 200, 200), (0, 0, 0), (0, 0, 0)),
            (
                "boris@example.com".into(),
                (2, 180, 90),
                (1, 30, 30),
                (0, 0, 0)
            ),
        ]
    );
    let hours: Vec<(u64, u64, u64, u64)> = r["hours"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["hour"].as_u64().unwrap(),
                h["inbound"].as_u64().unwrap(),
                h["outbound"].as_u64().unwrap(),
                h["missed"].as_u64().unwrap(),
            )
        })
        .filter(|h| h.1 + h.2 + h.3 > 0)
        .collect();
    assert_eq!(hours, vec![(10, 2, 0, 1), (11, 0, 1, 0), (14, 1, 0, 0)]);
    assert_eq!(r["hours"].as_array().unwrap().len(), 9, "09..17");

    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let (root, elements) = xml::well_formed(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    assert_eq!(root, "svg");
    assert!(elements > 20, "{elements}");
    assert!(svg.contains("xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.contains("10:00–10:59: 2 inbound"), "{svg}");

    // The human form: the table and the terminal chart.
    let (rc, out, err) = run(w.cmd().args(["report", "calls", "--days", "7"]));
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("boris@example.com"), "{out}");
    let bar = out.lines().find(|l| l.starts_with("10 │")).unwrap();
    let (inbound, missed) = (bar.matches('█').count(), bar.matches('░').count());
    assert!(
        missed > 0 && inbound == 2 * missed,
        "2 inbound, 1 missed: {bar}"
    );
    assert!(bar.ends_with(" 3"), "{bar}");
    assert!(out.contains("1 internal call(s) not counted"), "{out}");
}

/// A small XML well-formedness checker (prolog, comments, elements, attributes, entity
/// references, nesting, one root), enough to prove the SVG opens as an XML document.
mod xml {
    pub fn well_formed(s: &str) -> Result<(String, usize), String> {
        let b = s.as_bytes();
        let mut i = 0;
        let mut stack: Vec<String> = Vec::new();
        let mut root = None;
        let mut count = 0;
        let skip_ws = |i: &mut usize| {
            while *i < b.len() && b[*i].is_ascii_whitespace() {
                *i += 1;
            }
        };
        let name = |i: &mut usize| -> Result<String, String> {
            let start = *i;
            while *i < b.len() && (b[*i].is_ascii_alphanumeric() || b"-_:.".contains(&b[*i])) {
                *i += 1;
            }
            if start == *i {
                return Err(format!("expected a name at byte {start}"));
            }
            Ok(s[start..*i].to_string())
        };
        let text = |t: &str, at: usize| -> Result<(), String> {
            let mut rest = t;
            while let Some(p) = rest.find('&') {
                let end = rest[p..]
                    .find(';')
                    .ok_or(format!("unterminated entity near {at}"))?;
                let ent = &rest[p + 1..p + end];
                let ok = matches!(ent, "amp" | "lt" | "gt" | "quot" | "apos")
                    || (ent.starts_with('#') && ent.len() > 1);
                if !ok {
                    return Err(format!("unknown entity &{ent}; near {at}"));
                }
                rest = &rest[p + end + 1..];
            }
            if t.contains('<') {
                return Err(format!("raw < near {at}"));
            }
            Ok(())
        };
        if s.starts_with("<?xml") {
            i = s.find("?>").ok_or("unterminated prolog")? + 2;
        }
        while i < b.len() {
            if b[i] != b'<' {
                let end = s[i..].find('<').map(|p| i + p).unwrap_or(b.len());
                let t = &s[i..end];
                if stack.is_empty() && !t.trim().is_empty() {
                    return Err(format!("text outside the root at {i}"));
                }
                text(t, i)?;
                i = end;
                continue;
            }
            if s[i..].starts_with("<!--") {
                i += s[i..].find("-->").ok_or("unterminated comment")? + 3;
                continue;
            }
            if s[i..].starts_with("</") {
                i += 2;
                let n = name(&mut i)?;
                skip_ws(&mut i);
                if b.get(i) != Some(&b'>') {
                    return Err(format!("bad end tag at {i}"));
                }
                i += 1;
                match stack.pop() {
                    Some(open) if open == n => {}
                    other => return Err(format!("</{n}> closes {other:?}")),
                }
                continue;
            }
            i += 1;
            let n = name(&mut i)?;
            if stack.is_empty() {
                if root.is_some() {
                    return Err("two root elements".into());
                }
                root = Some(n.clone());
            }
            count += 1;
            let mut seen = Vec::new();
            loop {
                skip_ws(&mut i);
                match b.get(i) {
                    Some(b'>') => {
                        i += 1;
                        stack.push(n);
                        break;
                    }
                    Some(b'/') if b.get(i + 1) == Some(&b'>') => {
                        i += 2;
                        break;
                    }
                    Some(_) => {
                        let a = name(&mut i)?;
                        if seen.contains(&a) {
                            return Err(format!("attribute {a} twice on <{n}>"));
                        }
                        seen.push(a.clone());
                        skip_ws(&mut i);
                        if b.get(i) != Some(&b'=') {
                            return Err(format!("attribute {a} without value at {i}"));
                        }
                        i += 1;
                        skip_ws(&mut i);
                        let q = *b.get(i).ok_or("eof in attribute")?;
                        if q != b'"' && q != b'\'' {
                            return Err(format!("unquoted attribute {a} at {i}"));
                        }
                        let end = s[i + 1..].find(q as char).ok_or("unterminated attribute")?;
                        text(&s[i + 1..i + 1 + end], i)?;
                        i += end + 2;
                    }
                    None => return Err("eof inside a tag".into()),
                }
            }
        }
        if !stack.is_empty() {
            return Err(format!("unclosed elements: {stack:?}"));
        }
        Ok((root.ok_or("no root element")?, count))
    }

    #[test]
    fn checker_rejects_broken_documents() {
        assert!(well_formed("<a><b/></a>").is_ok());
        for bad in ["<a><b></a>", "<a x=1/>", "<a>&nope;</a>", "<a/><b/>", "<a>"] {
            assert!(well_formed(bad).is_err(), "{bad}");
        }
    }
}

/// Issue 22: a number on several contacts (the website's, a family member's) goes to the
/// panel client's own contact, the one with an open lead bound to a service, and the
/// choice is said; without one, to the most recently updated contact.
#[test]
fn a_number_on_several_contacts_goes_to_the_panel_clients_open_lead_and_says_so() {
    let w = World::new();
    w.authorize();
    // Petr (client 104, user 205, phone 8 (916) 123-45-67) and his active service 406.
    let (rc, out, err) = run(w.cmd().args(["sync", "--entity", "lead", "--elid", "406"]));
    assert_eq!(rc, 0, "{out}{err}");
    let bound_lead = |w: &World| {
        let (_, out, _) = run(w.cmd().args([
            "bindings", "show", "--entity", "lead", "--elid", "406", "--json",
        ]));
        serde_json::from_str::<Value>(&out).unwrap()["binding"]["amo_id"]
            .as_i64()
            .unwrap_or_else(|| panic!("{out}"))
    };
    let lead = bound_lead(&w);
    // A contact the website made later with the same number, and updated since.
    w.sandbox.insert(
        "contacts",
        json!({"name": "Petr (website)",
               "custom_fields_values": [{"field_code": "PHONE", "values": [{"value": "+79161234567", "enum_code": "MOB"}]}]}),
    );
    let (rc, out, err) = ingest_fixture(&w, "ringostat_answered.json", 900);
    assert_eq!(rc, 0, "{out}{err}");
    let calls = w.sandbox.entities("calls");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["entity_type"], "lead");
    assert_eq!(calls[0]["entity_id"], lead, "the client's own open lead");
    let stored = stored_calls(&w, &[]);
    let detail = stored[0].to_string();
    assert!(
        detail.contains(&format!("the panel client's with open lead {lead}")),
        "the choice is said: {detail}"
    );
}

#[test]
fn a_number_on_several_unbound_contacts_goes_to_the_most_recent_and_says_so() {
    let w = World::new();
    w.authorize();
    let phone = json!([{"field_code": "PHONE", "values": [{"value": "8 (916) 123-45-67", "enum_code": "MOB"}]}]);
    w.sandbox.insert(
        "contacts",
        json!({"name": "Petr (old form)", "custom_fields_values": phone.clone()}),
    );
    let newer = w.sandbox.insert(
        "contacts",
        json!({"name": "Petr (new form)", "custom_fields_values": phone}),
    );
    let (rc, out, err) = ingest_fixture(&w, "ringostat_answered.json", 900);
    assert_eq!(rc, 0, "{out}{err}");
    assert_eq!(w.sandbox.entities("contacts").len(), 2, "no third contact");
    let leads = w.sandbox.entities("leads");
    assert_eq!(leads.len(), 1, "{leads:?}");
    assert_eq!(
        leads[0]["_embedded"]["contacts"][0]["id"], newer,
        "{}",
        leads[0]
    );
    let detail = stored_calls(&w, &[])[0].to_string();
    assert!(
        detail.contains(&format!("took the most recently updated, {newer}")),
        "{detail}"
    );
}
