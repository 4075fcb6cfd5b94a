//! The request pipeline: count the arrival, add latency, apply the block switch
//! and injected faults, rate-limit, authenticate, then route. The transport (hyper,
//! keep-alive, concurrent connections) is `http::serve`.

use std::net::TcpListener;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::api::Call;
use crate::faults::Fault;
use crate::hal;
use crate::http::{self, Request, Response};
use crate::oauth::GrantEffects;
use crate::query::Query;
use crate::shared::{lock, Shared};
use crate::stats::route_label;
use crate::timefmt::now;
use crate::{control, router};

enum Outcome {
    Respond(Response),
    /// Close the socket without answering.
    Drop,
}

/// Serves connections until the sandbox is dropped (transport: `http::serve`).
pub fn accept_loop(listener: TcpListener, sh: Arc<Shared>) {
    http::serve(listener, sh, |sh, req| match process(sh, req) {
        Outcome::Respond(resp) => Some(resp),
        Outcome::Drop => None,
    });
}

fn process(sh: &Shared, req: &Request) -> Outcome {
    if req.path == "/_sandbox" || req.path.starts_with("/_sandbox/") {
        return Outcome::Respond(control::handle(sh, req));
    }
    if req.path == "/calls/list" {
        let (status, body) = crate::ringostat::handle(
            &mut lock(&sh.ringostat),
            &req.method,
            &req.query,
            req.header("auth-key"),
        );
        return Outcome::Respond(Response::new(status, "application/json", body.into_bytes()));
    }
    let is_api = req.path == "/api/v4" || req.path.starts_with("/api/v4/");
    if (is_api || req.path.starts_with("/oauth2/")) && sh.gone() {
        // Vanished: a request on a connection the crash has not closed yet goes unanswered
        // and is not applied; new connections are refused (`http::serve`).
        return Outcome::Drop;
    }
    if !is_api && !req.path.starts_with("/oauth2/") {
        return Outcome::Respond(hal::problem(
            404,
            &format!("Cannot {} {}", req.method, req.path),
        ));
    }
    if is_api && req.header(BY_HAND).is_some() {
        return Outcome::Respond(by_hand(sh, req));
    }
    let arrived = Instant::now();
    lock(&sh.stats).arrival(route_label(&req.method, &req.path), arrived);
    let outcome = answer(sh, req, is_api, arrived);
    lock(&sh.stats).closed();
    outcome
}

/// Entities a request carries (a write's JSON array) or its answer lists (a page's
/// `_embedded` array): what a real amoCRM spends its time on.
fn entities(req: &Request, resp: &Response) -> u64 {
    let count = |body: &[u8]| -> u64 {
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(serde_json::Value::Array(a)) => a.len() as u64,
            Ok(v) => v
                .get("_embedded")
                .and_then(|e| e.as_object())
                .and_then(|e| e.values().find_map(|x| x.as_array()))
                .map(|a| a.len() as u64)
                .unwrap_or(0),
            Err(_) => 0,
        }
    };
    if req.method == "GET" {
        count(&resp.body)
    } else {
        count(&req.body)
    }
}

fn answer(sh: &Shared, req: &Request, is_api: bool, arrived: Instant) -> Outcome {
    let latency = sh.latency_ms.load(Ordering::Relaxed);
    if latency > 0 {
        thread::sleep(Duration::from_millis(latency));
    }
    let (resp, lost) = if sh.blocked.load(Ordering::Relaxed) {
        (hal::blocked_html(), false)
    } else {
        let fault = lock(&sh.faults).take(&req.path);
        match fault {
            Some(Fault::Status { code, .. }) => (fault_response(sh, code), false),
            Some(Fault::Drop { .. }) => return Outcome::Drop,
            Some(Fault::Delay { ms, .. }) => {
                thread::sleep(Duration::from_millis(ms));
                (serve(sh, req, is_api, arrived), false)
            }
            Some(Fault::LostResponse { .. }) => (serve(sh, req, is_api, arrived), true),
            None => (serve(sh, req, is_api, arrived), false),
        }
    };
    let per_entity = sh.latency_per_entity_ms.load(Ordering::Relaxed);
    if per_entity > 0 && (200..300).contains(&resp.status) {
        thread::sleep(Duration::from_millis(per_entity * entities(req, &resp)));
    }
    lock(&sh.stats).answered(&req.method, is_api, resp.status);
    let mut resp = resp;
    resp.headers
        .push(("X-Request-Id", crate::ids::random_hex(8)));
    if lost {
        Outcome::Drop
    } else {
        Outcome::Respond(resp)
    }
}

fn fault_response(sh: &Shared, code: u16) -> Response {
    match code {
        429 => hal::too_many(sh.retry_after_secs),
        401 => hal::problem(401, "Invalid user name or password"),
        403 => hal::blocked_html(),
        _ => hal::problem(code, "Injected fault"),
    }
}

fn host_of<'a>(sh: &'a Shared, req: &'a Request) -> &'a str {
    req.header("host").unwrap_or(sh.host())
}

/// The header that marks a request as a person's work in amoCRM's own interface (a manager
/// editing a card), which tests send through the API. amoCRM's rate limit and the
/// integration's request counts cover only the integration's API calls, so such a request
/// skips the limiter, the statistics, injected faults and latency; it is still
/// authenticated and validated like any other.
pub const BY_HAND: &str = "x-sandbox-by-hand";

fn by_hand(sh: &Shared, req: &Request) -> Response {
    if let Err(detail) = lock(&sh.oauth).check_bearer(req.header("authorization"), now()) {
        return hal::problem(401, detail);
    }
    route(sh, req)
}

fn serve(sh: &Shared, req: &Request, is_api: bool, arrived: Instant) -> Response {
    if !is_api {
        return serve_oauth(sh, req);
    }
    let admitted = {
        let mut rl = lock(&sh.limiter);
        let ok = rl.admit(arrived);
        if !ok && sh.block_after_429s.is_some_and(|n| rl.consecutive_429 >= n) {
            sh.blocked.store(true, Ordering::Relaxed);
        }
        ok
    };
    if !admitted {
        return hal::too_many(sh.retry_after_secs);
    }
    if let Err(detail) = lock(&sh.oauth).check_bearer(req.header("authorization"), now()) {
        return hal::problem(401, detail);
    }
    route(sh, req)
}

/// Routes an authenticated API request to its handler.
fn route(sh: &Shared, req: &Request) -> Response {
    let rest = req.path.trim_start_matches("/api/v4").trim_matches('/');
    let call = Call {
        method: &req.method,
        path: &req.path,
        segs: if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        },
        query: Query::parse(&req.query),
        raw_query: &req.query,
        body: &req.body,
        base: format!("http://{}", host_of(sh, req)),
    };
    let mut store = lock(&sh.store);
    catch_unwind(AssertUnwindSafe(|| router::handle(&mut store, &call)))
        .unwrap_or_else(|_| hal::problem(500, "Sandbox handler panicked"))
}

fn serve_oauth(sh: &Shared, req: &Request) -> Response {
    match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/oauth2/access_token") => {
            let mut fx = GrantEffects::default();
            let resp = lock(&sh.oauth).token_endpoint(req, host_of(sh, req), now(), &mut fx);
            let mut st = lock(&sh.stats);
            st.stats.code_grants += u64::from(fx.code_grant);
            st.stats.refresh_grants += u64::from(fx.refresh_grant);
            st.stats.refresh_token_reuse += u64::from(fx.refresh_reuse);
            resp
        }
        ("GET", "/oauth2/account/current/subdomain") => lock(&sh.oauth).subdomain_endpoint(req),
        (_, "/oauth2/access_token" | "/oauth2/account/current/subdomain") => {
            hal::problem(405, "Method not allowed")
        }
        _ => hal::problem(404, &format!("Cannot {} {}", req.method, req.path)),
    }
}
