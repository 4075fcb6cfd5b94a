//! Backfill benchmark: requests per entity against amoCRM's 7 rps limit, wall time, 429s and
//! peak memory, compared with a naive one-request-per-entity client.
//!
//! Run: `cargo bench --bench backfill -- --clients 10000 --services 20000 --latency-ms 100 --entity-latency-ms 10`
//! (`BENCH_WITH_LIFECYCLE=1` keeps the example's `[lifecycle]` rules, which add reads of their own).
//!
//! The panel: `fake-mgrctl` (built here with `cargo build --release -p fakebill` when
//! missing) serves the data set in the real shapes with `--panel-delay-ms` (default 150)
//! per call, the cost of one mgrctl process plus a panel request. `--panel-delay-ms 0`
//! reads the files directly; `--assumed` writes the project's earlier assumed shapes (INN
//! in the payer list); `--list-only` drops the rules' one client field the `account` list
//! lacks (`client.country`), so no `account.edit` is needed. Panel calls, panel time and
//! peak RSS are printed for both runs.
//!
//! It generates a synthetic BILLmanager data set (1.2 users and 0.3 payers per client, one
//! INN in ten shared), starts the amoCRM sandbox with its 7 rps limit and a slow amoCRM's
//! answer time (a fixed latency per request plus a latency per entity written or listed: a
//! real account takes seconds for a batch of 250), runs the real `amocrm-bin backfill` and
//! compares its wall time with the rate-limit floor (requests / 7), then runs it twice more
//! (nothing changed: both must write nothing and read no lead one by one), then runs
//! a naive client (search + create per contact, create per company and lead, one entity per
//! request, paced at 7 rps) over a sample and extrapolates it to the whole data set.

use std::cell::RefCell;
use std::process::Command;
use std::time::Instant;

use fakebill::answer::Shapes;
use fakebill::generate::{write_as, Spec};
use sandbox::{Sandbox, SandboxConfig};
use serde_json::{json, Value};

thread_local! {
    /// Everything the benchmark printed, for `--record`.
    static PRINTED: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Prints a line and keeps it for `--record`.
macro_rules! say {
    () => { say!("") };
    ($($t:tt)*) => {{
        let line = format!($($t)*);
        println!("{line}");
        PRINTED.with(|p| {
            let mut p = p.borrow_mut();
            p.push_str(&line);
            p.push('\n');
        });
    }};
}

/// The file the figures live in (README quotes a short table of them).
const RECORD_FILE: &str = "docs/benchmarks.md";

/// Writes this run's printout into [`RECORD_FILE`] under a heading naming its arguments
/// and commit, replacing the block an earlier run with the same arguments wrote.
fn record(argv: &str) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join(RECORD_FILE);
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let dirty = Command::new("git")
        // Its own earlier record does not make the tree "changed".
        .args([
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            &format!(":!{RECORD_FILE}"),
        ])
        .current_dir(root)
        .output()
        .is_ok_and(|o| !o.stdout.is_empty());
    let key = format!("<!-- bench: backfill {argv} -->");
    let printed = PRINTED.with(|p| p.borrow().clone());
    let block = format!(
        "{key}\n### `cargo bench --bench backfill -- {argv}`\n\nPrinted on commit {commit}{} ({}).\n\n```\n{}```\n<!-- end -->\n",
        if dirty { " with changes not yet committed" } else { "" },
        chrono::Utc::now().format("%Y-%m-%d"),
        printed.trim_start_matches('\n')
    );
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let text = match text.find(&key) {
        Some(start) => {
            let end = text[start..]
                .find("<!-- end -->\n")
                .map(|e| start + e + "<!-- end -->\n".len())
                .unwrap_or(text.len());
            format!("{}{block}{}", &text[..start], &text[end..])
        }
        None => format!("{}\n{block}", text.trim_end()),
    };
    std::fs::write(&path, text).expect("write docs/benchmarks.md");
    eprintln!("recorded in {}", path.display());
}

struct Args {
    clients: usize,
    services: usize,
    latency_ms: u64,
    entity_latency_ms: u64,
    /// `[amocrm] max_in_flight`; `None` keeps the example's.
    in_flight: Option<usize>,
    naive_sample: usize,
    panel_delay_ms: u64,
    assumed: bool,
    list_only: bool,
    /// Write the printout into docs/benchmarks.md (`--record`).
    record: bool,
    /// The arguments as given, for the record's heading.
    argv: String,
}

fn args() -> Args {
    let mut a = Args {
        clients: 10_000,
        services: 20_000,
        latency_ms: 100,
        entity_latency_ms: 10,
        in_flight: None,
        naive_sample: 150,
        panel_delay_ms: 150,
        assumed: false,
        list_only: false,
        record: false,
        argv: String::new(),
    };
    let argv: Vec<String> = std::env::args()
        .skip(1)
        .filter(|x| x != "--bench")
        .collect();
    a.argv = argv
        .iter()
        .filter(|x| *x != "--record")
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    let mut it = argv.iter();
    while let Some(k) = it.next() {
        match k.as_str() {
            "--record" => {
                a.record = true;
                continue;
            }
            "--assumed" => {
                a.assumed = true;
                continue;
            }
            "--list-only" => {
                a.list_only = true;
                continue;
            }
            _ => {}
        }
        let v = it.next().and_then(|v| v.parse::<u64>().ok());
        match (k.as_str(), v) {
            ("--clients", Some(v)) => a.clients = v as usize,
            ("--services", Some(v)) => a.services = v as usize,
            ("--latency-ms", Some(v)) => a.latency_ms = v,
            ("--entity-latency-ms", Some(v)) => a.entity_latency_ms = v,
            ("--in-flight", Some(v)) => a.in_flight = Some(v as usize),
            ("--naive-sample", Some(v)) => a.naive_sample = v as usize,
            ("--panel-delay-ms", Some(v)) => a.panel_delay_ms = v,
            _ => {
                eprintln!("usage: cargo bench --bench backfill -- [--clients N] [--services N] [--latency-ms MS] [--entity-latency-ms MS] [--in-flight N] [--naive-sample N] [--panel-delay-ms MS] [--assumed] [--list-only] [--record]");
                std::process::exit(2);
            }
        }
    }
    a
}

/// The rule file without its `[lifecycle…]` tables.
fn without_lifecycle(rules: &str) -> String {
    let mut skip = false;
    let mut out = String::new();
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

/// `fake-mgrctl` next to this benchmark (`target/release/`), built when missing.
fn fake_mgrctl() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("bench exe");
    let name = format!("fake-mgrctl{}", std::env::consts::EXE_SUFFIX);
    let find = || {
        exe.ancestors()
            .skip(1)
            .take(3)
            .map(|d| d.join(&name))
            .find(|p| p.is_file())
    };
    if let Some(p) = find() {
        return p;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let ok = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "fakebill",
            "--bin",
            "fake-mgrctl",
        ])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "could not build fake-mgrctl");
    find().expect("fake-mgrctl next to the benchmark")
}

/// The summary line of a run's output (a profiler under `BENCH_WRAP` prints lines of its own).
fn json_line(out: &str) -> &str {
    out.lines().rev().find(|l| l.starts_with('{')).unwrap_or("")
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_amocrm-bin"))
}

fn ceil(a: usize, b: usize) -> usize {
    a.div_ceil(b)
}

fn main() {
    let a = args();
    let work = tempfile::tempdir().expect("temp dir");
    let data = work.path().join("billmanager");
    let spec = Spec::proportional(a.clients, a.services);
    let t = Instant::now();
    let shapes = if a.assumed {
        Shapes::Assumed
    } else {
        Shapes::Real
    };
    write_as(&data, &spec, shapes).expect("data set");
    say!(
        "data set: {} clients, {} users, {} payers ({} companies), {} services (generated in {:.1} s)",
        spec.clients, spec.users(), spec.payers(), spec.companies(), spec.services, t.elapsed().as_secs_f64()
    );
    let sandbox = Sandbox::start(SandboxConfig {
        latency_ms: a.latency_ms,
        latency_per_entity_ms: a.entity_latency_ms,
        ..Default::default()
    })
    .expect("sandbox");
    let rules =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/rules.toml"))
            .unwrap()
            .replace("https://mycompany.amocrm.ru", &sandbox.base_url())
            .replace(
                "client_id = \"00000000-0000-0000-0000-000000000000\"",
                "client_id = \"sandbox-client-id\"",
            )
            .replace(
                "https://billing.example.com/amocrm/callback",
                "https://example.com/amocrm/callback",
            )
            .replace(
                "dir = \"billmanager\"",
                &format!("dir = {:?}", data.display().to_string()),
            );
    // The core sync is measured: `[lifecycle]` automation (on in the example) adds reads of
    // its own (managers, lost leads, events), reported separately in README.
    let rules = if std::env::var_os("BENCH_WITH_LIFECYCLE").is_some() {
        rules
    } else {
        without_lifecycle(&rules)
    };
    let rules = match a.in_flight {
        Some(n) => rules
            .lines()
            .map(|l| {
                if l.starts_with("max_in_flight") {
                    format!("max_in_flight = {n}")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n"),
        None => rules,
    };
    let in_flight = rules
        .lines()
        .find_map(|l| l.strip_prefix("max_in_flight = "))
        .unwrap_or("?")
        .to_string();
    let rules = if a.list_only {
        // The example maps `client.country`, which only `account.edit` has.
        rules
            .lines()
            .filter(|l| !l.starts_with("\"Country\" ="))
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        rules
    };
    let rules = if a.panel_delay_ms > 0 {
        let mgrctl = fake_mgrctl();
        rules
            .replace("source = \"files\"", "source = \"mgrctl\"")
            .replace(
                "mgrctl = \"/usr/local/mgr5/sbin/mgrctl\"",
                &format!("mgrctl = {:?}", mgrctl.display().to_string()),
            )
    } else {
        rules
    };
    let rules_path = work.path().join("rules.toml");
    std::fs::write(&rules_path, rules).unwrap();
    // `BENCH_WRAP_RUN=2` profiles only the second backfill (the first unchanged re-run).
    let wrapped = std::cell::Cell::new(0u32);
    let wrap_this = |n: &std::cell::Cell<u32>| {
        n.set(n.get() + 1);
        std::env::var("BENCH_WRAP_RUN")
            .ok()
            .and_then(|v| v.parse::<u32>().ok())
            .is_none_or(|want| want == n.get())
    };
    let run = |args: &[&str]| {
        // `BENCH_WRAP="heaptrack -o /tmp/hp"` runs each backfill under a profiler.
        let mut cmd = match std::env::var("BENCH_WRAP") {
            Ok(w) if args[0] == "backfill" && wrap_this(&wrapped) => {
                let mut words = w.split_whitespace();
                let mut c = Command::new(words.next().expect("BENCH_WRAP names a program"));
                c.args(words).arg(env!("CARGO_BIN_EXE_amocrm-bin"));
                c
            }
            _ => bin(),
        };
        let out = cmd
            .args(args)
            .env("AMOCRM_BIN_CONFIG", &rules_path)
            .env("AMOCRM_CLIENT_SECRET", "sandbox-client-secret")
            .env("FAKEBILL_DIR", &data)
            .env("FAKEBILL_DELAY_MS", a.panel_delay_ms.to_string())
            .env(
                "FAKEBILL_SHAPES",
                if a.assumed { "assumed" } else { "real" },
            )
            .output()
            .expect("amocrm-bin runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let code = sandbox.issue_code();
    assert_eq!(run(&["auth", "--code", &code]).0, 0, "auth");
    sandbox.reset_stats();

    let t = Instant::now();
    let (rc, out, err) = run(&["backfill", "--since", "2025-01-01", "--json"]);
    let wall = t.elapsed().as_secs_f64();
    let summary: Value = serde_json::from_str(json_line(&out))
        .unwrap_or_else(|_| panic!("backfill failed ({rc}): {out}\n{err}"));
    let stats = sandbox.stats();
    let entities = spec.users() + spec.companies() + spec.services;
    let requests = summary["requests"]["requests"].as_u64().unwrap_or(0) as usize;
    // The floor for this data: one write per 250 entities of each kind, one link write per
    // 250 contacts that join a company, plus the reads every run needs (account, custom
    // fields of 3 kinds, pipelines, users, one empty page per kind to look for existing data).
    let linked = (0..spec.clients)
        .filter(|i| i % spec.payer_every == 0)
        .count()
        + (0..spec.clients)
            .filter(|i| i % spec.payer_every == 0 && i % spec.extra_user_every == 0)
            .count();
    let min_writes = ceil(spec.users(), 250)
        + ceil(spec.companies(), 250)
        + ceil(spec.services, 250)
        + ceil(linked, 250);
    let min_reads = 1 + 3 + 1 + 1 + 3;
    let minimum = min_writes + min_reads;

    // Re-runs with nothing changed: writes, reads and per-lead reads of each.
    let mut reruns = Vec::new();
    for _ in 0..2 {
        sandbox.reset_stats();
        let t = Instant::now();
        let (rc, out, _) = run(&["backfill", "--since", "2025-01-01", "--json"]);
        let secs = t.elapsed().as_secs_f64();
        let v: Value = serde_json::from_str(json_line(&out)).unwrap_or(json!({}));
        let st = sandbox.stats();
        let per_lead = st
            .by_route
            .get("GET /api/v4/leads/{id}")
            .copied()
            .unwrap_or(0);
        reruns.push((rc, st.writes, st.requests - st.writes, per_lead, secs, v));
    }

    // The naive strategy over a sample, paced at 7 rps like any client must be.
    let token = sandbox.issue_access_token();
    let http = reqwest::blocking::Client::new();
    let base = sandbox.base_url();
    let sample = a.naive_sample.min(spec.services).max(1);
    let mut naive_requests = 0usize;
    let mut last = Instant::now() - std::time::Duration::from_secs(1);
    let mut send = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let gap = std::time::Duration::from_millis(1000 / 7 + 1);
        if last.elapsed() < gap {
            std::thread::sleep(gap - last.elapsed());
        }
        last = Instant::now();
        naive_requests += 1;
        let mut r = http
            .request(method, format!("{base}{path}"))
            .bearer_auth(&token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send()
            .ok()
            .and_then(|r| r.text().ok())
            .unwrap_or_default()
    };
    let t = Instant::now();
    for i in 0..sample {
        let phone = format!("79990{:06}", i);
        send(
            reqwest::Method::GET,
            &format!("/api/v4/contacts?query={phone}"),
            None,
        );
        let created = send(
            reqwest::Method::POST,
            "/api/v4/contacts",
            Some(json!([{"name": format!("naive {i}"), "request_id": "0"}])),
        );
        let cid = serde_json::from_str::<Value>(&created)
            .ok()
            .and_then(|v| {
                v.pointer("/_embedded/contacts/0/id")
                    .and_then(Value::as_i64)
            })
            .unwrap_or(0);
        send(
            reqwest::Method::POST,
            "/api/v4/leads",
            Some(
                json!([{"name": format!("naive lead {i}"), "_embedded": {"contacts": [{"id": cid}]}}]),
            ),
        );
    }
    let naive_sample_secs = t.elapsed().as_secs_f64();
    // Naive per data set: contacts search+create (+1 link each if a company), companies
    // search+create, leads create.
    let naive_total = spec.users() * 2 + linked + spec.companies() * 2 + spec.services;
    let naive_secs = naive_sample_secs / naive_requests as f64 * naive_total as f64;

    say!();
    say!(
        "backfill of {entities} entities at ≤7 rps, amoCRM answering in {} ms + {} ms per entity",
        a.latency_ms,
        a.entity_latency_ms
    );
    say!("  exit code                  {rc}");
    say!("  created                    {}", summary["counts"]);
    say!(
        "  requests made              {requests}  ({} writes)",
        summary["requests"]["writes"]
    );
    say!(
        "  requests per entity        {:.4}",
        requests as f64 / entities as f64
    );
    say!("  theoretical minimum        {minimum}  ({min_writes} writes + {min_reads} reads)");
    say!(
        "  ratio to minimum           {:.2}",
        requests as f64 / minimum as f64
    );
    say!(
        "  429s seen                  {}  (max {} requests in any second)",
        stats.status_429,
        stats.max_per_second
    );
    let floor = requests as f64 / 7.0;
    let reads: Vec<String> = stats
        .by_route
        .iter()
        .filter(|(r, _)| r.starts_with("GET "))
        .map(|(r, n)| format!("{} {n}", r.trim_start_matches("GET /api/v4")))
        .collect();
    say!("  reads                      {}", reads.join(", "));
    let writes: Vec<String> = stats
        .by_route
        .iter()
        .filter(|(r, _)| !r.starts_with("GET ") && r.contains("/api/v4"))
        .map(|(r, n)| format!("{} {n}", r.replace(" /api/v4", "")))
        .collect();
    say!("  writes                     {}", writes.join(", "));
    say!("  wall time                  {wall:.1} s");
    say!("  rate-limit floor           {floor:.1} s  (requests / 7)");
    say!(
        "  wall / floor               {:.2}",
        wall / floor.max(0.001)
    );
    say!(
        "  requests open at once      max {}  (max_in_flight = {})",
        stats.max_open,
        in_flight
    );
    // Where the limit went unused: request starts in each second of the first run.
    let timeline: Vec<String> = stats.per_second.iter().map(u32::to_string).collect();
    say!("  starts in each second      {}", timeline.join(" "));
    say!(
        "  peak RSS                   {} KiB",
        summary["peak_rss_kib"]
    );
    for (n, (rc, writes, reads, per_lead, secs, v)) in reruns.iter().enumerate() {
        say!(
            "  {} run{}exit {rc}, {writes} writes, {reads} reads ({per_lead} per-lead GETs), {} leads unchanged, {secs:.1} s",
            ["second", "third"][n],
            [" ".repeat(17), " ".repeat(18)][n],
            v["counts"]["lead"]["unchanged"]
        );
    }
    let panel = |v: &Value| {
        format!(
            "{} calls ({} forms), {:.1} s in calls, peak RSS {} KiB",
            v["panel"]["calls"],
            v["panel"]["forms"],
            v["panel"]["millis"].as_f64().unwrap_or(0.0) / 1000.0,
            v["peak_rss_kib"]
        )
    };
    say!(
        "  panel ({} shapes, {} ms per call{})",
        if a.assumed { "assumed" } else { "real" },
        a.panel_delay_ms,
        if a.list_only { ", list-only rules" } else { "" }
    );
    say!("    first run                {}", panel(&summary));
    for (n, (_, _, _, _, _, v)) in reruns.iter().enumerate() {
        say!(
            "    {} run{}{}",
            ["second", "third"][n],
            [" ".repeat(16), " ".repeat(17)][n],
            panel(v)
        );
    }
    say!();
    say!("naive one-request-per-entity client (measured on {sample} leads, extrapolated)");
    say!("  requests                   {naive_total}");
    say!(
        "  requests per entity        {:.2}",
        naive_total as f64 / entities as f64
    );
    say!(
        "  wall time                  {:.0} s ({:.1} h)",
        naive_secs,
        naive_secs / 3600.0
    );
    say!();
    say!(
        "  fewer requests than naive  {:.0}×",
        naive_total as f64 / requests.max(1) as f64
    );
    if a.record {
        record(&a.argv);
    }
}
