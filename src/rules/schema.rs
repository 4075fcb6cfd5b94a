//! The rule file as written by the operator.
//!
//! Every struct denies unknown keys: a typo such as `client_secert` must fail with its line
//! rather than be silently ignored, because a silently ignored sync rule sends wrong data to
//! a sales team's CRM. Defaults are chosen for a BILLmanager host (`/usr/local/mgr5/...`).

use std::path::PathBuf;

use serde::Deserialize;

use super::when::When;

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
    /// General sync behaviour.
    #[serde(default)]
    pub sync: SyncSection,
    /// Conditions that stop an entity from being created in amoCRM.
    #[serde(default)]
    pub skip: Vec<SkipRule>,
    /// Tags added when a condition holds.
    #[serde(default)]
    pub tags: Vec<TagRule>,
    /// Custom-field mapping per amoCRM entity.
    #[serde(default)]
    pub fields: FieldsSection,
    /// Pipeline and status for new leads; the first rule whose `when` holds wins.
    #[serde(default)]
    pub pipelines: Vec<PipelineRule>,
    /// The BILLmanager addon hook: which panel functions queue which sync.
    #[serde(default)]
    pub hook: HookSection,
    /// Call-tracking events (Ringostat, neutral schema) → amoCRM calls, contacts, leads, tasks.
    #[serde(default)]
    pub calls: CallsSection,
    /// Lead statuses that follow billing, returning clients, trial and cart tasks, links,
    /// manager assignment, pulling managers' changes back (docs/lifecycle.md).
    #[serde(default)]
    pub lifecycle: super::lifecycle::LifecycleSection,
}

/// `[sync]`: what is sent and how it is shaped.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncSection {
    /// Entities created before this date (YYYY-MM-DD) are not sent.
    #[serde(default, deserialize_with = "date")]
    pub since: Option<chrono::NaiveDate>,
    /// A re-order of the same product by the same client within this many days joins the
    /// existing lead instead of creating a new one (e.g. a re-ordered trial).
    #[serde(default = "default_timeout_days")]
    pub new_purchase_timeout_days: u32,
    /// Tags every synced entity gets.
    #[serde(default = "default_tags")]
    pub default_tags: Vec<String>,
    /// Default responsible user for new entities: name, e-mail or numeric id.
    pub responsible: Option<String>,
    /// Country for phones written without one (`RU`: 8… and 9… become +7…).
    #[serde(default = "default_country")]
    pub default_country: String,
    /// Lead name template; `{service.product}`-style placeholders name attributes.
    #[serde(default = "default_lead_name")]
    pub lead_name: String,
    /// Also make companies of individual payers (profiletype 1); off: only legal
    /// entities and sole proprietors become companies, as BILLmanager's own module does.
    #[serde(default)]
    pub individual_payers_as_companies: bool,
    /// What a sync may change on an entity it adopts (one amoCRM had before, found by phone,
    /// e-mail, INN or the BILLmanager-id field): only what is empty, or everything.
    #[serde(default)]
    pub adopt: AdoptPolicy,
}

/// `[sync] adopt`: how an adopted entity is updated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdoptPolicy {
    /// Set only empty fields; add phones, e-mails and tags; never rename a contact or
    /// reprice a lead that people had already filled in.
    #[default]
    Fill,
    /// Make it what BILLmanager says, like an entity amocrm-bin created.
    Overwrite,
}

impl Default for SyncSection {
    fn default() -> Self {
        SyncSection {
            since: None,
            new_purchase_timeout_days: default_timeout_days(),
            default_tags: default_tags(),
            responsible: None,
            default_country: default_country(),
            lead_name: default_lead_name(),
            individual_payers_as_companies: false,
            adopt: AdoptPolicy::default(),
        }
    }
}

fn default_timeout_days() -> u32 {
    90
}
fn default_tags() -> Vec<String> {
    vec!["BILL".into()]
}
fn default_country() -> String {
    "RU".into()
}
fn default_lead_name() -> String {
    "{service.product} #{service.id}".into()
}

/// The amoCRM entity kinds rules apply to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum EntityKind {
    /// amoCRM contact ← BILLmanager client user.
    Contact,
    /// amoCRM company ← BILLmanager payer.
    Company,
    /// amoCRM lead ← BILLmanager service.
    Lead,
}

impl EntityKind {
    /// The name used in bindings, messages and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Contact => "contact",
            EntityKind::Company => "company",
            EntityKind::Lead => "lead",
        }
    }

    /// The amoCRM API collection (`contacts`, `companies`, `leads`).
    pub fn collection(self) -> &'static str {
        match self {
            EntityKind::Contact => "contacts",
            EntityKind::Company => "companies",
            EntityKind::Lead => "leads",
        }
    }
}

/// `[[skip]]`: do not create the entity when `when` holds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkipRule {
    /// Which kind it applies to.
    pub entity: EntityKind,
    /// Shown in the plan and the summary.
    pub reason: String,
    /// The condition.
    pub when: When,
}

/// `[[tags]]`: add `tag` when `when` holds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagRule {
    /// Which kind it applies to.
    pub entity: EntityKind,
    /// The tag name.
    pub tag: String,
    /// The condition (empty: always).
    #[serde(default)]
    pub when: When,
}

/// `[fields.contact]`, `[fields.company]`, `[fields.lead]`: amoCRM field (id, code or
/// name) → BILLmanager attribute.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldsSection {
    /// Contact fields.
    #[serde(default)]
    pub contact: std::collections::BTreeMap<String, FieldSource>,
    /// Company fields.
    #[serde(default)]
    pub company: std::collections::BTreeMap<String, FieldSource>,
    /// Lead fields.
    #[serde(default)]
    pub lead: std::collections::BTreeMap<String, FieldSource>,
}

impl FieldsSection {
    /// The mapping of one kind.
    pub fn of(&self, kind: EntityKind) -> &std::collections::BTreeMap<String, FieldSource> {
        match kind {
            EntityKind::Contact => &self.contact,
            EntityKind::Company => &self.company,
            EntityKind::Lead => &self.lead,
        }
    }
}

/// Where a field's value comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FieldSource {
    /// An attribute path, e.g. `"service.product"`.
    Attribute(String),
    /// A table with options.
    Detailed(FieldSpec),
}

/// `{ from = "user.phone", enum = "WORK" }`, `{ value = "BILLmanager" }`, or a select's
/// `{ from = "client.country", map = { "Россия" = "Russia" }, default = "Other" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// Attribute path.
    pub from: Option<String>,
    /// A constant instead of an attribute.
    pub value: Option<toml::Value>,
    /// Enum code for multitext fields (`WORK`, `MOB`, …).
    #[serde(rename = "enum")]
    pub enum_code: Option<String>,
    /// Select and multiselect fields: BILLmanager value → option text
    /// (`map = { "Россия" = "Russia" }`); compared exactly, then without regard to case.
    #[serde(default)]
    pub map: std::collections::BTreeMap<String, String>,
    /// The option for a value neither the map nor the field's options know.
    pub default: Option<String>,
}

/// `[[pipelines]]`: where new leads go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineRule {
    /// The condition (empty: always; put such a rule last as the default).
    #[serde(default)]
    pub when: When,
    /// Pipeline name or id.
    pub pipeline: String,
    /// Status name or id within the pipeline.
    pub status: String,
    /// Responsible user (name, e-mail or id); overrides `[sync] responsible`.
    pub responsible: Option<String>,
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
    /// Requests per second across all processes sharing the store (amoCRM allows 7; only a
    /// plain-http loopback sandbox may go up to 1000, which tests that do not prove pacing use).
    #[serde(default = "default_rps")]
    pub rate_limit_rps: u32,
    /// Entities per write request (amoCRM's limit is 250; lower it if amoCRM times out).
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// Write requests open at once (1 = one after another). amoCRM answers a full batch in
    /// seconds, so one request at a time uses a fraction of the rate limit; the pacer still
    /// starts at most `rate_limit_rps` requests per second across processes.
    #[serde(default = "default_in_flight")]
    pub max_in_flight: usize,
}

fn default_batch() -> usize {
    250
}

/// Chosen from `cargo bench --bench backfill` with amoCRM's answer time modelled (README).
pub const DEFAULT_IN_FLIGHT: usize = 16;

fn default_in_flight() -> usize {
    DEFAULT_IN_FLIGHT
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
    /// The panel's time zone by IANA name (`Europe/Moscow`): BILLmanager writes dates in the
    /// panel's local time without an offset, and `nudge` measures ages against them. Unset:
    /// this host's time zone (right when amocrm-bin runs on the panel host).
    pub time_zone: Option<String>,
    /// Edit forms read at once during a backfill (each mgrctl call is a process plus a
    /// panel request).
    #[serde(default = "default_parallel")]
    pub parallel: usize,
    /// A form kept from an earlier run is read again after this many hours even when its
    /// list row did not change (a change only the form shows is caught within this time).
    #[serde(default = "default_form_max_age_hours")]
    pub form_max_age_hours: u64,
}

fn default_parallel() -> usize {
    4
}
fn default_form_max_age_hours() -> u64 {
    24
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
    /// How long a run waits for another process's write transaction before it exits 6
    /// ("store locked"). A long wait suits cron; the tests of the lock shorten it.
    #[serde(default = "default_busy_timeout")]
    pub busy_timeout_secs: u64,
}

impl Default for StoreSection {
    fn default() -> Self {
        StoreSection {
            path: default_store(),
            busy_timeout_secs: default_busy_timeout(),
        }
    }
}

fn default_busy_timeout() -> u64 {
    30
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

/// `[hook]`: the BILLmanager addon hook (`docs/hook.md`).
///
/// The built-in event map (`amocrm_bin::hook::events`) covers BILLmanager's client, user,
/// payer and service functions; `events` adds functions or overrides built-in ones, and
/// `ignore` switches functions off, so an operator can follow a panel without a release.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookSection {
    /// Panel function → what its `elid` names, e.g. `"myplugin.edit" = "lead"` or
    /// `"vds.edit" = { entity = "lead", submit_only = true }`.
    #[serde(default)]
    pub events: std::collections::BTreeMap<String, EventRule>,
    /// Panel functions the hook never acts on (built-in ones included).
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Start `amocrm-bin drain` in the background after queuing (off: cron drains).
    #[serde(default = "default_spawn_drain")]
    pub spawn_drain: bool,
}

impl Default for HookSection {
    fn default() -> Self {
        HookSection {
            events: Default::default(),
            ignore: Vec::new(),
            spawn_drain: default_spawn_drain(),
        }
    }
}

fn default_spawn_drain() -> bool {
    true
}

/// What a panel function's `elid` names: an amoCRM entity kind's BILLmanager source, or a
/// user (synced as the contacts of the user's client).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventTarget {
    /// `elid` is a client id → its users become contacts.
    Contact,
    /// `elid` is a payer id → a company.
    Company,
    /// `elid` is a service id → a lead.
    Lead,
    /// `elid` is a user id → the contacts of that user's client (looked up at drain time).
    User,
}

impl EventTarget {
    /// The outbox kind (`contact`, `company`, `lead`, `user`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventTarget::Contact => "contact",
            EventTarget::Company => "company",
            EventTarget::Lead => "lead",
            EventTarget::User => "user",
        }
    }
}

/// One `[hook.events]` entry: a bare target, or a table with options.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum EventRule {
    /// `"func" = "lead"`.
    Target(EventTarget),
    /// `"func" = { entity = "lead", submit_only = true }`.
    Detailed(EventSpec),
}

/// `{ entity = "lead", submit_only = true }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSpec {
    /// What `elid` names.
    pub entity: EventTarget,
    /// Act only when the form was submitted (`sok` set); default: yes for `*.edit`,
    /// `register` and `*.order.param`, which run once when opened and once when saved.
    pub submit_only: Option<bool>,
}

/// `[calls]`: call-tracking events → amoCRM (docs/calls-guide.md). Every key has a default,
/// so a rule file without the section still accepts and stores calls.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallsSection {
    /// Offset of provider times written without one (Ringostat `calldate`) and of the
    /// report's hours, e.g. `+03:00`.
    #[serde(default = "default_utc_offset")]
    pub utc_offset: String,
    /// IANA time zone (e.g. `Europe/Kyiv`) of provider times and report hours; it follows
    /// daylight saving, and wins over `utc_offset` when both are set.
    pub time_zone: Option<String>,
    /// Country for numbers without a country code; unset: `[sync] default_country`.
    pub default_country: Option<String>,
    /// Two reports of the same call (forwarded legs under different ids) are merged when
    /// caller, destination and direction match, they overlap in time and start within this
    /// many seconds of each other.
    #[serde(default = "default_dedup_window")]
    pub dedup_window_secs: u32,
    /// Deadline of a missed call's "call back" task, in minutes after the call.
    #[serde(default = "default_callback_minutes")]
    pub callback_deadline_minutes: u32,
    /// The senior manager (name, e-mail or id): gets a copy of every call-back task and the
    /// tasks to fix unmapped employees.
    pub senior: Option<String>,
    /// Responsible for calls nobody mapped answered (missed calls from new numbers,
    /// unmapped employees); unset: the senior manager, then `[sync] responsible`.
    pub responsible: Option<String>,
    /// Text of the call-back task; `{phone}`, `{time}`, `{pool}` are filled in. Our tasks
    /// are recognised by id, and by the text before the first `{`.
    #[serde(default = "default_callback_text")]
    pub callback_task_text: String,
    /// amoCRM `call_status` of a missed inbound call: 6 "did not get through" (default, as
    /// community integrations send it) or 3 "not available"; docs/calls.md §7.
    #[serde(default = "default_missed_call_status")]
    pub missed_call_status: i64,
    /// Provider status strings → `answered`, `missed`, `busy`, `voicemail` or `failed`,
    /// for statuses the built-in list does not know (e.g. `"SCHEME FAILED" = "missed"`).
    #[serde(default)]
    pub statuses: std::collections::BTreeMap<String, String>,
    /// Ringostat's call-log API, for `replay-calls` to fetch calls whose webhooks never
    /// arrived; unset: `replay-calls` only re-sends stored calls.
    pub ringostat_api: Option<RingostatApi>,
    /// amoCRM task type of the call-back task (1 = "Call"/FOLLOW_UP).
    #[serde(default = "default_callback_type")]
    pub callback_task_type: i64,
    /// Name of a contact created for a new number; `{phone}` is filled in.
    #[serde(default = "default_call_contact_name")]
    pub contact_name: String,
    /// Name of a lead created from a call; `{phone}`, `{pool}`, `{utm_source}` are filled in.
    #[serde(default = "default_call_lead_name")]
    pub lead_name: String,
    /// A missed call from a new number also creates a lead (not only a contact and tasks).
    #[serde(default = "default_true")]
    pub missed_creates_lead: bool,
    /// A known client without an open lead who calls gets a new lead.
    #[serde(default = "default_true")]
    pub returning_client_lead: bool,
    /// An outgoing call to a number amoCRM does not know: `skip` (stored, not sent) or
    /// `contact` (create the contact, then log the call).
    #[serde(default)]
    pub outbound_to_unknown: OutboundUnknown,
    /// Tags for contacts and leads created from calls.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Numbers that are ours (office lines, tracking numbers): calls between them and an
    /// employee are internal.
    #[serde(default)]
    pub internal_numbers: Vec<String>,
    /// The report's working day: `[first hour, end hour)` in `utc_offset`.
    #[serde(default = "default_working_hours")]
    pub working_hours: [u32; 2],
    /// Environment variable holding a token CGI requests must carry as `?token=…`.
    pub webhook_token_env: Option<String>,
    /// Employees → amoCRM users.
    #[serde(default)]
    pub employees: Vec<EmployeeRule>,
    /// Pipeline and status of leads created from calls; the first matching rule wins, no
    /// match: amoCRM's main pipeline, first stage.
    #[serde(default)]
    pub pipelines: Vec<CallPipelineRule>,
    /// Lead fields for attribution: `utm_source`, `utm_medium`, `utm_campaign`, `utm_term`,
    /// `utm_content`, `pool` → amoCRM field id, code or name. Unset: the `UTM_*` codes,
    /// skipped where the account lacks them; set: every field must exist.
    pub lead_fields: Option<std::collections::BTreeMap<String, String>>,
    /// Ringostat parameter name → the key your webhook sends (defaults: Ringostat's names).
    #[serde(default)]
    pub ringostat_keys: std::collections::BTreeMap<String, String>,
}

impl Default for CallsSection {
    fn default() -> Self {
        CallsSection {
            utc_offset: default_utc_offset(),
            time_zone: None,
            default_country: None,
            dedup_window_secs: default_dedup_window(),
            callback_deadline_minutes: default_callback_minutes(),
            senior: None,
            responsible: None,
            callback_task_text: default_callback_text(),
            callback_task_type: default_callback_type(),
            missed_call_status: default_missed_call_status(),
            statuses: Default::default(),
            ringostat_api: None,
            contact_name: default_call_contact_name(),
            lead_name: default_call_lead_name(),
            missed_creates_lead: true,
            returning_client_lead: true,
            outbound_to_unknown: OutboundUnknown::default(),
            tags: Vec::new(),
            internal_numbers: Vec::new(),
            working_hours: default_working_hours(),
            webhook_token_env: None,
            employees: Vec::new(),
            pipelines: Vec::new(),
            lead_fields: None,
            ringostat_keys: Default::default(),
        }
    }
}

fn default_missed_call_status() -> i64 {
    6
}

/// `[calls.ringostat_api]`: where and how to read Ringostat's call log.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RingostatApi {
    /// API host; Ringostat's by default.
    #[serde(default = "default_ringostat_url")]
    pub url: String,
    /// Environment variable holding the project's Auth-key (never the key itself, so it
    /// stays out of the rule file, argv and logs).
    pub auth_key_env: String,
    /// The project id, sent as `projectId` (some accounts have several projects).
    pub project_id: Option<String>,
}

fn default_ringostat_url() -> String {
    "https://api.ringostat.net".into()
}

fn default_utc_offset() -> String {
    "+03:00".into()
}
fn default_dedup_window() -> u32 {
    60
}
fn default_callback_minutes() -> u32 {
    10
}
fn default_callback_text() -> String {
    "Call back {phone}: missed call at {time}".into()
}
fn default_callback_type() -> i64 {
    1
}
fn default_call_contact_name() -> String {
    "{phone}".into()
}
fn default_call_lead_name() -> String {
    "Call from {phone}".into()
}
fn default_true() -> bool {
    true
}
fn default_working_hours() -> [u32; 2] {
    [9, 18]
}

/// What to do with an outgoing call to a number amoCRM does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutboundUnknown {
    /// Keep it in the store (and the report) only.
    #[default]
    Skip,
    /// Create a contact for the number, then log the call.
    Contact,
}

/// `[[calls.employees]]`: how the call-tracking provider names one amoCRM user.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmployeeRule {
    /// The amoCRM user: name, e-mail or id.
    pub user: String,
    /// Label in the report (unset: the amoCRM user's name).
    pub name: Option<String>,
    /// Internal extensions.
    #[serde(default)]
    pub extensions: Vec<String>,
    /// SIP logins.
    #[serde(default)]
    pub sip: Vec<String>,
    /// Phones the employee answers on (any format; compared as E.164).
    #[serde(default)]
    pub phones: Vec<String>,
    /// The provider's employee ids (Ringostat `employee_number`).
    #[serde(default)]
    pub ids: Vec<String>,
}

/// `[[calls.pipelines]]`: where a lead created from a call goes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallPipelineRule {
    /// Conditions on `call.pool`, `call.utm_source`, `call.utm_medium`, `call.utm_campaign`,
    /// `call.tracking_number`, `call.scheme`, `call.department`, `call.provider`,
    /// `call.status` (empty: always).
    #[serde(default)]
    pub when: When,
    /// Pipeline name or id.
    pub pipeline: String,
    /// Status name or id within the pipeline.
    pub status: String,
}

/// A calendar date written `YYYY-MM-DD`, quoted or as TOML's own date, with an error that
/// shows the expected form (chrono alone says "input is out of range" for `2024-13-01`).
fn date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<chrono::NaiveDate>, D::Error> {
    let text = match toml::Value::deserialize(d)? {
        toml::Value::String(s) => s,
        toml::Value::Datetime(t) => t.to_string(),
        other => other.to_string(),
    };
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map(Some)
        .map_err(|_| {
            serde::de::Error::custom(format!(
                "`{text}` is not a date: expected YYYY-MM-DD, e.g. 2024-01-31"
            ))
        })
}
