//! `auth`: exchange the one-time code, show the stored authorization, or rotate it
//! ([`amocrm_bin::app::auth`]).

use amocrm_bin::app::{self, auth::AuthAction};
use amocrm_bin::exit::ExitStatus;

use super::args::AuthArgs;
use super::{output, Cli};

/// Runs `auth`.
pub fn exec(cli: &Cli, args: &AuthArgs) -> anyhow::Result<ExitStatus> {
    let ctx = app::Context::open(&cli.config)?;
    let action = match (&args.code, args.refresh) {
        (Some(code), _) => AuthAction::Code(code),
        (None, true) => AuthAction::Refresh,
        (None, false) => AuthAction::Status,
    };
    // Showing the authorization is a question; exchanging or rotating it is a run.
    let quiet_if_ok = !matches!(action, AuthAction::Status);
    let authorization = app::auth::auth(&ctx, action)?;
    let print = |t: &app::auth::Authorization| {
        let account = match (&t.account_name, t.account_id) {
            (Some(n), Some(id)) => format!("{n} (id {id})"),
            _ => "unknown (not yet read)".into(),
        };
        println!("{}: account {account} at {}", t.action, t.base_url);
        let (left, expires) = (t.left_secs, &t.access_token_expires_at);
        if left > 0 {
            println!(
                "access token valid until {expires} ({}h {}m left)",
                left / 3600,
                (left % 3600) / 60
            );
        } else {
            println!("access token expired at {expires} (it is refreshed automatically on the next call)");
        }
        println!(
            "refresh token: {}",
            if t.refresh_token_present {
                "present"
            } else {
                "absent"
            }
        );
    };
    if quiet_if_ok {
        output::print_run(cli, &authorization, ExitStatus::Ok, print)?;
    } else {
        output::print(cli, &authorization, print)?;
    }
    Ok(ExitStatus::Ok)
}
