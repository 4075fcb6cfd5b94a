//! The rule file as written by the operator.
//!
//! Every struct denies unknown keys: a typo such as `client_secert` must fail with its line
//! rather than be silently ignored, because a silently ignored sync rule sends wrong data to
//! a sales team's CRM. Defaults are chosen for a BILLmanager host (`/usr/local/mgr5/...`).

use std::path::PathBuf;

use serde::Deserialize;

/// The whole rule file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// How to reach and authorize against amoCRM.
    pub amocrm: AmoSection,
    /// Where BILLmanager data comes from.
    pub billmanager: BillingSection,
    /// The local SQLite store.
    #[serde(default)]
    pub store: StoreSection,
    /// The log file (hook runs write only there).
    #[serde(default)]
    pub log: LogSection,
}

/// `[amocrm]`: the account and the integration's OAuth credentials.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmoSection {
    /// Account URL, e.g. `https://mycompany.amocrm.ru` (also `*.amocrm.com`, `*.kommo.com`).
    pub base_url: String,
    /// Integration ID from the amoCRM integration settings.
    pub client_id: String,
    /// Secret key, inline (discouraged: prefer `client_secret_env` or `client_secret_file`).
    pub client_secret: Option<String>,
    /// Name of the environment variable holding the secret key.
    pub client_secret_env: Option<String>,
    /// File holding the secret key (first line).
    pub client_secret_file: Option<PathBuf>,
    /// Redirect URI exactly as registered in the integration (trailing slash included).
    pub redirect_uri: String,
    /// Environment variable with a long-lived token; when set, OAuth is not used.
    pub long_lived_token_env: Option<String>,
    /// Allow a host outside amoCRM/Kommo domains (e.g. a proxy). Off by default.
    #[serde(default)]
    pub allow_any_host: bool,
    /// Per-request timeout in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Requests per second across all processes sharing the store (amoCRM allows 7).
    #[serde(default = "default_rps")]
    pub rate_limit_rps: u32,
}

fn default_timeout() -> u64 {
    20
}
fn default_rps() -> u32 {
    7
}

/// Which way BILLmanager is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// `mgrctl -m billmgr ... out=json` on the panel host (the normal case).
    Mgrctl,
    /// BILLmanager's HTTP API.
    Api,
    /// A directory of JSON files in BILLmanager's shapes (demo, dry runs, tests).
    Files,
}

/// `[billmanager]`: the billing source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillingSection {
    /// `mgrctl`, `api` or `files`.
    pub source: SourceKind,
    /// Path of mgrctl (source = "mgrctl").
    #[serde(default = "default_mgrctl")]
    pub mgrctl: PathBuf,
    /// Panel manager name passed to mgrctl `-m`.
    #[serde(default = "default_manager")]
    pub manager: String,
    /// API endpoint, e.g. `https://billing.example.com:1500/billmgr` (source = "api").
    pub url: Option<String>,
    /// API user (source = "api").
    pub user: Option<String>,
    /// Environment variable with the API user's password (source = "api").
    pub password_env: Option<String>,
    /// Directory of JSON files (source = "files"); relative to the rule file.
    pub dir: Option<PathBuf>,
    /// Public panel URL used for links in amoCRM cards, e.g. `https://my.example.com/billmgr`.
    pub panel_url: Option<String>,
    /// Seconds to wait for one BILLmanager call.
    #[serde(default = "default_billing_timeout")]
    pub timeout_secs: u64,
}

fn default_mgrctl() -> PathBuf {
    PathBuf::from("/usr/local/mgr5/sbin/mgrctl")
}
fn default_manager() -> String {
    "billmgr".into()
}
fn default_billing_timeout() -> u64 {
    30
}

/// `[store]`: the SQLite file with tokens, bindings, outbox and journal.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// Path of the store; relative paths are relative to the rule file.
    #[serde(default = "default_store")]
    pub path: PathBuf,
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection {
            path: default_store(),
        }
    }
}

fn default_store() -> PathBuf {
    PathBuf::from("/usr/local/mgr5/var/amocrm-bin.db")
}

/// `[log]`: where events and pushes are logged.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// Log file; relative paths are relative to the rule file. Unset: no log file.
    pub path: Option<PathBuf>,
    /// Size cap; the file is rotated to `.log.1` past it.
    #[serde(default = "default_log_max")]
    pub max_bytes: u64,
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            path: None,
            max_bytes: default_log_max(),
        }
    }
}

fn default_log_max() -> u64 {
    10 * 1024 * 1024
}
