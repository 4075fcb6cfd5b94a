//! `completions <SHELL>` and `man`: shell completions (clap_complete) and man pages
//! (clap_mangen), generated from the same clap definitions as `--help`.
//!
//! Why subcommands of the binary rather than an xtask or build.rs: the generators need the
//! `Cli` type, which lives in the binary crate; a hidden subcommand gets it for free and
//! costs no extra crate or build-script time (clap_mangen advises against build.rs). An
//! operator who installed with `cargo install` can also write the files where their system
//! looks for them. Both are hidden from `--help`: they are for packaging, not for syncing.
//!
//! The committed copies (`completions/`, `doc/`) are what the `.deb` ships. A test
//! regenerates them and fails when they are stale (`tests/it/operator.rs`); run it with
//! `AMOCRM_BIN_BLESS=1` to rewrite them.

use std::io::Write;
use std::path::{Path, PathBuf};

use amocrm_bin::exit::ExitStatus;
use clap::{Args, CommandFactory};
use clap_complete::Shell;
use clap_mangen::roff::{bold, italic, roman, Roff};
use clap_mangen::Man;

use super::Cli;

/// `completions` options.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// `man` options.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write every page (amocrm-bin.1 and one per subcommand) into this directory instead
    /// of printing amocrm-bin.1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// The command tree as documented: hidden subcommands and `help` left out.
fn command() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// Runs `completions`: the script on stdout.
pub fn completions(args: &CompletionsArgs) -> anyhow::Result<ExitStatus> {
    let mut cmd = command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut cmd, "amocrm-bin", &mut out);
    out.flush()?;
    Ok(ExitStatus::Ok)
}

/// Runs `man`: amocrm-bin.1 on stdout, or every page into `--dir`.
pub fn man(args: &ManArgs) -> anyhow::Result<ExitStatus> {
    let cmd = command();
    match &args.dir {
        None => {
            let mut out = std::io::stdout().lock();
            main_page(&cmd, &mut out)?;
            out.flush()?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            let mut file = std::fs::File::create(dir.join("amocrm-bin.1"))?;
            main_page(&cmd, &mut file)?;
            for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
                sub_pages(sub, dir)?;
            }
        }
    }
    Ok(ExitStatus::Ok)
}

/// One page per subcommand, nested ones too (`amocrm-bin-bindings-search.1`), as the
/// SUBCOMMANDS section of the parent page refers to them.
fn sub_pages(cmd: &clap::Command, dir: &Path) -> std::io::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        sub_pages(sub, dir)?;
    }
    let name = Man::new(cmd.clone()).get_filename();
    let mut file = std::fs::File::create(dir.join(name))?;
    page(cmd, &mut file, &|roff| {
        roff.control("SH", ["SEE ALSO"]);
        roff.text([bold("amocrm-bin"), roman("(1)")]);
    })
}

/// clap's sections, the examples (`after_long_help`) as EXAMPLES, then `extra`.
fn page(cmd: &clap::Command, w: &mut dyn Write, extra: &dyn Fn(&mut Roff)) -> std::io::Result<()> {
    let man = Man::new(cmd.clone()).source(concat!("amocrm-bin ", env!("CARGO_PKG_VERSION")));
    man.render_title(w)?;
    man.render_name_section(w)?;
    man.render_synopsis_section(w)?;
    man.render_description_section(w)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(w)?;
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(w)?;
    }
    let mut roff = Roff::default();
    if let Some(text) = cmd.get_after_long_help() {
        roff.control("SH", ["EXAMPLES"]);
        roff.control("nf", []);
        for line in text.to_string().lines().skip(1) {
            roff.text([roman(line.trim_start())]);
        }
        roff.control("fi", []);
    }
    extra(&mut roff);
    roff.to_writer(w)?;
    man.render_version_section(w)
}

/// amocrm-bin.1 also has the exit status, environment, files and see-also sections an
/// operator looks for in a man page and clap does not know.
fn main_page(cmd: &clap::Command, w: &mut dyn Write) -> std::io::Result<()> {
    page(cmd, w, &|roff| {
        roff.control("SH", ["EXIT STATUS"]);
        for (code, meaning) in EXIT_CODES {
            roff.control("TP", []);
            roff.text([bold(*code)]);
            roff.text([roman(*meaning)]);
        }
        roff.control("SH", ["ENVIRONMENT"]);
        for (name, meaning) in ENVIRONMENT {
            roff.control("TP", []);
            roff.text([bold(*name)]);
            roff.text([roman(*meaning)]);
        }
        roff.control("SH", ["FILES"]);
        for (path, meaning) in FILES {
            roff.control("TP", []);
            roff.text([italic(*path)]);
            roff.text([roman(*meaning)]);
        }
        roff.control("SH", ["SEE ALSO"]);
        let subs: Vec<String> = cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| format!("amocrm-bin-{}(1)", s.get_name()))
            .collect();
        roff.text([roman(subs.join(", "))]);
    })
}

const EXIT_CODES: &[(&str, &str)] = &[
    ("0", "Everything requested was done."),
    ("1", "Partial: some items failed and were queued in the outbox; `drain` retries them."),
    ("2", "Usage or rule-file error, unknown --elid, a name in the rules the amoCRM account does not have, or `check` found problems."),
    ("3", "Authorization needed (no tokens, refresh token revoked, bad code): run `amocrm-bin auth --code CODE`."),
    ("4", "amoCRM rejected the data (validation); the item is queued."),
    ("5", "amoCRM or BILLmanager unreachable after retries, or the account is blocked or unpaid; nothing was lost."),
    ("6", "Another run holds the lock; `amocrm-bin status` shows the holder."),
];

const ENVIRONMENT: &[(&str, &str)] = &[
    ("AMOCRM_BIN_CONFIG", "The rule file, when --config is not given."),
    ("AMOCRM_CLIENT_SECRET", "The integration's secret key in the sample rule file (the variable is named by [amocrm] client_secret_env)."),
    ("PARAM_func", "Set by BILLmanager: started without arguments and with this variable, amocrm-bin is the addon handler (hook mode)."),
    ("REQUEST_METHOD", "Set by a web server: started without arguments as a CGI program, amocrm-bin ingests a call-tracking webhook."),
];

const FILES: &[(&str, &str)] = &[
    ("/usr/local/mgr5/etc/amocrm-bin.toml", "The rule file (default --config). A commented sample: /usr/share/doc/amocrm-bin/examples/rules.toml."),
    ("/usr/local/mgr5/var/amocrm-bin.db", "The store ([store] path): tokens, bindings, outbox, run journal; created with mode 0600. The lock files <store>.run.lock, .write.lock and .auth.lock sit beside it."),
    ("/usr/local/mgr5/addon/amocrm-bin", "Where BILLmanager looks for the addon handler (a link to the binary)."),
    ("/usr/local/mgr5/etc/xml/billmgr_mod_amocrm_bin.xml", "The plugin that registers the handler; the package ships it in /usr/share/amocrm-bin/."),
];
