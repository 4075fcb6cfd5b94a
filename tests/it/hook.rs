//! The BILLmanager addon hook and the outbox drain, driven the way the panel drives them:
//! no arguments, `PARAM_*`/`AUTH_USER`/`EVENT_TYPE` in the environment, the panel's XML on
//! stdin (`docs/billmanager.md` §6, `docs/hook.md`). Fixture ids:
//! examples/billmanager/README.md.

use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{run, stored_tokens, World, SECRET};

/// A panel document as an `after` handler of `profile.edit` receives it: CRLF, non-ASCII,
/// attributes, an empty element and no final newline, so "byte for byte" means something.
const DOC: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<doc lang=\"ru\" \
                   func=\"profile.edit\" binary=\"/billmgr\"><elid>301</elid>\
                   <name>ООО «Ромашка» &amp; Co</name><ok/></doc>";

const EMPTY_DOC: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc/>\n";

/// Runs the binary as a handler: no arguments, `env` plus the usual panel variables.
fn hook(w: &World, env: &[(&str, &str)], stdin: &[u8], drain: bool) -> Output {
    let mut c = w.cmd();
    c.env("AUTH_USER", "admin").env("EVENT_TYPE", "after");
    for (k, v) in env {
        c.env(k, v);
    }
    if !drain {
        c.env("AMOCRM_BIN_HOOK_NO_DRAIN", "1");
    }
    c.write_stdin(stdin.to_vec()).output().unwrap()
}

/// Asserts the panel contract: exit 0, the input back unchanged, nothing on stderr.
fn assert_passed_through(out: &Output, input: &[u8]) {
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        out.stdout,
        input,
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        out.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// (kind, bm_id, reason, attempts, parked, last_error) of every outbox item.
fn outbox(w: &World) -> Vec<(String, String, String, i64, bool, Option<String>)> {
    if !w.store().exists() {
        return Vec::new(); // nothing was ever queued
    }
    let conn = rusqlite::Connection::open(w.store()).unwrap();
    let mut stmt = conn
        .prepare("SELECT kind, bm_id, reason, attempts, parked, last_error FROM outbox ORDER BY id")
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get::<_, i64>(4)? != 0,
                r.get(5)?,
            ))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn queued(w: &World) -> Vec<(String, String)> {
    outbox(w).into_iter().map(|(k, id, ..)| (k, id)).collect()
}

fn pair(k: &str, id: &str) -> (String, String) {
    (k.to_string(), id.to_string())
}

/// What the log says when a hook (or a backfill) starts a background drain.
const STARTED_DRAIN: &str = "started `amocrm-bin drain --background`";

fn log_text(w: &World) -> String {
    std::fs::read_to_string(w.path("amocrm-bin.log")).unwrap_or_default()
}

/// Polls `done` every 50 ms for up to 60 s.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run_lock_free(w: &World) -> bool {
    amocrm_bin::lock::run_lock_holder(&w.store()).is_none()
}

fn status_json(w: &World) -> Value {
    let (rc, out, err) = run(w.cmd().args(["status", "--json"]));
    assert_eq!(rc, 0, "{err}");
    serde_json::from_str(out.trim()).unwrap()
}

fn has_binding(w: &World, entity: &str, elid: &str) -> bool {
    // Contacts are bound per BILLmanager user; these tests name them by user id.
    let entity = if entity == "contact" { "user" } else { entity };
    let (rc, _, _) = run(w
        .cmd()
        .args(["bindings", "show", "--entity", entity, "--elid", elid]));
    rc == 0
}

#[test]
fn hook_echoes_the_document_byte_for_byte_and_only_queues() {
    let w = World::new();
    w.authorize();
    w.sandbox.reset_stats();
    let out = hook(
        &w,
        &[
            ("PARAM_func", "profile.edit"),
            ("PARAM_elid", "301"),
            ("PARAM_sok", "ok"),
        ],
        DOC.as_bytes(),
        false,
    );
    assert_passed_through(&out, DOC.as_bytes());
    assert_eq!(
        w.sandbox.stats().requests,
        0,
        "the hook never talks to amoCRM"
    );
    let items = outbox(&w);
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(
        (
            items[0].0.as_str(),
            items[0].1.as_str(),
            items[0].2.as_str()
        ),
        ("company", "301", "profile.edit")
    );
    let log = log_text(&w);
    assert!(
        log.contains("hook: profile.edit elid=301 sok stage=after user=admin → queued company 301"),
        "{log}"
    );
}

#[test]
fn empty_input_is_answered_with_an_empty_doc() {
    let w = World::new();
    let out = hook(
        &w,
        &[("PARAM_func", "service.postopen"), ("PARAM_elid", "401")],
        b"",
        false,
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), EMPTY_DOC);
    assert!(out.stderr.is_empty());
    assert_eq!(queued(&w), vec![pair("lead", "401")]);
}

#[test]
fn group_operation_queues_every_elid_once() {
    let w = World::new();
    let out = hook(
        &w,
        &[
            ("PARAM_func", "service.postsuspend"),
            ("PARAM_elid", "401, 402, 401"),
        ],
        DOC.as_bytes(),
        false,
    );
    assert_passed_through(&out, DOC.as_bytes());
    assert_eq!(queued(&w), vec![pair("lead", "401"), pair("lead", "402")]);
}

#[test]
fn hook_returns_without_amocrm_when_it_is_slow() {
    let w = World::new();
    w.authorize();
    w.sandbox.set_latency_ms(5_000);
    w.sandbox.reset_stats();
    let out = hook(
        &w,
        &[("PARAM_func", "service.postopen"), ("PARAM_elid", "404")],
        DOC.as_bytes(),
        false,
    );
    assert_passed_through(&out, DOC.as_bytes());
    assert_eq!(w.sandbox.stats().requests, 0);
    assert_eq!(queued(&w), vec![pair("lead", "404")]);
}

#[test]
fn hook_answers_while_amocrm_is_down_and_its_drain_records_the_failure() {
    let w = World::new();
    w.authorize();
    // amoCRM goes down: the rule file now points at a closed port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let text = std::fs::read_to_string(&w.rules).unwrap();
    std::fs::write(&w.rules, text.replace(&w.sandbox.base_url(), &down)).unwrap();
    let out = hook(
        &w,
        &[("PARAM_func", "service.postopen"), ("PARAM_elid", "404")],
        DOC.as_bytes(),
        true,
    );
    assert_passed_through(&out, DOC.as_bytes());
    // The hook's detached drain tries, fails, and leaves the item queued with the error.
    wait_for("the background drain to record its failure", || {
        outbox(&w).first().is_some_and(|i| i.3 >= 1) && run_lock_free(&w)
    });
    let item = &outbox(&w)[0];
    assert_eq!((item.0.as_str(), item.1.as_str()), ("lead", "404"));
    assert!(!item.4, "one failure does not park: {item:?}");
    let (rc, out, err) = run(w.cmd().arg("status"));
    assert_eq!(rc, 0, "{err}");
    assert!(
        out.contains("1 queued") && out.contains("last error:"),
        "{out}"
    );
    let log = log_text(&w);
    assert!(
        log.contains("drain: lead 404 (service.postopen) → failed, will retry"),
        "{log}"
    );
}

#[test]
fn drain_pushes_what_the_hooks_queued_and_the_log_has_a_line_each_without_tokens() {
    let w = World::new();
    w.authorize();
    let events: &[&[(&str, &str)]] = &[
        &[
            ("PARAM_func", "account.edit"),
            ("PARAM_elid", "104"),
            ("PARAM_sok", "ok"),
        ],
        &[
            ("PARAM_func", "profile.edit"),
            ("PARAM_elid", "304"),
            ("PARAM_sok", "ok"),
        ],
        &[("PARAM_func", "service.postopen"), ("PARAM_elid", "404")],
        &[
            ("PARAM_func", "user.edit"),
            ("PARAM_elid", "207"),
            ("PARAM_sok", "ok"),
        ],
    ];
    for env in events {
        assert_passed_through(&hook(&w, env, DOC.as_bytes(), false), DOC.as_bytes());
    }
    assert_eq!(
        queued(&w),
        vec![
            pair("contact", "104"),
            pair("company", "304"),
            pair("lead", "404"),
            pair("user", "207")
        ]
    );
    let (rc, out, err) = run(w.cmd().arg("drain"));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(err.contains("4 pushed"), "{err}");
    assert!(queued(&w).is_empty());
    for (entity, elid) in [
        ("contact", "205"),
        ("company", "304"),
        ("lead", "404"),
        ("contact", "207"),
    ] {
        assert!(has_binding(&w, entity, elid), "{entity} {elid} synced");
    }
    // Nothing left: a second drain makes no request.
    w.sandbox.reset_stats();
    let (rc, _, err) = run(w.cmd().arg("drain"));
    assert_eq!(rc, 0, "{err}");
    assert_eq!(w.sandbox.stats().requests, 0);

    let log = log_text(&w);
    assert_eq!(log.matches("hook: ").count(), 4, "{log}");
    assert_eq!(log.matches("→ done").count(), 4, "{log}");
    assert!(log.contains("drain: user 207 (user.edit) → done"), "{log}");
    let (access, refresh) = stored_tokens(&w.store());
    for secret in [access.as_str(), refresh.as_str(), SECRET] {
        assert!(!log.contains(secret), "a secret reached the log:\n{log}");
    }
    let runs = status_json(&w)["runs"].clone();
    assert!(
        runs.as_array()
            .unwrap()
            .iter()
            .any(|r| r["command"] == "drain" && r["exit_code"] == 0),
        "{runs}"
    );
}

#[test]
fn the_drain_a_hook_starts_syncs_the_entity_in_the_background() {
    let w = World::new();
    w.authorize();
    let out = hook(
        &w,
        &[("PARAM_func", "service.postopen"), ("PARAM_elid", "401")],
        DOC.as_bytes(),
        true,
    );
    assert_passed_through(&out, DOC.as_bytes());
    assert!(log_text(&w).contains(STARTED_DRAIN), "{}", log_text(&w));
    wait_for("the lead to appear in amoCRM", || {
        !w.sandbox.entities("leads").is_empty() && queued(&w).is_empty() && run_lock_free(&w)
    });
    assert_eq!(w.sandbox.entities("leads").len(), 1);
    assert!(has_binding(&w, "lead", "401"));
}

/// Entity counts and lead names in amoCRM after syncing `services` one by one (the oracle).
fn sequential_result(services: &[&str], contacts: &[&str]) -> (usize, usize, usize, Vec<String>) {
    let w = World::new();
    w.authorize();
    for s in services {
        run(w.cmd().args(["sync", "--entity", "lead", "--elid", s]));
    }
    for c in contacts {
        run(w.cmd().args(["sync", "--entity", "contact", "--elid", c]));
    }
    snapshot(&w)
}

fn snapshot(w: &World) -> (usize, usize, usize, Vec<String>) {
    let mut names: Vec<String> = w
        .sandbox
        .entities("leads")
        .iter()
        .map(|l| l["name"].as_str().unwrap_or("").to_string())
        .collect();
    names.sort();
    (
        w.sandbox.entities("leads").len(),
        w.sandbox.entities("contacts").len(),
        w.sandbox.entities("companies").len(),
        names,
    )
}

/// amoCRM ids bound per kind, deduplicated (several BILLmanager entities may share one).
fn bound_ids(w: &World, kind: &str) -> std::collections::BTreeSet<i64> {
    let (rc, out, err) = run(w
        .cmd()
        .args(["bindings", "list", "--entity", kind, "--json"]));
    assert_eq!(rc, 0, "{err}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    v["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["amo_id"].as_i64())
        .collect()
}

#[test]
fn ten_hooks_at_once_with_concurrent_syncs_give_no_duplicate_and_no_lost_sync() {
    // Ten events, one of them twice (401). 406 is left out on purpose: whether it joins
    // 405's lead depends on which of the two is synced first, and concurrent events have
    // no order (docs/hook.md, "Limits").
    let events = [
        "401", "402", "403", "404", "405", "407", "408", "409", "410", "401",
    ];
    let services = &events[..9];
    // `backfill` is not built yet (issue 4): concurrent operator `sync` runs of entities
    // the hooks also touch stand in for it.
    let operator: [(&str, &str); 4] = [
        ("lead", "401"),
        ("lead", "404"),
        ("lead", "409"),
        ("contact", "101"),
    ];
    let w = World::new();
    w.authorize();
    std::thread::scope(|s| {
        for id in events {
            let w = &w;
            s.spawn(move || {
                let out = hook(
                    w,
                    &[("PARAM_func", "service.postopen"), ("PARAM_elid", id)],
                    DOC.as_bytes(),
                    true,
                );
                assert_passed_through(&out, DOC.as_bytes());
            });
        }
        for (entity, elid) in operator {
            let w = &w;
            s.spawn(move || {
                let (rc, out, err) =
                    run(w.cmd().args(["sync", "--entity", entity, "--elid", elid]));
                assert_eq!(rc, 0, "{out}{err}");
            });
        }
    });
    wait_for("the hooks' drains to empty the outbox", || {
        queued(&w).is_empty() && run_lock_free(&w)
    });
    let (rc, out, err) = run(w.cmd().arg("drain"));
    assert_eq!(rc, 0, "{out}{err}");
    // No lost sync: every service has its lead (407 is skipped by a rule).
    for id in services {
        let skipped = *id == "407";
        assert_eq!(
            has_binding(&w, "lead", id),
            !skipped,
            "lead for service {id}"
        );
    }
    // No duplicate: every entity in amoCRM is one a binding points at.
    for (kind, collection) in [
        ("lead", "leads"),
        ("contact", "contacts"),
        ("company", "companies"),
    ] {
        assert_eq!(
            w.sandbox.entities(collection).len(),
            bound_ids(&w, kind).len(),
            "unbound (duplicate) {collection}"
        );
    }
    // And the same as syncing one by one.
    let got = snapshot(&w);
    let expected = sequential_result(services, &["101"]);
    assert_eq!(
        got, expected,
        "concurrent result differs from one-by-one syncing"
    );
    let status = status_json(&w);
    assert_eq!(status["outbox"]["queued"], 0, "{status}");
}

#[test]
fn malformed_xml_is_logged_and_passed_through_untouched() {
    let w = World::new();
    let bad = b"<?xml version=\"1.0\"?>\n<doc><elid>301</doc";
    let out = hook(
        &w,
        &[
            ("PARAM_func", "profile.edit"),
            ("PARAM_elid", "301"),
            ("PARAM_sok", "ok"),
        ],
        bad,
        false,
    );
    assert_passed_through(&out, bad);
    let log = log_text(&w);
    assert!(
        log.contains("profile.edit elid=301") && log.contains("malformed XML"),
        "{log}"
    );
    // The environment names the entity; the document is only a second source.
    assert_eq!(queued(&w), vec![pair("company", "301")]);
}

#[test]
fn unknown_function_is_logged_and_passed_through_untouched() {
    let w = World::new();
    let out = hook(
        &w,
        &[("PARAM_func", "payment.add"), ("PARAM_elid", "9")],
        DOC.as_bytes(),
        false,
    );
    assert_passed_through(&out, DOC.as_bytes());
    let log = log_text(&w);
    assert!(log.contains("unknown function `payment.add`"), "{log}");
    assert!(queued(&w).is_empty());
}

#[test]
fn an_opened_form_queues_nothing_and_its_submit_does() {
    let w = World::new();
    let env = [("PARAM_func", "account.edit"), ("PARAM_elid", "101")];
    assert_passed_through(&hook(&w, &env, DOC.as_bytes(), false), DOC.as_bytes());
    assert!(queued(&w).is_empty());
    assert!(log_text(&w).contains("not submitted"));
    let submit = [env[0], env[1], ("PARAM_sok", "ok")];
    assert_passed_through(&hook(&w, &submit, DOC.as_bytes(), false), DOC.as_bytes());
    assert_eq!(queued(&w), vec![pair("contact", "101")]);
}

#[test]
fn the_rule_file_adds_and_ignores_functions_and_can_leave_draining_to_cron() {
    let w = World::with(Default::default(), |r| {
        r.replace("spawn_drain = true", "spawn_drain = false")
            .replace("ignore = []", "ignore = [\"profile.edit\"]")
            .replace(
                "[hook.events]",
                "[hook.events]\n\"myplugin.sync\" = \"lead\"",
            )
    });
    w.authorize();
    w.sandbox.reset_stats();
    let ignored = [
        ("PARAM_func", "profile.edit"),
        ("PARAM_elid", "301"),
        ("PARAM_sok", "ok"),
    ];
    assert_passed_through(&hook(&w, &ignored, DOC.as_bytes(), true), DOC.as_bytes());
    let added = [("PARAM_func", "myplugin.sync"), ("PARAM_elid", "404")];
    assert_passed_through(&hook(&w, &added, DOC.as_bytes(), true), DOC.as_bytes());
    assert_eq!(queued(&w), vec![pair("lead", "404")]);
    assert!(log_text(&w).contains("`profile.edit` is in `[hook] ignore`"));
    // spawn_drain = false: no drain was started (the hook logs each it starts before it
    // exits), so nothing pushes it until a drain runs.
    assert!(!log_text(&w).contains(STARTED_DRAIN), "{}", log_text(&w));
    assert_eq!(w.sandbox.stats().requests, 0);
    let (rc, out, err) = run(w.cmd().arg("drain"));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(has_binding(&w, "lead", "404"));
}

#[test]
fn a_broken_rule_file_still_answers_the_panel_unchanged() {
    let w = World::new();
    std::fs::write(&w.rules, "[amocrm\nbroken").unwrap();
    let env = [("PARAM_func", "service.postopen"), ("PARAM_elid", "401")];
    assert_passed_through(&hook(&w, &env, DOC.as_bytes(), true), DOC.as_bytes());
    let mut missing = w.cmd();
    missing
        .env("AMOCRM_BIN_CONFIG", w.path("nope.toml"))
        .env("PARAM_func", "service.postopen")
        .write_stdin(DOC.as_bytes().to_vec());
    assert_passed_through(&missing.output().unwrap(), DOC.as_bytes());
}

#[test]
fn drain_drops_an_entity_billmanager_does_not_have_and_says_so() {
    let w = World::new();
    w.authorize();
    let env = [("PARAM_func", "service.postopen"), ("PARAM_elid", "999")];
    assert_passed_through(&hook(&w, &env, DOC.as_bytes(), false), DOC.as_bytes());
    assert_eq!(queued(&w), vec![pair("lead", "999")]);
    let (rc, out, err) = run(w.cmd().arg("drain"));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(
        err.contains("lead 999")
            && err.contains("dropped")
            && err.contains("no service with id 999"),
        "{err}"
    );
    assert!(outbox(&w).is_empty(), "junk is not kept: {:?}", outbox(&w));
    let (rc, out, _) = run(w.cmd().arg("status"));
    assert_eq!(rc, 0);
    assert!(out.contains("0 parked"), "{out}");
    let (rc, _, err) = run(w.cmd().args(["drain", "--all"]));
    assert_eq!(rc, 0, "{err}");
    assert!(err.contains("nothing to push"), "{err}");
}

#[test]
fn drain_leaves_the_queue_to_the_run_that_holds_the_lock() {
    let w = World::new();
    w.authorize();
    let env = [("PARAM_func", "service.postopen"), ("PARAM_elid", "404")];
    assert_passed_through(&hook(&w, &env, DOC.as_bytes(), false), DOC.as_bytes());
    let held = amocrm_bin::lock::try_lock(&w.store(), amocrm_bin::lock::LockKind::Run, "backfill")
        .unwrap();
    let (rc, _, err) = run(w.cmd().arg("drain"));
    assert_eq!(rc, 6, "{err}");
    assert!(err.contains("backfill"), "{err}");
    let (rc, out, err) = run(w.cmd().args(["drain", "--background"]));
    assert_eq!((rc, out.as_str(), err.as_str()), (0, "", ""));
    assert_eq!(queued(&w), vec![pair("lead", "404")]);
    drop(held);
    let (rc, out, err) = run(w.cmd().arg("drain"));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(queued(&w).is_empty());
}

#[test]
fn the_plugin_xml_registers_exactly_the_built_in_events_and_the_docs_name_them() {
    let root = crate::support::root();
    let text = std::fs::read_to_string(
        root.join("examples/billmanager-plugin/billmgr_mod_amocrm_bin.xml"),
    )
    .unwrap();
    let info = amocrm_bin::hook::xml::inspect(text.as_bytes()).unwrap();
    assert_eq!(info.root, "mgrdata");
    assert!(text.contains("<handler name=\"amocrm-bin\" type=\"xml\">"));
    let re = regex::Regex::new(r#"<event name="([^"]+)" after="yes"/>"#).unwrap();
    let registered: std::collections::BTreeSet<&str> = re
        .captures_iter(&text)
        .map(|c| c.get(1).unwrap().as_str())
        .collect();
    assert_eq!(text.matches("<event ").count(), registered.len());
    let map = amocrm_bin::hook::events::EventMap::builtin();
    let builtin: std::collections::BTreeSet<&str> = map.functions().map(|(f, _)| f).collect();
    assert_eq!(registered, builtin);
    let docs = std::fs::read_to_string(root.join("docs/hook.md")).unwrap();
    for f in builtin {
        assert!(
            docs.contains(&format!("`{f}`")),
            "docs/hook.md does not name `{f}`"
        );
    }
}
