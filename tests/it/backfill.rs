//! `backfill`: batching boundaries, rejected items, interruption and resume, re-runs.

use std::path::Path;

use fakebill::generate::{write, Spec};
use sandbox::SandboxConfig;
use serde_json::Value;

use crate::support::{run, World};

fn dataset(dir: &Path, clients: usize, services: usize) -> Spec {
    let spec = Spec {
        clients,
        extra_user_every: 0,
        payer_every: 0,
        shared_inn_every: 0,
        services,
        date: "2025-06-01".into(),
    };
    write(dir, &spec).unwrap();
    spec
}

fn posts(w: &World, path: &str) -> u64 {
    w.sandbox
        .stats()
        .by_route
        .get(&format!("POST {path}"))
        .copied()
        .unwrap_or(0)
}

fn backfill_json(w: &World) -> (i32, Value, String) {
    let (rc, out, err) = run(w
        .cmd()
        .args(["backfill", "--since", "2025-01-01", "--json"]));
    let v = serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("not JSON: {out}\n{err}"));
    (rc, v, err)
}

#[test]
fn batching_boundaries_make_one_write_per_batch() {
    // (services, batch size, expected lead POSTs)
    for (n, batch, want) in [
        (0usize, 50usize, 0u64),
        (1, 50, 1),
        (50, 50, 1),
        (51, 50, 2),
        (250, 250, 1),
        (251, 250, 2),
    ] {
        let data = tempfile::tempdir().unwrap();
        dataset(data.path(), n.max(1), n);
        let w = World::with_data(SandboxConfig::default(), data.path(), |r| {
            r.replace("batch_size = 250", &format!("batch_size = {batch}"))
        });
        w.authorize();
        let (rc, v, err) = backfill_json(&w);
        assert_eq!(rc, 0, "{v}{err}");
        assert_eq!(w.sandbox.entities("leads").len(), n, "n={n}");
        assert_eq!(
            posts(&w, "/api/v4/leads"),
            want,
            "lead POSTs for n={n} batch={batch}"
        );
        assert_eq!(
            v["counts"]["lead"]["created"].as_u64().unwrap_or(0),
            n as u64
        );
        assert_eq!(v["requests"]["status_429"], 0, "a normal run sees no 429");
    }
}

#[test]
fn rerun_of_an_unchanged_backfill_writes_nothing() {
    let data = tempfile::tempdir().unwrap();
    // Extra users, payers and payers sharing an INN, as in the benchmark.
    write(data.path(), &Spec::proportional(30, 40)).unwrap();
    let w = World::with_data(SandboxConfig::default(), data.path(), |r| r);
    w.authorize();
    assert_eq!(backfill_json(&w).0, 0);
    let before = w.sandbox.stats().writes;
    let (rc, v, _) = backfill_json(&w);
    assert_eq!(rc, 0);
    assert_eq!(
        w.sandbox.stats().writes,
        before,
        "second run wrote: {v}\n{:?}",
        w.sandbox.stats().by_route
    );
    assert_eq!(v["counts"]["lead"]["unchanged"], 40);
}

#[test]
fn one_rejected_item_does_not_stop_the_batch_and_is_queued_with_its_path() {
    let data = tempfile::tempdir().unwrap();
    // 8 clients with 2 services each: products VPS-1 then VPS-2 per client.
    dataset(data.path(), 8, 16);
    let w = World::with_data(SandboxConfig::default(), data.path(), |r| r);
    w.authorize();
    // Cache dictionaries, then make the "VPS-2" option stale so amoCRM rejects those leads.
    assert_eq!(
        run(w
            .cmd()
            .args(["backfill", "--since", "2025-01-01", "--entity", "contact"]))
        .0,
        0
    );
    w.make_lead_option_stale("VPS-2");
    let conn = rusqlite::Connection::open(w.store()).unwrap();
    let (rc, v, err) = backfill_json(&w);
    assert_eq!(rc, 1, "partial: {v}{err}");
    assert_eq!(v["counts"]["lead"]["created"], 8, "{v}");
    assert_eq!(v["counts"]["lead"]["failed"], 8, "{v}");
    assert_eq!(w.sandbox.entities("leads").len(), 8);
    let failure = v["failures"][0]["error"].as_str().unwrap();
    assert!(
        failure.contains("custom_fields_values.") && failure.contains("NotSupportedChoice"),
        "{failure}"
    );
    let queued: i64 = conn
        .query_row("SELECT COUNT(*) FROM outbox WHERE kind = 'lead'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(queued, 8, "every rejected lead is queued");
}

#[test]
fn interrupted_backfill_resumes_without_duplicates() {
    let data = tempfile::tempdir().unwrap();
    let spec = Spec {
        clients: 120,
        extra_user_every: 4,
        payer_every: 3,
        shared_inn_every: 5,
        services: 150,
        date: "2025-06-01".into(),
    };
    write(data.path(), &spec).unwrap();
    let w = World::with_data(SandboxConfig::default(), data.path(), |r| {
        r.replace("batch_size = 250", "batch_size = 20")
    });
    w.authorize();
    // Kill -9 at named points (docs/reliability.md), each a run further in: a chunk of
    // services read and not planned, a lead created and not bound further on, then a later
    // chunk read (the panel is read in order, and again by every run). Then let it finish.
    for point in [
        "read-before-planned@service:700060",
        "created-before-binding@service:700100",
        "read-before-planned@service:700140",
    ] {
        let (rc, out, err) = run(w.cmd().env(amocrm_bin::crash::ENV, point).args([
            "backfill",
            "--since",
            "2025-01-01",
        ]));
        assert_eq!(rc, -1, "{point}: killed by a signal: {out}{err}");
        let name = point.split('@').next().unwrap();
        assert!(err.contains(name), "{point}: {err}");
    }
    let (rc, v, err) = backfill_json(&w);
    assert_eq!(rc, 0, "{v}{err}");
    assert_eq!(
        w.sandbox.entities("contacts").len(),
        spec.users(),
        "no duplicate contacts"
    );
    assert_eq!(
        w.sandbox.entities("companies").len(),
        spec.companies(),
        "no duplicate companies"
    );
    assert_eq!(
        w.sandbox.entities("leads").len(),
        spec.services,
        "no duplicate or lost leads"
    );
    assert_eq!(
        backfill_json(&w).1["counts"]["lead"]["unchanged"].as_u64(),
        Some(spec.services as u64)
    );
}

#[test]
fn second_backfill_is_refused_with_exit_6_while_one_runs() {
    let data = tempfile::tempdir().unwrap();
    dataset(data.path(), 60, 60);
    let w = World::with_data(SandboxConfig::default(), data.path(), |r| r);
    w.authorize();
    w.sandbox.set_latency_ms(100);
    let mut first = w.spawn(&["backfill", "--since", "2025-01-01"]);
    // Observed, not waited out: the first names itself in the run lock file once it holds
    // the lock (and, 120 entities at 100 ms a request, keeps it for seconds). Read, not
    // probed with a lock of our own, which the first could run into.
    let lock = amocrm_bin::lock::lock_path(&w.store(), amocrm_bin::lock::LockKind::Run);
    let holder = format!("pid {} backfill", first.id());
    let start = std::time::Instant::now();
    while !std::fs::read_to_string(&lock).is_ok_and(|s| s.contains(&holder)) {
        assert!(
            start.elapsed().as_secs() < 30,
            "the first backfill never took the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let (rc, _, err) = run(w.cmd().args(["backfill", "--since", "2025-01-01"]));
    assert_eq!(rc, 6, "{err}");
    assert!(err.contains("another run holds the lock"), "{err}");
    assert!(first.wait().unwrap().success());
}

#[test]
fn backfill_beside_hooks_and_syncs_keeps_the_pace_and_duplicates_nothing() {
    let data = tempfile::tempdir().unwrap();
    let spec = Spec {
        clients: 40,
        extra_user_every: 3,
        payer_every: 2,
        shared_inn_every: 4,
        services: 60,
        date: "2025-06-01".into(),
    };
    write(data.path(), &spec).unwrap();
    let w = World::paced_with_data(SandboxConfig::default(), data.path(), |r| {
        r.replace("batch_size = 250", "batch_size = 10")
    });
    w.authorize();
    w.sandbox.set_latency_ms(20);
    w.sandbox.reset_stats();
    std::thread::scope(|s| {
        let w = &w;
        s.spawn(move || {
            let (rc, out, err) = run(w.cmd().args(["backfill", "--since", "2025-01-01"]));
            assert_eq!(rc, 0, "{out}{err}");
        });
        // The panel fires hooks (each starts a detached drain) and an operator syncs by hand.
        for n in 0..6 {
            s.spawn(move || {
                let id = (700_001 + n * 7).to_string();
                let out = w
                    .cmd()
                    .env("PARAM_func", "service.postopen")
                    .env("PARAM_elid", &id)
                    .env("EVENT_TYPE", "after")
                    .write_stdin("<doc/>")
                    .output()
                    .unwrap();
                assert!(out.status.success());
            });
        }
        for n in 0..3 {
            s.spawn(move || {
                let id = (700_030 + n).to_string();
                let (rc, out, err) = run(w.cmd().args(["sync", "--entity", "lead", "--elid", &id]));
                assert_eq!(rc, 0, "{out}{err}");
            });
        }
    });
    // Let the detached drains finish, then drain whatever is left.
    let start = std::time::Instant::now();
    while amocrm_bin::lock::run_lock_holder(&w.store()).is_some() && start.elapsed().as_secs() < 60
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (rc, out, err) = run(w.cmd().arg("drain"));
    assert_eq!(rc, 0, "{out}{err}");
    let stats = w.sandbox.stats();
    assert_eq!(
        stats.status_429, 0,
        "no 429 in a normal run, even with neighbours"
    );
    assert!(
        stats.max_per_second <= 7,
        "max {} requests in one second",
        stats.max_per_second
    );
    assert_eq!(
        w.sandbox.entities("contacts").len(),
        spec.users(),
        "no duplicate contacts"
    );
    assert_eq!(
        w.sandbox.entities("companies").len(),
        spec.companies(),
        "no duplicate companies"
    );
    assert_eq!(
        w.sandbox.entities("leads").len(),
        spec.services,
        "every service has exactly one lead"
    );
}

#[test]
fn backfill_pushes_hook_events_queued_while_it_ran() {
    let w = World::new();
    w.authorize();
    // A hook fired while a backfill held the lock: its event is queued, its own drain did not run.
    let out = w
        .cmd()
        .env("PARAM_func", "service.postopen")
        .env("PARAM_elid", "404")
        .env("EVENT_TYPE", "after")
        .env("AMOCRM_BIN_HOOK_NO_DRAIN", "1")
        .write_stdin("<doc/>")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(w.sandbox.entities("leads").is_empty());
    let (rc, out, err) = run(w.cmd().args(["backfill", "--since", "2026-06-01"]));
    assert_eq!(rc, 0, "{out}{err}");
    let start = std::time::Instant::now();
    while w.sandbox.entities("leads").is_empty() && start.elapsed().as_secs() < 30 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        w.sandbox.entities("leads").len(),
        1,
        "the queued event was pushed after the backfill"
    );
}

/// Sets a service's status in the panel data (`4` = deleted).
fn set_service_status(items: &Path, id: &str, status: &str) {
    let text = std::fs::read_to_string(items).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    let list = v["doc"]["elem"].as_array_mut().expect("item list");
    let item = list
        .iter_mut()
        .find(|e| e["id"]["$"] == id)
        .unwrap_or_else(|| panic!("service {id}"));
    item["status"]["$"] = Value::from(status);
    std::fs::write(items, serde_json::to_string(&v).unwrap()).unwrap();
}

/// Re-orders of the same product join the first order's lead (`new_purchase_timeout_days`).
/// The first service owns the lead (its name, its fields, its stage); a joined service never
/// writes to it, so a deleted re-order cannot close a paying client's lead, and re-runs with
/// nothing changed cost no write and no per-lead read.
#[test]
fn joined_services_never_rewrite_or_close_the_lead_and_reruns_settle_at_zero() {
    let data = tempfile::tempdir().unwrap();
    // 10 clients, 50 services: services 40..49 re-order the product of services 0..9.
    dataset(data.path(), 10, 50);
    // One re-order was deleted (client 1's second VPS-1).
    let items = data.path().join("item.json");
    set_service_status(&items, "700042", "4");

    let w = World::with_data(SandboxConfig::default(), data.path(), |r| r);
    w.authorize();
    let (rc, v, err) = backfill_json(&w);
    assert_eq!(rc, 0, "{v}{err}");
    assert_eq!(v["counts"]["lead"]["joined"], 10, "{v}");
    assert_eq!(w.sandbox.entities("leads").len(), 40);
    // The lead service 700042 joined (client 1's first VPS-1, service 700002) stays open and
    // keeps its owner's name.
    let owner = w
        .sandbox
        .entities("leads")
        .into_iter()
        .find(|l| l["name"].as_str().is_some_and(|n| n.contains("700002")))
        .unwrap_or_else(|| panic!("no lead named after 700002"));
    assert_ne!(owner["status_id"], 143, "{owner}");

    for run in 2..=10 {
        let before = w.sandbox.stats();
        let (rc, v, err) = backfill_json(&w);
        assert_eq!(rc, 0, "run {run}: {v}{err}");
        let after = w.sandbox.stats();
        assert_eq!(
            after.writes - before.writes,
            0,
            "run {run} wrote: {:?}",
            after.by_route
        );
        let per_lead = |s: &sandbox::Stats| {
            s.by_route
                .get("GET /api/v4/leads/{id}")
                .copied()
                .unwrap_or(0)
        };
        assert_eq!(
            per_lead(&after),
            per_lead(&before),
            "run {run} read leads one by one: {:?}",
            after.by_route
        );
        assert_eq!(v["counts"]["lead"]["joined"], 10, "run {run}: {v}");
    }
    let lead = |id: &Value| {
        w.sandbox
            .entities("leads")
            .into_iter()
            .find(|l| &l["id"] == id)
            .unwrap()
    };
    let owner_now = lead(&owner["id"]);
    assert_eq!(owner_now["name"], owner["name"]);
    assert_ne!(owner_now["status_id"], 143);

    // Now the owner of another joined lead is deleted while its re-order (700043) lives on:
    // the lead follows the live service and stays open.
    let second = w
        .sandbox
        .entities("leads")
        .into_iter()
        .find(|l| l["name"].as_str().is_some_and(|n| n.contains("700003")))
        .unwrap();
    set_service_status(&items, "700003", "4");
    let (rc, v, err) = backfill_json(&w);
    assert_eq!(rc, 0, "{v}{err}");
    let second_now = lead(&second["id"]);
    assert_ne!(second_now["status_id"], 143, "{second_now}");
    assert_eq!(second_now["status_id"], second["status_id"], "{second_now}");
    assert_eq!(second_now["name"], second["name"]);
    // Whereas a lead whose only service is deleted closes as lost (the rule still works).
    set_service_status(&items, "700011", "4");
    let (rc, v, err) = backfill_json(&w);
    assert_eq!(rc, 0, "{v}{err}");
    let lone_lead = w
        .sandbox
        .entities("leads")
        .into_iter()
        .find(|l| l["name"].as_str().is_some_and(|n| n.contains("700011")))
        .unwrap();
    assert_eq!(lone_lead["status_id"], 143, "{lone_lead}");
}

/// Writes are planned across the 500-entity read chunks: every create request of a kind is
/// full except the last one.
#[test]
fn creates_fill_whole_requests_across_read_chunks() {
    let data = tempfile::tempdir().unwrap();
    // 600 clients and 600 services: two read chunks each (500 + 100).
    write(data.path(), &Spec::proportional(600, 600)).unwrap();
    let batch = 40usize;
    let w = World::with_data(SandboxConfig::default(), data.path(), |r| {
        r.replace("batch_size = 250", &format!("batch_size = {batch}"))
    });
    w.authorize();
    let (rc, v, err) = backfill_json(&w);
    assert_eq!(rc, 0, "{v}{err}");
    for kind in ["companies", "contacts", "leads"] {
        let n = w.sandbox.entities(kind).len();
        assert!(n > batch, "{kind}: {n}");
        assert_eq!(
            posts(&w, &format!("/api/v4/{kind}")) as usize,
            n.div_ceil(batch),
            "{kind}: {n} created; {:?}",
            w.sandbox.stats().by_route
        );
    }
}

/// With amoCRM slow to answer, several write requests are open at once
/// (`[amocrm] max_in_flight`), while the pacer still lets at most 7 start in any second.
#[test]
fn slow_answers_overlap_under_the_pacer_without_429() {
    let data = tempfile::tempdir().unwrap();
    write(data.path(), &Spec::proportional(200, 300)).unwrap();
    let cfg = SandboxConfig {
        latency_ms: 100,
        latency_per_entity_ms: 20,
        ..SandboxConfig::default()
    };
    let w = World::paced_with_data(cfg, data.path(), |r| {
        r.replace("batch_size = 250", "batch_size = 20")
    });
    w.authorize();
    let (rc, v, err) = backfill_json(&w);
    assert_eq!(rc, 0, "{v}{err}");
    let stats = w.sandbox.stats();
    assert_eq!(w.sandbox.entities("leads").len(), 300);
    assert_eq!(stats.status_429, 0, "{stats:?}");
    assert!(stats.max_per_second <= 7, "{stats:?}");
    // Each write takes half a second: one at a time would never have two open.
    assert!(stats.max_open >= 4, "{stats:?}");
}

/// `keep_client_manager` reads the managers of a client's existing contacts in pages by id
/// (`filter[id][]`), not one GET each; an account without the filter add-on (amoCRM then
/// ignores the filter and lists everything) is read one by one, with the same result.
#[test]
fn managers_of_existing_contacts_are_read_in_pages_by_id() {
    for filters in [true, false] {
        let data = tempfile::tempdir().unwrap();
        dataset(data.path(), 6, 0);
        let mut cfg = SandboxConfig::default();
        cfg.seed.account.is_api_filter_enabled = filters;
        let w = World::with_data(cfg, data.path(), |r| r);
        w.authorize();
        assert_eq!(backfill_json(&w).0, 0);
        let first: Vec<Value> = w.sandbox.entities("contacts");
        assert_eq!(first.len(), 6);
        // A manager takes the clients over in amoCRM: their contacts get a user outside the
        // round robin.
        let http = reqwest::blocking::Client::new();
        let token = w.sandbox.issue_access_token();
        let users: Value = http
            .get(format!("{}/api/v4/users", w.sandbox.base_url()))
            .bearer_auth(&token)
            .header(sandbox::BY_HAND, "1")
            .send()
            .unwrap()
            .json()
            .unwrap();
        let taken: Vec<&Value> = first.iter().map(|c| &c["responsible_user_id"]).collect();
        let other = users["_embedded"]["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].clone())
            .find(|id| !taken.contains(&id))
            .expect("a user outside the round robin");
        let patch: Vec<Value> = first
            .iter()
            .map(|c| serde_json::json!({"id": c["id"], "responsible_user_id": other}))
            .collect();
        w.patch_by_hand("contacts", patch);
        // Every client gets a second user: its contact goes to the client's manager, as
        // amoCRM holds it on the first contact.
        let users = data.path().join("user.json");
        let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&users).unwrap()).unwrap();
        let list = v["doc"]["elem"].as_array_mut().unwrap();
        let extra: Vec<Value> = list
            .iter()
            .map(|u| {
                let mut x = u.clone();
                let id = u["id"]["$"].as_str().unwrap().parse::<u64>().unwrap() + 100_000;
                x["id"]["$"] = Value::from(id.to_string());
                x["email"]["$"] = Value::from(format!("second{id}@bench.example"));
                x["phone"]["$"] = Value::from(format!("+7 901 {:03}-00-00", id % 1000));
                x["superuser"]["$"] = Value::from("off");
                x
            })
            .collect();
        list.extend(extra);
        std::fs::write(&users, serde_json::to_string(&v).unwrap()).unwrap();
        // A contact of somebody else (another manager's): an ignored filter lists it too.
        w.sandbox.insert(
            "contacts",
            serde_json::json!({"name": "Website visitor", "responsible_user_id": taken[0]}),
        );
        w.sandbox.reset_stats();
        let (rc, out, err) = backfill_json(&w);
        assert_eq!(rc, 0, "{out}{err}");
        let stats = w.sandbox.stats();
        let one_by_one = stats
            .by_route
            .get("GET /api/v4/contacts/{id}")
            .copied()
            .unwrap_or(0);
        if filters {
            assert_eq!(one_by_one, 0, "{:?}", stats.by_route);
        } else {
            assert_eq!(one_by_one, 6, "{:?} {out}", stats.by_route);
        }
        let all = w.sandbox.entities("contacts");
        assert_eq!(all.len(), 13);
        let theirs = all
            .iter()
            .filter(|c| c["name"] != "Website visitor" && c["responsible_user_id"] == other)
            .count();
        assert_eq!(theirs, 12, "filters={filters}: {all:?}");
    }
}
