//! `outbox list|drop|retry`: the operator's hands on the queue ([`amocrm_bin::app::outbox`]).

use amocrm_bin::app::{self, outbox::Which};
use amocrm_bin::exit::ExitStatus;
use amocrm_bin::log::redact;

use super::args::{EntityArg, OutboxArgs, OutboxCommand};
use super::{output, Cli};

impl super::args::Which {
    /// The library's selector words for these flags.
    fn which(&self) -> Which<'_> {
        Which {
            id: self.id,
            // The hook queues a user's own events under `user`.
            kind: self.entity.map(|e| match e {
                EntityArg::User => "user",
                other => other.kind().as_str(),
            }),
            elid: self.elid.as_deref(),
            parked: self.parked,
        }
    }
}

/// Runs `outbox`.
pub fn exec(cli: &Cli, args: &OutboxArgs) -> anyhow::Result<ExitStatus> {
    let ctx = app::Context::open(&cli.config)?;
    let changed = match &args.command {
        OutboxCommand::List { parked } => {
            let listed = app::outbox::list(&ctx, *parked)?;
            let now = chrono::Utc::now().timestamp();
            output::print(cli, &listed, |l| {
                for i in &l.items {
                    println!(
                        "{:<5} {:<8} {:<10} {} attempt(s), queued by {}; {}",
                        i.id,
                        i.kind,
                        i.bm_id,
                        i.attempts,
                        i.reason,
                        output::outbox_standing(i.parked, i.next_attempt_at, now)
                    );
                    if let Some(e) = &i.last_error {
                        println!("      last error: {}", redact(e));
                    }
                }
                if !cli.quiet {
                    eprintln!("{} item(s)", l.items.len());
                }
            })?;
            return Ok(ExitStatus::Ok);
        }
        OutboxCommand::Drop(which) => app::outbox::drop(&ctx, &which.which())?,
        OutboxCommand::Retry(which) => app::outbox::retry(&ctx, &which.which())?,
    };
    output::print(cli, &changed, |c| {
        if !cli.quiet {
            eprintln!("{} item(s) {}", c.items, c.what);
        }
    })?;
    Ok(ExitStatus::Ok)
}
