//! `source = "api"`: BILLmanager's HTTP API (`https://host:1500/billmgr`, `docs/billmanager.md`
//! §2).
//!
//! Each call is a POST of `func=<func>&<params>&out=json&authinfo=<user>:<password>` as a
//! form body. The panel accepts GET and POST alike; POST keeps the password out of the URL,
//! so it never reaches proxy or panel access logs, nor reqwest's error text (which quotes
//! the URL). `authinfo` rather than a `func=auth` session means no session can expire in the
//! middle of a backfill. Plain `http://` is refused except on loopback (tests, an SSH
//! tunnel), because the password travels in every request.

use std::io::Read;
use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::{StatusCode, Url};

use super::envelope::looks_like_doc;
use super::error::BillingError;
use super::reader::PanelReader;
use super::transport::{carried, carry, Params, Transport};
use crate::secret::Secret;

/// Calls the HTTP API with `authinfo`.
pub struct ApiTransport {
    http: Client,
    url: Url,
    user: String,
    password: Secret,
}

/// The `api` source.
pub type ApiSource = PanelReader<ApiTransport>;

impl PanelReader<ApiTransport> {
    /// A source calling `url` as `user`; each request is limited to `timeout`.
    pub fn api(
        url: &str,
        user: &str,
        password: Secret,
        timeout: Duration,
    ) -> Result<ApiSource, BillingError> {
        let bad = |why: String| BillingError::Unreachable {
            detail: format!("`[billmanager] url` {why}"),
        };
        let url = Url::parse(url).map_err(|e| bad(format!("is not a URL ({e})")))?;
        if url.scheme() != "https" && !(url.scheme() == "http" && is_loopback(&url)) {
            return Err(bad(format!(
                "= {} must use https (plain http is allowed only on 127.0.0.1/localhost), because the password is sent with every call",
                redacted(&url)
            )));
        }
        let http = Client::builder()
            .timeout(timeout)
            .user_agent(concat!("amocrm-bin/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| bad(format!("cannot be used: {e}")))?;
        Ok(PanelReader::new(ApiTransport {
            http,
            url,
            user: user.to_string(),
            password,
        }))
    }
}

impl ApiTransport {
    /// Sends one call; a successful answer's body is left to be read as it arrives.
    fn send(&self, func: &str, params: &Params<'_>) -> Result<Body, BillingError> {
        let authinfo = format!("{}:{}", self.user, self.password.expose());
        let mut form: Vec<(&str, &str)> = vec![("func", func)];
        form.extend_from_slice(params);
        form.push(("out", "json"));
        form.push(("authinfo", &authinfo));
        let where_ = redacted(&self.url);
        let unreachable = |what: String| BillingError::Unreachable {
            detail: format!("{where_} `{func}`: {what}"),
        };
        let mut resp = self
            .http
            .post(self.url.clone())
            .form(&form)
            .send()
            .map_err(|e| unreachable(describe(e)))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(Body {
                resp: Box::new(resp),
                where_: format!("{where_} `{func}`"),
            });
        }
        let mut body = Vec::new();
        resp.read_to_end(&mut body)
            .map_err(|e| unreachable(format!("HTTP {status}, and its body broke off: {e}")))?;
        if looks_like_doc(&body) {
            return Ok(Body {
                resp: Box::new(std::io::Cursor::new(body)),
                where_: format!("{where_} `{func}`"),
            });
        }
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            return Err(BillingError::AccessDenied {
                detail: format!("{where_} answered HTTP {status}"),
            });
        }
        Err(unreachable(format!("HTTP {status}")))
    }
}

impl Transport for ApiTransport {
    fn fetch(&self, func: &str, params: &Params<'_>) -> Result<Vec<u8>, BillingError> {
        let mut body = Vec::new();
        self.send(func, params)?
            .read_to_end(&mut body)
            .map_err(|e| {
                carried(e).unwrap_or_else(|e| BillingError::Unreachable {
                    detail: e.to_string(),
                })
            })?;
        Ok(body)
    }

    fn open(
        &self,
        func: &str,
        params: &Params<'_>,
    ) -> Result<Box<dyn Read + Send + '_>, BillingError> {
        Ok(Box::new(self.send(func, params)?))
    }
}

/// An answer's body as it arrives; a connection that breaks off or times out mid-list is
/// reported as unreachable (carried through the parser, see [`carry`]).
struct Body {
    resp: Box<dyn Read + Send>,
    where_: String,
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.resp.read(buf).map_err(|e| {
            carry(BillingError::Unreachable {
                detail: format!("{}: the answer broke off ({e})", self.where_),
            })
        })
    }
}

/// A transport error without the URL (it is named separately, redacted).
fn describe(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let e = e.without_url();
    let mut msg = format!("{kind}: {e}");
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    msg
}

/// The URL without user info, query or fragment, for messages.
fn redacted(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

fn is_loopback(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
