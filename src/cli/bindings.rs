//! `bindings`: list, show and forget the BILLmanager ↔ amoCRM bindings
//! ([`amocrm_bin::app::bindings`]).

use amocrm_bin::app::{self, bindings::Named};
use amocrm_bin::exit::ExitStatus;

use super::args::{BindingsArgs, BindingsCommand, EntityArg};
use super::output::{print, stamp};
use super::Cli;

/// What an `--entity` names.
fn named(entity: EntityArg) -> Named {
    match entity {
        EntityArg::Contact => Named::Client,
        EntityArg::User => Named::User,
        other => Named::Kind(other.kind()),
    }
}

/// Runs `bindings`.
pub fn exec(cli: &Cli, args: &BindingsArgs) -> anyhow::Result<ExitStatus> {
    let ctx = app::Context::open(&cli.config)?;
    match &args.command {
        BindingsCommand::List { entity } => {
            let listed = app::bindings::list(&ctx, entity.map(EntityArg::kind))?;
            print(cli, &listed, |l| {
                for b in &l.bindings {
                    println!(
                        "{:<8} {:<24} amoCRM {:<10} synced {}",
                        b.kind,
                        b.bm_id,
                        b.amo_id,
                        stamp(b.synced_at)
                    );
                }
                for a in &l.aliases {
                    println!(
                        "{:<8} {:<24} → {} ({})",
                        a.kind, a.bm_id, a.target_id, a.reason
                    );
                }
                eprintln!(
                    "{} binding(s), {} key(s) bound through another",
                    l.bindings.len(),
                    l.aliases.len()
                );
            })?;
        }
        BindingsCommand::Search { query, entity } => {
            let found = app::bindings::search(&ctx, entity.map(EntityArg::kind), query)?;
            print(cli, &found, |f| {
                for h in &f.bindings {
                    println!(
                        "{:<8} {:<24} amoCRM {:<10} synced {}  ({})",
                        h.binding.kind,
                        h.binding.bm_id,
                        h.binding.amo_id,
                        stamp(h.binding.synced_at),
                        h.matched
                    );
                }
                eprintln!("{} binding(s) match `{query}`", f.bindings.len());
            })?;
        }
        BindingsCommand::Forget { entity, elid } => {
            let forgotten = app::bindings::forget(&ctx, named(*entity), elid.trim())?;
            print(cli, &forgotten, |f| {
                for b in &f.forgotten {
                    println!(
                        "forgot {} {} (amoCRM {}); the next sync looks it up again",
                        b.kind, b.bm_id, b.amo_id
                    );
                }
            })?;
        }
        BindingsCommand::Show { entity, elid } => {
            let showing = app::bindings::show(&ctx, named(*entity), elid.trim())?;
            print(cli, &showing, |s| {
                for one in &s.shown {
                    let b = &one.binding;
                    println!("{} {} → amoCRM {} {}", b.kind, one.key, b.kind, b.amo_id);
                    if let Some(a) = &one.alias {
                        println!(
                            "  shares the amoCRM entity of {} ({})",
                            a.target_id, a.reason
                        );
                    }
                    println!(
                        "  synced {}; payload hash {}",
                        stamp(b.synced_at),
                        b.payload_hash
                    );
                    println!("  {}", one.url);
                }
            })?;
        }
    }
    Ok(ExitStatus::Ok)
}
