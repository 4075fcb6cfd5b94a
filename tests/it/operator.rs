//! Operator experience (issue 9): what a Linux operator and a BILLmanager admin touch first.
//!
//! - the committed completions (`completions/`) and man pages (`doc/`) are what the binary
//!   generates now (`AMOCRM_BIN_BLESS=1` rewrites them);
//! - every subcommand's `--help` ends with examples;
//! - `check` names every problem with its key path and exits 2, and writes nothing;
//! - `status` shows the token, the runs with their statistics, the outbox with parked items
//!   and their errors, the lock holder; `--json` too;
//! - `bindings search` finds by BILLmanager id, amoCRM id, amoCRM link and text;
//! - the README quick start, the cron file and the systemd units run as written against the
//!   sandbox; the `.deb` metadata ships files that exist.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use amocrm_bin::lock::{try_lock, LockKind};
use sandbox::SandboxConfig;
use serde_json::Value;

use crate::support::{root, run, World, SECRET};

fn bin() -> PathBuf {
    PathBuf::from(assert_cmd::cargo::cargo_bin!("amocrm-bin"))
}

/// The binary with nothing from the developer's environment (generated files must not
/// depend on it).
fn bare() -> Process {
    let mut c = Process::new(bin());
    c.env_clear();
    c
}

/// `PATH` with the built binary first, as an installed `amocrm-bin` would be.
fn path_with_bin() -> String {
    format!(
        "{}:{}",
        bin().parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn bless() -> bool {
    std::env::var_os("AMOCRM_BIN_BLESS").is_some()
}

const STALE: &str = "stale: regenerate with `AMOCRM_BIN_BLESS=1 cargo test --test integration operator` \
                     (or `amocrm-bin completions <shell>` / `amocrm-bin man --dir doc`) and commit the result";

/// Compares a committed generated file with what the binary prints now.
fn assert_fresh(path: &Path, generated: &[u8]) {
    if bless() {
        std::fs::write(path, generated).unwrap();
        return;
    }
    let committed = std::fs::read(path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is {STALE}",
        path.strip_prefix(root()).unwrap_or(path).display()
    );
}

#[test]
fn committed_completions_are_fresh() {
    for (shell, file) in [
        ("bash", "amocrm-bin.bash"),
        ("zsh", "_amocrm-bin"),
        ("fish", "amocrm-bin.fish"),
    ] {
        let out = bare().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("backfill"),
            "{shell}"
        );
        assert_fresh(&root().join("completions").join(file), &out.stdout);
    }
}

#[test]
fn committed_man_pages_are_fresh() {
    let tmp = tempfile::tempdir().unwrap();
    let out = bare()
        .args(["man", "--dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let pages = |dir: &Path| -> BTreeSet<String> {
        std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".1"))
                    .collect()
            })
            .unwrap_or_default()
    };
    let doc = root().join("doc");
    let generated = pages(tmp.path());
    for must in [
        "amocrm-bin.1",
        "amocrm-bin-check.1",
        "amocrm-bin-bindings-search.1",
    ] {
        assert!(generated.contains(must), "{must}: {generated:?}");
    }
    if bless() {
        std::fs::create_dir_all(&doc).unwrap();
        for old in pages(&doc).difference(&generated) {
            std::fs::remove_file(doc.join(old)).unwrap();
        }
    } else {
        assert_eq!(
            pages(&doc),
            generated,
            "the set of pages in doc/ is {STALE}"
        );
    }
    for page in &generated {
        assert_fresh(
            &doc.join(page),
            &std::fs::read(tmp.path().join(page)).unwrap(),
        );
    }
    let main = std::fs::read_to_string(tmp.path().join("amocrm-bin.1")).unwrap();
    for section in [
        ".SH EXAMPLES",
        ".SH \"EXIT STATUS\"",
        ".SH ENVIRONMENT",
        ".SH FILES",
    ] {
        assert!(
            main.contains(section),
            "{section} missing from amocrm-bin.1"
        );
    }
}

/// The subcommand names in a `--help` text's `Commands:` list (`help` left out).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .filter(|n| n != "help")
        .collect()
}

#[test]
fn every_subcommand_help_ends_with_examples() {
    let mut todo = vec![Vec::<String>::new()];
    let mut seen = 0;
    while let Some(path) = todo.pop() {
        let out = bare().args(&path).arg("--help").output().unwrap();
        assert!(out.status.success(), "{path:?}: {out:?}");
        let help = String::from_utf8_lossy(&out.stdout).into_owned();
        let examples = help.split("\nExamples:\n").nth(1).unwrap_or_else(|| {
            panic!(
                "`amocrm-bin {} --help` has no examples:\n{help}",
                path.join(" ")
            )
        });
        for line in examples.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                line.starts_with("  ") && line.contains("amocrm-bin"),
                "`{}` example is not a command line: {line:?}",
                path.join(" ")
            );
        }
        for sub in subcommands(&help) {
            let mut p = path.clone();
            p.push(sub);
            todo.push(p);
        }
        seen += 1;
    }
    assert!(seen >= 15, "only {seen} help pages walked");
}

#[test]
fn check_accepts_the_example_rules_and_warns_only_about_tags_to_be_created() {
    let w = World::new();
    w.authorize();
    w.sandbox.reset_stats();
    let (rc, out, err) = run(w.cmd().arg("check"));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(err.contains("ok: the rules fit the account"), "{err}");
    assert!(
        err.contains("against amoCRM account Sandbox Hosting"),
        "{err}"
    );
    // The sandbox starts without tags: each one the rules add is a warning, nothing else;
    // the panel lines say where each BILLmanager attribute comes from.
    assert!(
        !out.is_empty()
            && out
                .lines()
                .all(|l| l.starts_with("warning: ") || l.starts_with("panel: ")),
        "{out}"
    );
    assert!(
        out.contains(
            "warning: sync.default_tags[0]: amoCRM has no `BILL` tag for contacts, companies, leads yet"
        ),
        "{out}"
    );
    assert_eq!(w.sandbox.stats().writes, 0, "check writes nothing");
    let (rc, out, _) = run(w.cmd().args(["check", "--strict", "--json"]));
    assert_eq!(rc, 2);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (v["ok"].as_bool(), v["problems"].as_u64()),
        (Some(false), Some(0))
    );
    assert!(v["warnings"].as_u64().unwrap() > 0, "{v}");
    // Once amoCRM has the tags, there is nothing left to warn about.
    w.sandbox.insert(
        "leads",
        serde_json::json!({"name": "tagged", "_embedded": {"tags": [
        {"name": "BILL"}, {"name": "trial"}, {"name": "big order"}, {"name": "call"}]}}),
    );
    w.sandbox.insert(
        "contacts",
        serde_json::json!({"name": "tagged", "_embedded": {"tags": [
        {"name": "BILL"}, {"name": "newsletter"}, {"name": "call"}]}}),
    );
    w.sandbox.insert(
        "companies",
        serde_json::json!({"name": "tagged", "_embedded": {"tags": [
        {"name": "bill"}]}}),
    );
    let (rc, out, err) = run(w.cmd().args(["check", "--strict"]));
    // Only the panel's "where each attribute comes from" lines remain.
    let other: Vec<&str> = out.lines().filter(|l| !l.starts_with("panel: ")).collect();
    assert_eq!((rc, other), (0, vec![]), "{err}");
}

#[test]
fn check_prints_every_problem_with_its_key_path_and_exits_2() {
    let w = World::with(SandboxConfig::default(), |r| {
        r.replace(
            "\"Expires\" = \"service.expires_at\"",
            "\"Expires\" = \"service.product\"\n\"Prodcut\" = \"service.product\"",
        )
        .replace("status = \"Trial\"", "status = \"Trail\"")
        .replace(
            "responsible = \"boris@example.com\"",
            "responsible = \"nobody@example.com\"",
        )
        .replace(
            "\"Country\" = { from = \"client.country\", map = { \"182\" = \"Russia\", \"Россия\" = \"Russia\", \"Казахстан\" = \"Kazakhstan\", \"Беларусь\" = \"Belarus\" }, default = \"Other\" }",
            "\"Country\" = { value = \"Atlantis\" }\n\"PHONE\" = { from = \"user.phone\", enum = \"PAGER\" }",
        )
        .replace("pipeline = \"Partners\"", "pipeline = \"Partnrs\"")
    });
    w.authorize();
    w.sandbox.reset_stats();
    let (rc, out, err) = run(w.cmd().arg("check"));
    assert_eq!(rc, 2, "{out}{err}");
    for line in [
        "problem: fields.lead.\"Prodcut\": no amoCRM lead field with id, code or name `Prodcut`; did you mean `Product`? Fix the key; known fields: ",
        "problem: fields.lead.\"Expires\": `service.product` is free text, which does not fit date field `Expires`",
        "problem: fields.contact.\"Country\".value: does not fit select field `Country`: `Atlantis` is not an option",
        "problem: fields.contact.\"PHONE\".enum: field `Phone` has no enum `PAGER`; its enums: WORK, WORKDD, MOB",
        "problem: pipelines[0].status: pipeline `Sales` has no status `Trail`; its statuses: ",
        "problem: pipelines[1].responsible: no amoCRM user `nobody@example.com`",
        "problem: calls.pipelines[0].pipeline: no amoCRM pipeline `Partnrs`; known pipelines: Sales, Partners",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(line)),
            "missing {line:?} in:\n{out}"
        );
    }
    assert!(err.contains("7 problem(s)"), "{err}");
    assert!(err.contains("hint: fix the keys listed above"), "{err}");
    assert_eq!(w.sandbox.stats().writes, 0, "check writes nothing");
    let (rc, out, _) = run(w.cmd().args(["check", "--json"]));
    assert_eq!(rc, 2);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["problems"], 7, "{v}");
    assert_eq!(v["exit_code"], 2);
    let keys: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "problem")
        .map(|f| f["key"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"pipelines[0].status"), "{keys:?}");
}

#[test]
fn check_without_authorization_says_how_to_authorize() {
    let w = World::new();
    let (rc, _, err) = run(w.cmd().arg("check"));
    assert_eq!(rc, 3, "{err}");
    assert!(err.contains("auth --code"), "{err}");
}

#[test]
fn status_shows_token_runs_with_statistics_parked_errors_and_the_lock_holder() {
    let w = World::with(SandboxConfig::default(), |r| r);
    let (rc, out, _) = run(w.cmd().arg("status"));
    assert_eq!(rc, 0);
    assert!(
        out.contains("amoCRM: not authorized: run `amocrm-bin auth --code CODE`"),
        "{out}"
    );
    assert!(out.contains("last runs: none yet"), "{out}");
    w.authorize();
    // amoCRM refuses service 402's lead (a 400): queued, then parked by `drain --all`.
    let refuse_leads = || {
        w.sandbox.inject(sandbox::Fault::Status {
            code: 400,
            count: 1000,
            path_prefix: Some("/api/v4/leads".into()),
        })
    };
    refuse_leads();
    let (rc, out, err) = run(w.cmd().args(["sync", "--entity", "lead", "--elid", "402"]));
    assert_ne!(rc, 0, "{out}{err}");
    w.sandbox.clear_faults();
    let (rc, out, err) = run(w.cmd().args(["sync", "--entity", "lead", "--elid", "401"]));
    assert_eq!(rc, 0, "{out}{err}");
    refuse_leads();
    let (rc, _, err) = run(w.cmd().args(["drain", "--all"]));
    assert_eq!(rc, 1, "{err}");
    let _held = try_lock(&w.store(), LockKind::Run, "backfill (held by the test)").unwrap();

    let (rc, out, err) = run(w.cmd().arg("status"));
    assert_eq!(rc, 0, "{err}");
    for want in [
        "amoCRM: account Sandbox Hosting (id 30011223) at http://127.0.0.1:",
        "access token valid until ",
        "refresh token present; 1 rotation(s)",
        "outbox: 1 queued (0 due now, 0 waiting to retry), 1 parked",
        "parked (fix the cause, then `amocrm-bin drain --all`; junk: `amocrm-bin outbox drop --parked`",
        "lead     402",
        "last error: ",
        "run lock: held (pid ",
        "backfill (held by the test)",
        "bindings: 1 company, ",
        "last runs (newest first):",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    let runs: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("last runs"))
        .skip(1)
        .collect();
    assert!(
        runs[0].contains("drain") && runs[0].contains("exit 1") && runs[0].contains("1 parked"),
        "{runs:?}"
    );
    assert!(
        runs[1].contains("sync")
            && runs[1].contains("exit 0")
            && runs[1].contains("lead: 1 created")
            && runs[1].contains(" requests ("),
        "{runs:?}"
    );

    let (rc, out, _) = run(w.cmd().args(["status", "--json", "--runs", "1"]));
    assert_eq!(rc, 0);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["auth"]["authorized"], true);
    assert!(
        v["auth"]["access_token_expires_in_secs"].as_i64().unwrap() > 3600,
        "{v}"
    );
    assert_eq!(v["outbox"]["parked"], 1);
    assert!(
        v["outbox"]["items"][0]["last_error"].as_str().is_some(),
        "{v}"
    );
    assert!(
        v["run_lock"].as_str().unwrap().contains("held by the test"),
        "{v}"
    );
    assert_eq!(v["bindings"]["lead"], 1);
    assert_eq!(v["runs"].as_array().unwrap().len(), 1);
    assert_eq!(
        v["runs"][0]["summary"]["parked"], 1,
        "summary is an object: {v}"
    );
    assert!(!out.contains(SECRET));
}

#[test]
fn bindings_search_finds_by_billmanager_id_amocrm_id_link_and_text() {
    let w = World::new();
    w.authorize();
    for (entity, elid) in [("lead", "401"), ("company", "302"), ("company", "303")] {
        let (rc, out, err) = run(w.cmd().args(["sync", "--entity", entity, "--elid", elid]));
        assert_eq!(rc, 0, "{out}{err}");
    }
    let search = |args: &[&str]| -> Vec<Value> {
        let (rc, out, err) = run(w.cmd().args(["bindings", "search", "--json"]).args(args));
        assert_eq!(rc, 0, "{err}");
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        v["bindings"].as_array().unwrap().clone()
    };
    let hits = search(&["401"]);
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(
        (hits[0]["bm_id"].as_str(), hits[0]["matched"].as_str()),
        (Some("service:401"), Some("BILLmanager id"))
    );
    let lead = hits[0]["amo_id"].as_i64().unwrap();

    let by_id = search(&[&lead.to_string()]);
    assert!(
        by_id
            .iter()
            .any(|h| h["bm_id"] == "service:401" && h["matched"] == "amoCRM id"),
        "{by_id:?}"
    );
    let link = format!("{}/leads/detail/{lead}", w.sandbox.base_url());
    let by_link = search(&[&link]);
    assert_eq!(by_link.len(), 1, "{by_link:?}");
    assert_eq!(by_link[0]["matched"], "amoCRM link");

    // Payers 302 and 303 share an INN, so one company: 303 finds it through the alias.
    let shared = search(&["303", "--entity", "company"]);
    assert_eq!(shared.len(), 1, "{shared:?}");
    assert_eq!(shared[0]["bm_id"], "inn:7709876543");
    assert_eq!(shared[0]["matched"], "payer:303 shares it");

    let text = search(&["user:20"]);
    assert!(
        text.iter().all(|h| h["matched"] == "text") && !text.is_empty(),
        "{text:?}"
    );
    assert!(search(&["nothing-like-this"]).is_empty());

    let (rc, out, err) = run(w.cmd().args(["bindings", "search", "401"]));
    assert_eq!(rc, 0);
    assert!(
        out.starts_with("lead     service:401") && out.contains("(BILLmanager id)"),
        "{out}"
    );
    assert!(err.contains("1 binding(s) match `401`"), "{err}");
}

/// The README between the quick-start markers.
fn quickstart() -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("<!-- quickstart:start -->")
        .expect("start marker");
    let end = readme.find("<!-- quickstart:end -->").expect("end marker");
    readme[start..end].to_string()
}

/// The bodies of the fenced blocks of one language, in order.
fn fenced(text: &str, lang: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.trim_end()) {
            (None, l) if l == format!("```{lang}") => current = Some(String::new()),
            (Some(_), "```") => blocks.push(current.take().unwrap()),
            (Some(body), l) => {
                body.push_str(l);
                body.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

/// A world whose rule file reads the secret from a file, as the quick start tells an admin
/// to do (the panel and cron have no shell variables), so no secret is in the environment.
fn secret_file_world() -> World {
    let w = World::with(SandboxConfig::default(), |r| {
        r.replace(
            "client_secret_env = \"AMOCRM_CLIENT_SECRET\"",
            "client_secret_file = \"amocrm-bin.secret\"",
        )
    });
    std::fs::write(w.path("amocrm-bin.secret"), format!("{SECRET}\n")).unwrap();
    w
}

/// The quick start's connection file with this machine's values: the sandbox's address and
/// integration, the secret file and store in `dir`, the example BILLmanager data. Every value
/// the admin is told to change must be replaced, so the block cannot drift from the test.
fn connection_file(block: &str, base_url: &str, dir: &Path) -> String {
    let data = root().join("examples/billmanager");
    let replacements = [
        (
            "https://mycompany.amocrm.ru".to_string(),
            base_url.to_string(),
        ),
        (
            "00000000-0000-0000-0000-000000000000".into(),
            "sandbox-client-id".into(),
        ),
        (
            "/usr/local/mgr5/etc/amocrm-bin.secret".into(),
            dir.join("amocrm-bin.secret").display().to_string(),
        ),
        (
            "https://billing.example.com/amocrm/callback".into(),
            "https://example.com/amocrm/callback".into(),
        ),
        (
            "source = \"mgrctl\"".into(),
            format!("source = \"files\"\ndir = {:?}", data.display().to_string()),
        ),
        ("/usr/local/mgr5/var/".into(), format!("{}/", dir.display())),
    ];
    let mut text = block.to_string();
    for (from, to) in replacements {
        assert!(
            text.contains(&from),
            "the quick start's rule file lost `{from}`"
        );
        text = text.replace(&from, &to);
    }
    text
}

#[test]
fn readme_quick_start_runs_as_written_against_a_fresh_account() {
    let text = quickstart();
    let script: String = fenced(&text, "sh").concat();
    for step in [
        "auth --code",
        "init",
        "setup-fields",
        "check",
        "sync",
        "backfill",
    ] {
        assert!(script.contains(&format!("amocrm-bin {step}")), "{step}");
    }
    assert!(script.contains("--dry-run"));
    // The variables the runnable blocks use are the ones the prose tells the admin to set.
    let used: BTreeSet<String> = regex::Regex::new(r"\$\{?([A-Z_]+)")
        .unwrap()
        .captures_iter(&script)
        .map(|c| c[1].to_string())
        .collect();
    let set_by_admin: String = fenced(&text, "console").concat();
    for var in &used {
        assert!(
            var == "AMOCRM_BIN_CONFIG" || set_by_admin.contains(&format!("# {var}=")),
            "the quick start uses ${var} but never tells the admin to set it"
        );
    }
    let tomls = fenced(&text, "toml");
    assert_eq!(tomls.len(), 1, "one rule file in the quick start");
    let w = World::with(
        SandboxConfig {
            seed: sandbox::Seed::fresh(),
            ..SandboxConfig::default()
        },
        |r| r,
    );
    std::fs::write(
        &w.rules,
        connection_file(&tomls[0], &w.sandbox.base_url(), w.dir.path()),
    )
    .unwrap();
    std::fs::write(w.path("amocrm-bin.secret"), format!("{SECRET}\n")).unwrap();
    let mut child = Process::new("sh")
        .arg("-c")
        .arg(format!("set -eux\n{script}"))
        .env_clear()
        .env("PATH", path_with_bin())
        .env("HOME", w.dir.path())
        .env("AMOCRM_BIN_TEST_BACKOFF_MS", "20")
        .env("RULES", &w.rules)
        .env("CODE", w.sandbox.issue_code())
        .env("SERVICE", "401")
        .current_dir(w.dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The admin's answer to setup-fields' question.
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(b"y\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "quick start failed:\n{stdout}\n{stderr}"
    );
    for want in [
        "authorized: account ООО Ромашка",
        "created: lead field `BILLmanager service id`",
        "would create",
        "leads/detail/",
        "last runs (newest first):",
        "backfill",
    ] {
        assert!(stdout.contains(want), "missing {want:?} in:\n{stdout}");
    }
    assert!(stderr.contains("ok: the rules fit the account"), "{stderr}");
    assert!(!stderr.contains("problem:"), "{stderr}");
    assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET));
    // The rules name the fresh account's own pipeline and stage, and its user.
    let rules = std::fs::read_to_string(&w.rules).unwrap();
    assert!(
        rules.contains("pipeline = \"Воронка\"\nstatus = \"Первичный контакт\""),
        "{rules}"
    );
    let leads = w.sandbox.entities("leads");
    assert!(
        leads.len() > 5,
        "the backfill sent the example services: {}",
        leads.len()
    );
    for lead in &leads {
        assert_eq!(lead["pipeline_id"], 7700001, "{lead}");
        let bm_id = lead["custom_fields_values"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|f| f["field_code"] == "BM_SERVICE_ID");
        assert!(bm_id, "every lead carries its BILLmanager id: {lead}");
    }
    // A second backfill finds nothing new to create.
    let (rc, out, err) = run(w
        .cmd()
        .args(["backfill", "--since", "2024-01-01", "--json"]));
    assert_eq!(rc, 0, "{out}{err}");
    assert_eq!(w.sandbox.entities("leads").len(), leads.len());
    // The rule file holds the one go-live date (`init --since`): the shipped cron jobs run
    // on it as they are, and on this unchanged account they print nothing, so cron mails
    // nothing.
    assert!(rules.contains("\nsince = \"2024-01-01\"\n"), "{rules}");
    let cron = std::fs::read_to_string(root().join("examples/cron/amocrm-bin")).unwrap();
    for job in cron_jobs(&cron) {
        let (rc, out, err) = run(assert_cmd::Command::new("sh")
            .args(["-c", &job])
            .env_clear()
            .env("PATH", path_with_bin())
            .env("AMOCRM_BIN_CONFIG", &w.rules)
            .current_dir(w.dir.path()));
        assert_eq!(
            (rc, out.as_str(), err.as_str()),
            (0, "", ""),
            "cron job `{job}`"
        );
    }
    assert_eq!(w.sandbox.entities("leads").len(), leads.len());
}

/// Every ```cron block of the README is the shipped cron file, byte for byte.
#[test]
fn readme_cron_lines_are_the_shipped_file() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let shipped = std::fs::read_to_string(root().join("examples/cron/amocrm-bin")).unwrap();
    let blocks = fenced(&readme, "cron");
    assert!(!blocks.is_empty(), "the README shows the cron file");
    for block in blocks {
        assert_eq!(
            block, shipped,
            "README's cron block differs from examples/cron/amocrm-bin"
        );
    }
    // Nowhere do the README and the guides put the secret into a crontab line or a unit.
    for doc in [
        "README.md",
        "docs/hook.md",
        "docs/lifecycle.md",
        "docs/calls-guide.md",
    ] {
        let text = std::fs::read_to_string(root().join(doc)).unwrap();
        assert!(!text.contains("AMOCRM_CLIENT_SECRET="), "{doc}");
    }
    for unit in std::fs::read_dir(root().join("examples/systemd")).unwrap() {
        let text = std::fs::read_to_string(unit.unwrap().path()).unwrap();
        assert!(!text.contains("SECRET"), "{text}");
    }
}

/// The command of every job line of a cron.d file (after the five time fields and the user).
fn cron_jobs(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|f| !f.contains('='))
        })
        .map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            assert!(fields.len() > 6, "not a cron.d job line: {l}");
            fields[6..].join(" ")
        })
        .collect()
}

#[test]
fn cron_and_systemd_examples_run_against_the_sandbox() {
    let w = secret_file_world();
    w.authorize();
    let cron = std::fs::read_to_string(root().join("examples/cron/amocrm-bin")).unwrap();
    assert!(cron.contains("\nAMOCRM_BIN_CONFIG=/usr/local/mgr5/etc/amocrm-bin.toml\n"));
    let jobs = cron_jobs(&cron);
    assert_eq!(jobs.len(), 4, "{jobs:?}");
    // Cron mails whatever a job prints: a job that succeeds prints nothing, on the first
    // run (which creates everything) and on the unchanged runs every five minutes after.
    for round in ["first", "unchanged"] {
        for job in &jobs {
            let (rc, out, err) = run(assert_cmd::Command::new("sh")
                .args(["-c", job])
                .env_clear()
                .env("PATH", path_with_bin())
                .env("AMOCRM_BIN_CONFIG", &w.rules)
                .env("AMOCRM_BIN_TEST_BACKOFF_MS", "20")
                .current_dir(w.dir.path()));
            assert_eq!(rc, 0, "cron job `{job}`:\n{out}{err}");
            assert_eq!(
                (out.as_str(), err.as_str()),
                ("", ""),
                "{round} run of cron job `{job}` would send a mail"
            );
        }
    }
    assert!(
        !w.sandbox.entities("leads").is_empty(),
        "the nightly backfill ran"
    );

    let dir = root().join("examples/systemd");
    let mut services = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".service") {
            assert!(dir.join(format!("{stem}.timer")).exists(), "{stem}.timer");
            services.push(path);
        } else if let Some(stem) = name.strip_suffix(".timer") {
            assert!(
                dir.join(format!("{stem}.service")).exists(),
                "{stem}.service"
            );
            let timer = std::fs::read_to_string(&path).unwrap();
            assert!(timer.contains("WantedBy=timers.target"), "{name}");
        }
    }
    services.sort();
    assert_eq!(services.len(), 3, "{services:?}");
    for path in services {
        let unit = std::fs::read_to_string(&path).unwrap();
        let value = |key: &str| {
            unit.lines()
                .find_map(|l| l.strip_prefix(key).map(str::trim))
                .map(String::from)
        };
        assert_eq!(
            value("Environment=").as_deref(),
            Some("AMOCRM_BIN_CONFIG=/usr/local/mgr5/etc/amocrm-bin.toml"),
            "{path:?}"
        );
        let exec = value("ExecStart=").unwrap();
        let mut argv = exec.split_whitespace();
        assert_eq!(
            argv.next(),
            Some("/usr/bin/amocrm-bin"),
            "the .deb's path: {exec}"
        );
        let mut ok = vec![0];
        if let Some(extra) = value("SuccessExitStatus=") {
            ok.extend(extra.split_whitespace().map(|c| c.parse::<i32>().unwrap()));
        }
        let (rc, out, err) = run(assert_cmd::Command::new(bin())
            .args(argv)
            .env_clear()
            .env("AMOCRM_BIN_CONFIG", &w.rules)
            .env("AMOCRM_BIN_TEST_BACKOFF_MS", "20")
            .current_dir(w.dir.path()));
        assert!(ok.contains(&rc), "{exec} exited {rc}:\n{out}{err}");
    }
}

#[test]
fn deb_metadata_ships_the_binary_man_pages_completions_rules_and_plugin() {
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(root().join("Cargo.toml")).unwrap()).unwrap();
    let deb = &manifest["package"]["metadata"]["deb"];
    assert!(
        deb.get("maintainer").is_some(),
        "cargo-deb needs a maintainer"
    );
    let assets = deb["assets"].as_array().unwrap();
    let mut destinations = Vec::new();
    for a in assets {
        let a = a.as_array().unwrap();
        let (src, dest, mode) = (
            a[0].as_str().unwrap(),
            a[1].as_str().unwrap(),
            a[2].as_str().unwrap(),
        );
        assert!(mode == "644" || mode == "755", "{src}: mode {mode}");
        if src == "target/release/amocrm-bin" {
            assert_eq!((dest, mode), ("usr/bin/", "755"));
        } else if let Some((dir, pattern)) = src.rsplit_once("/*") {
            let n = std::fs::read_dir(root().join(dir))
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .file_name()
                        .to_string_lossy()
                        .ends_with(pattern)
                })
                .count();
            assert!(n > 0, "{src} matches nothing");
        } else {
            assert!(root().join(src).is_file(), "{src} does not exist");
        }
        destinations.push(format!("{dest} ← {src}"));
    }
    let all = destinations.join("\n");
    for want in [
        "usr/bin/ ← target/release/amocrm-bin",
        "usr/share/man/man1/ ← doc/*.1",
        "usr/share/bash-completion/completions/amocrm-bin ← completions/amocrm-bin.bash",
        "usr/share/zsh/vendor-completions/_amocrm-bin ← completions/_amocrm-bin",
        "usr/share/fish/vendor_completions.d/amocrm-bin.fish ← completions/amocrm-bin.fish",
        "usr/share/doc/amocrm-bin/examples/ ← examples/rules.toml",
        "usr/share/amocrm-bin/ ← examples/billmanager-plugin/billmgr_mod_amocrm_bin.xml",
        "usr/lib/systemd/system/ ← examples/systemd/*.timer",
    ] {
        assert!(all.contains(want), "missing asset {want:?} in:\n{all}");
    }
}
