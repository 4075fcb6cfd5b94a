//! `auth`: exchange the one-time code, show the stored authorization, or rotate it.

use chrono::{TimeZone, Utc};
use serde::Serialize;

use crate::exit::{ExitStatus, Failure};

use super::Context;

/// What `auth` asks for.
#[derive(Debug, Clone, Copy)]
pub enum AuthAction<'a> {
    /// Exchange this one-time code.
    Code(&'a str),
    /// Rotate the tokens now.
    Refresh,
    /// Only show the stored authorization.
    Status,
}

/// The stored authorization after the action, as `auth` prints it.
#[derive(Debug, Serialize)]
pub struct Authorization {
    /// Always true.
    pub ok: bool,
    /// `authorized`, `refreshed` or `status`.
    pub action: &'static str,
    /// The account's id, once read.
    pub account_id: Option<i64>,
    /// The account's name, once read.
    pub account_name: Option<String>,
    /// The account's subdomain, once read.
    pub subdomain: Option<String>,
    /// The API's base URL.
    pub base_url: String,
    /// When the access token expires (RFC 3339).
    pub access_token_expires_at: String,
    /// Whether it has.
    pub access_token_expired: bool,
    /// Whether a refresh token is stored.
    pub refresh_token_present: bool,
    /// How many times the tokens were rotated.
    pub rotations: i64,
    /// Seconds the access token has left (negative: expired).
    #[serde(skip)]
    pub left_secs: i64,
}

/// Runs the action and reads the authorization back.
pub fn auth(ctx: &Context, action: AuthAction<'_>) -> anyhow::Result<Authorization> {
    let store = &ctx.store;
    let what = match action {
        AuthAction::Code(code) => {
            let client = ctx.client(true)?;
            client.exchange_code(code.trim())?;
            // Record which account the tokens belong to; a failure here does not undo the auth.
            if let Ok(Some(acc)) = client.get("/api/v4/account", &[]) {
                let id = acc.get("id").and_then(|v| v.as_i64()).unwrap_or(0);
                let name = acc.get("name").and_then(|v| v.as_str()).unwrap_or("");
                let sub = acc.get("subdomain").and_then(|v| v.as_str()).unwrap_or("");
                store.set_token_account(id, name, sub)?;
            }
            crate::log::record("auth: authorization code exchanged");
            "authorized"
        }
        AuthAction::Refresh => {
            ctx.client(true)?.refresh_now()?;
            "refreshed"
        }
        AuthAction::Status => "status",
    };
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
    let now = crate::store::now();
    Ok(Authorization {
        ok: true,
        action: what,
        account_id: t.account_id,
        account_name: t.account_name,
        subdomain: t.subdomain,
        base_url: t.base_url,
        access_token_expires_at: Utc
            .timestamp_opt(t.expires_at, 0)
            .single()
            .map(|d| d.to_rfc3339())
            .unwrap_or_default(),
        access_token_expired: t.expires_at <= now,
        refresh_token_present: t.refresh_token.is_some(),
        rotations: t.generation,
        left_secs: t.expires_at - now,
    })
}
