//! No per-entity reads (issue 13): what a batch needs to know of bound amoCRM entities (an
//! update's current state, whether a returning client's earlier lead was lost, the lead of an
//! abandoned cart) is read in pages of up to 250 by id (`filter[id][]`), never one
//! `GET /api/v4/{entity}/{id}` each. Each test counts the sandbox's requests by route.

use fakebill::generate::{write, Spec};
use sandbox::{SandboxConfig, Stats};
use serde_json::{json, Value};

use crate::support::{edit_each_row, run, World};

/// Requests of one route (`GET /api/v4/leads/{id}`, `GET /api/v4/leads`, …).
fn count(stats: &Stats, route: &str) -> u64 {
    stats.by_route.get(route).copied().unwrap_or(0)
}

fn backfill(w: &World) -> Value {
    let (rc, out, err) = run(w
        .cmd()
        .args(["backfill", "--since", "2025-01-01", "--json"]));
    assert_eq!(rc, 0, "{out}{err}");
    serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("not JSON: {out}\n{err}"))
}

/// Appends to a text value of a row (`{"$": …}`).
fn append(row: &mut Value, key: &str, tail: &str) {
    let v = row[key]["$"].as_str().unwrap_or_default().to_string();
    row[key] = json!({ "$": format!("{v}{tail}") });
}

/// Every contact, company and lead changed in the panel: the next backfill reads the bound
/// entities it updates in pages by id (one list read per 250), not one GET each; and when
/// the account lacks the filter add-on (amoCRM then ignores `filter[id]` and lists
/// everything), one by one, with the same result.
#[test]
fn entities_changed_in_the_panel_are_read_in_pages_before_their_update() {
    for filters in [true, false] {
        // Enough for two pages of contacts when the filter works; a small set one by one.
        let clients = if filters { 300 } else { 20 };
        let data = tempfile::tempdir().unwrap();
        write(data.path(), &Spec::proportional(clients, clients)).unwrap();
        let mut cfg = SandboxConfig::default();
        cfg.seed.account.is_api_filter_enabled = filters;
        let w = World::with_data(cfg, data.path(), |r| r);
        w.authorize();
        backfill(&w);
        let ours = |kind: &str| {
            w.sandbox
                .entities(kind)
                .iter()
                .filter(|e| e["name"] != "Someone else's company")
                .count() as u64
        };
        let (contacts, companies, leads) = (ours("contacts"), ours("companies"), ours("leads"));
        assert!(contacts > 250 || !filters, "{contacts}");

        // The panel changes every user's name, every payer's name, every service's price.
        edit_each_row(data.path(), "user.json", |r| append(r, "realname", " Jr"));
        edit_each_row(data.path(), "profile.json", |r| append(r, "name", " Group"));
        edit_each_row(data.path(), "item.json", |r| {
            r["cost"] = json!({"$": "790.00"})
        });
        // Somebody else's company: an ignored filter lists it too, which tells us so.
        w.sandbox
            .insert("companies", json!({"name": "Someone else's company"}));
        w.sandbox.reset_stats();
        let v = backfill(&w);
        let stats = w.sandbox.stats();
        for (kind, total) in [
            ("contacts", contacts),
            ("companies", companies),
            ("leads", leads),
        ] {
            let one = count(&stats, &format!("GET /api/v4/{kind}/{{id}}"));
            let pages = count(&stats, &format!("GET /api/v4/{kind}"));
            if filters {
                assert_eq!(one, 0, "{kind} read one by one: {:?}", stats.by_route);
                // Planning waits for whole write requests, so a kind may be read in a
                // page more than the bare minimum, never in one per entity.
                assert!(
                    pages <= total.div_ceil(250) + 1,
                    "{kind}: {pages} list reads for {total}: {:?}",
                    stats.by_route
                );
            } else {
                assert_eq!(one, total, "{kind}: {:?}", stats.by_route);
            }
            assert!(
                count(&stats, &format!("PATCH /api/v4/{kind}")) > 0,
                "{kind} not updated: {v}"
            );
        }
        // The updates carry the panel's new values.
        let all = w.sandbox.entities("contacts");
        assert_eq!(all.len() as u64, contacts, "nothing created twice");
        let matching = |kind: &str, what: &dyn Fn(&Value) -> bool| {
            w.sandbox.entities(kind).iter().filter(|e| what(e)).count() as u64
        };
        let named = |tail: &'static str| {
            move |e: &Value| e["name"].as_str().is_some_and(|s| s.ends_with(tail))
        };
        assert_eq!(
            matching("contacts", &named(" Jr")),
            contacts,
            "filters={filters}"
        );
        assert_eq!(
            matching("leads", &|l| l["price"] == 790),
            leads,
            "filters={filters}"
        );
        assert_eq!(
            matching("companies", &named(" Group")),
            companies,
            "filters={filters}"
        );
    }
}

/// A returning client's earlier lead decides whether the new one is a "lost lead returns"
/// case: a backfill of many returning clients reads those earlier leads in pages by id.
#[test]
fn returning_clients_earlier_leads_are_read_in_pages() {
    let clients = 300;
    let data = tempfile::tempdir().unwrap();
    let spec = |services| Spec {
        clients,
        extra_user_every: 0,
        payer_every: 0,
        shared_inn_every: 0,
        services,
        date: "2025-06-01".into(),
    };
    write(data.path(), &spec(clients)).unwrap();
    let w = World::with_data(SandboxConfig::default(), data.path(), |r| r);
    w.authorize();
    backfill(&w);
    let first = w.sandbox.entities("leads");
    assert_eq!(first.len(), clients);
    // Managers close every lead as lost.
    w.patch_by_hand(
        "leads",
        first
            .iter()
            .map(|l| json!({"id": l["id"], "status_id": 143, "updated_by": 504142}))
            .collect(),
    );
    // Every client orders another product (the same generator, twice the services).
    write(data.path(), &spec(2 * clients)).unwrap();
    w.sandbox.reset_stats();
    let v = backfill(&w);
    let stats = w.sandbox.stats();
    assert_eq!(w.sandbox.entities("leads").len(), 2 * clients, "{v}");
    assert_eq!(
        count(&stats, "GET /api/v4/leads/{id}"),
        0,
        "earlier leads read one by one: {:?}",
        stats.by_route
    );
    // One walk of the leads for the lookup index (2 pages of 250) and the earlier leads in
    // a page per read chunk of services (500) that holds new ones (2).
    assert!(
        count(&stats, "GET /api/v4/leads") <= 4,
        "{:?}",
        stats.by_route
    );
    // And each was recognised: a task for the lost lead's manager.
    let back = w
        .sandbox
        .entities("tasks")
        .iter()
        .filter(|t| {
            t["text"]
                .as_str()
                .is_some_and(|s| s.starts_with("Returning client"))
        })
        .count();
    assert_eq!(back, clients, "{v}");
}

/// `nudge` over many abandoned carts and stuck trials reads their leads in pages by id, and
/// their open tasks together.
#[test]
fn nudge_reads_the_leads_of_carts_and_trials_in_pages() {
    let clients = 40;
    let data = tempfile::tempdir().unwrap();
    write(
        data.path(),
        &Spec {
            clients,
            extra_user_every: 0,
            payer_every: 0,
            shared_inn_every: 0,
            services: clients,
            date: "2025-06-01".into(),
        },
    )
    .unwrap();
    // Half the clients put an order in the cart and never paid; the other half only ever
    // had a trial (period -100), now months old.
    edit_each_row(data.path(), "item.json", |r| {
        let n: usize = r["id"]["$"].as_str().unwrap().parse().unwrap();
        if n - 700_001 < clients / 2 {
            r["status"] = json!({"$": "1"});
        } else {
            r["period"] = json!({"$": "-100"});
        }
    });
    let w = World::with_data(SandboxConfig::default(), data.path(), |r| r);
    w.authorize();
    backfill(&w);
    w.sandbox.reset_stats();
    let (rc, out, err) = run(w.cmd().args(["nudge", "--json"]));
    assert_eq!(rc, 0, "{out}{err}");
    let stats = w.sandbox.stats();
    assert_eq!(
        count(&stats, "GET /api/v4/leads/{id}"),
        0,
        "leads read one by one: {:?}",
        stats.by_route
    );
    assert_eq!(
        count(&stats, "GET /api/v4/leads"),
        1,
        "{:?}",
        stats.by_route
    );
    // Whether a warm-up task is open is asked for all trials at once, too.
    assert_eq!(
        count(&stats, "GET /api/v4/tasks"),
        1,
        "{:?}",
        stats.by_route
    );
    let tasks = w.sandbox.entities("tasks");
    let with = |word: &str| {
        tasks
            .iter()
            .filter(|t| t["text"].as_str().is_some_and(|s| s.contains(word)))
            .count()
    };
    assert_eq!(with("unpaid"), clients / 2, "{out}");
    assert_eq!(with("Trial of"), clients / 2, "{out}");
}

/// A run that lost its bindings (a store restored from an old copy, a crash before they were
/// written) finds what amoCRM already holds through the lookup index, and reads the entities
/// it adopts in pages by id, not one GET each; nothing is created twice.
#[test]
fn entities_amocrm_already_holds_are_adopted_from_pages() {
    let clients = 300;
    let data = tempfile::tempdir().unwrap();
    write(data.path(), &Spec::proportional(clients, clients)).unwrap();
    let w = World::with_data(SandboxConfig::default(), data.path(), |r| r);
    w.authorize();
    backfill(&w);
    let n = |kind: &str| w.sandbox.entities(kind).len() as u64;
    let before = [n("companies"), n("contacts"), n("leads")];
    let conn = rusqlite::Connection::open(w.store()).unwrap();
    conn.execute_batch("DELETE FROM bindings; DELETE FROM aliases;")
        .unwrap();
    drop(conn);
    w.sandbox.reset_stats();
    let v = backfill(&w);
    let stats = w.sandbox.stats();
    for (kind, total) in ["companies", "contacts", "leads"].into_iter().zip(before) {
        assert_eq!(n(kind), total, "{kind} created twice: {v}");
        assert_eq!(
            count(&stats, &format!("GET /api/v4/{kind}/{{id}}")),
            0,
            "{kind} adopted one by one: {:?}",
            stats.by_route
        );
        assert_eq!(count(&stats, &format!("POST /api/v4/{kind}")), 0, "{v}");
        // The lookup index's walk of the kind, then the adopted ones in pages of 250.
        assert!(
            count(&stats, &format!("GET /api/v4/{kind}")) <= 2 * total.div_ceil(250),
            "{kind}: {:?}",
            stats.by_route
        );
    }
    // Each was bound again.
    let (rc, out, err) = run(w.cmd().args([
        "bindings", "show", "--entity", "lead", "--elid", "700001", "--json",
    ]));
    assert_eq!(rc, 0, "{out}{err}");
}
