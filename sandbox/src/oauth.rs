//! OAuth 2.0 as amoCRM runs it (§2): one-time 20-minute authorization codes,
//! JWT-looking access tokens, single-use rotating refresh tokens, and the hints the
//! real server puts into its error bodies.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::hal::{self, JSON};
use crate::ids;
use crate::message::{Request, Response};

const CODE_TTL_SECS: i64 = 20 * 60;

/// Client registration and account identity the token endpoint checks against.
pub struct Client {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
    pub access_ttl: i64,
    pub account_id: i64,
    pub subdomain: String,
    pub user_id: i64,
}

struct Code {
    issued_at: i64,
    used: bool,
}

struct Access {
    expires_at: i64,
    revoked: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum RefreshState {
    Active,
    Spent,
    Revoked,
}

pub struct OAuth {
    pub client: Client,
    codes: HashMap<String, Code>,
    access: HashMap<String, Access>,
    refresh: HashMap<String, RefreshState>,
}

/// What the pipeline needs to count for the stats.
#[derive(Default)]
pub struct GrantEffects {
    pub code_grant: bool,
    pub refresh_grant: bool,
    pub refresh_reuse: bool,
}

fn oauth_error(status: u16, hint: &str) -> Response {
    let body = json!({
        "hint": hint,
        "title": "Некорректный запрос",
        "type": "https://developers.amocrm.ru/v3/errors/OAuthProblemJson",
        "status": status,
        "detail": "В запросе отсутствует ряд параметров или параметры невалидны",
    });
    Response::new(status, JSON, body.to_string().into_bytes())
}

/// JSON or form-urlencoded body as string parameters (§2.3: both are accepted).
fn params(req: &Request) -> HashMap<String, String> {
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&req.body) {
        return map
            .into_iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k, s)),
                Value::Null => None,
                other => Some((k, other.to_string())),
            })
            .collect();
    }
    form_urlencoded::parse(&req.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

impl OAuth {
    pub fn new(client: Client, preset_codes: &[String], now: i64) -> OAuth {
        let mut oauth = OAuth {
            client,
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
        };
        for code in preset_codes {
            oauth.codes.insert(
                code.clone(),
                Code {
                    issued_at: now,
                    used: false,
                },
            );
        }
        oauth
    }

    pub fn issue_code(&mut self, now: i64) -> String {
        let code = format!("def50200{}", ids::random_hex(96));
        self.codes.insert(
            code.clone(),
            Code {
                issued_at: now,
                used: false,
            },
        );
        code
    }

    /// A bearer token that is not tied to a refresh token (like a long-lived token).
    pub fn issue_access(&mut self, api_domain: &str, now: i64, ttl: i64) -> String {
        let token = self.jwt(api_domain, now, ttl);
        self.access.insert(
            token.clone(),
            Access {
                expires_at: now + ttl,
                revoked: false,
            },
        );
        token
    }

    fn jwt(&self, api_domain: &str, now: i64, ttl: i64) -> String {
        let header = json!({"typ": "JWT", "alg": "RS256"});
        let claims = json!({
            "aud": self.client.client_id,
            "jti": ids::random_hex(20),
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "sub": self.client.user_id.to_string(),
            "grant_type": "",
            "account_id": self.client.account_id,
            "base_domain": "amocrm.ru",
            "version": 2,
            "scopes": ["crm", "notifications"],
            "api_domain": api_domain,
        });
        format!(
            "{}.{}.{}",
            ids::b64url(header.to_string().as_bytes()),
            ids::b64url(claims.to_string().as_bytes()),
            ids::b64url(&ids::random_bytes(64))
        )
    }

    /// Checks `Authorization: Bearer …`; Err carries the 401 detail.
    pub fn check_bearer(&self, header: Option<&str>, now: i64) -> Result<(), &'static str> {
        let token = header
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or("Authorization header is missing")?;
        match self.access.get(token) {
            None => Err("Invalid user name or password"),
            Some(a) if a.revoked => Err("Token has been revoked"),
            Some(a) if a.expires_at <= now => Err("Token has expired"),
            Some(_) => Ok(()),
        }
    }

    pub fn expire_access(&mut self, now: i64) {
        for a in self.access.values_mut() {
            a.expires_at = a.expires_at.min(now);
        }
    }

    pub fn revoke_access(&mut self) {
        for a in self.access.values_mut() {
            a.revoked = true;
        }
    }

    pub fn revoke_refresh(&mut self) {
        for r in self.refresh.values_mut() {
            if *r == RefreshState::Active {
                *r = RefreshState::Revoked;
            }
        }
    }

    /// `POST /oauth2/access_token`.
    pub fn token_endpoint(
        &mut self,
        req: &Request,
        api_domain: &str,
        now: i64,
        fx: &mut GrantEffects,
    ) -> Response {
        let p = params(req);
        let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
        let grant = get("grant_type");
        if grant != "authorization_code" && grant != "refresh_token" {
            return oauth_error(400, "Check the `grant_type` parameter");
        }
        if get("client_id") != self.client.client_id {
            return oauth_error(400, "Check the `client_id` parameter");
        }
        if get("client_secret") != self.client.client_secret {
            return oauth_error(400, "Check the `client_secret` parameter");
        }
        let redirect = p.get("redirect_uri");
        let redirect_required = grant == "authorization_code";
        if (redirect_required || redirect.is_some())
            && redirect.map(String::as_str) != Some(self.client.redirect_uri.as_str())
        {
            return oauth_error(400, "Redirect URI is not associated with client");
        }
        if grant == "authorization_code" {
            let code = get("code");
            if code.is_empty() {
                return oauth_error(400, "Check the `code` parameter");
            }
            match self.codes.get_mut(code) {
                None => return oauth_error(400, "Cannot decrypt the authorization code"),
                Some(c) if c.used => {
                    return oauth_error(400, "Authorization code has been revoked")
                }
                Some(c) if now - c.issued_at > CODE_TTL_SECS => {
                    return oauth_error(400, "Authorization code has expired")
                }
                Some(c) => c.used = true,
            }
            fx.code_grant = true;
        } else {
            let token = get("refresh_token");
            if token.is_empty() {
                return oauth_error(400, "Check the `refresh_token` parameter");
            }
            match self.refresh.get(token).copied() {
                None => return oauth_error(400, "Invalid refresh token"),
                Some(RefreshState::Spent) => {
                    fx.refresh_reuse = true;
                    return oauth_error(401, "Token has been revoked");
                }
                Some(RefreshState::Revoked) => return oauth_error(401, "Token has been revoked"),
                Some(RefreshState::Active) => {
                    self.refresh.insert(token.to_string(), RefreshState::Spent);
                }
            }
            fx.refresh_grant = true;
        }
        let ttl = self.client.access_ttl;
        let access_token = self.issue_access(api_domain, now, ttl);
        let refresh_token = format!("def50200{}", ids::random_hex(160));
        self.refresh
            .insert(refresh_token.clone(), RefreshState::Active);
        let body = json!({
            "token_type": "Bearer",
            "expires_in": ttl,
            "server_time": now,
            "access_token": access_token,
            "refresh_token": refresh_token,
        });
        Response::new(200, JSON, body.to_string().into_bytes())
    }

    /// `GET /oauth2/account/current/subdomain` with `X-Refresh-Token` (§2.7).
    pub fn subdomain_endpoint(&self, req: &Request) -> Response {
        let active = req
            .header("x-refresh-token")
            .and_then(|t| self.refresh.get(t.trim()))
            .is_some_and(|s| *s == RefreshState::Active);
        if !active {
            return hal::problem(401, "Invalid refresh token");
        }
        let mut body = Map::new();
        body.insert("id".into(), json!(self.client.account_id));
        body.insert("subdomain".into(), json!(self.client.subdomain));
        body.insert(
            "domain".into(),
            json!(format!("{}.amocrm.ru", self.client.subdomain)),
        );
        body.insert("top_level_domain".into(), json!("ru"));
        Response::new(200, JSON, Value::Object(body).to_string().into_bytes())
    }
}
