//! `/_sandbox/...`: the HTTP control API for the binary mode (stats, faults,
//! codes, token switches, latency, rate limit, block switch, entity access).
//! Not counted in stats and never rate-limited.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::faults::Fault;
use crate::hal::JSON;
use crate::http::{Request, Response};
use crate::inspect;
use crate::shared::Shared;

fn reply(status: u16, body: &Value) -> Response {
    Response::new(status, JSON, body.to_string().into_bytes())
}

fn ok() -> Response {
    reply(200, &json!({"ok": true}))
}

fn error(status: u16, msg: &str) -> Response {
    reply(status, &json!({"error": msg}))
}

fn body<T: for<'de> Deserialize<'de>>(req: &Request) -> Result<T, Response> {
    serde_json::from_slice(&req.body).map_err(|e| error(400, &format!("bad body: {e}")))
}

#[derive(Deserialize)]
struct Ms {
    ms: u64,
}

#[derive(Deserialize)]
struct Rps {
    rps: u32,
}

#[derive(Deserialize)]
struct Vanish {
    after: u64,
    /// Back by itself this long after vanishing (the control API is gone with it).
    for_ms: u64,
}

#[derive(Deserialize)]
struct Blocked {
    blocked: bool,
}

pub fn handle(sh: &Shared, req: &Request) -> Response {
    let path = req
        .path
        .trim_start_matches("/_sandbox")
        .trim_end_matches('/');
    let result = match (req.method.as_str(), path) {
        ("GET", "/stats") => Ok(reply(
            200,
            &serde_json::to_value(sh.stats()).unwrap_or_default(),
        )),
        ("POST", "/stats/reset") => Ok({
            sh.reset_stats();
            ok()
        }),
        ("POST", "/faults") => body::<Fault>(req).map(|f| {
            sh.inject(f);
            ok()
        }),
        ("DELETE", "/faults") => Ok({
            sh.clear_faults();
            ok()
        }),
        ("POST", "/codes") => Ok(reply(200, &json!({"code": sh.issue_code()}))),
        ("POST", "/tokens/access") => Ok(reply(
            200,
            &json!({"access_token": sh.issue_access_token()}),
        )),
        ("POST", "/tokens/expire") => Ok({
            sh.expire_access_tokens();
            ok()
        }),
        ("POST", "/tokens/revoke-refresh") => Ok({
            sh.revoke_refresh_tokens();
            ok()
        }),
        ("POST", "/tokens/revoke-access") => Ok({
            sh.revoke_access_tokens();
            ok()
        }),
        ("POST", "/latency") => body::<Ms>(req).map(|b| {
            sh.set_latency_ms(b.ms);
            ok()
        }),
        ("POST", "/rate-limit") => body::<Rps>(req).map(|b| {
            sh.set_rate_limit(b.rps);
            ok()
        }),
        ("POST", "/vanish") => body::<Vanish>(req).map(|b| {
            sh.vanish_after(b.after, b.for_ms);
            ok()
        }),
        ("POST", "/blocked") => body::<Blocked>(req).map(|b| {
            sh.set_blocked(b.blocked);
            ok()
        }),
        (method, p) if p.starts_with("/entities/") => {
            Ok(entities(sh, req, method, &p["/entities/".len()..]))
        }
        _ => Err(error(404, "unknown control route")),
    };
    result.unwrap_or_else(|resp| resp)
}

fn entities(sh: &Shared, req: &Request, method: &str, kind: &str) -> Response {
    match method {
        "GET" => match inspect::entities(sh, kind) {
            Some(list) => reply(200, &Value::Array(list)),
            None => error(404, "unknown kind"),
        },
        "POST" => match serde_json::from_slice::<Value>(&req.body) {
            Ok(item) => match inspect::insert(sh, kind, &item) {
                Ok(id) => reply(200, &json!({"id": id})),
                Err(e) => error(400, &e),
            },
            Err(e) => error(400, &format!("bad body: {e}")),
        },
        _ => error(405, "method not allowed"),
    }
}
