//! Issue 14, the first hour of a real admin: outbox hygiene, degraded optional parts,
//! adoption policy, `when` typos, contact meaning (quick start on a fresh account:
//! `operator.rs`).

use sandbox::{Fault, SandboxConfig};
use serde_json::Value;

use crate::support::{run, World};

fn outbox_rows(w: &World) -> Vec<(i64, String, String, bool)> {
    let conn = rusqlite::Connection::open(w.store()).unwrap();
    let mut stmt = conn
        .prepare("SELECT id, kind, bm_id, parked FROM outbox ORDER BY id")
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, i64>(3)? != 0))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

#[test]
fn a_sync_that_fails_on_authorization_never_queues_an_id_the_panel_lacks() {
    let w = World::new();
    // No `auth` yet: every sync fails with exit 3.
    let (rc, _, err) = run(w.cmd().args(["sync", "--entity", "lead", "--elid", "999"]));
    assert_eq!(rc, 3, "{err}");
    assert!(
        err.contains("not queued: BILLmanager has no service with id 999"),
        "{err}"
    );
    let (rc, _, err) = run(w.cmd().args(["sync", "--entity", "lead", "--elid", "401"]));
    assert_eq!(rc, 3, "{err}");
    let rows = outbox_rows(&w);
    assert_eq!(rows.len(), 1, "only the real service is queued: {rows:?}");
    assert_eq!((rows[0].1.as_str(), rows[0].2.as_str()), ("lead", "401"));
}

#[test]
fn outbox_list_drop_and_retry_and_drain_all_with_only_reported_parked_items_exits_0() {
    let w = World::new();
    w.authorize();
    // amoCRM refuses every lead write: the item fails, then parks with that error.
    w.sandbox.inject(Fault::Status {
        code: 400,
        count: 1000,
        path_prefix: Some("/api/v4/leads".into()),
    });
    let (rc, _, err) = run(w.cmd().args(["sync", "--entity", "lead", "--elid", "401"]));
    assert_ne!(rc, 0, "{err}");
    let (rc, _, err) = run(w.cmd().args(["drain", "--all"]));
    assert_eq!(rc, 1, "newly parked is news: {err}");
    assert!(outbox_rows(&w)[0].3, "parked");
    let (_, status, _) = run(w.cmd().arg("status"));
    assert!(
        status.contains("amocrm-bin outbox drop"),
        "status says how to drop: {status}"
    );
    // The same failure again is what status already reports: not a failing cron job.
    let (rc, _, err) = run(w.cmd().args(["drain", "--all"]));
    assert_eq!(rc, 0, "{err}");
    assert!(err.contains("1 still parked as reported before"), "{err}");
    assert!(err.contains("outbox drop --parked"), "{err}");

    let (rc, out, _) = run(w.cmd().args(["outbox", "list", "--parked"]));
    assert_eq!(rc, 0);
    let id = outbox_rows(&w)[0].0;
    assert!(out.starts_with(&format!("{id:<5} lead     401")), "{out}");
    let (rc, out, _) = run(w.cmd().args(["outbox", "list", "--json"]));
    assert_eq!(rc, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["items"][0]["bm_id"], "401");

    // Retry one item after fixing the cause: the next plain drain pushes it.
    w.sandbox.clear_faults();
    let (rc, _, err) = run(w.cmd().args(["outbox", "retry", "--id", &id.to_string()]));
    assert_eq!(rc, 0, "{err}");
    assert!(!outbox_rows(&w)[0].3, "un-parked");
    let (rc, _, err) = run(w.cmd().arg("drain"));
    assert_eq!(rc, 0, "{err}");
    assert!(outbox_rows(&w).is_empty());
    assert_eq!(w.sandbox.entities("leads").len(), 1);

    // Drop: by entity, and nothing matching is an error naming `outbox list`.
    w.sandbox.inject(Fault::Status {
        code: 503,
        count: 1000,
        path_prefix: None,
    });
    let (rc, _, _) = run(w.cmd().args(["sync", "--entity", "lead", "--elid", "403"]));
    assert_eq!(rc, 5);
    assert_eq!(outbox_rows(&w).len(), 1);
    let (rc, _, err) = run(w
        .cmd()
        .args(["outbox", "drop", "--entity", "lead", "--elid", "403"]));
    assert_eq!(rc, 0, "{err}");
    assert!(err.contains("1 item(s) dropped"), "{err}");
    assert!(outbox_rows(&w).is_empty());
    let (rc, _, err) = run(w.cmd().args(["outbox", "drop", "--parked"]));
    assert_eq!(rc, 2, "{err}");
    assert!(err.contains("outbox list"), "{err}");
    let (rc, _, err) = run(w.cmd().args(["outbox", "drop"]));
    assert_eq!(rc, 2, "{err}");
}

#[test]
fn contact_means_the_client_everywhere_and_no_hint_loops() {
    let w = World::new();
    w.authorize();
    // Before any sync, the hint names the command that creates exactly what was asked for.
    let (rc, _, err) = run(w
        .cmd()
        .args(["bindings", "show", "--entity", "contact", "--elid", "101"]));
    assert_eq!(rc, 2, "{err}");
    assert!(err.contains("client 101's users"), "{err}");
    assert!(
        err.contains("amocrm-bin sync --entity contact --elid 101"),
        "{err}"
    );
    // Following the hint makes the same `bindings show` succeed: both users' contacts, linked.
    let (rc, out, err) = run(w
        .cmd()
        .args(["sync", "--entity", "contact", "--elid", "101"]));
    assert_eq!(rc, 0, "{out}{err}");
    let (rc, out, err) = run(w
        .cmd()
        .args(["bindings", "show", "--entity", "contact", "--elid", "101"]));
    assert_eq!(rc, 0, "{err}");
    assert!(
        out.contains("contact user:201") && out.contains("contact user:202"),
        "{out}"
    );
    assert_eq!(out.matches("/contacts/detail/").count(), 2, "{out}");
    let (rc, out, _) = run(w.cmd().args([
        "bindings", "show", "--entity", "contact", "--elid", "101", "--json",
    ]));
    assert_eq!(rc, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["client"], "101");
    assert_eq!(v["contacts"].as_array().unwrap().len(), 2);
    // One user by user id; a user id given as a client says which flag it needs.
    let (rc, out, _) = run(w
        .cmd()
        .args(["bindings", "show", "--entity", "user", "--elid", "202"]));
    assert_eq!(rc, 0);
    assert!(out.starts_with("contact user:202"), "{out}");
    let (rc, _, err) = run(w
        .cmd()
        .args(["bindings", "show", "--entity", "contact", "--elid", "202"]));
    assert_eq!(rc, 2);
    assert!(err.contains("--entity user --elid 202"), "{err}");
    // `sync --entity user` syncs that user's client (what the hook does for a user's event).
    let (rc, out, err) = run(w.cmd().args(["sync", "--entity", "user", "--elid", "207"]));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(err.contains("user 207 is client 105's"), "{err}");
    let (rc, _, err) = run(w
        .cmd()
        .args(["bindings", "show", "--entity", "contact", "--elid", "105"]));
    assert_eq!(rc, 0, "{err}");
    // Forgetting a client forgets its users' contacts.
    let (rc, out, _) = run(w
        .cmd()
        .args(["bindings", "forget", "--entity", "contact", "--elid", "101"]));
    assert_eq!(rc, 0);
    assert_eq!(out.matches("forgot contact").count(), 2, "{out}");
}

#[test]
fn a_failing_events_api_degrades_backfill_and_nudge_instead_of_aborting_them() {
    // The example rules have `[lifecycle.pullback] enabled = true`; amoCRM answers 404 to
    // the events API (a missing scope or a wrong base_url look the same).
    let w = World::new();
    w.authorize();
    w.sandbox.inject(Fault::Status {
        code: 404,
        count: 1000,
        path_prefix: Some("/api/v4/events".into()),
    });
    let (rc, out, err) = run(w.cmd().args(["backfill", "--since", "2024-01-01"]));
    assert_eq!(rc, 1, "partial, not 4:\n{out}{err}");
    assert!(
        out.contains("NOT DONE events pull ([lifecycle.pullback])") && out.contains("404"),
        "{out}"
    );
    assert!(err.contains("the sync goes on without it"), "{err}");
    assert!(out.contains("enabled = false"), "the fix is named: {out}");
    assert!(
        w.sandbox.entities("leads").len() > 5,
        "the core sync went on"
    );
    let (rc, out, err) = run(w
        .cmd()
        .args(["backfill", "--since", "2024-01-01", "--json"]));
    assert_eq!(rc, 1, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["degraded"][0]["part"],
        "events pull ([lifecycle.pullback])"
    );
    let (rc, out, err) = run(w.cmd().args(["nudge", "--json"]));
    assert_eq!(rc, 1, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["degraded"][0]["part"], "events pull ([lifecycle.pullback])",
        "{v}"
    );
    // `pull` itself has nothing else to do: it fails, as a configuration problem (2), not
    // as data amoCRM rejected (4).
    let (rc, _, err) = run(w.cmd().arg("pull"));
    assert_eq!(rc, 2, "{err}");
    assert!(
        err.contains("404") && err.contains("configuration or scope"),
        "{err}"
    );
}

#[test]
fn calls_ingest_stores_answers_at_once_and_gives_up_pushing_in_bounded_time() {
    use std::io::{BufRead as _, Write as _};
    use std::time::{Duration, Instant};
    let w = World::new();
    w.authorize();
    // amoCRM answers 503 to everything; with the real backoff (no test override) the
    // retries alone would take over 30 s.
    w.sandbox.inject(Fault::Status {
        code: 503,
        count: 100_000,
        path_prefix: None,
    });
    let event = std::fs::read_to_string(
        crate::support::root().join("tests/fixtures/calls/ringostat_answered.json"),
    )
    .unwrap();
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin!("amocrm-bin"));
    cmd.args(["calls", "ingest"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AMOCRM_BIN_CONFIG", &w.rules)
        .env("AMOCRM_CLIENT_SECRET", crate::support::SECRET)
        .current_dir(w.dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(event.as_bytes())
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let answered = started.elapsed();
    assert!(
        first.contains("stored"),
        "the first answer says it is stored: {first}"
    );
    let status = child.wait().unwrap();
    let total = started.elapsed();
    assert_eq!(status.code(), Some(5), "amoCRM unreachable");
    // Generous bounds for a loaded 2-core machine: the answer comes before any push, and
    // the push gives up after its 5 s budget (plus one request's time), far below the
    // half-minute of retries it used to spend.
    assert!(
        answered < Duration::from_secs(3),
        "answered after {answered:?}"
    );
    assert!(total < Duration::from_secs(15), "gave up after {total:?}");
    let (rc, out, _) =
        run(w
            .cmd()
            .args(["calls", "list", "--days", "36500", "--pending", "--json"]));
    assert_eq!(rc, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["calls"].as_array().unwrap().len(),
        1,
        "kept for replay-calls: {v}"
    );
}

/// A contact the website made for user 201 (same phone) and a lead a manager priced, both
/// before amocrm-bin ran; then `sync` of service 401 adopts them under `policy`.
fn adopt_with(policy: Option<&str>) -> (World, Value, Value) {
    let w = World::with(SandboxConfig::default(), |r| match policy {
        Some(p) => r.replace("adopt = \"fill\"", &format!("adopt = \"{p}\"")),
        // The default, with the key left out.
        None => r.replace("adopt = \"fill\"\n", ""),
    });
    w.authorize();
    let contact = w.sandbox.insert(
        "contacts",
        serde_json::json!({"name": "Иван с сайта", "custom_fields_values": [
            {"field_code": "PHONE", "values": [{"value": "+7 916 000-11-22", "enum_code": "MOB"}]}]}),
    );
    let lead = w.sandbox.insert(
        "leads",
        serde_json::json!({"name": "VPS для Ромашки", "price": 999, "custom_fields_values": [
            {"field_code": "BM_SERVICE_ID", "values": [{"value": "401"}]}]}),
    );
    let (rc, out, err) = run(w.cmd().args(["sync", "--entity", "lead", "--elid", "401"]));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(out.contains("adopted existing"), "{out}");
    let find = |kind: &str, id: i64| {
        w.sandbox
            .entities(kind)
            .into_iter()
            .find(|e| e["id"] == id)
            .unwrap()
    };
    let (c, l) = (find("contacts", contact), find("leads", lead));
    (w, c, l)
}

fn phones(contact: &Value) -> usize {
    contact["custom_fields_values"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["field_code"] == "PHONE")
        .map(|f| f["values"].as_array().map_or(0, Vec::len))
        .sum()
}

#[test]
fn adoption_fills_by_default_and_overwrites_only_when_asked() {
    let (w, contact, lead) = adopt_with(None);
    assert_eq!(contact["name"], "Иван с сайта", "not renamed");
    assert_eq!(lead["price"], 999, "not repriced");
    assert_eq!(lead["name"], "VPS для Ромашки");
    let tags = |e: &Value| e["_embedded"]["tags"].to_string();
    assert!(tags(&contact).contains("BILL") && tags(&lead).contains("BILL"));
    // The e-mail was empty: filled; the phone was there already (same number): kept once.
    assert!(
        contact.to_string().contains("ivan@romashka.example"),
        "{contact}"
    );
    assert_eq!(phones(&contact), 1, "{contact}");
    assert_eq!(
        w.sandbox.entities("contacts").len(),
        2,
        "adopted, plus user 202"
    );

    let (_w, contact, lead) = adopt_with(Some("overwrite"));
    assert_eq!(contact["name"], "Иван Петров", "made what BILLmanager says");
    assert_eq!(lead["price"], 590);
    assert_eq!(lead["name"], "VPS-1 #401");
}

/// The contact field `Country` of the demo account (options Russia, Kazakhstan, Belarus,
/// Germany, Other), as the sandbox holds it for contact `id`.
pub fn country_of(w: &World, user: &str) -> Option<String> {
    let (_, out, _) = run(w.cmd().args([
        "bindings", "show", "--entity", "user", "--elid", user, "--json",
    ]));
    let v: Value = serde_json::from_str(&out).unwrap();
    let id = v["binding"]["amo_id"].as_i64().unwrap();
    let c = w
        .sandbox
        .entities("contacts")
        .into_iter()
        .find(|e| e["id"] == id)
        .unwrap();
    c["custom_fields_values"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["field_name"] == "Country")
        .and_then(|f| f["values"][0]["value"].as_str().map(String::from))
}

#[test]
fn a_value_map_turns_panel_values_into_options_and_check_names_what_nothing_covers() {
    // Without a map: the panel's "Россия" is no option of the English select.
    let plain = World::with(SandboxConfig::default(), |r| {
        let start = r.find("\"Country\" = {").unwrap();
        let end = start + r[start..].find('\n').unwrap();
        format!(
            "{}\"Country\" = \"client.country\"{}",
            &r[..start],
            &r[end..]
        )
    });
    plain.authorize();
    let (rc, out, err) = run(plain.cmd().arg("check"));
    assert_eq!(rc, 2, "{out}{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("problem: fields.contact.\"Country\""))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains("2 value(s) of `client.country`")
            && line.contains("`Россия`")
            && line.contains("`United States`")
            && line.contains("map = {"),
        "{line}"
    );
    let (rc, _, _) = run(plain.cmd().args(["check", "--sample", "0"]));
    assert_eq!(rc, 0, "no sample, no panel values to check");
    // The sample may come from saved documents (a capture) instead of the panel: here every
    // client is in Russia, so only that one value is named.
    let capture = plain.path("capture");
    copy_dir(
        &crate::support::root().join("examples/billmanager"),
        &capture,
    );
    let form = capture.join("account.edit/106.json");
    let text = std::fs::read_to_string(&form).unwrap();
    std::fs::write(&form, text.replace("United States", "Россия")).unwrap();
    let (rc, out, _) = run(plain
        .cmd()
        .args(["check", "--sample-dir", capture.to_str().unwrap()]));
    assert_eq!(rc, 2);
    assert!(
        out.contains("1 value(s) of `client.country`") && out.contains("`Россия`"),
        "{out}"
    );
    let (_, out, _) = run(plain
        .cmd()
        .args(["sync", "--entity", "contact", "--elid", "101"]));
    assert!(
        out.contains("not an option"),
        "dropped with a warning: {out}"
    );
    assert_eq!(country_of(&plain, "201"), None);

    // The example's map: Россия → Russia, anything else → Other; check is clean.
    let w = World::new();
    w.authorize();
    let (rc, out, err) = run(w.cmd().arg("check"));
    assert_eq!(rc, 0, "{out}{err}");
    for (client, user, want) in [("101", "201", "Russia"), ("106", "208", "Other")] {
        let (rc, out, err) = run(w
            .cmd()
            .args(["sync", "--entity", "contact", "--elid", client]));
        assert_eq!(rc, 0, "{out}{err}");
        assert_eq!(
            country_of(&w, user).as_deref(),
            Some(want),
            "client {client}"
        );
    }

    // A map into options the field does not have is a problem with its key.
    let bad = World::with(SandboxConfig::default(), |r| {
        r.replace("\"Россия\" = \"Russia\"", "\"Россия\" = \"Russland\"")
    });
    bad.authorize();
    let (rc, out, _) = run(bad.cmd().args(["check", "--sample", "0"]));
    assert_eq!(rc, 2);
    assert!(
        out.contains(
            "problem: fields.contact.\"Country\".map.\"Россия\": `Russland` is not an option"
        ),
        "{out}"
    );
}

#[test]
fn a_typo_in_a_when_attribute_is_a_check_warning_with_the_closest_name() {
    let w = World::with(SandboxConfig::default(), |r| {
        r.replace(
            "tag = \"trial\"\nwhen = { \"service.trial\" = true }",
            "tag = \"trial\"\nwhen = { \"service.trail\" = true }",
        )
    });
    w.authorize();
    let (rc, out, err) = run(w.cmd().arg("check"));
    assert_eq!(rc, 0, "a warning, not a problem: {out}{err}");
    assert!(
        out.contains("warning: tags[0].when.\"service.trail\": `service.trail` is neither a documented attribute nor a field in BILLmanager's answers, so this never matches; did you mean `service.trial`?"),
        "{out}"
    );
    // Raw panel fields the sample saw are known: the example's `service.source` is not warned.
    assert!(!out.contains("\"service.source\""), "{out}");
    let (rc, _, _) = run(w.cmd().args(["check", "--strict"]));
    assert_eq!(rc, 2, "--strict counts it");
    // Without reading the panel the typo is still caught (it is close to a stable name).
    let (_, out, _) = run(w.cmd().args(["check", "--sample", "0"]));
    assert!(out.contains("did you mean `service.trial`?"), "{out}");
}

#[test]
fn one_person_is_one_row_of_the_call_report() {
    let w = World::new();
    w.authorize();
    let at = |mins: i64| {
        let off = chrono::FixedOffset::east_opt(3 * 3600).unwrap();
        (chrono::Utc::now() - chrono::Duration::minutes(mins))
            .with_timezone(&off)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    // Anna answers on her extension 100 (labelled "Anna (office)" in [[calls.employees]]);
    // a missed call rings nobody and is given to her as `[calls] responsible`.
    let answered = serde_json::json!({
        "uniqueid": "t-1", "calldate": at(30), "call_type": "in", "caller": "79160000001",
        "caller_number": "79160000001", "dst": "74950000000", "disposition": "PROPER",
        "duration": "70", "billsec": "60", "employee_number": "100", "connected_with": "100",
    });
    let missed = serde_json::json!({
        "uniqueid": "t-2", "calldate": at(20), "call_type": "in", "caller": "79160000002",
        "dst": "74950000000", "disposition": "NO ANSWER", "duration": "30", "billsec": "0",
    });
    for e in [answered, missed] {
        let (rc, out, err) = run(w.cmd().args(["calls", "ingest"]).write_stdin(e.to_string()));
        assert_eq!(rc, 0, "{out}{err}");
    }
    let (rc, out, err) = run(w.cmd().args(["report", "calls", "--days", "2", "--json"]));
    assert_eq!(rc, 0, "{out}{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    let names: Vec<&str> = v["report"]["managers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["manager"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Anna (office)"], "{v}");
    // The log says what `calls ingest` said, not a Rust `Debug` value.
    let log = std::fs::read_to_string(w.path("amocrm-bin.log")).unwrap();
    assert!(log.contains("delivered →"), "{log}");
    assert!(!log.contains("Delivered {"), "{log}");
}

#[test]
fn sync_says_each_thing_once_and_its_summary_reads_per_kind() {
    let w = World::new();
    w.authorize();
    let (rc, out, err) =
        run(w
            .cmd()
            .args(["sync", "--entity", "lead", "--elid", "401", "--dry-run"]));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(
        out.lines()
            .any(|l| l.trim_end() == "lead    service:401            would create"),
        "{out}"
    );
    assert!(!out.contains("would create: would create"), "{out}");
    assert!(err.contains("lead: would create 1\n"), "{err}");
    assert!(
        err.lines().all(|l| l.chars().count() <= 100),
        "short lines: {err}"
    );
    let (rc, out, err) = run(w.cmd().args(["sync", "--entity", "lead", "--elid", "401"]));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(!out.contains(": created"), "{out}");
    assert!(
        err.contains("contact: 2 created\n") && err.contains("requests: "),
        "{err}"
    );
    let (rc, out, _) = run(w
        .cmd()
        .args(["backfill", "--since", "2024-01-01", "--dry-run"]));
    assert_eq!(rc, 0);
    assert!(
        out.contains(" to create ") && !out.contains(" created "),
        "{out}"
    );
    // Global flags have their own heading in every subcommand's help.
    let (_, help, _) = run(w.cmd().args(["sync", "--help"]));
    let global = help.find("Global options:").expect("a heading");
    assert!(
        help[..global].contains("--elid") && help[global..].contains("--config"),
        "{help}"
    );
    assert!(!help[..global].contains("--config"), "{help}");
}

#[test]
fn the_example_rules_on_a_fresh_account_point_at_setup_fields_and_it_creates_what_they_map() {
    let w = World::with(
        SandboxConfig {
            seed: sandbox::Seed::fresh(),
            ..SandboxConfig::default()
        },
        |r| r,
    );
    w.authorize();
    let (rc, out, _) = run(w.cmd().args(["check", "--sample", "0"]));
    assert_eq!(rc, 2);
    assert!(
        out.contains("problem: fields.lead.\"BM_SERVICE_ID\": no amoCRM lead field with id, code or name `BM_SERVICE_ID`; the account has no lead fields yet; `amocrm-bin setup-fields` creates"),
        "{out}"
    );
    // init adds rules only to a connection-only file; --print shows them anyway.
    let before = std::fs::read_to_string(&w.rules).unwrap();
    let (rc, _, err) = run(w.cmd().arg("init"));
    assert_eq!(rc, 2);
    assert!(
        err.contains("already holds rules") && err.contains("init --print"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&w.rules).unwrap(),
        before,
        "untouched"
    );
    let (rc, out, _) = run(w.cmd().args(["init", "--print"]));
    assert_eq!(rc, 0);
    assert!(
        out.contains("pipeline = \"Воронка\"") && out.contains("# [calls]"),
        "{out}"
    );
    // Without an answer setup-fields writes nothing and says how to skip the question.
    let (rc, _, err) = run(w.cmd().arg("setup-fields").write_stdin(""));
    assert_eq!(rc, 2, "{err}");
    assert!(err.contains("setup-fields --yes"), "{err}");
    let (rc, out, err) = run(w.cmd().args(["setup-fields", "--yes"]));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(
        out.contains("created: lead field `BILLmanager service id`"),
        "{out}"
    );
    // Options come from the rule file: Country's map and default are the select's options.
    assert!(
        out.contains("contact `Country`: select, options Belarus, Kazakhstan, Other, Russia"),
        "{out}"
    );
    let (_, out, _) = run(w.cmd().args(["check", "--sample", "0"]));
    assert!(
        !out.contains("problem: fields."),
        "every mapped field exists now: {out}"
    );
    // Run twice: nothing left to create.
    let (rc, _, err) = run(w.cmd().args(["setup-fields", "--yes"]));
    assert_eq!(rc, 0);
    assert!(err.contains("nothing to create"), "{err}");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn a_misspelt_field_gets_did_you_mean_in_check_and_setup_fields_does_not_create_a_near_duplicate() {
    let w = World::with(SandboxConfig::default(), |r| {
        r.replace(
            "\"Product\" = \"service.product\"",
            "\"Prodcut\" = \"service.product\"",
        )
    });
    w.authorize();
    let fields_before = w.field_names("leads");
    assert!(
        fields_before.iter().any(|n| n == "Product"),
        "{fields_before:?}"
    );
    let (rc, out, err) = run(w.cmd().args(["check", "--sample", "0"]));
    assert_eq!(rc, 2, "{out}{err}");
    assert!(
        out.contains("problem: fields.lead.\"Prodcut\": no amoCRM lead field with id, code or name `Prodcut`; did you mean `Product`? Fix the key"),
        "{out}"
    );
    assert!(!out.contains("setup-fields` creates"), "{out}");
    // setup-fields holds the near-duplicate back and says why, even when answered yes.
    let (rc, out, err) = run(w.cmd().arg("setup-fields").write_stdin("y\n"));
    assert_eq!(rc, 2, "{out}{err}");
    assert!(
        out.contains("skipped: fields.lead.\"Prodcut\": the account has no field `Prodcut`; did you mean `Product`?"),
        "{out}"
    );
    assert!(!out.contains("created:"), "{out}");
    assert_eq!(w.field_names("leads"), fields_before);
    // --yes is the way to create it anyway.
    let (rc, out, err) = run(w.cmd().args(["setup-fields", "--yes"]));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(out.contains("created: lead field `Prodcut`"), "{out}");
    let after = w.field_names("leads");
    assert_eq!(after.len(), fields_before.len() + 1, "{after:?}");
    assert!(after.iter().any(|n| n == "Prodcut"), "{after:?}");
}

/// A connection lost while a backfill reads 250 leads by id: the error names the method, the
/// path and the cause in one short line, not the URL with its 250 ids.
#[test]
fn a_connection_lost_mid_backfill_gives_a_short_error_with_method_path_and_cause() {
    use fakebill::generate::{write, Spec};
    let data = tempfile::tempdir().unwrap();
    write(data.path(), &Spec::proportional(300, 300)).unwrap();
    let w = World::with_data(
        SandboxConfig::default(),
        data.path(),
        crate::faults::without_lifecycle,
    );
    w.authorize();
    let (rc, out, err) = run(w.cmd().args(["backfill", "--since", "2020-01-01"]));
    assert_eq!(rc, 0, "{out}{err}");
    // Every service's price changes, so the next run reads the bound leads, 250 at a time.
    crate::support::edit_each_row(data.path(), "item.json", |r| {
        r["cost"] = serde_json::json!({"$": "790.00"})
    });
    w.sandbox.reset_stats();
    w.sandbox.vanish_after(0);
    let (rc, out, err) = run(w.cmd().env("AMOCRM_BIN_TEST_BACKOFF_MS", "20").args([
        "backfill",
        "--since",
        "2020-01-01",
    ]));
    assert_eq!(rc, 5, "{out}{err}");
    assert!(err.starts_with("error: the backfill stopped"), "{err}");
    // The cause names the request by method and path, and what went wrong.
    let cause = err
        .lines()
        .find(|l| l.trim_start().starts_with("caused by:"))
        .unwrap_or_else(|| panic!("no cause:\n{err}"));
    assert!(cause.contains("(GET /api/v4/leads)"), "{cause}");
    assert!(
        cause.to_lowercase().contains("connection refused"),
        "{cause}"
    );
    assert!(!err.contains("filter") && !out.contains("filter"), "{err}");
    for line in out.lines().chain(err.lines()) {
        assert!(line.chars().count() <= 300, "a long line: {line}");
    }
}

/// A backfill says its counts once: the table on stdout, not a second summary on stderr,
/// also with -v and in a dry run (which list every entity first).
#[test]
fn a_backfill_prints_its_summary_once() {
    let w = World::new();
    w.authorize();
    for args in [
        &["backfill", "--since", "2024-01-01", "--dry-run"][..],
        &["-v", "backfill", "--since", "2024-01-01"],
        &["backfill", "--since", "2024-01-01"],
    ] {
        let (rc, out, err) = run(w.cmd().args(args));
        assert_eq!(rc, 0, "{args:?}: {out}{err}");
        let tables = out.matches("backfill since 2024-01-01").count();
        assert_eq!(tables, 1, "{args:?}: {out}");
        for line in out.lines().chain(err.lines()) {
            assert!(
                !line.starts_with("lead: ") && !line.starts_with("contact: "),
                "{args:?}: a second summary: {line}"
            );
            assert!(!line.starts_with("requests: "), "{args:?}: {line}");
        }
    }
}

/// `status` and `outbox list` say where a queued item stands in the same words.
#[test]
fn status_and_outbox_list_agree_on_words() {
    let w = World::new();
    w.authorize();
    // amoCRM keeps failing a lead write: the item is queued to be tried again later.
    w.sandbox.inject(Fault::Status {
        code: 503,
        count: 1000,
        path_prefix: Some("/api/v4/leads".into()),
    });
    let (rc, _, err) = run(w
        .cmd()
        .env("AMOCRM_BIN_TEST_BACKOFF_MS", "5")
        .args(["sync", "--entity", "lead", "--elid", "401"]));
    assert_ne!(rc, 0, "{err}");
    let (_, status, _) = run(w.cmd().arg("status"));
    let (_, listed, _) = run(w.cmd().args(["outbox", "list"]));
    let standing = |text: &str| -> String {
        let line = text
            .lines()
            .find(|l| l.contains("401") && l.contains("queued by"))
            .unwrap_or_else(|| panic!("no line for 401 in:\n{text}"));
        line.split("queued by").nth(1).unwrap().trim().to_string()
    };
    assert_eq!(standing(&status), standing(&listed), "{status}\n{listed}");
    assert!(
        standing(&status).contains("waiting to retry, next try"),
        "{status}"
    );
}

/// A web server's environment with `AMOCRM_BIN_CONFIG=` and nothing after it: the webhook
/// gets a proper 500 answer with the reason, not clap's words about a flag nobody passed.
#[test]
fn an_empty_config_variable_under_cgi_answers_500_with_the_reason() {
    let bin = assert_cmd::cargo::cargo_bin!("amocrm-bin");
    let (rc, out, err) = run(assert_cmd::Command::new(bin)
        .env_clear()
        .env("AMOCRM_BIN_CONFIG", "")
        .env("REQUEST_METHOD", "POST")
        .env("CONTENT_TYPE", "application/json")
        .write_stdin("{}"));
    assert_eq!(rc, 2, "{out}{err}");
    assert!(
        out.starts_with("Status: 500 Internal Server Error\r\n"),
        "{out}"
    );
    let body: Value = serde_json::from_str(out.split("\r\n\r\n").nth(1).unwrap().trim()).unwrap();
    assert_eq!(body["error"], "AMOCRM_BIN_CONFIG is set but empty", "{out}");
    assert!(
        !out.contains("--config") && !err.contains("--config"),
        "{out}{err}"
    );
    // On a terminal or in cron the same reason, as an error with its hint.
    let (rc, out, err) = run(assert_cmd::Command::new(bin)
        .env_clear()
        .env("AMOCRM_BIN_CONFIG", "")
        .arg("status"));
    assert_eq!(rc, 2, "{out}{err}");
    assert!(
        err.starts_with("error: AMOCRM_BIN_CONFIG is set but empty\nhint: "),
        "{err}"
    );
}

/// `bindings search` with a client id (what the panel's client list shows) finds its users'
/// contacts; `bindings list` shows the keys bound through another: payers sharing a company
/// by INN and a service joined to another's lead.
#[test]
fn bindings_search_finds_a_client_and_list_shows_joined_services_and_payer_aliases() {
    let w = World::new();
    w.authorize();
    let (rc, out, err) = run(w.cmd().args(["backfill", "--since", "2024-01-01"]));
    assert_eq!(rc, 0, "{out}{err}");
    let (rc, out, err) = run(w.cmd().args(["bindings", "search", "101"]));
    assert_eq!(rc, 0, "{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("contact  user:201") && l.ends_with("(user of client 101)")),
        "{out}"
    );
    let (rc, out, err) = run(w.cmd().args(["bindings", "list"]));
    assert_eq!(rc, 0, "{err}");
    assert!(
        out.lines().any(|l| l.starts_with("lead     service:406")
            && l.contains("→ service:405")
            && l.contains("joined its lead")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("company  payer:301") && l.contains("→ inn:7701234567")),
        "{out}"
    );
    let (_, json, _) = run(w.cmd().args(["bindings", "list", "--json"]));
    let v: Value = serde_json::from_str(&json).unwrap();
    assert!(v["aliases"].as_array().is_some_and(|a| a.len() >= 2), "{v}");
}

/// A call older than the window: `calls list` and `report calls` say it is left out and how
/// to see it, instead of showing nothing.
#[test]
fn calls_outside_the_window_are_counted_with_a_hint() {
    let w = World::new();
    w.authorize();
    let ten_days_ago = (chrono::Utc::now() - chrono::Duration::days(10))
        .with_timezone(&chrono::FixedOffset::east_opt(3 * 3600).unwrap())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let old = serde_json::json!({
        "uniqueid": "old-1", "calldate": ten_days_ago, "call_type": "in",
        "caller": "79160000001", "caller_number": "79160000001", "dst": "74950000000",
        "disposition": "PROPER", "duration": "70", "billsec": "60",
    });
    let (rc, out, err) = run(w
        .cmd()
        .args(["calls", "ingest"])
        .write_stdin(old.to_string()));
    assert_eq!(rc, 0, "{out}{err}");
    let hint = "hint: 1 stored call(s) fall outside the last 7 day(s); use `--days` to see them";
    let (rc, out, err) = run(w.cmd().args(["calls", "list", "--days", "7"]));
    assert_eq!(rc, 0, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains(hint), "{err}");
    let (rc, _, err) = run(w.cmd().args(["report", "calls", "--days", "7"]));
    assert_eq!(rc, 0, "{err}");
    assert!(err.contains(hint), "{err}");
    // A window that holds it: no hint.
    let (rc, out, err) = run(w.cmd().args(["calls", "list", "--days", "11"]));
    assert_eq!(rc, 0, "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(!err.contains("hint:"), "{err}");
}

/// A select `setup-fields` creates from a value map without a `default` gets the panel's
/// values the map sends nowhere as options of their own, so `check` right after it finds
/// every sampled value covered.
#[test]
fn setup_fields_offers_the_sampled_panel_values_as_options_and_check_passes_after_it() {
    let w = World::with(
        SandboxConfig {
            seed: sandbox::Seed::fresh(),
            ..SandboxConfig::default()
        },
        |r| r.replace(", default = \"Other\" }", " }"),
    );
    w.authorize();
    let (rc, out, err) = run(w.cmd().args(["setup-fields", "--yes"]));
    assert_eq!(rc, 0, "{out}{err}");
    let line = out
        .lines()
        .find(|l| l.contains("contact `Country`: select"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains("United States"),
        "the panel's value is offered: {line}"
    );
    assert!(!line.contains("Россия"), "a mapped value is not: {line}");
    let (_, out, err) = run(w.cmd().arg("check"));
    assert!(
        !out.contains("problem: fields.contact.\"Country\""),
        "{out}{err}"
    );
}

/// A dry run plans what the run then does: the same counts of created, updated, unchanged,
/// skipped and joined entities, on the example account and on a fresh one. A re-order whose
/// first lead is itself only planned in the same run shows as joined.
#[test]
fn dry_run_counts_equal_the_run_counts_on_the_example_and_a_fresh_account() {
    for fresh in [false, true] {
        let cfg = if fresh {
            SandboxConfig {
                seed: sandbox::Seed::fresh(),
                ..SandboxConfig::default()
            }
        } else {
            SandboxConfig::default()
        };
        // A fresh account gets the connection part of the example and the rules `init`
        // writes from the account, as the quick start does.
        let w = World::with(cfg, |r| {
            if fresh {
                r[..r.find("\n[sync]").unwrap()].to_string()
            } else {
                r
            }
        });
        w.authorize();
        if fresh {
            for args in [&["init"][..], &["setup-fields", "--yes"]] {
                let (rc, out, err) = run(w.cmd().args(args));
                assert_eq!(rc, 0, "{args:?}: {out}{err}");
            }
        }
        let counts = |args: &[&str]| -> Value {
            let (rc, out, err) = run(w.cmd().args(args));
            assert_eq!(rc, 0, "{args:?}: {out}{err}");
            let v: Value = serde_json::from_str(&out).unwrap();
            v["counts"].clone()
        };
        let planned = counts(&["backfill", "--since", "2024-01-01", "--dry-run", "--json"]);
        let done = counts(&["backfill", "--since", "2024-01-01", "--json"]);
        assert_eq!(planned, done, "fresh account: {fresh}");
        assert!(
            done["lead"]["joined"].as_u64() >= Some(1),
            "the example has a re-order: {done}"
        );
    }
}

/// One go-live date: `backfill` without `--since` sends from the rule file's `[sync] since`;
/// with neither it says where to set it.
#[test]
fn backfill_without_since_uses_the_rule_files_go_live_date_or_says_where_to_set_it() {
    let w = World::new();
    w.authorize();
    let (rc, out, err) = run(w.cmd().args(["backfill", "--json"]));
    assert_eq!(rc, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["since"], "2024-01-01", "{v}");
    assert!(v["counts"]["lead"]["created"].as_u64() > Some(0), "{v}");
    let none = World::with(SandboxConfig::default(), |r| {
        r.replace("\nsince = \"2024-01-01\"\n", "\n")
    });
    none.authorize();
    let (rc, out, err) = run(none.cmd().arg("backfill"));
    assert_eq!(rc, 2, "{out}{err}");
    assert!(
        err.contains("backfill needs a first creation date")
            && err.contains("`since = \"YYYY-MM-DD\"` under `[sync]`"),
        "{err}"
    );
    assert!(none.sandbox.entities("leads").is_empty());
}
