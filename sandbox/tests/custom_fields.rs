//! `POST /api/v4/{entity}/custom_fields` on the fresh-account seed (§7.1): admin only, 201,
//! strict validation, and the new fields readable and writable by code at once.

mod common;

use common::{errors, Env};
use sandbox::{SandboxConfig, Seed};
use serde_json::json;

fn fresh() -> Env {
    Env::with(SandboxConfig {
        seed: Seed::fresh(),
        ..SandboxConfig::default()
    })
}

#[test]
fn the_fresh_account_has_one_russian_pipeline_two_users_and_standard_fields_only() {
    let env = fresh();
    let p = env.get("/api/v4/leads/pipelines").json();
    let pipelines = p["_embedded"]["pipelines"].as_array().unwrap();
    assert_eq!(pipelines.len(), 1);
    assert_eq!(pipelines[0]["name"], "Воронка");
    assert_eq!(env.get("/api/v4/users").json()["_total_items"], 2);
    assert_eq!(env.get("/api/v4/leads/custom_fields").status, 204);
    let cf = env.get("/api/v4/contacts/custom_fields").json();
    let codes: Vec<&str> = cf["_embedded"]["custom_fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert_eq!(codes, ["PHONE", "EMAIL", "POSITION"]);
}

#[test]
fn fields_are_created_with_codes_and_options_and_used_at_once() {
    let env = fresh();
    let r = env.post(
        "/api/v4/leads/custom_fields",
        json!([
            {"name": "BILLmanager service id", "type": "numeric", "code": "BM_SERVICE_ID",
             "sort": 510, "is_api_only": true},
            {"name": "Status", "type": "select",
             "enums": [{"value": "active", "sort": 1}, {"value": "suspended", "sort": 2}]},
        ]),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let made = r.json();
    assert_eq!(made["_total_items"], 2);
    let status = &made["_embedded"]["custom_fields"][1];
    assert!(status["enums"][1]["id"].as_i64().unwrap() > 0);
    let listed = env.get("/api/v4/leads/custom_fields").json();
    let bm = listed["_embedded"]["custom_fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "BM_SERVICE_ID")
        .expect("listed by code")
        .clone();
    assert_eq!(bm["is_api_only"], true);
    let lead = env.post(
        "/api/v4/leads",
        json!([{"name": "x", "custom_fields_values": [
            {"field_code": "BM_SERVICE_ID", "values": [{"value": "401"}]},
            {"field_id": status["id"], "values": [{"value": "suspended"}]},
        ]}]),
    );
    assert_eq!(lead.status, 200, "{}", lead.body);
}

#[test]
fn bad_definitions_are_rejected_whole_with_paths() {
    let env = fresh();
    let r = env.post(
        "/api/v4/leads/custom_fields",
        json!([
            {"name": "ok", "type": "text"},
            {"type": "select"},
            {"name": "Phones", "type": "multitext"},
            {"name": "Kind", "type": "text", "enums": [{"value": "a"}]},
            {"name": "Lower", "type": "text", "code": "bm_id"},
        ]),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    let errs = errors(&r);
    for want in [
        ("MissingField", "name"),
        ("MissingField", "enums"),
        ("NotSupportedChoice", "type"),
        ("FieldNotExpected", "enums"),
        ("NotSupportedChoice", "code"),
    ] {
        assert!(
            errs.contains(&(want.0.to_string(), want.1.to_string())),
            "{want:?} in {errs:?}"
        );
    }
    assert_eq!(
        env.get("/api/v4/leads/custom_fields").status,
        204,
        "nothing created"
    );
    // A code the entity already has is refused; the same code on another entity is fine.
    let dup = env.post(
        "/api/v4/contacts/custom_fields",
        json!([{"name": "Phone 2", "type": "text", "code": "PHONE"}]),
    );
    assert_eq!(dup.status, 400, "{}", dup.body);
    let other = env.post(
        "/api/v4/leads/custom_fields",
        json!([{"name": "Phone 2", "type": "text", "code": "PHONE"}]),
    );
    assert_eq!(other.status, 201, "{}", other.body);
}

#[test]
fn only_an_administrator_may_add_fields() {
    let mut seed = Seed::fresh();
    seed.account.current_user_id = 8100002;
    let env = Env::with(SandboxConfig {
        seed,
        ..SandboxConfig::default()
    });
    let r = env.post(
        "/api/v4/leads/custom_fields",
        json!([{"name": "x", "type": "text"}]),
    );
    assert_eq!(r.status, 403, "{}", r.body);
}
