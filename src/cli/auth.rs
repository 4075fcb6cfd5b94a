//! `auth`: exchange the one-time code, show the stored authorization, or rotate it.

use amocrm_bin::exit::{ExitStatus, Failure};
use chrono::{TimeZone, Utc};
use serde_json::json;

use super::args::AuthArgs;
use super::{context, Cli};

/// Runs `auth`.
pub fn exec(cli: &Cli, args: &AuthArgs) -> anyhow::Result<ExitStatus> {
    let rules = context::rules(cli)?;
    let store = context::store(&rules)?;
    if let Some(code) = &args.code {
        let client = context::client(&rules, &store, true)?;
        let record = client.exchange_code(code.trim())?;
        // Record which account the tokens belong to; a failure here does not undo the auth.
        if let Ok(Some(acc)) = client.get("/api/v4/account", &[]) {
            let id = acc.get("id").and_then(|v| v.as_i64()).unwrap_or(0);
            let name = acc.get("name").and_then(|v| v.as_str()).unwrap_or("");
            let sub = acc.get("subdomain").and_then(|v| v.as_str()).unwrap_or("");
            store.set_token_account(id, name, sub)?;
        }
        amocrm_bin::log::record("auth: authorization code exchanged");
        let _ = record;
        return status(cli, &store, "authorized");
    }
    if args.refresh {
        let client = context::client(&rules, &store, true)?;
        client.refresh_now()?;
        return status(cli, &store, "refreshed");
    }
    status(cli, &store, "status")
}

fn status(cli: &Cli, store: &amocrm_bin::store::Store, what: &str) -> anyhow::Result<ExitStatus> {
    let Some(t) = store.tokens()? else {
        return Err(Failure::new(
            ExitStatus::AuthNeeded,
            format!(
                "not authorized: store `{}` holds no amoCRM tokens",
                store.path().display()
            ),
            Some(
                "run `amocrm-bin auth --code CODE` with the code from the integration's Keys tab"
                    .into(),
            ),
        )
        .into());
    };
    let now = amocrm_bin::store::now();
    let expires = Utc
        .timestamp_opt(t.expires_at, 0)
        .single()
        .map(|d| d.to_rfc3339())
        .unwrap_or_default();
    if cli.json {
        let v = json!({
            "ok": true,
            "action": what,
            "account_id": t.account_id,
            "account_name": t.account_name,
            "subdomain": t.subdomain,
            "base_url": t.base_url,
            "access_token_expires_at": expires,
            "access_token_expired": t.expires_at <= now,
            "refresh_token_present": t.refresh_token.is_some(),
            "rotations": t.generation,
        });
        println!("{v}");
    } else {
        let account = match (&t.account_name, t.account_id) {
            (Some(n), Some(id)) => format!("{n} (id {id})"),
            _ => "unknown (not yet read)".into(),
        };
        println!("{what}: account {account} at {}", t.base_url);
        let left = t.expires_at - now;
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
            if t.refresh_token.is_some() {
                "present"
            } else {
                "absent"
            }
        );
    }
    Ok(ExitStatus::Ok)
}
