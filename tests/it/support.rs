//! Test harness: a sandbox per test, a temp directory with a rule file pointing at it, and a
//! hermetic command builder for the real binary.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use sandbox::{Sandbox, SandboxConfig};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A test world: sandbox + rule file + store in a temp dir.
pub struct World {
    pub sandbox: Sandbox,
    pub dir: tempfile::TempDir,
    pub rules: PathBuf,
    /// The requests per second of the sandbox and the rule file: 7, or [`FAST_RPS`].
    pub rps: u32,
}

/// The rate of worlds that do not prove pacing (sandbox and rule file): the rule file may go
/// above amoCRM's 7 only for a plain-http loopback sandbox (`rules/validate.rs`).
pub const FAST_RPS: u32 = 200;

/// The client secret the sandbox expects (tests grep outputs for it).
pub const SECRET: &str = "sandbox-client-secret";

impl World {
    /// Default sandbox, the example rule file with the demo BILLmanager data.
    pub fn new() -> World {
        Self::with(SandboxConfig::default(), |r| r)
    }

    /// A sandbox built from `cfg`, and the example rules passed through `edit`. A world left
    /// at amoCRM's 7 requests per second runs at [`FAST_RPS`] instead (sandbox and rule file
    /// alike): only the tests that prove pacing need the real rate, and they use
    /// [`World::paced`].
    pub fn with(cfg: SandboxConfig, edit: impl FnOnce(String) -> String) -> World {
        Self::build(cfg, edit, false)
    }

    /// [`World::with`] at amoCRM's own rate (7 per second), for the tests that prove the
    /// pacer: its limits, its sharing between processes, its back-off after a 429.
    pub fn paced(cfg: SandboxConfig, edit: impl FnOnce(String) -> String) -> World {
        Self::build(cfg, edit, true)
    }

    /// [`World::with_data`] at amoCRM's own rate; see [`World::paced`].
    pub fn paced_with_data(
        cfg: SandboxConfig,
        data: &Path,
        edit: impl FnOnce(String) -> String,
    ) -> World {
        let (demo, data) = Self::data_paths(data);
        Self::paced(cfg, move |r| edit(r.replace(&demo, &data)))
    }

    fn build(mut cfg: SandboxConfig, edit: impl FnOnce(String) -> String, paced: bool) -> World {
        let fast = !paced && cfg.rate_limit_rps == 7;
        if fast {
            cfg.rate_limit_rps = FAST_RPS;
        }
        let rps = cfg.rate_limit_rps;
        let sandbox = Sandbox::start(cfg).expect("sandbox starts");
        let dir = tempfile::tempdir().unwrap();
        let text = std::fs::read_to_string(root().join("examples/rules.toml")).unwrap();
        let text = text
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
                &format!(
                    "dir = {:?}",
                    root().join("examples/billmanager").display().to_string()
                ),
            );
        let mut text = edit(text);
        if fast {
            // Only when the test left the rate alone (a test of the rule file may change it).
            text = text.replacen(
                "\nrate_limit_rps = 7\n",
                &format!("\nrate_limit_rps = {FAST_RPS}\n"),
                1,
            );
        }
        let rules = dir.path().join("rules.toml");
        std::fs::write(&rules, text).unwrap();
        World {
            sandbox,
            dir,
            rules,
            rps,
        }
    }

    /// Like [`World::with`], reading BILLmanager data from `data` instead of the demo set.
    pub fn with_data(
        cfg: SandboxConfig,
        data: &Path,
        edit: impl FnOnce(String) -> String,
    ) -> World {
        let (demo, data) = Self::data_paths(data);
        Self::with(cfg, move |r| edit(r.replace(&demo, &data)))
    }

    /// The demo data directory as the example rule file quotes it, and `data` quoted alike.
    fn data_paths(data: &Path) -> (String, String) {
        let demo = format!(
            "{:?}",
            root().join("examples/billmanager").display().to_string()
        );
        (demo, format!("{:?}", data.display().to_string()))
    }

    /// The binary with a scrubbed environment pointing at this world.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(assert_cmd::cargo::cargo_bin!("amocrm-bin"));
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AMOCRM_BIN_CONFIG", &self.rules)
            .env("AMOCRM_CLIENT_SECRET", SECRET)
            .env("AMOCRM_BIN_TEST_BACKOFF_MS", "20")
            .current_dir(self.dir.path());
        c
    }

    /// Starts the binary in the background (same hermetic environment as [`World::cmd`],
    /// output discarded), for tests that kill it or run others beside it.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        std::process::Command::new(assert_cmd::cargo::cargo_bin!("amocrm-bin"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AMOCRM_BIN_CONFIG", &self.rules)
            .env("AMOCRM_CLIENT_SECRET", SECRET)
            .env("AMOCRM_BIN_TEST_BACKOFF_MS", "20")
            .current_dir(self.dir.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("amocrm-bin starts")
    }

    /// Runs `auth --code` with a fresh code; panics unless it succeeds.
    pub fn authorize(&self) {
        let code = self.sandbox.issue_code();
        self.cmd()
            .args(["auth", "--code", &code])
            .assert()
            .success();
    }

    /// A manager's change to many entities at once, made in amoCRM's interface (sent through
    /// the API marked as by hand, so the sandbox neither rate-limits nor counts it), in
    /// requests of 250.
    pub fn patch_by_hand(&self, kind: &str, items: Vec<serde_json::Value>) {
        let token = self.sandbox.issue_access_token();
        let http = reqwest::blocking::Client::new();
        for page in items.chunks(250) {
            let resp = http
                .patch(format!("{}/api/v4/{kind}", self.sandbox.base_url()))
                .bearer_auth(&token)
                .header(sandbox::BY_HAND, "1")
                .json(&page)
                .send()
                .unwrap();
            assert!(resp.status().is_success(), "{:?}", resp.text());
        }
    }

    /// The names of the account's custom fields of `kind` (`leads`), read as amoCRM's
    /// interface would (marked by hand, so neither rate-limited nor counted).
    pub fn field_names(&self, kind: &str) -> Vec<String> {
        let resp = reqwest::blocking::Client::new()
            .get(format!(
                "{}/api/v4/{kind}/custom_fields?limit=250",
                self.sandbox.base_url()
            ))
            .bearer_auth(self.sandbox.issue_access_token())
            .header(sandbox::BY_HAND, "1")
            .send()
            .unwrap();
        let body: serde_json::Value = resp.json().unwrap_or_default();
        body["_embedded"]["custom_fields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["name"].as_str().map(str::to_string))
            .collect()
    }

    /// Makes the cached dictionaries stale: the lead option `option` gets an id amoCRM does
    /// not know, as if a manager deleted the option after the cache was filled. amoCRM then
    /// rejects leads using it with `NotSupportedChoice`. The cache must be filled already.
    pub fn make_lead_option_stale(&self, option: &str) {
        let conn = rusqlite::Connection::open(self.store()).unwrap();
        let text: String = conn
            .query_row(
                "SELECT value FROM cache WHERE namespace = 'dictionaries'",
                [],
                |r| r.get(0),
            )
            .expect("dictionaries are cached");
        let mut dict: serde_json::Value = serde_json::from_str(&text).unwrap();
        for f in dict["fields"]["lead"].as_array_mut().unwrap() {
            for e in f["enums"].as_array_mut().unwrap() {
                if e["value"] == option {
                    e["id"] = serde_json::json!(999_999);
                }
            }
        }
        conn.execute(
            "UPDATE cache SET value = ?1 WHERE namespace = 'dictionaries'",
            [dict.to_string()],
        )
        .unwrap();
    }

    /// The store path.
    pub fn store(&self) -> PathBuf {
        self.dir.path().join("amocrm-bin.db")
    }

    /// A path inside the temp dir.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Runs and returns (exit code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Reads the store's tokens with plain SQLite (what a thief with the file would see).
pub fn stored_tokens(store: &Path) -> (String, String) {
    let conn = rusqlite::Connection::open(store).unwrap();
    conn.query_row(
        "SELECT access_token, refresh_token FROM oauth_tokens",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

/// Rewrites the rows of a BILLmanager list file (`item.json`, `user.json`) in a copy of
/// the panel's data, in the panel's shape (`{"doc": {"elem": [...]}}`).
pub fn edit_rows(data: &Path, file: &str, f: impl FnOnce(&mut Vec<serde_json::Value>)) {
    let path = data.join(file);
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    f(doc["doc"]["elem"].as_array_mut().unwrap());
    std::fs::write(&path, doc.to_string()).unwrap();
}

/// Edits every row of a BILLmanager list file, one at a time.
pub fn edit_each_row(data: &Path, file: &str, f: impl Fn(&mut serde_json::Value)) {
    edit_rows(data, file, |rows| rows.iter_mut().for_each(f));
}
