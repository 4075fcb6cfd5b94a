//! Case table for [`super::decide`]: one row per rule of the module doc.

use std::path::Path;

use serde_json::{json, Value};

use super::*;
use crate::calls::config::{CallPipeline, CallRules};
use crate::calls::parse::{parse_body, Format};
use crate::rules::RuleSet;

const RULES: &str = r#"
[amocrm]
base_url = "https://x.amocrm.ru"
client_id = "id"
client_secret_env = "S"
redirect_uri = "https://example.com/cb"
[billmanager]
source = "files"
dir = "bm"
[calls]
utc_offset = "+03:00"
senior = "504143"
[[calls.employees]]
user = "504142"
extensions = ["101"]
"#;

const BORIS: i64 = 504142;
const SVETLANA: i64 = 504143;
const ANNA: i64 = 504141;
const START: i64 = 1_772_449_531; // 2026-03-02 14:05:31 +03:00

fn setup() -> CallSetup {
    CallSetup::from_rules(&RuleSet::parse(RULES, Path::new("r.toml")).unwrap()).unwrap()
}

fn rules() -> CallRules {
    CallRules {
        users: vec![BORIS],
        senior: Some(SVETLANA),
        fallback: Some(ANNA),
        pipelines: vec![CallPipeline {
            when: toml::from_str::<toml::Table>(r#""call.pool" = "Partners""#)
                .unwrap()
                .into_iter()
                .map(|(k, v)| (k, crate::rules::Condition::Value(v)))
                .collect(),
            pipeline_id: 3177728,
            status_id: 32392171,
        }],
        lead_fields: vec![("utm_source".into(), 294477), ("utm_medium".into(), 294478)],
        dict: Default::default(),
    }
}

fn event(fields: Value) -> CallEvent {
    let mut v = json!({"uniqueid": "ua-1", "calldate": "2026-03-02 14:05:31", "call_type": "in",
        "caller": "79161234567", "dst": "74950000000", "disposition": "ANSWERED",
        "duration": "95", "billsec": "80"});
    for (k, x) in fields.as_object().unwrap() {
        v[k] = x.clone();
    }
    let s = setup();
    parse_body(
        &v.to_string(),
        &s.parse_options(Format::Auto, chrono::Utc::now().fixed_offset()),
    )
    .unwrap()[0]
        .event
        .clone()
        .unwrap()
}

fn known_with_lead() -> Known {
    Known {
        contact: Some(KnownContact {
            id: 40400001,
            responsible: Some(ANNA),
        }),
        open_leads: vec![KnownLead {
            id: 9100001,
            responsible: Some(BORIS),
            filled_fields: vec![294477],
        }],
        ..Default::default()
    }
}

fn plan(e: &CallEvent, known: &Known) -> Plan {
    match decide(e, &setup(), &rules(), known) {
        Decision::Push(p) => *p,
        Decision::Skip(why) => panic!("skipped: {why}"),
    }
}

fn no_nulls(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Array(a) => a.iter().all(no_nulls),
        Value::Object(o) => o.values().all(no_nulls),
        _ => true,
    }
}

fn assert_clean(p: &Plan) {
    let mut all = vec![p.call.clone()];
    if let ContactStep::Create(b) = &p.contact {
        all.push(b.clone());
    }
    if let Some(LeadStep::Create(b) | LeadStep::Fill(b)) = &p.lead {
        all.push(b.clone());
    }
    all.extend(p.tasks.iter().map(|t| t.body.clone()));
    for b in all {
        assert!(no_nulls(&b), "null in {b}");
    }
}

#[test]
fn answered_call_from_a_new_number_creates_contact_and_lead_for_the_employee() {
    let e =
        event(json!({"employee_number": "101", "pool_name": "Partners", "utm_source": "google"}));
    let p = plan(&e, &Known::default());
    assert_clean(&p);
    let ContactStep::Create(c) = &p.contact else {
        panic!("{:?}", p.contact)
    };
    assert_eq!(c["responsible_user_id"], BORIS);
    assert_eq!(
        c["custom_fields_values"][0]["values"][0]["value"],
        "+79161234567"
    );
    let Some(LeadStep::Create(l)) = &p.lead else {
        panic!("{:?}", p.lead)
    };
    assert_eq!(
        (l["pipeline_id"].as_i64(), l["status_id"].as_i64()),
        (Some(3177728), Some(32392171))
    );
    assert_eq!(l["responsible_user_id"], BORIS);
    assert_eq!(
        l["custom_fields_values"],
        json!([{"field_id": 294477, "values": [{"value": "google"}]}])
    );
    assert!(p.tasks.is_empty());
    let call = &p.call;
    assert_eq!(call["direction"], "inbound");
    assert_eq!(call["duration"], 80);
    assert_eq!(call["call_status"], 4);
    assert_eq!(call["uniq"], "ua-1");
    assert_eq!(call["created_at"], START);
    assert_eq!(
        (
            call["responsible_user_id"].as_i64(),
            call["created_by"].as_i64()
        ),
        (Some(BORIS), Some(BORIS))
    );
    assert_eq!(call["source"], "Ringostat");
}

#[test]
fn known_number_with_an_open_lead_gets_no_new_lead_only_empty_fields_filled() {
    let e = event(json!({"employee_number": "101", "utm_source": "google", "utm_medium": "cpc"}));
    let p = plan(&e, &known_with_lead());
    assert_eq!(p.contact, ContactStep::Existing(40400001));
    assert_eq!(
        p.lead,
        Some(LeadStep::Fill(
            json!({"id": 9100001, "custom_fields_values": [{"field_id": 294478, "values": [{"value": "cpc"}]}]})
        ))
    );
    assert!(p.tasks.is_empty());
}

#[test]
fn missed_call_gives_call_back_tasks_to_the_owner_and_the_senior() {
    let e = event(json!({"disposition": "NO ANSWER", "billsec": "0"}));
    let p = plan(&e, &known_with_lead());
    assert_clean(&p);
    assert_eq!(p.lead, None);
    let keys: Vec<&str> = p.tasks.iter().map(|t| t.key).collect();
    assert_eq!(keys, ["task:callback", "task:senior"]);
    assert_eq!(
        p.tasks[0].body["responsible_user_id"], BORIS,
        "the open lead's owner"
    );
    assert_eq!(p.tasks[1].body["responsible_user_id"], SVETLANA);
    for t in &p.tasks {
        assert_eq!(t.body["complete_till"], START + 600);
        assert_eq!(
            t.body["text"],
            "Call back +79161234567: missed call at 2026-03-02 14:05"
        );
    }
    assert_eq!(p.call["call_status"], 6, "did not get through, by default");
    assert_eq!(p.call["duration"], 0);
    assert!(p.call.get("link").is_none());
}

#[test]
fn an_open_call_back_task_means_no_new_one() {
    let e = event(json!({"disposition": "NO ANSWER", "billsec": "0"}));
    let mut known = known_with_lead();
    known.open_callback_task = true;
    assert!(plan(&e, &known).tasks.is_empty());
}

#[test]
fn missed_call_from_a_new_number_goes_to_the_fallback_with_a_lead() {
    let e = event(json!({"disposition": "NO ANSWER", "billsec": "0"}));
    let p = plan(&e, &Known::default());
    let ContactStep::Create(c) = &p.contact else {
        panic!()
    };
    assert_eq!(c["responsible_user_id"], ANNA);
    assert!(matches!(p.lead, Some(LeadStep::Create(_))));
    assert_eq!(p.tasks.len(), 2);
}

#[test]
fn unmapped_employee_on_an_answered_call_gets_a_mapping_task_for_the_senior() {
    let e = event(json!({"employee_number": "555", "employee_fio": "New Guy"}));
    let p = plan(&e, &Known::default());
    let ContactStep::Create(c) = &p.contact else {
        panic!()
    };
    assert_eq!(
        c["responsible_user_id"], ANNA,
        "fallback, not the unknown employee"
    );
    assert_eq!(p.tasks.len(), 1);
    assert_eq!(p.tasks[0].key, "task:mapping");
    assert_eq!(p.tasks[0].body["responsible_user_id"], SVETLANA);
    assert!(p.tasks[0].body["text"]
        .as_str()
        .unwrap()
        .contains("New Guy"));
    assert!(p.call.get("call_responsible").is_none());
    let known = Known {
        mapping_task_recent: true,
        ..Default::default()
    };
    assert!(plan(&e, &known).tasks.is_empty(), "once a day per employee");
}

#[test]
fn outbound_call_to_an_unknown_number_is_skipped_and_to_a_known_one_logged() {
    let e = event(json!({"call_type": "out", "caller": "\"boris\" <101>", "dst": "79161234567"}));
    assert!(matches!(
        decide(&e, &setup(), &rules(), &Known::default()),
        Decision::Skip(why) if why.contains("outbound_to_unknown")
    ));
    let p = plan(&e, &known_with_lead());
    assert_eq!(p.lead, None, "no lead and no fields from outgoing calls");
    assert_eq!(p.call["direction"], "outbound");
    assert_eq!(p.call["responsible_user_id"], BORIS);
    assert_eq!(p.call["call_responsible"], BORIS);
}

#[test]
fn returning_client_without_open_lead_gets_a_new_lead() {
    let e = event(json!({"employee_number": "101"}));
    let known = Known {
        contact: Some(KnownContact {
            id: 40400001,
            responsible: Some(ANNA),
        }),
        ..Default::default()
    };
    let p = plan(&e, &known);
    assert_eq!(p.contact, ContactStep::Existing(40400001));
    let Some(LeadStep::Create(l)) = &p.lead else {
        panic!()
    };
    assert_eq!(l["responsible_user_id"], BORIS, "the answering employee");
    assert!(
        l.get("pipeline_id").is_none(),
        "no rule matched: amoCRM's default"
    );
}
