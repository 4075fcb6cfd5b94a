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
    /// The store file (the world's default unless the rules moved it).
    store: PathBuf,
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
    pub fn with_data(cfg: SandboxConfig, data: &Path, edit: impl FnOnce(String) -> String) -> Rig {
        Rig::new(World::with_data(cfg, data, edit))
    }

    /// [`Rig::with_data`] at amoCRM's own 7 requests per second ([`World::paced`]).
    pub fn paced_with_data(
        cfg: SandboxConfig,
        data: &Path,
        edit: impl FnOnce(String) -> String,
    ) -> Rig {
        Rig::new(World::paced_with_data(cfg, data, edit))
    }

    /// Wraps a world.
    pub fn new(w: World) -> Rig {
        Rig {
            store: w.store(),
            w,
            outputs: Mutex::new(Vec::new()),
            tokens: Mutex::new(BTreeSet::new()),
        }
    }

    /// Says where the rules put the store (relative to the world's directory).
    pub fn with_store(mut self, relative: &str) -> Rig {
        self.store = self.w.path(relative);
        self
    }

    /// The store file.
    pub fn store(&self) -> PathBuf {
        self.store.clone()
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
        // The pacer holds the world's rate: amoCRM's 7, or the loopback rate of a world
        // that does not test pacing.
        assert!(
            stats.max_per_second <= self.w.rps,
            "{} requests within one second at {} per second: {stats:?}",
            stats.max_per_second,
            self.w.rps
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
    let conn =
        rusqlite::Connection::open_with_flags(store, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
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
pub fn tally(w: &Rig, spec: &Spec) -> Tally {
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
    assert_eq!(
        rig.sandbox.stats().writes,
        writes,
        "a clean re-run wrote: {v}"
    );
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

pub fn outbox(store: &Path) -> Vec<(String, String, bool)> {
    let conn = rusqlite::Connection::open(store).unwrap();
    let mut stmt = conn
        .prepare("SELECT kind, bm_id, parked FROM outbox ORDER BY id")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? != 0)))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

/// The example rules without their `[lifecycle…]` tables. Lifecycle automation reads every
/// bound entity back on each run (`keep_client_manager`), which would make each re-run here
/// cost seconds; the faults under test are those of the core sync.
pub fn without_lifecycle(rules: String) -> String {
    let mut skip = false;
    let mut out = String::with_capacity(rules.len());
    for line in rules.lines() {
        let t = line.trim_start();
        if t.starts_with('[') {
            skip = t.trim_start_matches('[').starts_with("lifecycle");
        }
        if !skip {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn spec_world(spec: &Spec, batch: usize) -> (tempfile::TempDir, Rig) {
    spec_world_at(spec, batch, false)
}

/// [`spec_world`] at amoCRM's own 7 requests per second, for the tests of the pacer.
fn paced_spec_world(spec: &Spec, batch: usize) -> (tempfile::TempDir, Rig) {
    spec_world_at(spec, batch, true)
}

fn spec_world_at(spec: &Spec, batch: usize, paced: bool) -> (tempfile::TempDir, Rig) {
    let data = dataset(spec);
    let edit = |r: String| {
        without_lifecycle(r).replace("batch_size = 250", &format!("batch_size = {batch}"))
    };
    let rig = if paced {
        Rig::paced_with_data(SandboxConfig::default(), data.path(), edit)
    } else {
        Rig::with_data(SandboxConfig::default(), data.path(), edit)
    };
    rig.authorize();
    (data, rig)
}

// ---------------------------------------------------------------------------------------
// amoCRM answers badly

#[test]
fn storm_of_429s_is_ridden_out_below_7_rps_and_the_backfill_completes() {
    let spec = small_spec();
    let (_data, rig) = paced_spec_world(&spec, 5);
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
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
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
    assert_eq!(
        rig.sandbox.stats().by_route.get("POST /api/v4/leads"),
        Some(&1)
    );
    assert!(
        rig.sandbox.entities("leads").is_empty(),
        "the dropped write was not applied"
    );
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
        without_lifecycle(r)
            .replace("timeout_secs = 20", "timeout_secs = 1")
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
    assert_eq!(
        rig.sandbox.entities("contacts").len(),
        spec.users(),
        "adopted, not duplicated"
    );
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

// ---------------------------------------------------------------------------------------
// Authorization

/// 24 clients, 30 users, 8 payers (6 companies), 30 services: a few seconds of backfill in
/// batches of 5, long enough to break into.
fn medium_spec() -> Spec {
    Spec {
        clients: 24,
        extra_user_every: 4,
        payer_every: 3,
        shared_inn_every: 3,
        services: 30,
        date: "2025-06-01".into(),
    }
}

const BACKFILL: [&str; 3] = ["backfill", "--since", "2025-01-01"];

/// A panel document for hook invocations.
const DOC: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<doc><elid>1</elid><ok/></doc>\n";

/// Runs the binary as BILLmanager runs an addon handler for `func` on `elid`.
pub fn hook(rig: &Rig, func: &str, elid: &str, drain: bool) -> (i32, String, String) {
    let mut c = rig.cmd();
    c.env("PARAM_func", func)
        .env("PARAM_elid", elid)
        .env("AUTH_USER", "admin")
        .env("EVENT_TYPE", "after")
        .write_stdin(DOC.as_bytes().to_vec());
    if !drain {
        c.env("AMOCRM_BIN_HOOK_NO_DRAIN", "1");
    }
    let (rc, out, err) = rig.run_cmd(&mut c, &format!("hook {func} {elid}"));
    assert_eq!(
        (rc, out.as_str()),
        (0, DOC),
        "the hook passes the document through"
    );
    (rc, out, err)
}

#[test]
fn access_token_expiring_mid_backfill_is_refreshed_once_and_nothing_is_lost() {
    let spec = medium_spec();
    let (_data, rig) = spec_world(&spec, 5);
    rig.sandbox.set_latency_ms(10);
    let child = rig.spawn(&BACKFILL, &[], "backfill");
    wait_until(30, "the first writes", || rig.sandbox.stats().writes >= 2);
    rig.sandbox.expire_access_tokens();
    assert_eq!(rig.reap(child, "backfill"), Some(0));
    let stats = rig.sandbox.stats();
    assert!(stats.unauthorized >= 1, "{stats:?}");
    assert_eq!(stats.refresh_grants, 1, "{stats:?}");
    rig.sandbox.set_latency_ms(0);
    assert_complete(&rig, &spec);
    rig.finish();
}

#[test]
fn revoked_refresh_token_exits_3_keeps_everything_queued_and_reauth_completes_it() {
    let spec = medium_spec();
    let (_data, rig) = spec_world(&spec, 5);
    rig.sandbox.set_latency_ms(10);
    let child = rig.spawn(&BACKFILL, &[], "backfill");
    wait_until(30, "the first writes", || rig.sandbox.stats().writes >= 2);
    // The integration was disabled: every token stops working at once.
    rig.sandbox.revoke_refresh_tokens();
    rig.sandbox.expire_access_tokens();
    assert_eq!(rig.reap(child, "backfill"), Some(3));
    let err = std::fs::read_to_string(rig.path("backfill.stderr")).unwrap();
    assert!(err.contains("auth --code"), "{err}");
    rig.sandbox.set_latency_ms(0);
    let partial = rig.sandbox.entities("leads").len();
    assert!(partial < spec.services, "the backfill was cut short");
    // Meanwhile an operator's sync and the panel's hook: both keep their entity queued.
    let (rc, out, err) = rig.run(&["sync", "--entity", "lead", "--elid", "700030"]);
    assert_eq!(rc, 3, "{out}{err}");
    hook(&rig, "service.postopen", "700029", false);
    let (rc, out, err) = rig.run(&["drain"]);
    assert_eq!(rc, 3, "{out}{err}");
    let queued = outbox(&rig.store());
    for id in ["700029", "700030"] {
        assert!(
            queued.contains(&("lead".to_string(), id.to_string(), false)),
            "lead {id} queued and not parked: {queued:?}"
        );
    }
    // Re-authorized: the nightly backfill and the drain finish the job, once.
    rig.authorize();
    let (rc, v, err) = backfill_json(&rig);
    assert_eq!(rc, 0, "{v}{err}");
    let (rc, out, err) = rig.run(&["drain", "--all"]);
    assert_eq!(rc, 0, "{out}{err}");
    assert!(outbox(&rig.store()).is_empty());
    assert_complete(&rig, &spec);
    let f = rig.finish();
    assert_eq!(f.refresh_token_reuse, 0);
}

#[test]
fn account_blocked_403_html_stops_at_once_without_a_retry_loop() {
    let spec = medium_spec();
    let (_data, rig) = spec_world(&spec, 5);
    rig.sandbox.set_blocked(true);
    rig.sandbox.reset_stats();
    let (rc, out, err) = rig.run(&BACKFILL);
    assert_eq!(rc, 5, "{out}{err}");
    assert!(err.contains("403") && err.contains("blocked"), "{err}");
    assert!(err.contains("support"), "the hint says what to do: {err}");
    assert_eq!(rig.sandbox.stats().requests, 1, "one request, then stop");
    let (rc, _, err) = rig.run(&["sync", "--entity", "lead", "--elid", "700001"]);
    assert_eq!(rc, 5, "{err}");
    assert_eq!(rig.sandbox.stats().requests, 2);
    let (rc, _, err) = rig.run(&["drain", "--all"]);
    assert_eq!(rc, 5, "{err}");
    assert_eq!(rig.sandbox.stats().requests, 3);
    assert_eq!(
        outbox(&rig.store()),
        vec![("lead".to_string(), "700001".to_string(), false)],
        "kept, not parked"
    );

    // Blocked in the middle of a run: the run stops with the next request.
    rig.sandbox.set_blocked(false);
    rig.sandbox.set_latency_ms(10);
    let child = rig.spawn(&BACKFILL, &[], "backfill");
    wait_until(30, "the first writes", || rig.sandbox.stats().writes >= 2);
    rig.sandbox.set_blocked(true);
    let at_block = rig.sandbox.stats().requests;
    let blocked_at = Instant::now();
    assert_eq!(rig.reap(child, "backfill"), Some(5));
    assert!(blocked_at.elapsed() < Duration::from_secs(10));
    // Requests already on the wire when the block came (up to `max_in_flight` of them)
    // get their 403 too; after the first 403 nothing new starts and nothing is retried
    // (a retry loop would cost several attempts per request).
    let in_flight = 16;
    assert!(
        rig.sandbox.stats().requests - at_block <= in_flight + 2,
        "{} requests after the block",
        rig.sandbox.stats().requests - at_block
    );
    // Unblocked: the next backfill and drain finish everything, once.
    rig.sandbox.set_blocked(false);
    rig.sandbox.set_latency_ms(0);
    let (rc, v, err) = backfill_json(&rig);
    assert_eq!(rc, 0, "{v}{err}");
    let (rc, out, err) = rig.run(&["drain", "--all"]);
    assert_eq!(rc, 0, "{out}{err}");
    assert!(outbox(&rig.store()).is_empty());
    assert_complete(&rig, &spec);
    rig.finish();
}

// ---------------------------------------------------------------------------------------
// Crashes and concurrency

/// Where a backfill of [`medium_spec`] is killed: each line one world, crashed at each of
/// its points in turn (`point@subject` where that entity is at stake), then run again.
/// Services are `service:700001` … `service:700030`, clients `client:100001` ….
const KILLS: &[&[&str]] = &[
    // Mid-way through reading the panel: the first client chunk.
    &["read-before-planned"],
    // amoCRM created it; the binding is not stored: the first create, the 16th lead.
    &["created-before-binding"],
    &["created-before-binding@service:700016"],
    // Links made, the binding still `links-pending`.
    &["linked-before-hash"],
    // Three kills in a row on one store, each at a place the run before cannot have passed
    // (the panel is read in order, and read again by every run; the pipeline writes out of
    // order, so a subject created or linked in one run may be done before the next kill).
    &[
        "read-before-planned@service:700010",
        "created-before-binding@service:700030",
        "read-before-planned@service:700020",
    ],
];

/// Runs a backfill that must abort at `point`.
fn killed_at(rig: &Rig, point: &str) {
    let name = format!("killed-{}", point.replace([':', '@'], "-"));
    let child = rig.spawn(&BACKFILL, &[(amocrm_bin::crash::ENV, point)], &name);
    let rc = rig.reap(child, &name);
    let err = std::fs::read_to_string(rig.path(&format!("{name}.stderr"))).unwrap();
    assert_eq!(rc, None, "{point} never came: {err}");
    let at = point.split('@').next().unwrap();
    assert!(err.contains(at), "{point}: {err}");
}

/// Every link amoCRM holds, by name: company ↔ contact, company ↔ lead, lead ↔ contact.
fn linkage(rig: &Rig) -> Vec<String> {
    let mut names = std::collections::BTreeMap::new();
    for kind in ["contacts", "leads"] {
        for e in rig.sandbox.entities(kind) {
            let name = e["name"].as_str().unwrap_or_default().to_string();
            names.insert((kind, e["id"].as_i64()), name);
        }
    }
    let mut links = Vec::new();
    for (from, kinds) in [
        ("companies", &["contacts", "leads"][..]),
        ("leads", &["contacts"][..]),
    ] {
        for e in rig.sandbox.entities(from) {
            for kind in kinds {
                for other in e["_embedded"][*kind].as_array().into_iter().flatten() {
                    let other = names.get(&(*kind, other["id"].as_i64()));
                    let name = e["name"].as_str().unwrap_or_default();
                    links.push(format!("{name} ↔ {}", other.map_or("?", String::as_str)));
                }
            }
        }
    }
    links.sort();
    links
}

/// Each line of [`KILLS`] in a world of its own (they run side by side: the time is the
/// sandbox's pace, not CPU), and a PATCH answered whose binding was not stored. Besides
/// no entity twice or lost, every link of a run without kills is there.
#[test]
fn kill_9_at_each_named_point_then_rerun_gives_no_duplicate_and_no_loss() {
    std::thread::scope(|s| {
        let clean = s.spawn(|| {
            let (_data, rig) = spec_world(&medium_spec(), 2);
            let (rc, v, err) = backfill_json(&rig);
            assert_eq!(rc, 0, "{v}{err}");
            linkage(&rig)
        });
        let killed: Vec<_> = KILLS
            .iter()
            .map(|kills| {
                s.spawn(move || {
                    let spec = medium_spec();
                    let (_data, rig) = spec_world(&spec, 2);
                    for point in *kills {
                        killed_at(&rig, point);
                    }
                    let (rc, v, err) = backfill_json(&rig);
                    assert_eq!(rc, 0, "after {kills:?}: {v}{err}");
                    assert_complete(&rig, &spec);
                    rig.finish();
                    (kills, linkage(&rig))
                })
            })
            .collect();
        let clean = clean.join().unwrap();
        assert!(clean.len() > 30, "{clean:?}");
        for k in killed {
            let (kills, links) = k.join().unwrap();
            assert_eq!(links, clean, "links after {kills:?}");
        }
        s.spawn(|| {
            let spec = medium_spec();
            let (data, rig) = spec_world(&spec, 2);
            let (rc, v, err) = backfill_json(&rig);
            assert_eq!(rc, 0, "{v}{err}");
            // A big order now: the lead gets a tag, by a PATCH.
            let items = data.path().join("item.json");
            let mut list: Value =
                serde_json::from_str(&std::fs::read_to_string(&items).unwrap()).unwrap();
            let item = list["doc"]["elem"]
                .as_array_mut()
                .unwrap()
                .iter_mut()
                .find(|e| e["id"]["$"] == "700016")
                .unwrap();
            item["cost"]["$"] = Value::from("9000.00");
            std::fs::write(&items, list.to_string()).unwrap();
            killed_at(&rig, "updated-before-binding@service:700016");
            let (rc, v, err) = backfill_json(&rig);
            assert_eq!(rc, 0, "{v}{err}");
            assert_eq!(
                v["requests"]["writes"], 0,
                "the PATCH amoCRM answered is not sent twice: {v}"
            );
            let lead = rig
                .sandbox
                .entities("leads")
                .into_iter()
                .find(|l| l["name"].as_str().is_some_and(|n| n.ends_with("#700016")))
                .unwrap();
            assert!(lead.to_string().contains("big order"), "{lead}");
            assert_complete(&rig, &spec);
            rig.finish();
        });
    });
}

/// Client ids of a generated data set, in BILLmanager's numbering.
fn client_ids(spec: &Spec) -> Vec<String> {
    (0..spec.clients)
        .map(|i| fakebill::generate::client_id(i).to_string())
        .collect()
}

/// One concurrent actor: a sequence of commands run one after another; returns how many
/// ended with each exit code.
fn actor(rig: &Rig, name: &str, runs: Vec<Vec<String>>, allowed: &[i32]) {
    for (i, args) in runs.iter().enumerate() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let label = format!("{name}-{i}");
        let child = rig.spawn(&args, &[], &label);
        let rc = rig.reap(child, &label).unwrap_or(-1);
        let err = std::fs::read_to_string(rig.path(&format!("{label}.stderr"))).unwrap_or_default();
        assert!(
            allowed.contains(&rc),
            "`{}` exited {rc}: {err}",
            args.join(" ")
        );
    }
}

fn sync_runs(kind: &str, ids: impl IntoIterator<Item = String>) -> Vec<Vec<String>> {
    ids.into_iter()
        .map(|id| {
            vec![
                "sync".into(),
                "--entity".into(),
                kind.into(),
                "--elid".into(),
                id,
            ]
        })
        .collect()
}

/// Snapshots tokens every 20 ms while `f` runs (they rotate under concurrent refreshes).
fn watching_tokens<T>(rig: &Rig, f: impl FnOnce() -> T) -> T {
    use std::sync::atomic::{AtomicBool, Ordering};
    /// Stops the watcher however `f` ends (a failed assertion must not hang the test).
    struct Stop<'a>(&'a AtomicBool);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                rig.snapshot_tokens();
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let _stop = Stop(&stop);
        f()
    })
}

#[test]
fn two_processes_at_once_backfill_and_syncs_give_no_duplicate_and_no_loss() {
    let spec = small_spec();
    let (_data, rig) = spec_world(&spec, 4);
    rig.sandbox.set_latency_ms(15);
    let mut ids = client_ids(&spec);
    ids.reverse();
    watching_tokens(&rig, || {
        std::thread::scope(|s| {
            s.spawn(|| {
                actor(
                    &rig,
                    "backfill",
                    vec![BACKFILL.iter().map(|a| a.to_string()).collect()],
                    &[0],
                )
            });
            s.spawn(|| {
                // Both processes hit an expired token at about the same moment.
                wait_until(30, "the first writes", || rig.sandbox.stats().writes >= 1);
                rig.sandbox.expire_access_tokens();
            });
            s.spawn(|| actor(&rig, "sync", sync_runs("contact", ids.clone()), &[0]));
        });
    });
    rig.sandbox.set_latency_ms(0);
    let stats = rig.sandbox.stats();
    assert!(stats.refresh_grants >= 1, "{stats:?}");
    assert_complete(&rig, &spec);
    rig.finish();
}

#[test]
fn five_processes_at_once_on_one_store_give_no_duplicate_no_loss_no_token_reuse() {
    // backfill + two operators' syncs + the panel's hooks (each starting a background
    // drain) + a cron drain and replay-calls, all on one store.
    let spec = small_spec();
    let (_data, rig) = spec_world(&spec, 4);
    rig.sandbox.set_latency_ms(15);
    let ids = client_ids(&spec);
    let services: Vec<String> = (0..spec.services)
        .map(|s| (700_001 + s).to_string())
        .collect();
    watching_tokens(&rig, || {
        std::thread::scope(|s| {
            s.spawn(|| {
                actor(
                    &rig,
                    "backfill",
                    vec![BACKFILL.iter().map(|a| a.to_string()).collect()],
                    &[0, 6],
                )
            });
            s.spawn(|| {
                wait_until(30, "the first writes", || rig.sandbox.stats().writes >= 1);
                rig.sandbox.expire_access_tokens();
                wait_until(30, "more writes", || rig.sandbox.stats().writes >= 6);
                rig.sandbox.expire_access_tokens();
            });
            s.spawn(|| {
                actor(
                    &rig,
                    "sync-a",
                    sync_runs("contact", ids.iter().rev().take(6).cloned()),
                    &[0],
                )
            });
            s.spawn(|| {
                actor(
                    &rig,
                    "sync-b",
                    sync_runs("lead", services.iter().step_by(3).cloned()),
                    &[0],
                )
            });
            s.spawn(|| {
                for id in services.iter().skip(1).step_by(4) {
                    hook(&rig, "service.postopen", id, true);
                }
            });
            s.spawn(|| {
                let runs = vec![
                    vec!["drain".to_string()],
                    vec!["replay-calls".into(), "--days".into(), "1".into()],
                    vec!["drain".to_string()],
                ];
                // A second batch runner is refused with 6 while another holds the run lock.
                actor(&rig, "cron", runs, &[0, 6]);
            });
        });
    });
    // Hook events that arrived while the backfill held the run lock stay queued (their
    // background drain leaves them to the lock holder): the next cron drain pushes them.
    rig.sandbox.set_latency_ms(0);
    wait_until(60, "the background drains", || {
        amocrm_bin::lock::run_lock_holder(&rig.store()).is_none()
    });
    let start = Instant::now();
    loop {
        // A background drain may still be starting: exit 6 means "try again" (polled, and
        // bounded: a lock never let go fails here instead of hanging the suite).
        let (rc, out, err) = rig.run(&["drain", "--all"]);
        if rc != 6 {
            assert_eq!(rc, 0, "{out}{err}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "drain refused for a minute: {err}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        outbox(&rig.store()).is_empty(),
        "{:?}",
        outbox(&rig.store())
    );
    let (rc, v, err) = backfill_json(&rig);
    assert_eq!(rc, 0, "{v}{err}");
    let stats = rig.sandbox.stats();
    assert!(stats.refresh_grants >= 1, "{stats:?}");
    assert_complete(&rig, &spec);
    rig.finish();
}

// ---------------------------------------------------------------------------------------
// The store: locked, read-only, full

/// The demo world (examples/billmanager) without lifecycle rules.
pub fn demo_rig(edit: impl FnOnce(String) -> String) -> Rig {
    Rig::new(World::with(SandboxConfig::default(), |r| {
        edit(without_lifecycle(r))
    }))
}

/// [`demo_rig`] at amoCRM's own 7 requests per second, with the example rule file's rate
/// left as it is: for the tests that edit the rule file's `[amocrm]` section.
pub fn paced_demo_rig(edit: impl FnOnce(String) -> String) -> Rig {
    Rig::new(World::paced(SandboxConfig::default(), |r| {
        edit(without_lifecycle(r))
    }))
}

/// Holds `BEGIN EXCLUSIVE` on the store for `hold` in a thread, as another program (or a
/// stuck `sqlite3` shell) might; returns once the lock is taken.
fn hold_exclusive(store: &Path, hold: Duration) -> std::thread::JoinHandle<()> {
    let (h, release) = hold_exclusive_until(store, hold);
    // Released by the timeout alone: the sender lives as long as the holder.
    std::thread::spawn(move || {
        let _keep = release;
        h.join().unwrap();
    })
}

/// Holds the store's exclusive lock until the returned sender is used (or dropped) or `max`
/// passes: a test that waits for a process to give up must not depend on how late the
/// process started under load.
fn hold_exclusive_until(
    store: &Path,
    max: Duration,
) -> (std::thread::JoinHandle<()>, std::sync::mpsc::Sender<()>) {
    let store = store.to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let h = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(&store).unwrap();
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
        tx.send(()).unwrap();
        let _ = released.recv_timeout(max);
        conn.execute_batch("COMMIT").unwrap();
    });
    rx.recv().unwrap();
    (h, release)
}

#[test]
fn store_locked_by_another_writer_is_waited_for_then_exits_6_and_status_still_reads() {
    // A 3-second wait instead of the default 30 (`[store] busy_timeout_secs`): the test
    // watches the child give up, it does not wait out half a minute.
    let rig = demo_rig(|r| r.replace("busy_timeout_secs = 30", "busy_timeout_secs = 3"));
    rig.authorize();
    // A short lock is simply waited for.
    let locker = hold_exclusive(&rig.store(), Duration::from_millis(1500));
    let started = Instant::now();
    let (rc, out, err) = rig.run(&["sync", "--entity", "contact", "--elid", "101"]);
    assert_eq!(rc, 0, "{out}{err}");
    assert!(started.elapsed() >= Duration::from_millis(1000));
    locker.join().unwrap();
    // One held past the busy timeout: exit 6 with the reason; meanwhile `status`
    // (what the hint suggests) still reads the store.
    // Held until the child has given up, however late it started.
    let (locker, release) = hold_exclusive_until(&rig.store(), Duration::from_secs(120));
    let child = rig.spawn(
        &["sync", "--entity", "contact", "--elid", "102"],
        &[],
        "locked",
    );
    let started = Instant::now();
    let (rc, out, err) = rig.run(&["status"]);
    assert_eq!(rc, 0, "{out}{err}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "status waited for the lock"
    );
    assert_eq!(rig.reap(child, "locked"), Some(6));
    drop(release);
    let err = std::fs::read_to_string(rig.path("locked.stderr")).unwrap();
    assert!(err.contains("locked") && err.contains("busy"), "{err}");
    locker.join().unwrap();
    assert_eq!(integrity(&rig.store()), "ok");
    let (rc, out, err) = rig.run(&["sync", "--entity", "contact", "--elid", "102"]);
    assert_eq!(rc, 0, "{out}{err}");
    let conn = rusqlite::Connection::open(rig.store()).unwrap();
    let runs: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM runs WHERE command = 'sync'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(runs >= 2);
    rig.finish();
}

/// Whether this process runs as root (permission bits do not stop root).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// The binary as a user whom file modes apply to: as root, through `setpriv` without the
/// capabilities that bypass them.
fn unprivileged(rig: &Rig, args: &[&str]) -> assert_cmd::Command {
    let bin = assert_cmd::cargo::cargo_bin!("amocrm-bin");
    let mut c = if is_root() {
        let mut c = assert_cmd::Command::new("setpriv");
        c.args([
            "--bounding-set",
            "-dac_override,-dac_read_search,-fowner",
            "--",
        ])
        .arg(bin);
        c
    } else {
        assert_cmd::Command::new(bin)
    };
    c.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AMOCRM_BIN_CONFIG", &rig.rules)
        .env("AMOCRM_CLIENT_SECRET", SECRET)
        .env("AMOCRM_BIN_TEST_BACKOFF_MS", "20")
        .current_dir(rig.dir.path());
    c
}

pub fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn read_only_store_file_or_directory_gives_a_clear_error_exit_5_and_no_corruption() {
    let rig = demo_rig(|r| r.replace("path = \"amocrm-bin.db\"", "path = \"store/amocrm-bin.db\""))
        .with_store("store/amocrm-bin.db");
    rig.authorize();
    let store = rig.store();
    let (rc, out, err) = rig.run(&["sync", "--entity", "contact", "--elid", "101"]);
    assert_eq!(rc, 0, "{out}{err}");
    let writes = rig.sandbox.stats().writes;
    let sync_102 = ["sync", "--entity", "contact", "--elid", "102"];
    for (what, path, mode, restore) in [
        ("file", store.clone(), 0o400, 0o600),
        ("directory", rig.path("store"), 0o500, 0o700),
    ] {
        chmod(&path, mode);
        let (rc, out, err) = rig.run_cmd(&mut unprivileged(&rig, &sync_102), "read-only");
        chmod(&path, restore);
        assert_eq!(rc, 5, "read-only {what}: {out}{err}");
        assert!(
            err.contains("store") && err.contains("writable"),
            "read-only {what}: {err}"
        );
        assert_eq!(
            rig.sandbox.stats().writes,
            writes,
            "nothing sent without a store"
        );
    }
    assert_eq!(integrity(&store), "ok");
    let (rc, out, err) = rig.run(&sync_102);
    assert_eq!(rc, 0, "{out}{err}");
    rig.finish();
}

/// A tiny tmpfs for the store, unmounted on drop; `None` where mounting is not allowed.
struct SmallDisk {
    path: PathBuf,
}

impl SmallDisk {
    fn mount(path: PathBuf, kib: u32) -> Option<SmallDisk> {
        std::fs::create_dir_all(&path).ok()?;
        let ok = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={kib}k,mode=0700"),
                "tmpfs",
            ])
            .arg(&path)
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        ok.then_some(SmallDisk { path })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

/// Fills the file system holding `dir` until only about `leave` bytes are free.
fn fill(dir: &Path, leave: u64) {
    use std::io::Write;
    let mut f = std::fs::File::create(dir.join("filler")).unwrap();
    let block = vec![0u8; 4096];
    while f.write_all(&block).is_ok() {}
    drop(f);
    let len = std::fs::metadata(dir.join("filler")).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("filler"))
        .unwrap()
        .set_len(len.saturating_sub(leave))
        .unwrap();
}

#[test]
fn full_disk_stops_with_a_clear_error_and_the_rerun_completes_without_duplicates() {
    let spec = medium_spec();
    let data = dataset(&spec);
    let rig = Rig::with_data(SandboxConfig::default(), data.path(), |r| {
        without_lifecycle(r)
            .replace("batch_size = 250", "batch_size = 4")
            .replace("path = \"amocrm-bin.db\"", "path = \"small/amocrm-bin.db\"")
    })
    .with_store("small/amocrm-bin.db");
    let small = rig.path("small");
    let disk = SmallDisk::mount(small.clone(), 8192);
    rig.authorize();
    // Dictionaries cached first, so the disk fills up in the middle of the writes.
    let (rc, out, err) = rig.run(&["backfill", "--since", "2025-01-01", "--dry-run"]);
    assert_eq!(rc, 0, "{out}{err}");
    let (rc, out, err) = match &disk {
        Some(_) => {
            fill(&small, 48 << 10);
            rig.run(&BACKFILL)
        }
        None => {
            // No mount allowed here: a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored)
            // stands in for the full disk.
            let size = |p: &str| {
                std::fs::metadata(small.join(p))
                    .map(|m| m.len())
                    .unwrap_or(0)
            };
            let blocks = (size("amocrm-bin.db").max(size("amocrm-bin.db-wal")) + (48 << 10)) / 512;
            let mut sh = assert_cmd::Command::new("sh");
            sh.args([
                "-c",
                &format!("trap '' XFSZ; ulimit -f {blocks}; exec \"$0\" \"$@\""),
            ])
            .arg(assert_cmd::cargo::cargo_bin!("amocrm-bin"))
            .args(BACKFILL)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AMOCRM_BIN_CONFIG", &rig.rules)
            .env("AMOCRM_CLIENT_SECRET", SECRET)
            .env("AMOCRM_BIN_TEST_BACKOFF_MS", "20")
            .current_dir(rig.dir.path());
            rig.run_cmd(&mut sh, "backfill (file size limit)")
        }
    };
    assert_eq!(rc, 5, "{out}{err}");
    assert!(err.contains("store"), "{err}");
    if disk.is_some() {
        assert!(err.contains("full"), "{err}");
    }
    assert!(rig.sandbox.stats().writes > 0, "the disk filled up mid-run");
    let _ = std::fs::remove_file(small.join("filler"));
    assert_eq!(integrity(&rig.store()), "ok");
    let (rc, v, err) = backfill_json(&rig);
    assert_eq!(rc, 0, "{v}{err}");
    assert_complete(&rig, &spec);
    rig.finish();
    drop(disk);
}

/// Contacts amoCRM holds linked to a company.
fn contacts_with_company(rig: &Rig) -> usize {
    rig.sandbox
        .entities("contacts")
        .iter()
        .filter(|c| {
            c["_embedded"]["companies"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        })
        .count()
}

/// Contact bindings whose links were not confirmed yet.
fn links_pending(store: &Path) -> usize {
    let conn = rusqlite::Connection::open(store).unwrap();
    conn.query_row(
        "SELECT count(*) FROM bindings WHERE kind = 'contact' AND payload_hash = 'links-pending'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .unwrap() as usize
}

#[test]
fn links_that_failed_after_their_contacts_were_created_are_made_by_the_next_run() {
    let spec = small_spec();
    let (_data, rig) = spec_world(&spec, 5);
    // Every link request is refused: the contacts exist and are bound, their links are not.
    rig.sandbox.inject(Fault::Status {
        code: 400,
        count: 1000,
        path_prefix: Some("/api/v4/contacts/link".into()),
    });
    let (rc, out, err) = rig.run(&["backfill", "--since", "2025-01-01", "--entity", "contact"]);
    assert_ne!(rc, 0, "a refused link fails the run: {out}{err}");
    assert_eq!(contacts_with_company(&rig), 0);
    let pending = links_pending(&rig.store());
    assert!(
        pending > 0,
        "contacts waiting for their links are bound as such"
    );
    rig.sandbox.clear_faults();
    let (rc, out, err) = rig.run(&["backfill", "--since", "2025-01-01", "--entity", "contact"]);
    assert_eq!(rc, 0, "{out}{err}");
    assert!(
        contacts_with_company(&rig) >= pending,
        "every contact whose link was refused is linked now"
    );
    assert_eq!(links_pending(&rig.store()), 0);
    assert_eq!(rig.sandbox.entities("contacts").len(), spec.users());
    let (rc, v, err) = backfill_json(&rig);
    assert_eq!(rc, 0, "{v}{err}");
    assert_complete(&rig, &spec);
    rig.finish();
}
