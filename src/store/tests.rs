use super::*;
use crate::secret::Secret;

fn tokens(access: &str, refresh: &str) -> TokenRecord {
    TokenRecord {
        access_token: Secret::new(access),
        refresh_token: Some(Secret::new(refresh)),
        expires_at: 100,
        base_url: "http://127.0.0.1:1".into(),
        account_id: None,
        account_name: None,
        subdomain: None,
        generation: 0,
    }
}

#[test]
fn migrations_reach_latest_and_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let s = Store::open(&path).unwrap();
    assert_eq!(
        s.schema_version().unwrap() as usize,
        Store::latest_schema_version()
    );
    drop(s);
    let s = Store::open(&path).unwrap();
    assert_eq!(
        s.schema_version().unwrap() as usize,
        Store::latest_schema_version()
    );
}

#[cfg(unix)]
#[test]
fn store_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/s.db");
    Store::open(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn token_rotation_bumps_generation() {
    let s = Store::open_in_memory().unwrap();
    assert!(s.tokens().unwrap().is_none());
    assert_eq!(
        s.save_tokens(&tokens("access-aaaa", "refresh-aaaa"))
            .unwrap(),
        1
    );
    assert_eq!(
        s.save_tokens(&tokens("access-bbbb", "refresh-bbbb"))
            .unwrap(),
        2
    );
    let t = s.tokens().unwrap().unwrap();
    assert_eq!(t.refresh_token.unwrap().expose(), "refresh-bbbb");
    assert_eq!(t.generation, 2);
}

fn binding(kind: &str, bm: &str, amo: i64) -> Binding {
    Binding {
        kind: kind.into(),
        bm_id: bm.into(),
        amo_id: amo,
        payload_hash: "h".into(),
        synced_at: 1,
    }
}

#[test]
fn bindings_are_one_to_one_and_aliases_resolve() {
    let s = Store::open_in_memory().unwrap();
    s.put_binding(&binding("lead", "service:1", 900)).unwrap();
    s.put_alias("lead", "service:2", "service:1", "re-order within 90 days")
        .unwrap();
    assert_eq!(s.binding("lead", "service:2").unwrap().unwrap().amo_id, 900);
    // Rebinding the same amoCRM entity to another key turns the old key into an alias.
    s.put_binding(&binding("lead", "service:3", 900)).unwrap();
    assert_eq!(s.bindings(Some("lead")).unwrap().len(), 1);
    assert_eq!(
        s.binding("lead", "service:1").unwrap().unwrap().bm_id,
        "service:3"
    );
    assert!(s.forget_binding("lead", "service:3").unwrap());
    assert!(s.binding("lead", "service:1").unwrap().is_none());
}

#[test]
fn outbox_dedups_backs_off_and_parks() {
    let s = Store::open_in_memory().unwrap();
    s.enqueue("lead", "42", "vds.order").unwrap();
    s.enqueue("lead", "42", "payment.add").unwrap();
    assert_eq!(s.due_items(10).unwrap().len(), 1);
    s.outbox_failed("lead", "42", "boom", false, 3).unwrap();
    assert!(
        s.due_items(10).unwrap().is_empty(),
        "backoff must delay the retry"
    );
    s.outbox_failed("lead", "42", "boom", false, 3).unwrap();
    s.outbox_failed("lead", "42", "boom again", false, 3)
        .unwrap();
    let all = s.outbox_items().unwrap();
    assert!(all[0].parked);
    assert_eq!(all[0].last_error.as_deref(), Some("boom again"));
    assert_eq!(s.outbox_retry_all().unwrap(), 1);
    let due = s.due_items(10).unwrap();
    assert_eq!(due.len(), 1);
    s.outbox_done(&due[0]).unwrap();
    assert!(s.outbox_items().unwrap().is_empty());
}

#[test]
fn journal_and_cache_round_trip() {
    let s = Store::open_in_memory().unwrap();
    let id = s.start_run("sync").unwrap();
    s.finish_run(id, 0, "{}").unwrap();
    assert_eq!(s.recent_runs(5).unwrap()[0].exit_code, Some(0));
    s.cache_put("pipelines", "Sales", "3177727").unwrap();
    assert_eq!(
        s.cache_get("pipelines", "Sales", 60).unwrap().as_deref(),
        Some("3177727")
    );
}

/// How SQLite would run `sql` (its `EXPLAIN QUERY PLAN` lines).
fn plan(s: &Store, sql: &str, params: usize) -> String {
    let mut stmt = s
        .conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap();
    let nulls = vec![rusqlite::types::Null; params];
    let rows = stmt
        .query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))
        .unwrap();
    rows.map(|r| r.unwrap()).collect::<Vec<_>>().join("; ")
}

#[test]
fn lookups_by_alias_target_and_by_call_use_an_index_not_a_walk() {
    let s = Store::open_in_memory().unwrap();
    // Every company a backfill plans asks for the payers aliased to it: without the index
    // this walked every alias of the kind, once per company.
    let aliases = plan(&s, bindings::ALIASES_TO, 2);
    assert!(
        aliases.contains("aliases_by_target (kind=? AND target_id=?)"),
        "{aliases}"
    );
    let forget = plan(&s, bindings::FORGET_ALIASES_TO, 2);
    assert!(
        forget.contains("aliases_by_target (kind=? AND target_id=?)"),
        "{forget}"
    );
    let keys = plan(&s, "DELETE FROM call_keys WHERE call = ?1", 1);
    assert!(keys.contains("call_keys_by_call (call=?)"), "{keys}");

    s.put_alias("company", "payer:2", "payer:1", "same INN")
        .unwrap();
    s.put_alias("company", "payer:3", "payer:1", "same INN")
        .unwrap();
    s.put_alias("company", "payer:5", "payer:4", "same INN")
        .unwrap();
    assert_eq!(
        s.aliases_to("company", "payer:1").unwrap(),
        ["payer:2", "payer:3"]
    );
    s.put_binding(&binding("company", "payer:1", 77)).unwrap();
    assert!(s.forget_binding("company", "payer:1").unwrap());
    assert!(s.aliases_to("company", "payer:1").unwrap().is_empty());
    assert_eq!(s.aliases_to("company", "payer:4").unwrap(), ["payer:5"]);
}
