//! Security and hostile input (issue 7): secrets never reach an output, files are private,
//! the secret can live outside the rule file, https and amoCRM hosts are enforced, and no
//! rule file, BILLmanager answer, panel document, call event or argument makes the binary
//! panic or leave the documented exit codes.

use std::path::Path;

use serde_json::Value;

use crate::faults::{demo_rig, hook, integrity, paced_demo_rig, Rig, DOCUMENTED};
use crate::support::{root, SECRET};

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn no_secret_reaches_any_output_log_journal_or_json_and_files_are_0600() {
    // A small log limit, so the rotated `.log.1` is checked too.
    let rig = demo_rig(|r| r.replace("max_bytes = 10485760", "max_bytes = 1024"));
    let code = rig.sandbox.issue_code();
    let (rc, out, err) = rig.run(&["-vv", "auth", "--code", &code]);
    assert_eq!(rc, 0, "{out}{err}");
    for args in [
        &["-vv", "auth", "--status"][..],
        &["--json", "auth", "--status"],
        &["-vv", "auth", "--refresh"],
        &["-vv", "--json", "sync", "--entity", "lead", "--elid", "401"],
        &[
            "-vv",
            "sync",
            "--entity",
            "contact",
            "--elid",
            "102",
            "--dry-run",
        ],
        &["-vv", "--json", "backfill", "--since", "2024-01-01"],
        &["--json", "bindings", "list"],
        &[
            "-vv", "bindings", "show", "--entity", "lead", "--elid", "401",
        ],
        &["--json", "status"],
        &["-vv", "replay-calls", "--days", "1"],
    ] {
        let (rc, out, err) = rig.run(args);
        assert!(rc <= 1, "{args:?}: {out}{err}");
    }
    // A refresh on the way (logged at -vv), then the hook and its background drain.
    rig.sandbox.expire_access_tokens();
    let (rc, out, err) = rig.run(&["-vv", "sync", "--entity", "lead", "--elid", "404"]);
    assert_eq!(rc, 0, "{out}{err}");
    hook(&rig, "service.postopen", "403", true);
    crate::faults::wait_until(60, "the hook's drain", || {
        crate::faults::outbox(&rig.store()).is_empty()
            && amocrm_bin::lock::run_lock_holder(&rig.store()).is_none()
    });
    let (rc, out, err) = rig.run(&["-vv", "--json", "drain", "--all"]);
    assert_eq!(rc, 0, "{out}{err}");
    // Error paths: a rejected code, a revoked refresh token, amoCRM blocked.
    let (rc, _, _) = rig.run(&["-vv", "--json", "auth", "--code", "def502-not-a-code"]);
    assert_eq!(rc, 3);
    rig.sandbox.revoke_refresh_tokens();
    rig.sandbox.expire_access_tokens();
    let (rc, out, _) = rig.run(&["-vv", "--json", "auth", "--refresh"]);
    assert_eq!(rc, 3);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["exit_code"], 3, "{v}");
    rig.authorize();
    rig.sandbox.set_blocked(true);
    rig.run(&["bindings", "forget", "--entity", "lead", "--elid", "405"]);
    let (rc, _, _) = rig.run(&["-vv", "--json", "sync", "--entity", "lead", "--elid", "405"]);
    assert_eq!(rc, 5);
    let (rc, _, _) = rig.run(&["-vv", "--json", "drain", "--all"]);
    assert_eq!(rc, 5);
    rig.sandbox.set_blocked(false);

    let f = rig.finish();
    assert_eq!(f.leaks, 0);
    assert!(f.texts >= 40, "only {} texts checked", f.texts);
    assert!(
        rig.path("amocrm-bin.log.1").exists(),
        "the log was rotated, so both files were checked"
    );
    // Private files: the store (tokens), the logs, the lock and pacing files.
    let mut checked = 0;
    for e in std::fs::read_dir(rig.dir.path()).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("amocrm-bin.")
            && !name.ends_with(".stdout")
            && !name.ends_with(".stderr")
        {
            assert_eq!(mode(&e.path()), 0o600, "{name} is {:o}", mode(&e.path()));
            checked += 1;
        }
    }
    assert!(checked >= 5, "store, log, log.1, locks, pace: {checked}");
}

#[test]
fn client_secret_comes_from_env_or_file_and_an_inline_one_warns_when_world_readable() {
    // From a file (first line), with the environment variable absent.
    let rig = demo_rig(|r| {
        r.replace(
            "client_secret_env = \"AMOCRM_CLIENT_SECRET\"",
            "client_secret_file = \"secret.txt\"",
        )
    });
    std::fs::write(rig.path("secret.txt"), format!("{SECRET}\n")).unwrap();
    let code = rig.sandbox.issue_code();
    let mut c = rig.cmd();
    c.env_remove("AMOCRM_CLIENT_SECRET")
        .args(["auth", "--code", &code]);
    let (rc, out, err) = rig.run_cmd(&mut c, "auth (secret file)");
    assert_eq!(rc, 0, "{out}{err}");
    rig.finish();

    // From the environment: a missing variable is a rule-file error naming it.
    let rig = demo_rig(|r| r);
    let mut c = rig.cmd();
    c.env_remove("AMOCRM_CLIENT_SECRET")
        .args(["auth", "--code", "whatever"]);
    let (rc, _, err) = rig.run_cmd(&mut c, "auth (no secret)");
    assert_eq!(rc, 2, "{err}");
    assert!(err.contains("AMOCRM_CLIENT_SECRET"), "{err}");
    rig.authorize();
    rig.finish();

    // Inline: works, and warns while others can read the file (never printing the secret).
    let rig = demo_rig(|r| {
        r.replace(
            "client_secret_env = \"AMOCRM_CLIENT_SECRET\"",
            &format!("client_secret = \"{SECRET}\""),
        )
    });
    crate::faults::chmod(&rig.rules, 0o644);
    let code = rig.sandbox.issue_code();
    let mut c = rig.cmd();
    c.env_remove("AMOCRM_CLIENT_SECRET")
        .args(["auth", "--code", &code]);
    let (rc, out, err) = rig.run_cmd(&mut c, "auth (inline, 0644)");
    assert_eq!(rc, 0, "{out}{err}");
    assert!(
        err.contains("world-readable") && err.contains("chmod 600"),
        "{err}"
    );
    crate::faults::chmod(&rig.rules, 0o600);
    let (rc, out, err) = rig.run(&["auth", "--status"]);
    assert_eq!(rc, 0, "{out}{err}");
    assert!(!err.contains("world-readable"), "{err}");
    rig.finish();
}

#[test]
fn https_and_amocrm_hosts_are_enforced_unless_allowed() {
    let rig = paced_demo_rig(|r| r);
    let base = rig.sandbox.base_url();
    let set = |url: &str, extra: &str| {
        let text = std::fs::read_to_string(&rig.rules).unwrap();
        let mut lines: Vec<String> = text
            .lines()
            .map(|l| {
                if l.starts_with("base_url = ") {
                    format!("base_url = \"{url}\"")
                } else if l.starts_with("allow_any_host = ") {
                    format!("allow_any_host = {extra}")
                } else {
                    l.to_string()
                }
            })
            .collect();
        lines.push(String::new());
        std::fs::write(&rig.rules, lines.join("\n")).unwrap();
    };
    for (url, allow, ok, why) in [
        ("http://acme.amocrm.ru", "false", false, "https"),
        ("http://acme.amocrm.ru", "true", false, "https"),
        ("https://evil.example.com", "false", false, "allow_any_host"),
        (
            "https://acme.amocrm.ru.evil.example.com",
            "false",
            false,
            "allow_any_host",
        ),
        ("https://evilamocrm.ru", "false", false, "allow_any_host"),
        (
            "https://acme.amocrm.ru@evil.example.com",
            "false",
            false,
            "allow_any_host",
        ),
        ("http://127.0.0.1.evil.example.com", "true", false, "https"),
        ("https://proxy.example.com", "true", true, ""),
        ("https://acme.amocrm.ru", "false", true, ""),
        ("https://acme.amocrm.com", "false", true, ""),
        ("https://acme.kommo.com", "false", true, ""),
        ("http://localhost:8080", "false", true, ""),
        (base.as_str(), "false", true, ""),
    ] {
        set(url, allow);
        // `auth --status` reads only the rule file and the store.
        let (rc, out, err) = rig.run(&["auth", "--status"]);
        if ok {
            assert_eq!(
                rc, 3,
                "{url} (allow_any_host = {allow}) is accepted: {out}{err}"
            );
        } else {
            assert_eq!(
                rc, 2,
                "{url} (allow_any_host = {allow}) is refused: {out}{err}"
            );
            assert!(
                err.contains("amocrm.base_url") && err.contains(why),
                "{url}: {err}"
            );
        }
    }
    // The BILLmanager HTTP API gets the panel password: https too, except on loopback.
    let text = std::fs::read_to_string(root().join("examples/rules.toml")).unwrap();
    for (url, ok) in [
        ("http://billing.example.com:1500/billmgr", false),
        ("https://billing.example.com:1500/billmgr", true),
        ("http://127.0.0.1:1500/billmgr", true),
    ] {
        let rules = text
            .replace("https://mycompany.amocrm.ru", &base)
            .replace("source = \"files\"", "source = \"api\"")
            .replace(
                "# url = \"https://billing.example.com:1500/billmgr\"",
                &format!("url = \"{url}\""),
            )
            .replace("# user = \"amocrm-sync\"", "user = \"amocrm-sync\"")
            .replace(
                "# password_env = \"BILLMANAGER_PASSWORD\"",
                "password_env = \"BILLMANAGER_PASSWORD\"",
            );
        std::fs::write(&rig.rules, rules).unwrap();
        let (rc, out, err) = rig.run(&["auth", "--status"]);
        if ok {
            assert_eq!(rc, 3, "{url}: {out}{err}");
        } else {
            assert_eq!(rc, 2, "{url}: {out}{err}");
            assert!(
                err.contains("billmanager.url") && err.contains("https"),
                "{err}"
            );
        }
    }
    rig.finish();
}

// ---------------------------------------------------------------------------------------
// Hostile input through the binary

/// Runs the binary with `args` against a rule file of raw `bytes`; asserts no panic and a
/// documented exit code (inside [`Rig::run_cmd`]).
fn with_rule_bytes(rig: &Rig, bytes: &[u8], args: &[&str], label: &str) -> (i32, String) {
    let path = rig.path("hostile.toml");
    std::fs::write(&path, bytes).unwrap();
    let mut c = rig.cmd();
    c.env("AMOCRM_BIN_CONFIG", &path).args(args);
    let (rc, _, err) = rig.run_cmd(&mut c, label);
    (rc, err)
}

#[test]
fn hostile_rule_files_are_refused_with_exit_2_and_never_panic() {
    let rig = paced_demo_rig(|r| r);
    rig.authorize();
    let good = std::fs::read_to_string(&rig.rules).unwrap();
    let deep_array = format!("a = {}{}\n", "[".repeat(50_000), "]".repeat(50_000));
    let deep_table = format!("a = {}1{}\n", "{b=".repeat(3_000), "}".repeat(3_000));
    let many_keys: String = (0..40_000).map(|i| format!("k{i} = {i}\n")).collect();
    let huge_string = good.replace(
        "lead_name = \"{service.product} #{service.id}\"",
        &format!("lead_name = \"{}\"", "{x}".repeat(200_000)),
    );
    // (what, bytes, whether it must be refused with exit 2; names such as pipelines and
    // statuses are checked against the account only by commands that talk to it)
    let mut cases: Vec<(String, Vec<u8>, bool)> = vec![
        ("empty".into(), Vec::new(), true),
        (
            "invalid UTF-8".into(),
            b"[amocrm]\nbase_url = \"\xff\xfe\"\n".to_vec(),
            true,
        ),
        (
            "NUL bytes".into(),
            b"[amocrm]\0\0base_url = 1".to_vec(),
            true,
        ),
        (
            "BOM and CRLF".into(),
            format!("\u{feff}{}", good.replace('\n', "\r\n")).into_bytes(),
            false,
        ),
        ("deeply nested arrays".into(), deep_array.into_bytes(), true),
        (
            "deeply nested inline tables".into(),
            deep_table.into_bytes(),
            true,
        ),
        (
            "40 000 unknown keys".into(),
            format!("[amocrm]\n{many_keys}").into_bytes(),
            true,
        ),
        ("a 600 kB value".into(), huge_string.into_bytes(), false),
        (
            // Cut inside the first string value past the middle (a cut in a comment would
            // leave a valid file).
            "truncated".into(),
            // Cut mid-way, right after a key's `=` (a cut inside a comment would still parse).
            {
                let half = good.len() / 2;
                let cut = half
                    + good.as_bytes()[half..]
                        .windows(3)
                        .position(|w| w == b" = ")
                        .expect("a key after the middle")
                    + 3;
                good.as_bytes()[..cut].to_vec()
            },
            true,
        ),
        (
            "binary".into(),
            (0..=255u8).cycle().take(10_000).collect(),
            true,
        ),
    ];
    for (key, value, refused) in [
        ("timeout_secs = 20", "timeout_secs = \"twenty\"", true),
        (
            "timeout_secs = 20",
            "timeout_secs = 99999999999999999999",
            true,
        ),
        (
            "timeout_secs = 20",
            "timeout_secs = 18446744073709551615",
            false,
        ),
        ("timeout_secs = 20", "timeout_secs = -1", true),
        ("rate_limit_rps = 7", "rate_limit_rps = 0", true),
        ("rate_limit_rps = 7", "rate_limit_rps = 1e308", true),
        ("batch_size = 250", "batch_size = 0", true),
        ("batch_size = 250", "batch_size = 100000", true),
        ("allow_any_host = false", "allow_any_host = \"yes\"", true),
        ("[amocrm]", "amocrm = 5\n[x]", true),
        ("[[skip]]", "skip = \"all\"\n[[nothing]]", true),
        (
            "new_purchase_timeout_days = 90",
            "new_purchase_timeout_days = 4294967296",
            true,
        ),
        (
            "default_country = \"RU\"",
            "default_country = \"\u{202e}ЯЯЯ\"",
            false,
        ),
        ("since = \"2024-01-01\"", "since = \"2024-13-45\"", true),
        (
            "since = \"2024-01-01\"",
            "since = 1970-01-01T00:00:00Z",
            true,
        ),
        // Rust's regex engine has no catastrophic backtracking: accepted, and harmless.
        (
            "\"service.source\" = \"site\"",
            "\"service.source\" = { matches = \"(a+)+$\" }",
            false,
        ),
        (
            "\"service.source\" = \"site\"",
            "\"service.source\" = { matches = \"a{1000000}\" }",
            true,
        ),
        (
            "\"service.source\" = \"site\"",
            "\"service.source\" = { matches = \"(\" }",
            true,
        ),
        (
            "\"service.source\" = \"site\"",
            "\"service.cost\" = { gt = \"many\" }",
            false,
        ),
        (
            "\"service.source\" = \"site\"",
            "\"service.cost\" = { between = [1, 2] }",
            true,
        ),
        ("\"service.source\" = \"site\"", "\"\" = \"\"", true),
        (
            "pipeline = \"Sales\"",
            "pipeline = 18446744073709551615",
            true,
        ),
        ("status = \"New order\"", "status = \"\"", false),
        (
            "\"BM_SERVICE_ID\" = \"service.id\"",
            "\"BM_SERVICE_ID\" = { from = \"service.id\", enum = [] }",
            true,
        ),
        ("\"BM_SERVICE_ID\" = \"service.id\"", "\"\" = \"\"", true),
        ("utc_offset = \"+03:00\"", "utc_offset = \"+99:99\"", true),
        (
            "working_hours = [9, 18]",
            "working_hours = [18, 9, 3]",
            true,
        ),
        ("dedup_window_secs = 60", "dedup_window_secs = -60", true),
    ] {
        assert!(
            good.contains(key),
            "the example rules changed: `{key}` is gone"
        );
        cases.push((
            format!("{value:?}"),
            good.replacen(key, value, 1).into_bytes(),
            refused,
        ));
    }
    let status_empty = good.replacen("status = \"New order\"", "status = \"\"", 1);
    let (rc, err) = with_rule_bytes(
        &rig,
        status_empty.as_bytes(),
        &["sync", "--entity", "lead", "--elid", "401", "--dry-run"],
        "empty status",
    );
    assert_eq!(rc, 2, "an empty status name: {err}");
    for (label, bytes, refused) in &cases {
        for args in [
            &["status"][..],
            &["sync", "--entity", "lead", "--elid", "401", "--dry-run"],
        ] {
            let (rc, err) = with_rule_bytes(&rig, bytes, args, label);
            if *refused {
                assert_eq!(rc, 2, "{label} {args:?}: {err}");
                assert!(
                    err.contains("error:") && err.contains("hint:"),
                    "{label}: {err}"
                );
            }
        }
    }
    // Not a file at all.
    for path in ["/dev/null", "/", "/nonexistent/rules.toml"] {
        let mut c = rig.cmd();
        c.env("AMOCRM_BIN_CONFIG", path).arg("status");
        let (rc, _, err) = rig.run_cmd(&mut c, path);
        assert_eq!(rc, 2, "{path}: {err}");
    }
    rig.finish();
}

/// A copy of the demo BILLmanager data with `edit` applied.
fn bad_data(edit: impl FnOnce(&Path)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = root().join("examples/billmanager");
    for e in walk(&src) {
        let rel = e.strip_prefix(&src).unwrap();
        let to = dir.path().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&e, &to).unwrap();
    }
    edit(dir.path());
    dir
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn hostile_billmanager_output_never_panics_and_exits_with_a_documented_code() {
    let rig = demo_rig(|r| r);
    rig.authorize();
    let item = |rows: &str| format!("{{\"doc\": {{\"elem\": [{rows}]}}}}");
    let service = |extra: &str| {
        item(&format!(
            "{{\"id\": {{\"$\": \"401\"}}, \"account\": {{\"$orig\": \"101\"}}, \"pricelist\": {{\"$\": \"VPS-1\"}}, \
             \"status\": {{\"$orig\": \"2\"}}, \"createdate\": {{\"$\": \"2024-02-10 10:30:00\"}}{extra}}}"
        ))
    };
    let original = std::fs::read(root().join("examples/billmanager/item.json")).unwrap();
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        ("truncated JSON", "item.json", original[..original.len() / 3].to_vec()),
        ("not UTF-8", "item.json", b"{\"doc\": {\"elem\": [{\"id\": {\"$\": \"\xff\xfe\"}}]}}".to_vec()),
        ("empty", "item.json", Vec::new()),
        ("not JSON", "item.json", b"<doc><elem/></doc>".to_vec()),
        ("JSON null", "item.json", b"null".to_vec()),
        ("doc is an array", "item.json", b"{\"doc\": [1, 2, 3]}".to_vec()),
        ("elem is a string", "item.json", b"{\"doc\": {\"elem\": \"nope\"}}".to_vec()),
        ("rows of the wrong type", "item.json", item("1, \"x\", null, [[]], true").into_bytes()),
        ("deep nesting", "item.json", format!("{{\"doc\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes()),
        ("id is an object", "item.json", item("{\"id\": {\"$\": {\"$\": {\"x\": 1}}}, \"account\": [[[]]]}").into_bytes()),
        ("a 1 MB id", "item.json", item(&format!("{{\"id\": {{\"$\": \"4{}\"}}}}", "0".repeat(1 << 20))).into_bytes()),
        ("cost 1e400", "item.json", service(", \"cost\": {\"$orig\": \"1e400\"}").into_bytes()),
        ("cost as a JSON number 1e308", "item.json", service(", \"cost\": 1e308").into_bytes()),
        ("cost NaN", "item.json", service(", \"cost\": {\"$\": \"NaN\"}").into_bytes()),
        ("negative cost", "item.json", service(", \"cost\": {\"$\": \"-1e18\"}").into_bytes()),
        ("date out of range", "item.json", service(", \"expiredate\": {\"$\": \"99999-99-99 99:99:99\"}").into_bytes()),
        ("control characters", "item.json", service(", \"pricelist\": {\"$\": \"VPS\\u0000\\u001b[31m\\u202e\"}").into_bytes()),
        ("path in the owner", "item.json", service(", \"account\": {\"$orig\": \"../../../etc/passwd\"}").into_bytes()),
        ("huge user phone", "user.json", format!("{{\"doc\": {{\"elem\": [{{\"id\": {{\"$\": \"201\"}}, \"account\": {{\"$\": \"101\"}}, \"phone\": {{\"$\": \"+7{}\"}}, \"email\": {{\"$\": \"{}@x\"}}}}]}}}}", "9".repeat(100_000), "a".repeat(100_000)).into_bytes()),
        ("client form truncated", "account.edit/101.json", b"{\"doc\": {\"elid\": {\"$\": \"10".to_vec()),
        ("client form is an error of odd shape", "account.edit/101.json", b"{\"doc\": {\"error\": [[{\"$type\": 5, \"msg\": {\"$\": [1]}}]]}}".to_vec()),
        ("payers with a 10 000-digit INN", "profile.json", format!("{{\"doc\": {{\"elem\": {{\"id\": {{\"$\": \"301\"}}, \"account\": {{\"$\": \"101\"}}, \"profiletype\": {{\"$\": \"2\"}}, \"inn\": {{\"$\": \"{}\"}}}}}}}}", "7".repeat(10_000)).into_bytes()),
    ];
    let rules = std::fs::read_to_string(&rig.rules).unwrap();
    let demo = format!(
        "{:?}",
        root().join("examples/billmanager").display().to_string()
    );
    for (label, file, bytes) in cases {
        let data = bad_data(|d| std::fs::write(d.join(file), &bytes).unwrap());
        let dir = format!("{:?}", data.path().display().to_string());
        std::fs::write(&rig.rules, rules.replace(&demo, &dir)).unwrap();
        for args in [
            &["sync", "--entity", "lead", "--elid", "401"][..],
            &["sync", "--entity", "contact", "--elid", "101", "--dry-run"],
            &["backfill", "--since", "2024-01-01", "--dry-run"],
        ] {
            let (rc, out, err) = rig.run(args);
            assert!(
                DOCUMENTED.contains(&rc),
                "{label}: {args:?} exited {rc}: {out}{err}"
            );
            assert!(err.len() < 64 << 10, "{label}: a {} byte error", err.len());
        }
    }
    assert_eq!(integrity(&rig.store()), "ok");
    rig.finish();
}

#[test]
fn hostile_arguments_documents_and_call_events_never_panic() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let rig = demo_rig(|r| r);
    rig.authorize();
    let long = "9".repeat(100_000);
    let cases: Vec<Vec<&OsStr>> = vec![
        vec![OsStr::from_bytes(b"\xff\xfe")],
        vec![
            "sync".as_ref(),
            "--entity".as_ref(),
            "lead".as_ref(),
            "--elid".as_ref(),
            OsStr::from_bytes(b"4\xff01"),
        ],
        vec![
            "--config".as_ref(),
            OsStr::from_bytes(b"/tmp/\xff.toml"),
            "status".as_ref(),
        ],
        vec![],
        vec!["".as_ref()],
        vec![
            "sync".as_ref(),
            "--entity".as_ref(),
            "lead".as_ref(),
            "--elid".as_ref(),
            "".as_ref(),
        ],
        vec![
            "sync".as_ref(),
            "--entity".as_ref(),
            "lead".as_ref(),
            "--elid".as_ref(),
            "../../../etc/passwd".as_ref(),
        ],
        vec![
            "sync".as_ref(),
            "--entity".as_ref(),
            "lead".as_ref(),
            "--elid".as_ref(),
            long.as_ref(),
        ],
        vec![
            "sync".as_ref(),
            "--entity".as_ref(),
            "customer".as_ref(),
            "--elid".as_ref(),
            "1".as_ref(),
        ],
        vec![
            "backfill".as_ref(),
            "--since".as_ref(),
            "99999-01-01".as_ref(),
        ],
        vec![
            "backfill".as_ref(),
            "--since".as_ref(),
            "2024-02-30".as_ref(),
        ],
        vec!["backfill".as_ref(), "--since".as_ref(), "".as_ref()],
        vec![
            "replay-calls".as_ref(),
            "--days".as_ref(),
            "4294967296".as_ref(),
        ],
        vec![
            "replay-calls".as_ref(),
            "--days".as_ref(),
            "4294967295".as_ref(),
        ],
        vec![
            "report".as_ref(),
            "calls".as_ref(),
            "--days".as_ref(),
            "4294967295".as_ref(),
        ],
        vec!["--command".as_ref()],
        vec!["--command=".as_ref()],
        vec![
            "--command".as_ref(),
            "sync".as_ref(),
            "--entity".as_ref(),
            "lead".as_ref(),
        ],
        vec!["-vvvvvvvvvvvvvvvv".as_ref(), "status".as_ref()],
        vec![
            "--json".as_ref(),
            "-q".as_ref(),
            "-v".as_ref(),
            "status".as_ref(),
        ],
        vec![
            "bindings".as_ref(),
            "forget".as_ref(),
            "--entity".as_ref(),
            "lead".as_ref(),
            "--elid".as_ref(),
            "no-such".as_ref(),
        ],
        vec!["auth".as_ref(), "--code".as_ref(), long.as_ref()],
        vec!["auth".as_ref(), "--code".as_ref(), "".as_ref()],
        vec!["help".as_ref(), "backfill".as_ref()],
        vec!["--version".as_ref()],
    ];
    for args in &cases {
        let mut c = rig.cmd();
        c.args(args);
        let mut label = format!("{args:?}");
        label.truncate(80);
        rig.run_cmd(&mut c, &label);
    }
    // The panel's document on stdin: whatever it is, it is echoed and the hook exits 0.
    let deep = format!(
        "<doc>{}{}</doc>",
        "<a>".repeat(100_000),
        "</a>".repeat(100_000)
    );
    for doc in [
        b"\xff\xfe\x00garbage".to_vec(),
        b"<?xml version=\"1.0\"?><doc><elid>401</elid></do".to_vec(),
        deep.into_bytes(),
        b"<!DOCTYPE doc [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;\">]><doc>&b;</doc>"
            .to_vec(),
        vec![b'<'; 1 << 20],
    ] {
        let mut c = rig.cmd();
        c.env("PARAM_func", "service.postopen")
            .env("PARAM_elid", "401")
            .env("AUTH_USER", "admin")
            .env("EVENT_TYPE", "after")
            .env("AMOCRM_BIN_HOOK_NO_DRAIN", "1")
            .write_stdin(doc.clone());
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(out.stdout, doc, "passed through unchanged");
        assert!(out.stderr.is_empty());
    }
    // Call events: garbage bodies are refused item by item, never a panic.
    for body in [
        "".to_string(),
        "{".to_string(),
        "[1, \"x\", null, {}, []]".to_string(),
        "{\"schema\": \"amocrm-bin.call/1\", \"call_id\": [], \"started_at\": 1e400}".to_string(),
        "{\"uniqueid\": \"1\", \"calldate\": \"9999-99-99 99:99:99\", \"duration\": \"-1\", \"caller\": \"\u{202e}\"}".to_string(),
        format!("{{\"uniqueid\": \"{}\", \"duration\": \"{}\"}}", "x".repeat(100_000), "9".repeat(1000)),
        format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
        "a=1&&&==&%ZZ&%ff%fe=%00".to_string(),
        "\u{feff}\n\n{\"uniqueid\": 1}\n{\"uniqueid\": 2}\nnot json\n".to_string(),
    ] {
        let mut c = rig.cmd();
        c.args(["calls", "ingest", "--no-push"]).write_stdin(body.clone());
        let label = format!("calls ingest {:?}", &body[..body.len().min(40)]);
        let (rc, _, err) = rig.run_cmd(&mut c, &label);
        assert!(rc != 0 || !body.trim().is_empty(), "{label}: {err}");
    }
    assert_eq!(integrity(&rig.store()), "ok");
    rig.finish();
}

#[test]
fn the_smallest_rule_file_puts_leads_in_the_first_stage_amocrm_allows() {
    // Only the required keys: no [[pipelines]], so amoCRM's default place applies — the
    // main pipeline's first stage that can be set by hand, never "Unsorted".
    let rig = demo_rig(|r| r);
    let minimal = format!(
        "[amocrm]\nbase_url = \"{}\"\nclient_id = \"sandbox-client-id\"\n\
         client_secret_env = \"AMOCRM_CLIENT_SECRET\"\n\
         redirect_uri = \"https://example.com/amocrm/callback\"\n\
         [billmanager]\nsource = \"files\"\ndir = {:?}\n[store]\npath = \"amocrm-bin.db\"\n",
        rig.sandbox.base_url(),
        root().join("examples/billmanager").display().to_string()
    );
    std::fs::write(&rig.rules, minimal).unwrap();
    rig.authorize();
    let (rc, out, err) = rig.run(&["sync", "--entity", "lead", "--elid", "401"]);
    assert_eq!(rc, 0, "{out}{err}");
    let leads = rig.sandbox.entities("leads");
    assert_eq!(leads.len(), 1);
    assert_eq!(leads[0]["pipeline_id"], 3177727, "main pipeline");
    assert_eq!(
        leads[0]["status_id"], 32392159,
        "`New order`, not `Unsorted`"
    );
    rig.finish();
}
