//! Calls as Ringostat really delivers them (issue 15): `replay-calls` from the call log
//! (the sandbox's `/calls/list` emulator), missed calls with statuses nobody spelt out,
//! store-first with `calls reparse`, `--explain`.

use std::collections::BTreeSet;

use chrono::{Duration, FixedOffset, Utc};
use serde_json::{json, Value};

use crate::support::{run, World};

const KEY_VAR: &str = "RINGOSTAT_TEST_KEY";
const KEY: &str = "rs-key-7f3a9c1e55d2";
const ANNA: i64 = 504141;
const SVETLANA: i64 = 504143;

/// A time `secs` ago in +03:00 (the example's `utc_offset`), as the call log writes it.
fn ago(secs: i64) -> String {
    let off = FixedOffset::east_opt(3 * 3600).unwrap();
    (Utc::now() - Duration::seconds(secs))
        .with_timezone(&off)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// A world whose rule file reads the call log from its own sandbox.
fn world_with_call_log() -> World {
    let w = World::with(Default::default(), |r| r);
    let text = std::fs::read_to_string(&w.rules).unwrap();
    std::fs::write(
        &w.rules,
        format!(
            "{text}\n[calls.ringostat_api]\nurl = {:?}\nauth_key_env = \"{KEY_VAR}\"\nproject_id = \"4242\"\n",
            w.sandbox.base_url()
        ),
    )
    .unwrap();
    w.sandbox.ringostat_project(KEY, Some("4242"));
    w
}

/// 30 calls over 5 days (one every 4 hours), in call-log field names, newest first: new
/// numbers answered, missed, with an unknown status and no talk, internal (Boris's own
/// mobile), a known number calling again, and outgoing calls to unknown numbers.
fn thirty_calls() -> Vec<Value> {
    (0..30i64)
        .map(|i| {
            let secs = i * 4 * 3600 + 1860;
            let new_phone = format!("7903{:07}", 1_000_000 + i);
            let mut c = json!({
                "uniqueid": format!("ua1_-17000{i:05}.{i}"), "calldate": ago(secs),
                "call_type": "in", "caller": new_phone, "caller_number": new_phone,
                "dst": "74950000001", "disposition": "ANSWERED", "duration": "70",
                "billsec": "60", "waittime": "10", "has_recording": "0",
                "employee_number": "340101", "pool_name": "Google Ads",
                "utm_source": "google", "utm_medium": "cpc",
            });
            match i % 6 {
                1 => {
                    c["disposition"] = json!("NO ANSWER");
                    c["billsec"] = json!("0");
                    c["employee_number"] = Value::Null;
                }
                2 => {
                    c["disposition"] = json!("SCHEME FAILED");
                    c["billsec"] = json!("0");
                    c["employee_number"] = Value::Null;
                }
                3 => {
                    c["caller"] = json!("79160000101");
                    c["caller_number"] = json!("79160000101");
                }
                4 => {
                    let earlier = format!("7903{:07}", 1_000_000 + i + 4);
                    c["caller"] = json!(earlier);
                    c["caller_number"] = json!(earlier);
                }
                5 => {
                    c["call_type"] = json!("out");
                    c["caller"] = json!("101");
                    c["caller_number"] = Value::Null;
                    c["dst"] = json!(new_phone);
                }
                _ => {}
            }
            c
        })
        .collect()
}

/// What amoCRM holds, without ids and creation stamps: comparable across two sandboxes.
fn amo_state(w: &World) -> Vec<Vec<String>> {
    let project = |kind: &str, keys: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = w
            .sandbox
            .entities(kind)
            .iter()
            .map(|e| {
                let parts: Vec<String> = keys.iter().map(|k| e[*k].to_string()).collect();
                parts.join(" | ")
            })
            .collect();
        v.sort();
        v
    };
    let contacts: Vec<String> = {
        let mut v: Vec<String> = w
            .sandbox
            .entities("contacts")
            .iter()
            .map(|c| {
                format!(
                    "{} | {} | {}",
                    c["name"], c["responsible_user_id"], c["custom_fields_values"]
                )
            })
            .collect();
        v.sort();
        v
    };
    vec![
        contacts,
        project(
            "leads",
            &["name", "pipeline_id", "status_id", "responsible_user_id"],
        ),
        project(
            "calls",
            &[
                "uniq",
                "direction",
                "call_status",
                "call_result",
                "duration",
                "phone",
                "entity_type",
                "created_at",
                "responsible_user_id",
            ],
        ),
        project(
            "tasks",
            &[
                "text",
                "complete_till",
                "responsible_user_id",
                "entity_type",
                "task_type_id",
            ],
        ),
    ]
}

fn replay(w: &World, key: Option<&str>) -> (i32, String, String) {
    let mut c = w.cmd();
    if let Some(k) = key {
        c.env(KEY_VAR, k);
    }
    run(c.args(["replay-calls", "--days", "3"]))
}

#[test]
fn replay_from_the_call_log_creates_what_webhooks_would_once_and_only_once() {
    let calls = thirty_calls();
    // The webhook path: the calls of the last 3 days, oldest first, as Ringostat posts them.
    let hooks = World::new();
    hooks.authorize();
    let recent: Vec<&Value> = calls
        .iter()
        .enumerate()
        .filter(|(i, _)| (*i as i64) * 4 * 3600 + 1860 < 3 * 86_400)
        .map(|(_, c)| c)
        .collect();
    assert_eq!(recent.len(), 18);
    let body: Vec<String> = recent.iter().rev().map(|c| c.to_string()).collect();
    let (rc, out, err) = run(hooks
        .cmd()
        .args(["calls", "ingest", "--format", "ringostat"])
        .write_stdin(body.join("\n")));
    assert_eq!(rc, 0, "{out}{err}");

    // The call-log path, on an empty store.
    let w = world_with_call_log();
    w.authorize();
    w.sandbox.ringostat_add_calls(&calls);
    let (rc, out, err) = replay(&w, Some(KEY));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(err.contains("18 fetched, 18 new, 0 already known"), "{err}");
    let want = amo_state(&hooks);
    assert!(!want[0].is_empty() && !want[3].is_empty(), "{want:#?}");
    assert_eq!(amo_state(&w), want, "the call log and webhooks agree");

    // Each call once; internal calls (Boris's own mobile) are not sent.
    let sent: Vec<String> = w
        .sandbox
        .entities("calls")
        .iter()
        .map(|c| c["uniq"].as_str().unwrap().to_string())
        .collect();
    let distinct: BTreeSet<&String> = sent.iter().collect();
    assert_eq!(distinct.len(), sent.len(), "{sent:?}");
    for i in [3, 9, 15] {
        let id = format!("ua1_-17000{i:05}.{i}");
        assert!(!sent.contains(&id), "internal call {id} was sent");
    }
    // 18 calls: 3 internal and 3 outgoing to unknown numbers are stored, not sent.
    assert_eq!(sent.len(), 12, "{sent:?}");
    // The unknown status with no talk is a missed call: contact and call-back tasks.
    let missed_unknown = w
        .sandbox
        .entities("calls")
        .into_iter()
        .find(|c| c["uniq"] == "ua1_-1700000002.2")
        .unwrap();
    assert_eq!(missed_unknown["call_status"], 6);
    assert!(missed_unknown["call_result"]
        .as_str()
        .unwrap()
        .contains("SCHEME FAILED"));

    // Requests: one day at a time, the key and project checked, exactly the parser's fields.
    let requests = w.sandbox.ringostat_requests();
    assert_eq!(requests.len(), 3, "{requests:#?}");
    for q in &requests {
        assert!(q.contains("projectId=4242"), "{q}");
        assert!(q.contains("fields=uniqueid%2Ccalldate%2Ccall_type"), "{q}");
        assert!(!q.contains(KEY), "the key never travels in the URL");
    }

    // A second run adds nothing and writes nothing.
    w.sandbox.reset_stats();
    let (rc, out, err) = replay(&w, Some(KEY));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(err.contains("18 fetched, 0 new, 18 already known"), "{err}");
    assert_eq!(w.sandbox.stats().writes, 0);
    assert_eq!(amo_state(&w), want);
}

#[test]
fn a_wrong_or_missing_auth_key_names_the_variable_never_the_key() {
    let w = world_with_call_log();
    w.authorize();
    w.sandbox.ringostat_add_calls(&thirty_calls());
    // A webhook stored while amoCRM was away: a failing call log does not hold it back.
    let stored = json!({"uniqueid": "hook-1", "calldate": ago(120), "call_type": "in",
        "caller": "79035550044", "disposition": "ANSWERED", "billsec": "20",
        "employee_number": "340101"});
    let (rc, out, err) = run(w
        .cmd()
        .args(["calls", "ingest", "--no-push"])
        .write_stdin(stored.to_string()));
    assert_eq!(rc, 0, "{out}{err}");
    let wrong = "wrong-key-0123456789";
    let (rc, out, err) = replay(&w, Some(wrong));
    assert_eq!(rc, 3, "{out}{err}");
    assert!(err.contains(KEY_VAR), "{err}");
    assert!(
        out.contains("delivered"),
        "the stored call was still sent: {out}"
    );
    assert!(!err.contains(wrong) && !out.contains(wrong), "{err}");
    let log = std::fs::read_to_string(w.dir.path().join("amocrm-bin.log")).unwrap_or_default();
    assert!(!log.contains(wrong));
    let (rc, _, err) = replay(&w, None);
    assert_eq!(rc, 2, "{err}");
    assert!(err.contains(KEY_VAR) && err.contains("not set"), "{err}");
    let sent: Vec<Value> = w.sandbox.entities("calls");
    assert_eq!(sent.len(), 1, "only the stored webhook, once");
    // The right key, verbose: every request is logged, the key never.
    let (rc, out, err) = run(w
        .cmd()
        .env(KEY_VAR, KEY)
        .args(["-v", "replay-calls", "--days", "3"]));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(err.contains("Ringostat GET"), "{err}");
    let log = std::fs::read_to_string(w.dir.path().join("amocrm-bin.log")).unwrap_or_default();
    for text in [&out, &err, &log] {
        assert!(!text.contains(KEY), "the key leaked: {text}");
    }
}

#[test]
fn a_full_answer_is_split_until_every_answer_is_under_the_cap() {
    use amocrm_bin::calls::calllog::{CallLog, MAX_ROWS};
    let w = World::new();
    w.sandbox.ringostat_project(KEY, None);
    let day = "2026-03-02";
    let rows: Vec<Value> = (0..MAX_ROWS + 100)
        .map(|i| {
            json!({"uniqueid": format!("u{i}"), "calldate": format!("{day} {:02}:{:02}:{:02}", 8 + i / 3600, (i / 60) % 60, i % 60),
                "caller": "380671112233", "disposition": "ANSWERED"})
        })
        .collect();
    w.sandbox.ringostat_add_calls(&rows);
    let var = "RINGOSTAT_SPLIT_TEST_KEY";
    std::env::set_var(var, KEY);
    let log = CallLog::from_settings(&amocrm_bin::rules::RingostatApi {
        url: w.sandbox.base_url(),
        auth_key_env: var.into(),
        project_id: None,
    })
    .unwrap();
    let t = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
    let mut windows = 0;
    let got = log
        .fetch_range(
            t("2026-03-02 00:00:00"),
            t("2026-03-02 23:59:59"),
            &mut |_, n| {
                assert!(n < MAX_ROWS);
                windows += 1;
            },
        )
        .unwrap();
    assert_eq!(got.len(), MAX_ROWS + 100);
    let ids: BTreeSet<&str> = got
        .iter()
        .map(|r| r["uniqueid"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), MAX_ROWS + 100, "no call twice, none lost");
    assert!(windows >= 2);
}

#[test]
fn an_unknown_status_with_no_talk_from_a_new_number_gets_a_contact_and_call_back_tasks() {
    let w = World::new();
    w.authorize();
    let event = json!({"uniqueid": "ua-scheme-1", "calldate": ago(900), "call_type": "in",
        "caller": "79035550011", "dst": "74950000001", "disposition": "FORBIDDEN DESTINATION",
        "duration": "25", "billsec": "0"});
    let (rc, out, err) = run(w
        .cmd()
        .args(["calls", "ingest"])
        .write_stdin(event.to_string()));
    assert_eq!(rc, 0, "{out}{err}");
    assert_eq!(w.sandbox.entities("contacts").len(), 1);
    let tasks = w.sandbox.entities("tasks");
    let users: BTreeSet<i64> = tasks
        .iter()
        .filter_map(|t| t["responsible_user_id"].as_i64())
        .collect();
    assert_eq!(users, BTreeSet::from([ANNA, SVETLANA]), "{tasks:#?}");
    let call = &w.sandbox.entities("calls")[0];
    assert_eq!(call["call_status"], 6);
    assert!(
        call["call_result"]
            .as_str()
            .unwrap()
            .contains("FORBIDDEN DESTINATION"),
        "{call}"
    );
    assert!(
        err.contains("status `FORBIDDEN DESTINATION` is not recognised"),
        "the raw status is logged: {err}"
    );
}

#[test]
fn an_unparseable_webhook_is_stored_and_read_again_after_the_key_map_is_fixed() {
    let w = World::new();
    w.authorize();
    // This setup's webhook calls the id `call_id`, which the key map does not know yet.
    let body = format!(
        "call_id=ua-renamed-1&calldate={}&call_type=in&caller=79035550022&disposition=ANSWERED&billsec=30&duration=40&employee_number=340101",
        ago(300).replace(' ', "+").replace(':', "%3A")
    );
    let (_, out, _) = run(w
        .cmd()
        .env("REQUEST_METHOD", "POST")
        .env("CONTENT_TYPE", "application/x-www-form-urlencoded")
        .env("CONTENT_LENGTH", body.len().to_string())
        .write_stdin(body.clone()));
    assert!(out.starts_with("Status: 400 Bad Request\r\n"), "{out}");
    assert!(out.contains("missing `uniqueid`"), "{out}");
    // Ringostat resends a 4xx three more times: still one stored item.
    for _ in 0..3 {
        run(w
            .cmd()
            .env("REQUEST_METHOD", "POST")
            .env("CONTENT_LENGTH", body.len().to_string())
            .write_stdin(body.clone()));
    }
    // Every request body was kept as received, before parsing.
    let conn = rusqlite::Connection::open(w.store()).unwrap();
    let bodies: Vec<String> = conn
        .prepare("SELECT body FROM call_bodies")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(bodies, vec![body.clone(); 4]);
    let (rc, out, err) = run(w.cmd().args(["calls", "list", "--pending"]));
    assert_eq!(rc, 0, "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.contains("unparsed") && out.contains("missing `uniqueid`"),
        "{out}"
    );
    assert!(err.contains("calls reparse"), "{err}");
    let (_, out, _) = run(w.cmd().arg("status"));
    assert!(out.contains("1 unparsed"), "{out}");

    // Before the fix: still unreadable, reported, nothing sent.
    let (rc, out, _) = run(w.cmd().args(["calls", "reparse"]));
    assert_eq!(rc, 1, "{out}");
    assert!(out.contains("still not readable"), "{out}");
    assert!(w.sandbox.entities("calls").is_empty());

    let text = std::fs::read_to_string(&w.rules).unwrap();
    std::fs::write(
        &w.rules,
        text.replace(
            "[calls.ringostat_keys]\n",
            "[calls.ringostat_keys]\nuniqueid = \"call_id\"\n",
        ),
    )
    .unwrap();
    let (rc, out, err) = run(w.cmd().args(["calls", "reparse"]));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(out.contains("ua-renamed-1: stored"), "{out}");
    let calls = w.sandbox.entities("calls");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["uniq"], "ua-renamed-1");
    let (_, out, _) = run(w.cmd().args(["calls", "list", "--pending"]));
    assert!(out.trim().is_empty(), "{out}");
    // The same webhook arriving again now is a duplicate of the delivered call.
    let (_, out, _) = run(w
        .cmd()
        .env("REQUEST_METHOD", "POST")
        .env("CONTENT_LENGTH", body.len().to_string())
        .write_stdin(body));
    assert!(out.contains("duplicate (same call id)"), "{out}");
    assert_eq!(w.sandbox.entities("calls").len(), 1);
}

#[test]
fn explain_shows_the_keys_read_and_a_callback_by_insertion_type() {
    let w = World::new();
    let event = json!({"uniqueid": "cb-1", "calldate": ago(60), "call_type": "in",
        "substitution_type": "callback", "phone": "79035550033", "disposition": "ANSWERED"});
    let (rc, out, err) = run(w
        .cmd()
        .args(["calls", "ingest", "--explain"])
        .write_stdin(event.to_string()));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(out.contains("read uniqueid = cb-1"), "{out}");
    assert!(out.contains("read substitution_type = callback"), "{out}");
    assert!(
        out.contains("carried but not read (map them in [calls.ringostat_keys]): phone"),
        "{out}"
    );
    assert!(out.contains("(callback)"), "{out}");
    let (_, out, _) = run(w.cmd().args(["calls", "list", "--json"]));
    assert!(!out.contains("cb-1"), "--explain stores nothing: {out}");
}
