//! Links, tags dictionaries, tasks, notes, calls, complex create and custom-field paging.

mod common;

use common::{errors, Env};
use sandbox::{FieldType, SandboxConfig, Seed, SeedField};
use serde_json::json;

#[test]
fn links_and_cardinality() {
    let env = Env::new();
    let lead = env.sb.insert("leads", json!({"name": "L"}));
    let c1 = env.sb.insert("contacts", json!({"name": "C1"}));
    let c2 = env.sb.insert("contacts", json!({"name": "C2"}));
    let co1 = env.sb.insert("companies", json!({"name": "Co1"}));
    let co2 = env.sb.insert("companies", json!({"name": "Co2"}));
    let r = env.post(
        &format!("/api/v4/leads/{lead}/link"),
        json!([
            {"to_entity_id": c1, "to_entity_type": "contacts"},
            {"to_entity_id": c2, "to_entity_type": "contacts", "metadata": {"is_main": true}},
            {"to_entity_id": co1, "to_entity_type": "companies"}
        ]),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["_embedded"]["links"][1]["metadata"]["main_contact"],
        true
    );
    env.post(
        "/api/v4/leads/link",
        json!([{"entity_id": lead, "to_entity_id": co2, "to_entity_type": "companies"}]),
    );
    let links = env.get(&format!("/api/v4/leads/{lead}/links")).json();
    let all = links["_embedded"]["links"].as_array().unwrap().clone();
    assert_eq!(all.len(), 3, "second company replaced the first: {all:?}");
    let main: Vec<_> = all
        .iter()
        .filter(|l| l["metadata"]["main_contact"] == true)
        .collect();
    assert_eq!(main[0]["to_entity_id"], c2);
    let bad = env.post(&format!("/api/v4/leads/{lead}/link"), json!([{"to_entity_id": 5, "to_entity_type": "contacts", "metadata": {"updated_by": 504144}}]));
    let errs = errors(&bad);
    assert!(errs.contains(&("NotSupportedChoice".into(), "to_entity_id".into())));
    assert!(errs.contains(&("NotSupportedChoice".into(), "metadata.updated_by".into())));
    let un = env.post(
        &format!("/api/v4/leads/{lead}/unlink"),
        json!([{"to_entity_id": c1, "to_entity_type": "contacts"}]),
    );
    assert_eq!((un.status, un.body.as_str()), (204, ""));
    let bulk = env
        .get(&format!("/api/v4/contacts/links?filter[entity_id][]={c2}"))
        .json();
    assert_eq!(bulk["_embedded"]["links"][0]["to_entity_id"], lead);
    let contact = env.get(&format!("/api/v4/contacts/{c2}?with=leads")).json();
    assert_eq!(contact["_embedded"]["leads"][0]["id"], lead);
}

#[test]
fn tag_dictionaries_are_per_entity() {
    let env = Env::new();
    let a = env
        .post(
            "/api/v4/leads/tags",
            json!([{"name": "vip", "color": "DDEBB5"}]),
        )
        .json();
    let b = env
        .post(
            "/api/v4/leads/tags",
            json!([{"name": "VIP", "request_id": "x"}]),
        )
        .json();
    assert_eq!(
        a["_embedded"]["tags"][0]["id"],
        b["_embedded"]["tags"][0]["id"]
    );
    assert_eq!(b["_embedded"]["tags"][0]["request_id"], "x");
    let c = env
        .post("/api/v4/contacts/tags", json!([{"name": "vip"}]))
        .json();
    assert_ne!(
        a["_embedded"]["tags"][0]["id"],
        c["_embedded"]["tags"][0]["id"]
    );
    assert_eq!(
        env.get("/api/v4/leads/tags?filter[name]=vip").json()["_embedded"]["tags"][0]["color"],
        "DDEBB5"
    );
    assert_eq!(env.get("/api/v4/companies/tags").status, 204);
}

#[test]
fn tasks_and_notes() {
    let env = Env::new();
    let lead = env.sb.insert("leads", json!({"name": "L"}));
    let missing = env.post(
        "/api/v4/tasks",
        json!([{"entity_id": lead, "entity_type": "leads", "responsible_user_id": 999}]),
    );
    let errs = errors(&missing);
    for (code, path) in [
        ("MissingField", "text"),
        ("MissingField", "complete_till"),
        ("NotSupportedChoice", "responsible_user_id"),
    ] {
        assert!(errs.contains(&(code.into(), path.into())), "{errs:?}");
    }
    let r = env.post("/api/v4/tasks", json!([{"text": "Call the client", "complete_till": 1_900_000_000, "entity_id": lead, "entity_type": "leads", "request_id": "t1"}]));
    assert_eq!(r.status, 200, "{}", r.body);
    let tid = r.json()["_embedded"]["tasks"][0]["id"].as_i64().unwrap();
    let t = env.get(&format!("/api/v4/tasks/{tid}")).json();
    assert_eq!(
        (t["responsible_user_id"].as_i64(), t["result"].clone()),
        (Some(504141), json!([]))
    );
    assert_eq!(
        env.get(&format!("/api/v4/leads/{lead}")).json()["closest_task_at"],
        1_900_000_000
    );
    let done = env.patch(
        &format!("/api/v4/tasks/{tid}"),
        json!({"is_completed": true, "result": {"text": "Paid"}}),
    );
    assert_eq!(done.status, 200, "{}", done.body);
    let open = env.get(&format!(
        "/api/v4/tasks?filter[entity_type]=leads&filter[entity_id][]={lead}&filter[is_completed]=0"
    ));
    assert_eq!(open.status, 204);
    assert_eq!(
        env.get("/api/v4/events?filter[type]=task_completed").json()["_embedded"]["events"][0]
            ["entity_id"],
        tid
    );

    let n = env.post("/api/v4/leads/notes", json!([{"entity_id": lead, "note_type": "service_message", "params": {"service": "BILLmanager", "text": "Paid"}}]));
    assert_eq!(n.status, 200, "{}", n.body);
    env.post(
        &format!("/api/v4/leads/{lead}/notes"),
        json!([{"note_type": "common", "params": {"text": "hi"}}]),
    );
    let nulls = env.post(&format!("/api/v4/leads/{lead}/notes"), json!([{"note_type": "call_in", "params": {"uniq": "u", "duration": 5, "source": "pbx", "phone": "1", "link": null}}]));
    assert!(errors(&nulls).contains(&("NotNullable".into(), "params.link".into())));
    let list = env
        .get(&format!(
            "/api/v4/leads/{lead}/notes?filter[note_type]=common"
        ))
        .json();
    assert_eq!(list["_embedded"]["notes"].as_array().unwrap().len(), 1);
    assert_eq!(env.sb.entities("notes")[0]["entity_type"], "leads");
}

#[test]
fn calls_attach_by_last_ten_digits() {
    let env = Env::new();
    let phone = |p: &str| json!({"name": "Caller", "custom_fields_values": [{"field_code": "PHONE", "values": [{"value": p, "enum_code": "WORK"}]}]});
    let contact = env.sb.insert("contacts", phone("8 (916) 555-11-22"));
    let call = |p: &str| json!({"direction": "inbound", "duration": 30, "source": "pbx", "phone": p, "uniq": "c-1"});
    let r = env.post("/api/v4/calls", json!([call("+79165551122")]));
    assert_eq!(r.status, 200, "{}", r.body);
    let c = &r.json()["_embedded"]["calls"][0];
    assert_eq!(
        (c["entity_type"].as_str(), c["entity_id"].as_i64()),
        (Some("contact"), Some(contact))
    );
    let lead = env.sb.insert(
        "leads",
        json!({"name": "Active", "_embedded": {"contacts": [{"id": contact}]}}),
    );
    let r = env.post(
        "/api/v4/calls",
        json!([call("9165551122"), call("+70000000000")]),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["_embedded"]["calls"][0]["entity_type"], "lead");
    assert_eq!(v["_embedded"]["calls"][0]["entity_id"], lead);
    assert_eq!(v["errors"][0]["title"], "Entity not found");
    assert_eq!(v["errors"][0]["request_id"], "1");
    let all_bad = env.post("/api/v4/calls", json!([call("+70000000000")]));
    assert_eq!(all_bad.status, 400);
    let nulls = env.post("/api/v4/calls", json!([{"direction": "inbound", "duration": 1, "source": "x", "phone": "1", "call_status": null}]));
    assert!(errors(&nulls).contains(&("NotNullable".into(), "call_status".into())));
    assert_eq!(
        env.sb.entities("calls").len(),
        2,
        "same uniq twice, no dedup"
    );
    assert_eq!(
        env.get(&format!("/api/v4/leads/{lead}/notes")).json()["_embedded"]["notes"][0]
            ["note_type"],
        "call_in"
    );
}

#[test]
fn complex_create() {
    let env = Env::new();
    let r = env.post("/api/v4/leads/complex", json!([{
        "name": "Order #5532", "price": 2990,
        "_embedded": {
            "contacts": [{"first_name": "Olga", "custom_fields_values": [{"field_code": "PHONE", "values": [{"value": "+79031112233", "enum_code": "WORK"}]}]}],
            "companies": [{"name": "Romashka LLC"}],
            "tags": [{"name": "billmanager"}]
        },
        "request_id": "bm-order-5532"
    }]));
    assert_eq!(r.status, 200, "{}", r.body);
    let item = &r.json()[0];
    assert_eq!(item["request_id"], json!(["bm-order-5532"]));
    assert_eq!(item["merged"], false);
    let contact = item["contact_id"].as_i64().unwrap();
    let lead = env
        .get(&format!("/api/v4/leads/{}?with=contacts", item["id"]))
        .json();
    assert_eq!(lead["_embedded"]["contacts"][0]["id"], contact);
    assert_eq!(lead["_embedded"]["companies"][0]["id"], item["company_id"]);
    let c = env.get(&format!("/api/v4/contacts/{contact}")).json();
    assert_eq!(c["_embedded"]["companies"][0]["id"], item["company_id"]);
    let two = env.post(
        "/api/v4/leads/complex",
        json!([{"_embedded": {"contacts": [{"name": "a"}, {"name": "b"}]}}]),
    );
    assert!(errors(&two).contains(&("InvalidCount".into(), "_embedded.contacts".into())));
    let many: Vec<_> = (0..51).map(|_| json!({"name": "x"})).collect();
    assert_eq!(env.post("/api/v4/leads/complex", json!(many)).status, 422);
}

#[test]
fn custom_fields_come_fifty_per_page() {
    let mut seed = Seed::default();
    for i in 0..60 {
        seed.custom_fields.leads.push(SeedField {
            id: 900_000 + i,
            name: format!("f{i}"),
            field_type: FieldType::Text,
            sort: 1000 + i,
            ..SeedField::default()
        });
    }
    let env = Env::with(SandboxConfig {
        rate_limit_rps: 0,
        seed,
        ..SandboxConfig::default()
    });
    let p1 = env.get("/api/v4/leads/custom_fields?limit=250").json();
    assert_eq!(
        p1["_embedded"]["custom_fields"].as_array().unwrap().len(),
        50
    );
    assert_eq!(p1["_total_items"], 70);
    assert_eq!(p1["_page_count"], 2);
    let next = p1["_links"]["next"]["href"]
        .as_str()
        .unwrap()
        .trim_start_matches(&env.base)
        .to_string();
    let p2 = env.get(&next).json();
    assert_eq!(
        p2["_embedded"]["custom_fields"].as_array().unwrap().len(),
        20
    );
    assert!(p2["_links"].get("next").is_none());
    let json_seed = serde_json::to_string(&Seed::default()).unwrap();
    let back: Seed = serde_json::from_str(&json_seed).unwrap();
    assert_eq!(back.pipelines.len(), 2);
    let partial: Seed = serde_json::from_str(r#"{"account": {"name": "Other"}}"#).unwrap();
    assert_eq!((partial.account.id, partial.users.len()), (30011223, 4));
}
