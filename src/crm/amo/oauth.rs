//! OAuth 2.0 against amoCRM: code exchange and single-use refresh-token rotation.
//!
//! amoCRM's refresh token is single-use and globally so: if two processes refresh with the
//! same token, the loser's token is "revoked" and, if it then overwrites the store, the
//! integration is dead until someone re-authorizes by hand. So a refresh is:
//! take `<store>.auth.lock` → re-read the store → if another process already rotated, use its
//! pair → otherwise refresh, commit the new pair in one statement, and only then use it.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use super::pace::Pacer;
use crate::crm::CrmError;
use crate::lock::{lock_within, LockKind};
use crate::secret::Secret;
use crate::store::{Store, TokenRecord};

/// Refresh this many seconds before the access token expires.
const REFRESH_MARGIN: i64 = 120;

/// The integration's credentials as the rule file gives them.
pub struct Credentials {
    /// Integration ID.
    pub client_id: String,
    /// Secret key (resolved lazily: `auth --status` must work without it).
    pub client_secret: Option<Secret>,
    /// Redirect URI, exactly as registered.
    pub redirect_uri: String,
}

/// Where the current access token comes from.
pub enum TokenSource {
    /// A long-lived token from the environment: no refresh.
    LongLived(Secret),
    /// OAuth pair in the store, refreshed as needed.
    OAuth(Credentials),
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: i64,
    #[serde(default)]
    server_time: Option<i64>,
}

#[derive(Deserialize, Default)]
struct OAuthProblem {
    #[serde(default)]
    hint: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    title: Option<String>,
}

/// A token ready to use, with the generation it came from (to detect rotations after a 401).
pub struct CurrentToken {
    /// The bearer token.
    pub token: Secret,
    /// Store generation (0 for long-lived tokens).
    pub generation: i64,
}

fn auth_needed(detail: impl Into<String>, advice: impl Into<String>) -> CrmError {
    CrmError::AuthNeeded {
        detail: detail.into(),
        advice: advice.into(),
    }
}

const REAUTH: &str = "generate a new authorization code in amoCRM (Settings → Integrations → \
     your integration → Keys and scopes) and run `amocrm-bin auth --code CODE` within 20 minutes";

/// Reads, refreshes and stores tokens.
pub struct TokenManager<'a> {
    /// The store holding the pair (its own connection).
    pub store: &'a Store,
    /// How tokens are obtained.
    pub source: TokenSource,
    /// Account URL.
    pub base_url: String,
}

impl TokenManager<'_> {
    /// A valid token, refreshing first if it is about to expire.
    pub fn current(
        &self,
        http: &reqwest::blocking::Client,
        pacer: &Pacer,
    ) -> Result<CurrentToken, CrmError> {
        let creds = match &self.source {
            TokenSource::LongLived(t) => {
                return Ok(CurrentToken {
                    token: t.clone(),
                    generation: 0,
                })
            }
            TokenSource::OAuth(c) => c,
        };
        let t = self.read()?;
        if t.expires_at - REFRESH_MARGIN > crate::store::now() {
            return Ok(CurrentToken {
                token: t.access_token,
                generation: t.generation,
            });
        }
        self.refresh(creds, t.generation, http, pacer)
    }

    /// After a 401 with the token of `generation`: refresh once, unless another process did.
    pub fn after_unauthorized(
        &self,
        generation: i64,
        http: &reqwest::blocking::Client,
        pacer: &Pacer,
    ) -> Result<CurrentToken, CrmError> {
        match &self.source {
            TokenSource::LongLived(_) => Err(auth_needed(
                "the long-lived token was rejected (revoked or expired)",
                "issue a new long-lived token in amoCRM (integration → Keys and scopes) and put it in \
                 the variable named by `long_lived_token_env`",
            )),
            TokenSource::OAuth(creds) => self.refresh(creds, generation, http, pacer),
        }
    }

    fn read(&self) -> Result<TokenRecord, CrmError> {
        match self.store.tokens() {
            Ok(Some(t)) => Ok(t),
            Ok(None) => Err(auth_needed(
                "this store holds no amoCRM authorization yet",
                REAUTH,
            )),
            Err(e) => Err(auth_needed(
                format!("cannot read tokens: {e}"),
                "check `[store] path`",
            )),
        }
    }

    fn refresh(
        &self,
        creds: &Credentials,
        seen_generation: i64,
        http: &reqwest::blocking::Client,
        pacer: &Pacer,
    ) -> Result<CurrentToken, CrmError> {
        let _guard = lock_within(
            self.store.path(),
            LockKind::Auth,
            "refresh",
            Duration::from_secs(120),
        )
        .map_err(|e| CrmError::Unreachable {
            request: "token refresh".into(),
            detail: e.to_string(),
        })?;
        let t = self.read()?;
        if t.generation != seen_generation && t.expires_at - REFRESH_MARGIN > crate::store::now() {
            // Another process rotated while we waited: its pair is ours too.
            return Ok(CurrentToken {
                token: t.access_token,
                generation: t.generation,
            });
        }
        let Some(refresh) = t.refresh_token.clone() else {
            return Err(auth_needed(
                "the stored authorization has no refresh token",
                REAUTH,
            ));
        };
        let secret = creds.client_secret.as_ref().ok_or_else(|| {
            auth_needed(
                "the client secret is not available",
                "set `client_secret_env` in the rule file",
            )
        })?;
        let body = json!({
            "client_id": creds.client_id,
            "client_secret": secret.expose(),
            "grant_type": "refresh_token",
            "refresh_token": refresh.expose(),
            "redirect_uri": creds.redirect_uri,
        });
        crate::log::verbose("refreshing the amoCRM access token");
        let resp = token_request(http, pacer, &self.base_url, &body, "refresh")?;
        let record = self.record_from(resp, &t.base_url);
        let generation = self
            .store
            .save_tokens(&record)
            .map_err(|e| CrmError::Unreachable {
                request: "token refresh".into(),
                detail: format!("the new token pair could not be saved: {e}"),
            })?;
        Ok(CurrentToken {
            token: record.access_token,
            generation,
        })
    }

    /// Exchanges a one-time authorization code for a token pair and stores it.
    pub fn exchange_code(
        &self,
        code: &str,
        http: &reqwest::blocking::Client,
        pacer: &Pacer,
    ) -> Result<TokenRecord, CrmError> {
        let TokenSource::OAuth(creds) = &self.source else {
            return Err(auth_needed(
                "`long_lived_token_env` is set, so there is no code to exchange",
                "remove `long_lived_token_env` from the rule file to use OAuth",
            ));
        };
        let secret = creds.client_secret.as_ref().ok_or_else(|| {
            auth_needed(
                "the client secret is not available",
                "set `client_secret_env` in the rule file",
            )
        })?;
        let body = json!({
            "client_id": creds.client_id,
            "client_secret": secret.expose(),
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": creds.redirect_uri,
        });
        let resp = token_request(http, pacer, &self.base_url, &body, "code")?;
        let record = self.record_from(resp, &self.base_url);
        self.store
            .save_tokens(&record)
            .map_err(|e| CrmError::Unreachable {
                request: "auth".into(),
                detail: format!("the token pair could not be saved: {e}"),
            })?;
        Ok(record)
    }

    fn record_from(&self, r: TokenResponse, base_url: &str) -> TokenRecord {
        let issued = r.server_time.unwrap_or_else(crate::store::now);
        TokenRecord {
            access_token: Secret::new(r.access_token),
            refresh_token: r.refresh_token.map(Secret::new),
            expires_at: issued + r.expires_in,
            base_url: base_url.to_string(),
            account_id: None,
            account_name: None,
            subdomain: None,
            generation: 0,
        }
    }
}

/// POSTs to `/oauth2/access_token`; never logs the body (it holds the secret).
fn token_request(
    http: &reqwest::blocking::Client,
    pacer: &Pacer,
    base_url: &str,
    body: &serde_json::Value,
    what: &str,
) -> Result<TokenResponse, CrmError> {
    let url = format!("{}/oauth2/access_token", base_url.trim_end_matches('/'));
    let request = "POST /oauth2/access_token".to_string();
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let ticket = pacer.acquire();
        let sent = http.post(&url).json(body).send();
        pacer.done(ticket);
        let resp = match sent {
            Ok(r) => r,
            Err(e) if attempt < 4 && e.is_connect() => {
                std::thread::sleep(super::retry::backoff(attempt));
                continue;
            }
            Err(e) => {
                return Err(CrmError::Unreachable {
                    request,
                    detail: super::retry::describe_transport(&e),
                })
            }
        };
        let status = resp.status().as_u16();
        crate::log::verbose(&format!("{request} → {status}"));
        if status == 429 || status >= 500 {
            if attempt < 4 {
                std::thread::sleep(super::retry::backoff(attempt).max(Duration::from_secs(1)));
                continue;
            }
            return Err(CrmError::Unreachable {
                request,
                detail: format!("HTTP {status}"),
            });
        }
        let text = resp.text().unwrap_or_default();
        if (200..300).contains(&status) {
            return serde_json::from_str(&text).map_err(|e| CrmError::Decode {
                request,
                detail: e.to_string(),
            });
        }
        let problem: OAuthProblem = serde_json::from_str(&text).unwrap_or_default();
        let reason = problem
            .hint
            .or(problem.detail)
            .or(problem.title)
            .unwrap_or_else(|| format!("HTTP {status}"));
        let advice = if what == "code" {
            if reason.contains("client_id")
                || reason.contains("client_secret")
                || reason.contains("Redirect URI")
            {
                "copy `client_id`, the secret key and `redirect_uri` exactly from the integration settings \
                 (the redirect URI must match to the trailing slash), then generate a new code"
                    .to_string()
            } else {
                format!("authorization codes are single-use and live 20 minutes: {REAUTH}")
            }
        } else {
            format!("the refresh token was revoked, expired or already used: {REAUTH}")
        };
        let detail = if what == "code" {
            format!("amoCRM refused the authorization code: {reason}")
        } else {
            format!("amoCRM refused the token refresh: {reason}")
        };
        return Err(auth_needed(detail, advice));
    }
}
