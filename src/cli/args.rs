//! Argument definitions. Each subcommand's doc comment is its `--help` text.

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
pub struct Cli {
    /// The rule file.
    #[arg(
        long,
        global = true,
        env = "AMOCRM_BIN_CONFIG",
        default_value = amocrm_bin::rules::DEFAULT_PATH,
        value_name = "PATH"
    )]
    pub config: PathBuf,

    /// More detail on stderr (-v requests and decisions, -vv internals). Never shows secrets.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Machine-readable output on stdout (diagnostics stay on stderr).
    #[arg(long, global = true)]
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
    ///
    /// Examples:
    ///   amocrm-bin auth --code def50200...   exchange the one-time code (valid 20 minutes)
    ///   amocrm-bin auth --status             account, expiry, refresh token present?
    ///   amocrm-bin auth --refresh            rotate now (cron: keeps the 3-month window alive)
    Auth(AuthArgs),
    /// Sync one BILLmanager entity into amoCRM now.
    ///
    /// Examples:
    ///   amocrm-bin sync --entity contact --elid 17
    ///   amocrm-bin sync --entity lead --elid 42 --dry-run
    Sync(SyncArgs),
    /// Send everything created since a date (cron, first run, recovery).
    ///
    /// Example: amocrm-bin backfill --since 2024-01-01
    Backfill(BackfillArgs),
    /// List, show or forget bindings between BILLmanager and amoCRM entities.
    ///
    /// Examples:
    ///   amocrm-bin bindings list --entity lead
    ///   amocrm-bin bindings show --entity lead --elid 42
    ///   amocrm-bin bindings forget --entity contact --elid 17
    Bindings(BindingsArgs),
    /// Re-send stored call events amoCRM has not acknowledged, oldest first.
    ///
    /// Calls that started more than N days ago are left alone. A call is acknowledged only
    /// once amoCRM confirmed it, so running this twice never sends a call twice.
    ///
    /// Example: amocrm-bin replay-calls --days 3
    ReplayCalls(ReplayArgs),
    /// Call-tracking events (Ringostat webhooks, neutral schema): ingest and list.
    ///
    /// Examples:
    ///   amocrm-bin calls ingest --file ringostat.json
    ///   amocrm-bin calls list --days 3 --pending
    Calls(super::calls::CallsArgs),
    /// Reports from the store.
    ///
    /// Example: amocrm-bin report calls --days 7 --svg calls.svg
    Report(super::report::ReportArgs),
    /// Push the queued syncs (outbox): what the BILLmanager hook queued and what failed before.
    ///
    /// One drain at a time (run lock). Items are retried with backoff; one that keeps failing
    /// is parked with its last error (see `status`).
    ///
    /// Examples:
    ///   amocrm-bin drain                 push what is due now (cron: every few minutes)
    ///   amocrm-bin drain --all           also retry parked and backed-off items
    Drain(DrainArgs),
    /// Show the outbox (queued and parked syncs with their last errors), the lock holder
    /// and the last runs.
    Status,
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
    /// A BILLmanager client (and its users) → amoCRM contacts.
    Contact,
    /// A BILLmanager payer → an amoCRM company.
    Company,
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
    /// First creation date to send (YYYY-MM-DD).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub since: String,
    /// Only this kind.
    #[arg(long, value_enum)]
    pub entity: Option<EntityArg>,
    /// Print the plan without writing to amoCRM.
    #[arg(long)]
    pub dry_run: bool,
}

/// `replay-calls` options.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// How many days back.
    #[arg(long, value_name = "N")]
    pub days: u32,
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
    List {
        /// Only this kind.
        #[arg(long, value_enum)]
        entity: Option<EntityArg>,
    },
    /// One binding, with its amoCRM link.
    Show {
        /// Entity kind.
        #[arg(long, value_enum)]
        entity: EntityArg,
        /// BILLmanager id (user id for contacts, payer id or INN for companies, service id for leads).
        #[arg(long, value_name = "N")]
        elid: String,
    },
    /// Drop a binding: the next sync searches amoCRM again (after a manual merge, say).
    Forget {
        /// Entity kind.
        #[arg(long, value_enum)]
        entity: EntityArg,
        /// BILLmanager id.
        #[arg(long, value_name = "N")]
        elid: String,
    },
}
