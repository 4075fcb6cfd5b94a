//! Leads/contacts/companies: shapes, validation, search, paging, custom fields.

mod common;

use common::{errors, Env};
use sandbox::{QueryMode, SandboxConfig};
use serde_json::json;

fn contact(phone: &str) -> serde_json::Value {
    json!({
        "first_name": "Ivan", "last_name": "Petrov",
        "custom_fields_values": [
            {"field_code": "PHONE", "values": [{"value": phone, "enum_code": "MOB"}]},
            {"field_code": "EMAIL", "values": [{"value": "ivan@example.org", "enum_code": "WORK"}]},
            {"field_id": 271316, "values": [{"value": 10077}]},
            {"field_id": 271317, "values": [{"value": "Germany"}]},
            {"field_id": 271319, "values": [{"value": "2026-01-01T00:00:00+03:00"}]}
        ],
        "tags_to_add": [{"name": "billmanager"}],
        "request_id": "bm-client-10077"
    })
}

#[test]
fn contact_create_read_and_update() {
    let env = Env::new();
    let r = env.post(
        "/api/v4/contacts",
        json!([contact("+7 916 123-45-67"), {"name": "Second"}]),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let items = r.json()["_embedded"]["contacts"].clone();
    assert_eq!(items[0]["request_id"], "bm-client-10077");
    assert_eq!(items[1]["request_id"], "1");
    let id = items[0]["id"].as_i64().unwrap();

    let c = env.get(&format!("/api/v4/contacts/{id}")).json();
    assert_eq!(c["name"], "Ivan Petrov");
    assert_eq!(c["responsible_user_id"], 504141);
    let cf = c["custom_fields_values"].as_array().unwrap();
    assert_eq!(cf[0]["field_code"], "PHONE");
    assert_eq!(cf[0]["field_type"], "multitext");
    assert_eq!(
        cf[0]["values"][0],
        json!({"value": "+7 916 123-45-67", "enum_id": 451003, "enum_code": "MOB"})
    );
    assert_eq!(cf[2]["values"][0]["value"], "10077");
    assert_eq!(cf[3]["values"][0]["enum_id"], 451024);
    assert_eq!(cf[4]["values"][0]["value"], 1_767_214_800);
    assert_eq!(c["_embedded"]["tags"][0]["name"], "billmanager");
    assert_eq!(c["_embedded"]["tags"][0]["color"], json!(null));
    let second = env
        .get(&format!("/api/v4/contacts/{}", items[1]["id"]))
        .json();
    assert_eq!(second["custom_fields_values"], json!(null));

    // PATCH replaces all values of a sent field and leaves other fields alone.
    let upd = env.patch(
        "/api/v4/contacts",
        json!([{"id": id, "custom_fields_values": [
            {"field_code": "PHONE", "values": [{"value": "+79990000000", "enum_code": "WORK"}]},
            {"field_id": 271317, "values": null}
        ]}]),
    );
    assert_eq!(upd.status, 200, "{}", upd.body);
    assert_eq!(upd.json()["_embedded"]["contacts"][0]["request_id"], "0");
    let c = env.get(&format!("/api/v4/contacts/{id}")).json();
    let cf = c["custom_fields_values"].as_array().unwrap();
    assert_eq!(cf.len(), 4);
    assert_eq!(cf[0]["values"].as_array().unwrap().len(), 1);
    assert_eq!(cf[0]["values"][0]["value"], "+79990000000");

    let one = env.patch(
        &format!("/api/v4/contacts/{id}"),
        json!({"last_name": "Sidorov"}),
    );
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["id"], id);
    assert_eq!(
        env.get(&format!("/api/v4/contacts/{id}")).json()["name"],
        "Ivan Sidorov"
    );

    // POST with an id creates a new contact (real pitfall).
    let dup = env.post("/api/v4/contacts", json!([{"id": id, "name": "Dup"}]));
    assert_ne!(dup.json()["_embedded"]["contacts"][0]["id"], id);
    assert_eq!(env.get("/api/v4/contacts/1").status, 204);
    assert_eq!(
        env.call("DELETE", &format!("/api/v4/contacts/{id}"), None)
            .status,
        405
    );
    assert_eq!(env.get("/api/v4/nothing").status, 404);
}

#[test]
fn validation_rejects_whole_request() {
    let env = Env::new();
    let r = env.post(
        "/api/v4/contacts",
        json!([
            {"name": "ok"},
            {"name": "bad", "foo": 1, "responsible_user_id": 504144, "custom_fields_values": [
                {"field_id": 1, "values": [{"value": "x"}]},
                {"field_id": 271317, "values": [{"value": "Mars"}]},
                {"field_code": "PHONE", "values": [{"value": "1"}]},
                {"field_id": 271318, "values": [{"value": "yes"}]},
                {"field_id": 271320, "values": [{"value": "not a url"}]},
                {"field_id": 271305, "values": [{"value": null}]}
            ]}
        ]),
    );
    let errs = errors(&r);
    let has = |code: &str, path: &str| errs.iter().any(|(c, p)| c == code && p == path);
    assert!(has("FieldNotExpected", "foo"), "{errs:?}");
    assert!(has("NotSupportedChoice", "responsible_user_id"));
    assert!(has("NotSupportedChoice", "custom_fields_values.0.field_id"));
    assert!(has(
        "NotSupportedChoice",
        "custom_fields_values.1.values.0.value"
    ));
    assert!(has(
        "MissingField",
        "custom_fields_values.2.values.0.enum_code"
    ));
    assert!(has("InvalidType", "custom_fields_values.3.values.0.value"));
    assert!(has("InvalidValue", "custom_fields_values.4.values.0.value"));
    assert!(has("NotNullable", "custom_fields_values.5.values.0.value"));
    assert_eq!(r.json()["validation-errors"][0]["request_id"], "1");
    assert!(env.sb.entities("contacts").is_empty(), "nothing saved");

    let many: Vec<_> = (0..251).map(|i| json!({"name": format!("c{i}")})).collect();
    let r = env.post("/api/v4/contacts", json!(many));
    assert_eq!(
        (r.status, r.json()["detail"].as_str()),
        (422, Some("Limit of 250 per page"))
    );
    assert_eq!(env.post("/api/v4/contacts", json!([])).status, 400);
    assert_eq!(
        env.post("/api/v4/contacts", json!({"name": "x"})).status,
        400
    );
    assert_eq!(env.sb.stats().writes, 0);
}

#[test]
fn query_search_modes_and_paging() {
    let env = Env::new();
    env.sb.insert("contacts", contact("89161234567"));
    for i in 0..4 {
        env.sb.insert(
            "contacts",
            json!({"name": format!("Payment 9161234567-{i}")}),
        );
    }
    let hits = env
        .get("/api/v4/contacts?query=8%20(916)%20123-45-67")
        .json();
    assert_eq!(hits["_embedded"]["contacts"].as_array().unwrap().len(), 1);
    assert_eq!(
        env.get("/api/v4/contacts?query=%2B79161234567").status,
        204,
        "+7 vs 8 stays different"
    );
    let hits = env.get("/api/v4/contacts?query=9161234567&limit=2").json();
    assert_eq!(hits["_embedded"]["contacts"].as_array().unwrap().len(), 2);
    let next = hits["_links"]["next"]["href"].as_str().unwrap();
    assert!(next.contains("page=2"));
    let path = next.trim_start_matches(&env.base);
    let page3 = env.get(&path.replace("page=2", "page=3")).json();
    assert_eq!(page3["_embedded"]["contacts"].as_array().unwrap().len(), 1);
    assert!(page3["_links"].get("next").is_none());
    assert_eq!(
        env.get("/api/v4/contacts?query=IVAN%40example.org").json()["_embedded"]["contacts"][0]
            ["name"],
        "Ivan Petrov"
    );
    assert_eq!(env.get("/api/v4/contacts?query=nobody").status, 204);
    let ids = env
        .get("/api/v4/contacts?filter[id][]=40400001&filter[id][]=40400002&order[id]=desc")
        .json();
    assert_eq!(ids["_embedded"]["contacts"][0]["id"], 40400002);

    let strict = Env::with(SandboxConfig {
        rate_limit_rps: 0,
        query_mode: QueryMode::Strict,
        ..SandboxConfig::default()
    });
    strict.sb.insert("contacts", contact("89161234567"));
    assert_eq!(
        strict.get("/api/v4/contacts?query=%2B79161234567").status,
        204
    );
    assert_eq!(strict.get("/api/v4/contacts?query=9161234567").status, 200);
}

#[test]
fn leads_pipeline_status_links_and_events() {
    let env = Env::new();
    let cid = env.sb.insert("contacts", json!({"name": "Main"}));
    let coid = env.sb.insert("companies", json!({"name": "Romashka LLC"}));
    let r = env.post("/api/v4/leads", json!([{
        "name": "VPS-2 order", "price": 1490,
        "custom_fields_values": [{"field_id": 294472, "values": [{"enum_id": 452002}]},
                                 {"field_id": 294473, "values": [{"value": "Backup"}, {"value": "Panel"}]}],
        "_embedded": {"contacts": [{"id": cid, "is_main": true}], "companies": [{"id": coid}], "tags": [{"name": "vps"}]}
    }]));
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["_embedded"]["leads"][0]["id"].as_i64().unwrap();
    let lead = env.get(&format!("/api/v4/leads/{id}?with=contacts")).json();
    assert_eq!(
        (lead["pipeline_id"].as_i64(), lead["status_id"].as_i64()),
        (Some(3177727), Some(32392159))
    );
    assert_eq!(lead["_embedded"]["contacts"][0]["is_main"], true);
    assert_eq!(lead["_embedded"]["companies"][0]["id"], coid);
    assert_eq!(
        lead["custom_fields_values"][1]["values"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(env.get(&format!("/api/v4/leads/{id}")).json()["_embedded"]
        .get("contacts")
        .is_none());

    let bad = env.patch(
        &format!("/api/v4/leads/{id}"),
        json!({"status_id": 32392171}),
    );
    assert!(errors(&bad).contains(&("NotSupportedChoice".into(), "status_id".into())));
    let won = env.patch("/api/v4/leads", json!([{"id": id, "pipeline_id": 3177727, "status_id": 142, "responsible_user_id": 504142}]));
    assert_eq!(won.status, 200, "{}", won.body);
    let lead = env.get(&format!("/api/v4/leads/{id}")).json();
    assert!(lead["closed_at"].as_i64().is_some());

    let ev = env.get("/api/v4/events?filter[type]=lead_status_changed&filter[value_after][leads_statuses][0][pipeline_id]=3177727&filter[value_after][leads_statuses][0][status_id]=142").json();
    let e = &ev["_embedded"]["events"][0];
    assert_eq!(e["entity_id"], id);
    assert_eq!(e["value_before"][0]["lead_status"]["id"], 32392159);
    assert!(e["id"].is_string());
    let types = env.get("/api/v4/events?filter[type]=lead_added,contact_added,entity_responsible_changed&limit=100").json();
    assert_eq!(types["_embedded"]["events"].as_array().unwrap().len(), 3);

    // Tags: incremental ops vs replacement.
    env.patch(
        &format!("/api/v4/leads/{id}"),
        json!({"tags_to_add": [{"name": "paid"}], "tags_to_delete": [{"name": "vps"}]}),
    );
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["_embedded"]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(&env.get(&format!("/api/v4/leads/{id}")).json()),
        vec!["paid"]
    );
    env.patch(
        &format!("/api/v4/leads/{id}"),
        json!({"_embedded": {"tags": [{"name": "a"}, {"name": "b"}]}}),
    );
    assert_eq!(
        names(&env.get(&format!("/api/v4/leads/{id}")).json()),
        vec!["a", "b"]
    );
    let unknown = env.post(
        "/api/v4/leads",
        json!([{"_embedded": {"contacts": [{"id": 1}]}}]),
    );
    assert!(errors(&unknown).contains(&(
        "NotSupportedChoice".into(),
        "_embedded.contacts.0.id".into()
    )));
}

#[test]
fn account_users_pipelines_and_custom_fields() {
    let env = Env::new();
    let acc = env
        .get("/api/v4/account?with=task_types,users_groups,is_api_filter_enabled,datetime_settings")
        .json();
    assert_eq!(acc["id"], 30011223);
    assert_eq!(acc["current_user_id"], 504141);
    assert_eq!(acc["datetime_settings"]["timezone"], "Europe/Moscow");
    assert_eq!(acc["_embedded"]["task_types"][0]["code"], "FOLLOW_UP");
    let users = env.get("/api/v4/users?limit=2").json();
    assert_eq!(users["_total_items"], 4);
    assert_eq!(users["_page_count"], 2);
    assert!(users["_links"]["next"].is_object());
    assert_eq!(
        env.get("/api/v4/users/504144").json()["rights"]["is_active"],
        false
    );
    let p = env.get("/api/v4/leads/pipelines").json();
    assert_eq!(
        p["_embedded"]["pipelines"][0]["_embedded"]["statuses"][6]["id"],
        142
    );
    let cf = env.get("/api/v4/contacts/custom_fields?limit=250").json();
    assert_eq!(cf["_total_items"], 8);
    assert_eq!(cf["_embedded"]["custom_fields"][0]["code"], "PHONE");
    assert_eq!(
        cf["_embedded"]["custom_fields"][0]["enums"][2]["code"],
        "MOB"
    );
}
