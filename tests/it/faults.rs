//! Fault injection (issue 7): each test drives the real binary against the sandbox while one
//! kind of fault is injected, then asserts on what amoCRM holds, the store, the exit codes
//! and every output. The figures asserted here are the ones `docs/reliability.md` reports:
//! duplicates 0, lost entities 0, reused refresh tokens 0, requests over 7/s 0, panics 0,
//! leaked secrets 0.
//!
//! [`Rig`] is the shared harness (also used by `security.rs`): it records every stdout,
//! stderr, log file and run-journal row a test produced and every token the store held, and
//! [`Rig::finish`] greps all of it for the client secret and the tokens.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fakebill::generate::{write, Spec};
use sandbox::{Fault, SandboxConfig};
use serde_json::Value;

use crate::support::{World, SECRET};

/// The exit codes README documents.
pub const DOCUMENTED: std::ops::RangeInclusive<i32> = 0..=6;

/// A world plus the record of everything it printed and every token it held.
pub struct Rig {
    pub w: World,
    outputs: Mutex<Vec<(String, String)>>,
    tokens: Mutex<BTreeSet<String>>,
}

/// What [`Rig::finish`] measured (each is also asserted there).
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    pub max_per_second: u32,
    pub refresh_token_reuse: u64,
    pub leaks: usize,
    pub texts: usize,
}

impl std::ops::Deref for Rig {
    type Target = World;
    fn deref(&self) -> &World {
        &self.w
    }
}

/// A small generated BILLmanager data set: 12 clients, 15 users, 4 payers (3 companies,
/// two payers share an INN), 16 services.
pub fn small_spec() -> Spec {
    Spec {
        clients: 12,
        extra_user_every: 4,
        payer_every: 3,
        shared_inn_every: 2,
        services: 16,
        date: "2025-06-01".into(),
    }
}

/// Writes `spec` into a fresh directory.
pub fn dataset(spec: &Spec) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), spec).unwrap();
    dir
}

impl Rig {
    /// A rig over a world reading `data`, with `edit` applied to the example rules.
    pub fn with_data(
        cfg: SandboxConfig,
        data: &Path,
        edit: impl FnOnce(String) -> String,
    ) -> Rig {
        Rig::new(World::with_data(cfg, data, edit))
    }

    /// Wraps a world.
    pub fn new(w: World) -> Rig {
        Rig {
            w,
            outputs: Mutex::new(Vec::new()),
            tokens: Mutex::new(BTreeSet::new()),
        }
    }

    /// `auth --code` with a fresh code.
    pub fn authorize(&self) {
        let code = self.sandbox.issue_code();
        let (rc, out, err) = self.run(&["auth", "--code", &code]);
        assert_eq!(rc, 0, "{out}{err}");
    }

    /// Runs the binary with `args`; asserts no panic and a documented exit code.
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        self.run_cmd(self.w.cmd().args(args), &args.join(" "))
    }

    /// Runs a prepared command (from `self.cmd()`); same checks as [`Rig::run`].
    pub fn run_cmd(&self, cmd: &mut assert_cmd::Command, label: &str) -> (i32, String, String) {
        let (rc, out, err) = crate::support::run(cmd);
        self.note(label, Some(rc), &out, &err);
        (rc, out, err)
    }

    /// Records one finished process's output; `rc = None` for a process we killed.
    pub fn note(&self, label: &str, rc: Option<i32>, out: &str, err: &str) {
        assert!(
            !err.contains("panicked at") && !out.contains("panicked at"),
            "`{label}` panicked:\n{err}"
        );
        if let Some(rc) = rc {
            assert!(
                DOCUMENTED.contains(&rc),
                "`{label}` exited {rc}, not a documented exit code:\n{out}\n{err}"
            );
        }
        let mut o = self.outputs.lock().unwrap();
        o.push((format!("{label} (stdout)"), out.to_string()));
        o.push((format!("{label} (stderr)"), err.to_string()));
        drop(o);
        self.snapshot_tokens();
    }

    /// Remembers the token pair the store holds now (tokens rotate; call it often).
    pub fn snapshot_tokens(&self) {
        if let Some((a, r)) = read_tokens(&self.store()) {
            let mut t = self.tokens.lock().unwrap();
            t.insert(a);
            if let Some(r) = r {
                t.insert(r);
            }
        }
    }

    /// The binary as a child process, its stdout/stderr going to files named after `name`.
    pub fn spawn(&self, args: &[&str], env: &[(&str, &str)], name: &str) -> Child {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin!("amocrm-bin"));
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AMOCRM_BIN_CONFIG", &self.rules)
            .env("AMOCRM_CLIENT_SECRET", SECRET)
            .env("AMOCRM_BIN_TEST_BACKOFF_MS", "20")
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(self.path(&format!("{name}.stdout"))).unwrap())
            .stderr(std::fs::File::create(self.path(&format!("{name}.stderr"))).unwrap());
        for (k, v) in env {
            c.env(k, v);
        }
        c.spawn().unwrap()
    }

    /// Waits for a child started by [`Rig::spawn`] and records its output; `None` when it
    /// was killed by a signal.
    pub fn reap(&self, mut child: Child, name: &str) -> Option<i32> {
        let status = child.wait().unwrap();
        let out = std::fs::read_to_string(self.path(&format!("{name}.stdout"))).unwrap_or_default();
        let err = std::fs::read_to_string(self.path(&format!("{name}.stderr"))).unwrap_or_default();
        self.note(name, status.code(), &out, &err);
        status.code()
    }

    /// Every text the suite can see besides process output: log files, run-journal rows,
    /// outbox errors.
    fn stored_texts(&self) -> Vec<(String, String)> {
        let mut texts = Vec::new();
        if let Ok(rd) = std::fs::read_dir(self.dir.path()) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.contains(".log") {
                    let bytes = std::fs::read(e.path()).unwrap_or_default();
                    texts.push((name, String::from_utf8_lossy(&bytes).into_owned()));
                }
            }
        }
        if let Ok(conn) = rusqlite::Connection::open(self.store()) {
            for (what, sql) in [
                ("run journal", "SELECT COALESCE(summary, '') FROM runs"),
                ("outbox", "SELECT COALESCE(last_error, '') FROM outbox"),
            ] {
                if let Ok(mut stmt) = conn.prepare(sql) {
                    let rows: Vec<String> = stmt
                        .query_map([], |r| r.get(0))
                        .map(|rows| rows.flatten().collect())
                        .unwrap_or_default();
                    for r in rows {
                        texts.push((what.to_string(), r));
                    }
                }
            }
        }
        texts
    }

    /// Greps everything recorded for the client secret and every token seen, and checks
    /// the sandbox's counters: never more than 7 requests in a second, no refresh token
    /// presented twice. Returns the figures.
    pub fn finish(&self) -> Figures {
        self.snapshot_tokens();
        let mut secrets: Vec<String> = vec![SECRET.to_string()];
        secrets.extend(self.tokens.lock().unwrap().iter().cloned());
        let mut texts = self.outputs.lock().unwrap().clone();
        texts.extend(self.stored_texts());
        let mut leaks = Vec::new();
        for (label, text) in &texts {
            for s in &secrets {
                if s.len() >= 8 && text.contains(s.as_str()) {
                    leaks.push(format!("{label} holds `{}…`", &s[..6]));
                }
            }
        }
        assert!(leaks.is_empty(), "secrets leaked: {leaks:#?}");
        let stats = self.sandbox.stats();
        assert!(
            stats.max_per_second <= 7,
            "{} requests within one second: {stats:?}",
            stats.max_per_second
        );
        assert_eq!(stats.refresh_token_reuse, 0, "a refresh token was reused");
        Figures {
            max_per_second: stats.max_per_second,
            refresh_token_reuse: stats.refresh_token_reuse,
            leaks: leaks.len(),
            texts: texts.len(),
        }
    }
}

/// The stored (access, refresh) pair, if the store is readable and holds one.
pub fn read_tokens(store: &Path) -> Option<(String, Option<String>)> {
    if !store.exists() {
        return None;
    }
    let conn = rusqlite::Connection::open_with_flags(
        store,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .ok()?;
    conn.busy_timeout(Duration::from_secs(5)).ok()?;
    conn.query_row(
        "SELECT access_token, refresh_token FROM oauth_tokens",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .ok()
}

/// `PRAGMA integrity_check` of the store.
pub fn integrity(store: &Path) -> String {
    let conn = rusqlite::Connection::open(store).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// (bindings, distinct amoCRM ids bound) of one kind.
fn bound(store: &Path, kind: &str) -> (usize, BTreeSet<i64>) {
    let conn = rusqlite::Connection::open(store).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    let mut stmt = conn
        .prepare("SELECT amo_id FROM bindings WHERE kind = ?1")
        .unwrap();
    let ids: Vec<i64> = stmt
        .query_map([kind], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    (ids.len(), ids.into_iter().collect())
}

/// Duplicates and lost entities after a run over `spec`'s data.
#[derive(Debug, PartialEq, Eq)]
pub struct Tally {
    /// amoCRM entities beyond one per BILLmanager entity, plus entities no binding names.
    pub duplicates: usize,
    /// BILLmanager entities with no amoCRM entity bound.
    pub lost: usize,
}

/// Counts duplicates and lost entities, kind by kind, for a generated data set.
pub fn tally(w: &World, spec: &Spec) -> Tally {
    let mut t = Tally {
        duplicates: 0,
        lost: 0,
    };
    for (kind, collection, expected) in [
        ("contact", "contacts", spec.users()),
        ("company", "companies", spec.companies()),
        ("lead", "leads", spec.services),
    ] {
        let in_crm: BTreeSet<i64> = w
            .sandbox
            .entities(collection)
            .iter()
            .filter_map(|e| e["id"].as_i64())
            .collect();
        let (_, ids) = bound(&w.store(), kind);
        let bindings_expected = expected;
        // Every entity in amoCRM must be one a binding points at, and one per BILLmanager entity.
        t.duplicates += in_crm.difference(&ids).count();
        t.duplicates += in_crm.len().saturating_sub(expected);
        t.lost += bindings_expected.saturating_sub(ids.intersection(&in_crm).count());
    }
    t
}

/// Asserts exactly one amoCRM entity per BILLmanager entity, each bound, and that a further
/// backfill finds nothing to do.
pub fn assert_complete(rig: &Rig, spec: &Spec) {
    assert_eq!(
        tally(rig, spec),
        Tally {
            duplicates: 0,
            lost: 0
        },
        "contacts {} / {}, companies {} / {}, leads {} / {}",
        rig.sandbox.entities("contacts").len(),
        spec.users(),
        rig.sandbox.entities("companies").len(),
        spec.companies(),
        rig.sandbox.entities("leads").len(),
        spec.services,
    );
    for lead in rig.sandbox.entities("leads") {
        let contacts = lead["_embedded"]["contacts"].as_array().map_or(0, Vec::len);
        assert!(contacts >= 1, "lead without its contact: {lead}");
    }
    let writes = rig.sandbox.stats().writes;
    let (rc, v, err) = backfill_json(rig);
    assert_eq!(rc, 0, "{v}{err}");
    assert_eq!(rig.sandbox.stats().writes, writes, "a clean re-run wrote: {v}");
    assert_eq!(
        v["counts"]["lead"]["unchanged"].as_u64(),
        Some(spec.services as u64),
        "{v}"
    );
    assert_eq!(integrity(&rig.store()), "ok");
}

/// `backfill --since 2025-01-01 --json` → (exit code, summary, stderr).
pub fn backfill_json(rig: &Rig) -> (i32, Value, String) {
    let (rc, out, err) = rig.run(&["backfill", "--since", "2025-01-01", "--json"]);
    let v = serde_json::from_str(out.trim()).unwrap_or(Value::Null);
    (rc, v, err)
}

/// Requests the sandbox saw whose path starts with `prefix` (any method).
pub fn hits(w: &World, prefix: &str) -> u64 {
    w.sandbox
        .stats()
        .by_route
        .iter()
        .filter(|(route, _)| {
            route
                .split_once(' ')
                .is_some_and(|(_, path)| path.starts_with(prefix))
        })
        .map(|(_, n)| *n)
        .sum()
}

/// Queues `fault` so that it hits the first *write* under `prefix` of a run of `args`:
/// a dry run of the same command makes the same lookups (GETs) but no write, so the number
/// of requests it sends under `prefix` is how many to let through first.
pub fn fault_on_first_write(rig: &Rig, args: &[&str], prefix: &str, fault: Fault) -> u64 {
    let mut dry: Vec<&str> = args.to_vec();
    dry.push("--dry-run");
    // Once to fill the dictionary cache, once to count.
    assert!(DOCUMENTED.contains(&rig.run(&dry).0));
    rig.sandbox.reset_stats();
    let (rc, out, err) = rig.run(&dry);
    assert!(rc <= 1, "{out}{err}");
    let n = hits(rig, prefix);
    if n > 0 {
        rig.sandbox.inject(Fault::Delay {
            ms: 0,
            count: n as u32,
            path_prefix: Some(prefix.into()),
        });
    }
    rig.sandbox.inject(fault);
    rig.sandbox.reset_stats();
    n
}

/// Polls `cond` every 20 ms for up to `secs` seconds.
pub fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn outbox(store: &Path) -> Vec<(String, String, bool)> {
    let conn = rusqlite::Connection::open(store).unwrap();
    let mut stmt = conn
        .prepare("SELECT kind, bm_id, parked FROM outbox ORDER BY id")
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? != 0))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn spec_world(spec: &Spec, batch: usize) -> (tempfile::TempDir, Rig) {
    let data = dataset(spec);
    let rig = Rig::with_data(SandboxConfig::default(), data.path(), |r| {
        r.replace("batch_size = 250", &format!("batch_size = {batch}"))
    });
    rig.authorize();
    (data, rig)
}

// ---------------------------------------------------------------------------------------
// amoCRM answers badly

#[test]
fn storm_of_429s_is_ridden_out_below_7_rps_and_the_backfill_completes() {
    let spec = small_spec();
    let (_data, rig) = spec_world(&spec, 5);
    // Three 429s in a row (retry_after 1 s each), then three more later in the run.
    rig.sandbox.inject(Fault::Status {
        code: 429,
        count: 3,
        path_prefix: None,
    });
    rig.sandbox.inject(Fault::Delay {
        ms: 0,
        count: 4,
        path_prefix: None,
    });
    rig.sandbox.inject(Fault::Status {
        code: 429,
        count: 3,
        path_prefix: Some("/api/v4/leads".into()),
    });
    let started = Instant::now();
    let (rc, v, err) = backfill_json(&rig);
    assert_eq!(rc, 0, "{v}{err}");
    assert_eq!(rig.sandbox.stats().status_429, 6);
    assert_eq!(v["requests"]["status_429"], 6, "{v}");
    // Every 429 asked for a one-second pause, and got it.
    assert!(started.elapsed() >= Duration::from_secs(5), "{:?}", started.elapsed());
    assert_complete(&rig, &spec);
    let f = rig.finish();
    assert!(f.max_per_second <= 7);
}

#[test]
fn server_errors_500_502_504_are_retried_and_a_long_outage_exits_5_losing_nothing() {
    let spec = small_spec();
    let (_data, rig) = spec_world(&spec, 5);
    for (code, prefix) in [
        (500, "/api/v4/contacts"),
        (502, "/api/v4/leads"),
        (504, "/api/v4/companies"),
        (500, "/api/v4/"),
    ] {
        rig.sandbox.inject(Fault::Status {
            code,
            count: 1,
            path_prefix: Some(prefix.into()),
        });
    }
    let (rc, v, err) = backfill_json(&rig);
    assert_eq!(rc, 0, "{v}{err}");
    let stats = rig.sandbox.stats();
    assert_eq!(stats.status_5xx, 4);
    assert!(v["requests"]["retries"].as_u64().unwrap() >= 4, "{v}");
    assert_complete(&rig, &spec);

    // An outage longer than the retry budget: exit 5 at once after 7 attempts, the entity
    // queued; after the outage the queue drains.
    let before = rig.sandbox.stats().requests;
    rig.sandbox.inject(Fault::Status {
        code: 503,
        count: 1000,
        path_prefix: None,
    });
    rig.run(&["bindings", "forget", "--entity", "lead", "--elid", "700001"]);
    let (rc, out, err) = rig.run(&["sync", "--entity", "lead", "--elid", "700001"]);
    assert_eq!(rc, 5, "{out}{err}");
    assert!(err.contains("gave up after 7 attempts"), "{err}");
    assert_eq!(rig.sandbox.stats().requests - before, 7, "no retry loop");
    assert_eq!(
        outbox(&rig.store()),
        vec![("lead".to_string(), "700001".to_string(), false)]
    );
    rig.sandbox.clear_faults();
    let (rc, out, err) = rig.run(&["drain", "--all"]);
    assert_eq!(rc, 0, "{out}{err}");
    assert!(outbox(&rig.store()).is_empty());
    assert_complete(&rig, &spec);
    rig.finish();
}

#[test]
fn dropped_connections_are_retried_and_a_dropped_write_is_queued_then_pushed_once() {
    let spec = small_spec();
    let (_data, rig) = spec_world(&spec, 5);
    // Reads whose connection drops are simply retried.
    rig.sandbox.inject(Fault::Drop {
        count: 2,
        path_prefix: None,
    });
    let (rc, out, err) = rig.run(&["backfill", "--since", "2025-01-01", "--entity", "contact"]);
    assert_eq!(rc, 0, "{out}{err}");
    assert_eq!(rig.sandbox.entities("contacts").len(), spec.users());

    // A write whose connection drops after it was sent may have been applied: it is not
    // retried blindly; the lead is queued and the next run looks before creating.
    let sync = ["sync", "--entity", "lead", "--elid", "700001"];
    fault_on_first_write(
        &rig,
        &sync,
        "/api/v4/leads",
        Fault::Drop {
            count: 1,
            path_prefix: Some("/api/v4/leads".into()),
        },
    );
    let (rc, out, err) = rig.run(&sync);
    assert_eq!(rc, 5, "{out}{err}");
    assert!(
        err.contains("POST /api/v4/leads was lost") || out.contains("POST /api/v4/leads was lost"),
        "{out}{err}"
    );
    assert_eq!(rig.sandbox.stats().by_route.get("POST /api/v4/leads"), Some(&1));
    assert!(rig.sandbox.entities("leads").is_empty(), "the dropped write was not applied");
    assert_eq!(
        outbox(&rig.store()),
        vec![("lead".to_string(), "700001".to_string(), false)]
    );
    let (rc, out, err) = rig.run(&["drain", "--all"]);
    assert_eq!(rc, 0, "{out}{err}");
    assert_eq!(rig.sandbox.entities("leads").len(), 1);
    assert!(outbox(&rig.store()).is_empty());
    let (rc, v, err) = backfill_json(&rig);
    assert_eq!(rc, 0, "{v}{err}");
    assert_complete(&rig, &spec);
    rig.finish();
}

#[test]
fn slow_answers_past_the_timeout_are_retried_and_a_timed_out_write_is_adopted() {
    let spec = small_spec();
    let data = dataset(&spec);
    let rig = Rig::with_data(SandboxConfig::default(), data.path(), |r| {
        r.replace("timeout_secs = 20", "timeout_secs = 1")
            .replace("batch_size = 250", "batch_size = 5")
    });
    rig.authorize();
    // Two reads answered after 1.5 s: the client gives up after 1 s and asks again.
    rig.sandbox.inject(Fault::Delay {
        ms: 1500,
        count: 2,
        path_prefix: None,
    });
    let (rc, out, err) = rig.run(&[
        "-v",
        "backfill",
        "--since",
        "2025-01-01",
        "--entity",
        "contact",
    ]);
    assert_eq!(rc, 0, "{out}{err}");
    assert!(err.contains("timed out"), "{err}");
    // A create amoCRM applies after the client timed out: the lead exists, the client does
    // not know its id. The re-run finds it by its BILLmanager-id field instead of creating
    // a second one.
    let sync = ["sync", "--entity", "lead", "--elid", "700001"];
    fault_on_first_write(
        &rig,
        &sync,
        "/api/v4/leads",
        Fault::Delay {
            ms: 1500,
            count: 1,
            path_prefix: Some("/api/v4/leads".into()),
        },
    );
    let (rc, out, err) = rig.run(&sync);
    assert_eq!(rc, 5, "{out}{err}");
    wait_until(5, "the slow create to land", || {
        rig.sandbox.entities("leads").len() == 1
    });
    let (rc, out, err) = rig.run(&sync);
    assert_eq!(rc, 0, "{out}{err}");
    assert!(out.contains("adopted"), "{out}");
    assert_eq!(rig.sandbox.entities("leads").len(), 1, "no duplicate");
    let (rc, v, err) = backfill_json(&rig);
    assert_eq!(rc, 0, "{v}{err}");
    assert_complete(&rig, &spec);
    rig.finish();
}

#[test]
fn lost_answers_to_batched_creates_are_adopted_by_the_rerun_not_duplicated() {
    let spec = small_spec();
    let (_data, rig) = spec_world(&spec, 250);
    // amoCRM applies the contact batch, then the connection dies before the answer.
    let contacts = ["backfill", "--since", "2025-01-01", "--entity", "contact"];
    let n = fault_on_first_write(
        &rig,
        &contacts,
        "/api/v4/contacts",
        Fault::LostResponse {
            count: 1,
            path_prefix: Some("/api/v4/contacts".into()),
        },
    );
    assert!(n >= 1, "the dry run looked contacts up first");
    let (rc, out, err) = rig.run(&contacts);
    assert_eq!(rc, 1, "{out}{err}");
    assert!(out.contains("POST /api/v4/contacts was lost"), "{out}{err}");
    assert_eq!(
        rig.sandbox.entities("contacts").len(),
        spec.users(),
        "the lost batch was applied"
    );
    let (rc, out, err) = rig.run(&contacts);
    assert_eq!(rc, 0, "{out}{err}");
    assert_eq!(rig.sandbox.entities("contacts").len(), spec.users(), "adopted, not duplicated");
    // The same for the lead batch.
    let all = ["backfill", "--since", "2025-01-01"];
    let n = fault_on_first_write(
        &rig,
        &all,
        "/api/v4/leads",
        Fault::LostResponse {
            count: 1,
            path_prefix: Some("/api/v4/leads".into()),
        },
    );
    assert!(n >= 1);
    let (rc, out, err) = rig.run(&all);
    assert_eq!(rc, 1, "{out}{err}");
    assert!(out.contains("POST /api/v4/leads was lost"), "{out}{err}");
    assert_eq!(rig.sandbox.entities("leads").len(), spec.services);
    let (rc, v, err) = backfill_json(&rig);
    assert_eq!(rc, 0, "{v}{err}");
    // amoCRM already holds exactly what would be sent: adopted without a single write.
    assert_eq!(v["requests"]["writes"], 0, "{v}");
    assert_eq!(v["counts"]["lead"]["created"], 0, "{v}");
    assert_complete(&rig, &spec);
    rig.finish();
}
