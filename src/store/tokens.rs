//! OAuth tokens. There is one row: the account's current pair. A refresh writes the new pair
//! in one statement before anyone uses it, because amoCRM's refresh token is single-use and a
//! lost new pair means re-authorizing by hand.

use rusqlite::{params, OptionalExtension};

use super::{now, Result, Store};
use crate::secret::Secret;

/// The stored authorization.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    /// Bearer token for API calls.
    pub access_token: Secret,
    /// Single-use refresh token; `None` for long-lived tokens.
    pub refresh_token: Option<Secret>,
    /// Unix time the access token expires.
    pub expires_at: i64,
    /// The account URL the tokens belong to.
    pub base_url: String,
    /// amoCRM account id, when known.
    pub account_id: Option<i64>,
    /// Account name, when known.
    pub account_name: Option<String>,
    /// Account subdomain, when known.
    pub subdomain: Option<String>,
    /// Bumped on every rotation; lets a process see that another one refreshed.
    pub generation: i64,
}

impl Store {
    /// The current tokens, if `auth` has been run.
    pub fn tokens(&self) -> Result<Option<TokenRecord>> {
        self.conn
            .query_row(
                "SELECT access_token, refresh_token, expires_at, base_url, account_id,
                        account_name, subdomain, generation FROM oauth_tokens WHERE id = 1",
                [],
                |r| {
                    Ok(TokenRecord {
                        access_token: Secret::new(r.get::<_, String>(0)?),
                        refresh_token: r.get::<_, Option<String>>(1)?.map(Secret::new),
                        expires_at: r.get(2)?,
                        base_url: r.get(3)?,
                        account_id: r.get(4)?,
                        account_name: r.get(5)?,
                        subdomain: r.get(6)?,
                        generation: r.get(7)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err("read the OAuth tokens", e))
    }

    /// Replaces the stored pair; the generation becomes one more than before.
    pub fn save_tokens(&self, t: &TokenRecord) -> Result<i64> {
        let generation: i64 = self
            .conn
            .query_row(
                "INSERT INTO oauth_tokens (id, access_token, refresh_token, expires_at, base_url,
                     account_id, account_name, subdomain, generation, updated_at)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8)
                 ON CONFLICT(id) DO UPDATE SET access_token = excluded.access_token,
                     refresh_token = excluded.refresh_token, expires_at = excluded.expires_at,
                     base_url = excluded.base_url,
                     account_id = COALESCE(excluded.account_id, oauth_tokens.account_id),
                     account_name = COALESCE(excluded.account_name, oauth_tokens.account_name),
                     subdomain = COALESCE(excluded.subdomain, oauth_tokens.subdomain),
                     generation = oauth_tokens.generation + 1,
                     updated_at = excluded.updated_at
                 RETURNING generation",
                params![
                    t.access_token.expose(),
                    t.refresh_token.as_ref().map(|s| s.expose()),
                    t.expires_at,
                    t.base_url,
                    t.account_id,
                    t.account_name,
                    t.subdomain,
                    now()
                ],
                |r| r.get(0),
            )
            .map_err(|e| self.err("save the OAuth tokens", e))?;
        Ok(generation)
    }

    /// Records the account the tokens belong to (after `auth` asked `/api/v4/account`).
    pub fn set_token_account(&self, id: i64, name: &str, subdomain: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE oauth_tokens SET account_id = ?1, account_name = ?2, subdomain = ?3 WHERE id = 1",
                params![id, name, subdomain],
            )
            .map(drop)
            .map_err(|e| self.err("save the account", e))
    }
}
