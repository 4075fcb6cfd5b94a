//! An outage is reported, not hammered (issue 22, part 4): the first request that ends
//! unreachable after its retries stops the run; nothing new is sent; the run says what was
//! not sent and exits 5 within one retry budget; the next run completes it exactly once.

use std::time::{Duration, Instant};

use fakebill::generate::Spec;
use sandbox::{Fault, SandboxConfig};
use serde_json::{json, Value};

use crate::faults::{assert_complete, dataset, hits, outbox, without_lifecycle, Rig};
use crate::support::edit_each_row;

/// Lanes the backfill keeps open in these tests.
const LANES: usize = 2;

/// The client's attempts per request (`retry::MAX_ATTEMPTS`).
const ATTEMPTS: usize = 7;

/// 24 clients, 30 users, 8 payers (6 companies), 30 services: in batches of 5, some twenty
/// write requests, so a cut after the first few leaves most of them unsent.
fn spec() -> Spec {
    Spec {
        clients: 24,
        extra_user_every: 4,
        payer_every: 3,
        shared_inn_every: 3,
        services: 30,
        date: "2025-06-01".into(),
    }
}

/// Lines of a `-v` log that report one failed try of an amoCRM request.
fn failed_tries(log: &str) -> usize {
    log.lines()
        .filter(|l| {
            ["GET /api/v4", "POST /api/v4", "PATCH /api/v4"]
                .iter()
                .any(|m| l.starts_with(m))
                && l.contains(" failed: ")
        })
        .count()
}

#[test]
fn amocrm_vanishing_mid_backfill_stops_it_at_once_with_exit_5_and_the_rerun_completes_it_once() {
    // At amoCRM's own pace, as the bound on failed tries below assumes: a faster loopback
    // rate puts more writes on the wire at the cut, each answered "lost", not "unreachable".
    let spec = spec();
    let data = dataset(&spec);
    let rig = Rig::paced_with_data(SandboxConfig::default(), data.path(), |r| {
        without_lifecycle(r)
            .replace("batch_size = 250", "batch_size = 5")
            .replace("max_in_flight = 16", &format!("max_in_flight = {LANES}"))
    });
    rig.authorize();
    let backfill = ["-v", "backfill", "--since", "2025-01-01"];
    // A dry run reads what the real one reads (and fills the dictionary cache); the cut
    // falls a few requests after those reads, among the writes.
    let (rc, out, err) = rig.run(&["backfill", "--since", "2025-01-01", "--dry-run"]);
    assert_eq!(rc, 0, "{out}{err}");
    rig.sandbox.reset_stats();
    let (rc, out, err) = rig.run(&["backfill", "--since", "2025-01-01", "--dry-run"]);
    assert_eq!(rc, 0, "{out}{err}");
    let reads = rig.sandbox.stats().requests;
    rig.sandbox.reset_stats();
    rig.sandbox.vanish_after(reads + 4);

    let (rc, out, err) = rig.run(&backfill);
    let ended = Instant::now();
    assert_eq!(rc, 5, "{out}{err}");
    let vanished = rig
        .sandbox
        .vanished_at()
        .expect("amoCRM vanished during the run");
    assert!(rig.sandbox.is_down());
    // Within one retry budget of the first failure, far inside the 60 s the rule allows
    // (the test's backoff is 20 ms: one request's seven tries take about 1.3 s).
    let after = ended.duration_since(vanished);
    assert!(
        after < Duration::from_secs(15),
        "{after:?} after vanishing\n{err}"
    );
    // Nothing new started after the first unreachable answer: at most the tries of the
    // requests that were open then (one per lane), plus one lost answer per lane.
    let tries = failed_tries(&err);
    assert!(tries >= ATTEMPTS, "{tries} failed tries\n{err}");
    assert!(
        tries <= LANES * ATTEMPTS + LANES,
        "{tries} failed tries: the run went on into the outage\n{err}"
    );
    // Some writes went out before the cut, most did not.
    let written = rig.sandbox.stats().writes;
    assert!(written >= 1, "{err}");
    assert!(
        rig.sandbox.entities("leads").len() < spec.services,
        "the cut came before the end"
    );
    // It says what was sent, what was not, where that is, and that nothing was lost.
    assert!(
        out.contains("stopped (amoCRM unreachable); sent before it:"),
        "{out}"
    );
    assert!(out.contains("queued in the outbox"), "{out}");
    assert!(err.contains("error: the backfill stopped"), "{err}");
    assert!(err.contains("not sent:"), "{err}");
    assert!(err.contains("Nothing was lost"), "{err}");
    assert!(
        err.contains("`amocrm-bin backfill --since 2025-01-01` sends the rest"),
        "{err}"
    );
    assert!(err.contains("caused by: amoCRM unreachable"), "{err}");
    assert!(err.contains("connection failed"), "{err}");
    assert!(err.contains("hint: check the network"), "{err}");
    // The journal has the counts too.
    let conn = rusqlite::Connection::open(rig.store()).unwrap();
    let summary: String = conn
        .query_row(
            "SELECT summary FROM runs WHERE command = 'backfill' ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let summary: Value = serde_json::from_str(&summary).unwrap();
    assert!(summary["stopped"]["clients"].is_u64(), "{summary}");
    drop(conn);
    // What failed is queued, never parked.
    assert!(outbox(&rig.store()).iter().all(|(_, _, parked)| !parked));
    // Still gone: a `--json` run answers one JSON document with the counts, the error and
    // its hint (and says so on stderr too).
    let (rc, out, err) = rig.run(&["backfill", "--since", "2025-01-01", "--json"]);
    assert_eq!(rc, 5, "{out}{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("{out}\n{err}"));
    assert_eq!(
        (v["ok"].clone(), v["exit_code"].clone()),
        (json!(false), json!(5)),
        "{v}"
    );
    assert!(v["stopped"]["planned"].is_u64(), "{v}");
    assert!(
        v["error"].as_str().is_some_and(|e| e.contains("not sent:")),
        "{v}"
    );
    assert!(
        v["hint"]
            .as_str()
            .is_some_and(|h| h.contains("nothing was lost")),
        "{v}"
    );
    assert!(err.contains("error: the backfill stopped"), "{err}");

    // amoCRM is back: the re-run completes everything, exactly once.
    rig.sandbox.revive();
    let (rc, out, err) = rig.run(&["backfill", "--since", "2025-01-01"]);
    assert_eq!(rc, 0, "{out}{err}");
    let (rc, out, err) = rig.run(&["drain", "--all"]);
    assert_eq!(rc, 0, "{out}{err}");
    assert!(outbox(&rig.store()).is_empty());
    assert_complete(&rig, &spec);
    rig.finish();
}

#[test]
fn nudge_in_a_503_storm_on_tasks_stops_after_the_first_item_and_the_next_run_does_the_rest() {
    let clients = 6;
    let data = dataset(&Spec {
        clients,
        extra_user_every: 0,
        payer_every: 0,
        shared_inn_every: 0,
        services: clients,
        date: "2025-06-01".into(),
    });
    // Half the clients left an order unpaid; the others only had a trial, months ago.
    edit_each_row(data.path(), "item.json", |r| {
        let n: usize = r["id"]["$"].as_str().unwrap().parse().unwrap();
        if n - 700_001 < clients / 2 {
            r["status"] = json!({"$": "1"});
        } else {
            r["period"] = json!({"$": "-100"});
        }
    });
    let rig = Rig::paced_with_data(SandboxConfig::default(), data.path(), |r| r);
    rig.authorize();
    let (rc, out, err) = rig.run(&["backfill", "--since", "2025-01-01"]);
    assert_eq!(rc, 0, "{out}{err}");
    // The read of the open tasks goes through; then every request to /tasks answers 503.
    rig.sandbox.inject(Fault::Delay {
        ms: 0,
        count: 1,
        path_prefix: Some("/api/v4/tasks".into()),
    });
    rig.sandbox.inject(Fault::Status {
        code: 503,
        count: 10_000,
        path_prefix: Some("/api/v4/tasks".into()),
    });
    rig.sandbox.reset_stats();
    let started = Instant::now();
    let (rc, out, err) = rig.run(&["nudge", "--json"]);
    assert_eq!(rc, 5, "{out}{err}");
    assert!(started.elapsed() < Duration::from_secs(30), "{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|_| panic!("{out}\n{err}"));
    assert_eq!(v["ok"], json!(false), "{v}");
    assert_eq!(v["failed"], json!(1), "{v}");
    assert_eq!(v["tasks_created"], json!(0), "{v}");
    assert_eq!(v["not_looked_at"], json!(clients - 1), "{v}");
    assert!(
        v["stopped"]
            .as_str()
            .is_some_and(|s| s.contains("gave up after 7 attempts") && s.contains("503")),
        "{v}"
    );
    let looked = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["action"] == "not looked at")
        .count();
    assert_eq!(looked, clients - 1, "{v}");
    // One read of the open tasks, then the first item's seven tries: nothing after it.
    assert_eq!(hits(&rig, "/api/v4/tasks"), 1 + ATTEMPTS as u64, "{v}");
    assert!(rig.sandbox.entities("tasks").is_empty());

    // In text: the items, then the error saying how many were not looked at.
    rig.sandbox.reset_stats();
    let (rc, out, err) = rig.run(&["nudge"]);
    assert_eq!(rc, 5, "{out}{err}");
    assert!(
        err.contains("error: nudge stopped at amoCRM's first unreachable answer")
            && err.contains(&format!("{} items not looked at", clients - 1)),
        "{err}"
    );
    assert!(err.contains("hint: check the network"), "{err}");
    assert_eq!(out.matches("not looked at").count(), clients - 1, "{out}");
    assert!(hits(&rig, "/api/v4/tasks") <= ATTEMPTS as u64, "{err}");

    // The storm is over: the next run looks at every item and creates each task once.
    rig.sandbox.clear_faults();
    let (rc, out, err) = rig.run(&["nudge", "--json"]);
    assert_eq!(rc, 0, "{out}{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["tasks_created"], json!(clients), "{v}");
    assert_eq!(v["not_looked_at"], json!(0), "{v}");
    assert_eq!(rig.sandbox.entities("tasks").len(), clients);
    rig.finish();
}

#[test]
fn an_events_pull_that_ends_unreachable_stops_the_backfill_before_it_sends_anything() {
    // The example rules pull managers' changes first (`[lifecycle.pullback]`). A 404 there
    // is an optional part failing (exit 1, the sync goes on); an outage is not.
    let rig = Rig::new(crate::support::World::new());
    rig.authorize();
    // A dry run (which does not pull) caches the account's dictionaries first.
    let (rc, out, err) = rig.run(&["backfill", "--since", "2024-01-01", "--dry-run"]);
    assert_eq!(rc, 0, "{out}{err}");
    rig.sandbox.inject(Fault::Status {
        code: 503,
        count: 10_000,
        path_prefix: Some("/api/v4/events".into()),
    });
    rig.sandbox.reset_stats();
    let (rc, out, err) = rig.run(&["backfill", "--since", "2024-01-01"]);
    assert_eq!(rc, 5, "{out}{err}");
    assert!(
        err.contains("amoCRM unreachable (GET /api/v4/events)")
            && err.contains("gave up after 7 attempts"),
        "{err}"
    );
    // Not an optional part that failed while the rest went on: the run stopped there.
    assert!(!err.contains("the sync goes on without it"), "{err}");
    let stats = rig.sandbox.stats();
    assert_eq!(hits(&rig, "/api/v4/events"), ATTEMPTS as u64, "{err}");
    assert_eq!(stats.requests, ATTEMPTS as u64, "nothing after it: {err}");
    assert_eq!(stats.writes, 0);
    rig.sandbox.clear_faults();
    let (rc, out, err) = rig.run(&["backfill", "--since", "2024-01-01"]);
    assert_eq!(rc, 0, "{out}{err}");
    rig.finish();
}
