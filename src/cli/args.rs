//! Argument definitions. Each subcommand's doc comment is its `--help` text; its examples
//! are in `after_long_help` (the `examples!` macro in `cli/mod.rs`).

use std::path::PathBuf;

use amocrm_bin::log::Level;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Sync BILLmanager clients, payers and services into amoCRM (Kommo).
///
/// Exit codes: 0 ok; 1 partial (some items failed and were queued); 2 usage or rule-file
/// error; 3 authorization needed (run `auth`); 4 amoCRM rejected the data; 5 amoCRM or
/// BILLmanager unreachable after retries; 6 another run holds the lock.
#[derive(Debug, Parser)]
#[command(name = "amocrm-bin", version, propagate_version = true)]
#[command(after_long_help = examples!(
    "amocrm-bin auth --code def50200...                  once: authorize the integration",
    "amocrm-bin check                                    the rules against the account",
    "amocrm-bin sync --entity lead --elid 42 --dry-run   one service, nothing written",
    "amocrm-bin backfill --since 2024-01-01              everything since a date",
    "amocrm-bin status                                   queue, parked items, last runs",
))]
pub struct Cli {
    /// The rule file.
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "AMOCRM_BIN_CONFIG",
        default_value = amocrm_bin::rules::DEFAULT_PATH,
        value_name = "PATH"
    )]
    pub config: PathBuf,

    /// More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets.
    #[arg(short, long, global = true, help_heading = "Global options", action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only failures: a run that ends well prints nothing (for cron), one with failures its
    /// summary and errors.
    #[arg(
        short,
        long,
        global = true,
        help_heading = "Global options",
        conflicts_with = "verbose"
    )]
    pub quiet: bool,

    /// Machine-readable output on stdout (diagnostics stay on stderr).
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The stderr verbosity the flags ask for.
    pub fn level(&self) -> Level {
        match (self.quiet, self.verbose) {
            (true, _) => Level::Quiet,
            (_, 0) => Level::Normal,
            (_, 1) => Level::Verbose,
            _ => Level::Debug,
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Authorize against amoCRM, show the authorization, or refresh it.
    #[command(after_long_help = examples!(
        "amocrm-bin auth --code def50200...   exchange the one-time code (valid 20 minutes)",
        "amocrm-bin auth --status             account, expiry, refresh token present?",
        "amocrm-bin auth --refresh            rotate now (cron: keeps the 3-month window alive)",
    ))]
    Auth(AuthArgs),
    /// Check the rule file against the live amoCRM account; nothing is written.
    ///
    /// Every custom field, enum value, pipeline, status and user the rules name must exist,
    /// and every mapped value must fit its field's type (a date into a date field, a yes/no
    /// into a checkbox, constants among a select's options). Each problem is printed with
    /// its key path; exit code 2 when there is any. Tags the account does not have yet are
    /// warnings (the first sync creates them); `--strict` counts them too. The panel side:
    /// each BILLmanager function is read once, and every attribute the rules use is shown
    /// with the function and field it comes from, or a warning that no answer has it.
    #[command(after_long_help = examples!(
        "amocrm-bin check                  before the first sync and after editing the rules",
        "amocrm-bin check --strict --json  in CI or monitoring",
    ))]
    Check(super::check::CheckArgs),
    /// Write the rules from the live account into the rule file: its pipelines, stages and
    /// users, the fields the sync needs, optional parts commented out.
    ///
    /// The rule file must hold only the connection (`[amocrm]`, `[billmanager]`, `[store]`,
    /// `[log]`, `[hook]`) and `auth` must have run. `--print` writes the rules to stdout instead.
    #[command(after_long_help = examples!(
        "amocrm-bin init            after `auth`: the rules appended to the rule file",
        "amocrm-bin init --print    only show them",
    ))]
    Init(super::init::InitArgs),
    /// Create the custom fields the rules map but the account lacks, with their codes and
    /// select options (asks first).
    ///
    /// amoCRM's interface cannot give a field a code (`BM_CLIENT_ID`); this creates them
    /// through the API. Needs an administrator's authorization.
    #[command(after_long_help = examples!(
        "amocrm-bin setup-fields          show the fields, ask, create",
        "amocrm-bin setup-fields --yes    without asking (scripts)",
    ))]
    SetupFields(super::init::SetupFieldsArgs),
    /// Sync one BILLmanager entity into amoCRM now.
    #[command(after_long_help = examples!(
        "amocrm-bin sync --entity contact --elid 17   client 17: a contact per user",
        "amocrm-bin sync --entity lead --elid 42 --dry-run",
    ))]
    Sync(SyncArgs),
    /// Send everything created since the go-live date (cron, first run, recovery).
    ///
    /// The date is the rule file's `[sync] since` unless `--since` gives another. Entities
    /// already in amoCRM and unchanged cost nothing, so it is safe to re-run; an interrupted
    /// backfill is simply run again.
    #[command(after_long_help = examples!(
        "amocrm-bin backfill --dry-run                      what would be sent since [sync] since",
        "amocrm-bin backfill                                send it (what cron runs)",
        "amocrm-bin backfill --since 2024-01-01             from another date, this once",
        "amocrm-bin backfill --since 2025-06-01 --entity lead --json",
    ))]
    Backfill(BackfillArgs),
    /// List, search, show or forget bindings between BILLmanager and amoCRM entities.
    #[command(after_long_help = examples!(
        "amocrm-bin bindings list --entity lead",
        "amocrm-bin bindings search 42",
        "amocrm-bin bindings show --entity lead --elid 42",
        "amocrm-bin bindings forget --entity user --elid 17",
    ))]
    Bindings(BindingsArgs),
    /// Re-send stored call events amoCRM has not acknowledged, oldest first.
    ///
    /// With `[calls.ringostat_api]`, first fetches Ringostat's call log for the last N days
    /// (one day per request, under its 6 500-call cap) and stores the calls whose webhook
    /// never arrived, deduplicated like webhooks; the Auth-key is read from the variable
    /// `auth_key_env` names. Calls that started more than N days ago are left alone. A call
    /// is acknowledged only once amoCRM confirmed it, so running this twice never sends a
    /// call twice.
    #[command(after_long_help = examples!(
        "amocrm-bin replay-calls --days 3",
    ))]
    ReplayCalls(super::calls::ReplayArgs),
    /// Call-tracking events (Ringostat webhooks, neutral schema): ingest and list.
    #[command(after_long_help = examples!(
        "amocrm-bin calls ingest --file ringostat.json",
        "amocrm-bin calls list --days 3 --pending",
    ))]
    Calls(super::calls::CallsArgs),
    /// Reports from the store.
    #[command(after_long_help = examples!(
        "amocrm-bin report calls --days 7 --svg calls.svg",
    ))]
    Report(super::report::ReportArgs),
    /// Push the queued syncs (outbox): what the BILLmanager hook queued and what failed before.
    ///
    /// One drain at a time (run lock). Items are retried with backoff; one that keeps failing
    /// is parked with its last error (see `status`).
    #[command(after_long_help = examples!(
        "amocrm-bin drain                 push what is due now (cron: every few minutes)",
        "amocrm-bin drain --all           also retry parked and backed-off items",
    ))]
    Drain(DrainArgs),
    /// List the queued and parked syncs, drop junk from the queue, or retry single items.
    #[command(after_long_help = examples!(
        "amocrm-bin outbox list",
        "amocrm-bin outbox drop --entity lead --elid 999",
        "amocrm-bin outbox retry --id 7",
    ))]
    Outbox(OutboxArgs),
    /// Show the authorization, the outbox (queued and parked syncs with their last errors),
    /// the lock holder, the bindings and the last runs with their statistics.
    ///
    /// Offline: it needs neither amoCRM nor the client secret.
    #[command(after_long_help = examples!(
        "amocrm-bin status",
        "amocrm-bin status --runs 20 --json",
    ))]
    Status(super::status::StatusArgs),
    /// Tasks for stuck trials and abandoned carts (cron; `[lifecycle.nudge]`,
    /// `[lifecycle.abandoned_cart]`).
    ///
    /// One warm-up task per client whose trial is old enough and who has not paid (never a
    /// second while one is open); an order unpaid for too long moves its lead and gets a task.
    #[command(after_long_help = examples!(
        "amocrm-bin nudge --dry-run",
    ))]
    Nudge(NudgeArgs),
    /// Read lead status changes made in amoCRM (events API) into the store, so the
    /// lifecycle rules see what managers did (`[lifecycle.pullback]`).
    #[command(after_long_help = examples!(
        "amocrm-bin pull",
    ))]
    Pull,
    /// Save one raw answer per BILLmanager function, personal data masked: compare it with
    /// examples/billmanager/ and attach it to a bug report.
    ///
    /// Reads the lists `account`, `user`, `profile`, `item` (first 20 rows kept) and the
    /// forms `account.edit` and `profile.edit` of the first client and payer, exactly as the
    /// sync reads them, and writes them in the fixture layout (`source = "files"` can read
    /// the directory). Names, e-mails, phones, tax numbers and other identifying text are
    /// replaced by stable masks; ids and the shape are kept. Nothing is sent to amoCRM.
    #[command(after_long_help = examples!(
        "amocrm-bin capture /tmp/panel-answers",
    ))]
    Capture(super::capture::CaptureArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_long_help = examples!(
        "amocrm-bin completions bash > /etc/bash_completion.d/amocrm-bin",
    ))]
    Completions(super::completions::CompletionsArgs),
    /// Print the man page, or write every page into a directory.
    #[command(after_long_help = examples!(
        "amocrm-bin man --dir /usr/local/share/man/man1",
    ))]
    Man(super::completions::ManArgs),
}

/// `nudge` options.
#[derive(Debug, Args)]
pub struct NudgeArgs {
    /// Print what would be done without writing to amoCRM.
    #[arg(long)]
    pub dry_run: bool,
}

/// `drain` options.
#[derive(Debug, Args)]
pub struct DrainArgs {
    /// Retry every item now, parked and backed-off ones too (after fixing the cause).
    #[arg(long)]
    pub all: bool,
    /// As started by the hook: log only to the log file, and exit 0 when another run holds
    /// the lock (that run picks the items up).
    #[arg(long)]
    pub background: bool,
}

/// `auth` options.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct AuthArgs {
    /// The one-time authorization code from the integration's settings.
    #[arg(long, value_name = "CODE")]
    pub code: Option<String>,
    /// Show the stored authorization (never the tokens).
    #[arg(long)]
    pub status: bool,
    /// Refresh the token pair now.
    #[arg(long)]
    pub refresh: bool,
}

/// Which kind of amoCRM entity to sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EntityArg {
    /// A BILLmanager service/order → an amoCRM lead.
    Lead,
    /// A BILLmanager client, by client id → one amoCRM contact per user of the client.
    Contact,
    /// A BILLmanager payer → an amoCRM company.
    Company,
    /// One BILLmanager user, by user id → its amoCRM contact (sync pushes the user's client).
    User,
}

impl EntityArg {
    /// The library's kind for this argument (a user's contact is a contact).
    pub fn kind(self) -> amocrm_bin::rules::EntityKind {
        use amocrm_bin::rules::EntityKind;
        match self {
            EntityArg::Lead => EntityKind::Lead,
            EntityArg::Contact | EntityArg::User => EntityKind::Contact,
            EntityArg::Company => EntityKind::Company,
        }
    }
}

/// `sync` options.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Entity kind.
    #[arg(long, value_enum)]
    pub entity: EntityArg,
    /// BILLmanager id of the entity.
    #[arg(long, value_name = "N")]
    pub elid: String,
    /// Print the plan without writing to amoCRM.
    #[arg(long)]
    pub dry_run: bool,
}

/// `backfill` options.
#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// First creation date to send (YYYY-MM-DD); without it, the rule file's `[sync] since`
    /// (the go-live date cron's run reads).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub since: Option<String>,
    /// Only this kind: `contact` sends clients' users with the companies they join,
    /// `company` sends companies only, `lead` sends services with the contacts and
    /// companies their leads link to.
    #[arg(long, value_enum)]
    pub entity: Option<EntityArg>,
    /// Print the plan without writing to amoCRM.
    #[arg(long)]
    pub dry_run: bool,
}

/// `bindings` options.
#[derive(Debug, Args)]
pub struct BindingsArgs {
    #[command(subcommand)]
    pub command: BindingsCommand,
}

/// `bindings` subcommands.
#[derive(Debug, Subcommand)]
pub enum BindingsCommand {
    /// Every binding (of one kind).
    #[command(after_long_help = examples!(
        "amocrm-bin bindings list --entity company --json",
    ))]
    List {
        /// Only this kind.
        #[arg(long, value_enum)]
        entity: Option<EntityArg>,
    },
    /// Find bindings by BILLmanager id, amoCRM id, amoCRM link or part of the key.
    ///
    /// A BILLmanager id is looked up under every key it may have (user, payer, INN,
    /// service), following shared entities; a link copied from amoCRM finds its binding.
    #[command(after_long_help = examples!(
        "amocrm-bin bindings search 42",
        "amocrm-bin bindings search https://mycompany.amocrm.ru/leads/detail/9100001",
        "amocrm-bin bindings search inn:7701 --entity company",
    ))]
    Search {
        /// BILLmanager id, amoCRM id, amoCRM link, or text in the key (`inn:7701`).
        query: String,
        /// Only this kind.
        #[arg(long, value_enum)]
        entity: Option<EntityArg>,
    },
    /// One binding, with its amoCRM link.
    #[command(after_long_help = examples!(
        "amocrm-bin bindings show --entity lead --elid 42",
    ))]
    Show {
        /// Entity kind.
        #[arg(long, value_enum)]
        entity: EntityArg,
        /// BILLmanager id: client id for `contact` (lists its users' contacts), user id for
        /// `user`, payer id or INN for `company`, service id for `lead`.
        #[arg(long, value_name = "N")]
        elid: String,
    },
    /// Drop a binding: the next sync searches amoCRM again (after a manual merge, say).
    #[command(after_long_help = examples!(
        "amocrm-bin bindings forget --entity user --elid 17",
    ))]
    Forget {
        /// Entity kind.
        #[arg(long, value_enum)]
        entity: EntityArg,
        /// BILLmanager id.
        #[arg(long, value_name = "N")]
        elid: String,
    },
}

/// `outbox` options.
#[derive(Debug, Args)]
pub struct OutboxArgs {
    #[command(subcommand)]
    pub command: OutboxCommand,
}

/// Which items: one by id, one entity's, or every parked one.
#[derive(Debug, Args)]
pub struct Which {
    /// The item's id, as `outbox list` prints it.
    #[arg(long, value_name = "N", conflicts_with_all = ["entity", "parked"])]
    pub id: Option<i64>,
    /// The entity kind (with `--elid`).
    #[arg(long, value_enum, requires = "elid")]
    pub entity: Option<EntityArg>,
    /// The BILLmanager id (with `--entity`).
    #[arg(long, value_name = "N", requires = "entity")]
    pub elid: Option<String>,
    /// Every parked item.
    #[arg(long, conflicts_with_all = ["entity", "id"])]
    pub parked: bool,
}

/// `outbox` subcommands.
#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Every queued item with its id, attempts and last error.
    #[command(after_long_help = examples!(
        "amocrm-bin outbox list",
        "amocrm-bin outbox list --parked --json",
    ))]
    List {
        /// Only parked items.
        #[arg(long)]
        parked: bool,
    },
    /// Remove items from the queue: they are not pushed (a later panel event queues the
    /// entity again).
    #[command(after_long_help = examples!(
        "amocrm-bin outbox drop --id 7",
        "amocrm-bin outbox drop --entity lead --elid 999",
        "amocrm-bin outbox drop --parked",
    ))]
    Drop(Which),
    /// Make items due now, parked ones too; the next `drain` pushes them.
    #[command(after_long_help = examples!(
        "amocrm-bin outbox retry --id 7 && amocrm-bin drain",
    ))]
    Retry(Which),
}
