//! `calls ingest` (stdin, `--file`, JSON lines, CGI), `calls list`, `calls reparse` and
//! `replay-calls`, one file per subcommand; the work is [`amocrm_bin::app::calls`]'s.

use std::path::PathBuf;

use amocrm_bin::calls::Format;
use amocrm_bin::exit::ExitStatus;
use clap::{Args, Subcommand, ValueEnum};

use super::Cli;

pub(super) mod cgi;
mod ingest;
mod list;
mod reparse;
mod replay;

pub use replay::replay;

/// `replay-calls` options.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// How many days back.
    #[arg(long, value_name = "N")]
    pub days: u32,
}

/// `calls` options.
#[derive(Debug, Args)]
pub struct CallsArgs {
    #[command(subcommand)]
    pub command: CallsCommand,
}

/// `calls` subcommands.
#[derive(Debug, Subcommand)]
pub enum CallsCommand {
    /// Store call-tracking events, then push them to amoCRM.
    ///
    /// Reads a Ringostat webhook (JSON or form fields) or a neutral `amocrm-bin.call/1`
    /// event, a JSON array of them, or one per line, from stdin or --file. Every event is
    /// stored (deduplicated) before anything is sent; a failed push stays stored for
    /// `replay-calls`. With REQUEST_METHOD set (a web server's CGI) it reads the request
    /// body, answers 200 (or 400 with the reason) and pushes after answering.
    #[command(after_long_help = examples!(
        "amocrm-bin calls ingest --file call.json",
        "tail -n 100 calls.jsonl | amocrm-bin calls ingest --no-push",
    ))]
    Ingest(IngestArgs),
    /// Stored calls of the last days with their state and last error.
    #[command(after_long_help = examples!(
        "amocrm-bin calls list --days 3 --pending",
    ))]
    List(ListArgs),
    /// Read the stored items that could not be parsed again (after fixing
    /// `[calls.ringostat_keys]` or `[calls.statuses]`), then push what they turned out to be.
    #[command(after_long_help = examples!(
        "amocrm-bin calls list --pending",
        "amocrm-bin calls reparse",
    ))]
    Reparse(ReparseArgs),
}

/// The event format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Neutral when the object has `schema`, else Ringostat.
    Auto,
    /// Ringostat webhook parameters.
    Ringostat,
    /// The neutral schema `amocrm-bin.call/1`.
    Neutral,
}

impl FormatArg {
    /// The parser's format for the command-line choice.
    fn format(self) -> Format {
        match self {
            FormatArg::Auto => Format::Auto,
            FormatArg::Ringostat => Format::Ringostat,
            FormatArg::Neutral => Format::Neutral,
        }
    }
}

/// `calls ingest` options.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Read events from this file instead of stdin.
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Event format.
    #[arg(long, value_enum, default_value = "auto")]
    pub format: FormatArg,
    /// Only store; `replay-calls` sends later.
    #[arg(long)]
    pub no_push: bool,
    /// Store nothing, send nothing: print the keys each event carried, which ones the key
    /// map read, and what the event became (to set up `[calls.ringostat_keys]`).
    #[arg(long)]
    pub explain: bool,
}

/// `calls reparse` options.
#[derive(Debug, Args)]
pub struct ReparseArgs {
    /// Only re-parse and store; `replay-calls` sends later.
    #[arg(long)]
    pub no_push: bool,
}

/// `calls list` options.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// How many days back.
    #[arg(long, value_name = "N", default_value_t = 7)]
    pub days: u32,
    /// Only calls amoCRM has not acknowledged, and items that could not be parsed.
    #[arg(long)]
    pub pending: bool,
}

/// Runs `calls`.
pub fn exec(cli: &Cli, args: &CallsArgs) -> anyhow::Result<ExitStatus> {
    match &args.command {
        CallsCommand::Ingest(a) if std::env::var_os("REQUEST_METHOD").is_some() => {
            Ok(cgi::cgi(cli, a))
        }
        CallsCommand::Ingest(a) if a.explain => ingest::explain(cli, a),
        CallsCommand::Ingest(a) => ingest::ingest(cli, a),
        CallsCommand::List(a) => list::list(cli, a),
        CallsCommand::Reparse(a) => reparse::reparse(cli, a),
    }
}
