//! OAuth, rate limiting, blocking, fault injection and the control API.

mod common;

use std::time::Duration;

use common::{send, try_send, Env};
use sandbox::{Fault, Sandbox, SandboxConfig};
use serde_json::json;

fn token_request(base: &str, body: serde_json::Value) -> common::Resp {
    send(
        base,
        "POST",
        "/oauth2/access_token",
        &[("Content-Type", "application/json")],
        Some(&body.to_string()),
    )
}

#[test]
fn oauth_code_refresh_rotation_and_revocation() {
    let sb = Sandbox::start(SandboxConfig {
        preset_codes: vec!["preset-1".into()],
        ..SandboxConfig::default()
    })
    .unwrap();
    let base = sb.base_url();
    let grant = |code: &str| {
        json!({"client_id": "sandbox-client-id", "client_secret": "sandbox-client-secret", "grant_type": "authorization_code",
               "code": code, "redirect_uri": "https://example.com/amocrm/callback"})
    };
    let r = token_request(&base, grant("preset-1"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    let tokens = r.json();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 86400);
    let access = tokens["access_token"].as_str().unwrap().to_string();
    assert_eq!(access.split('.').count(), 3);
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();

    let again = token_request(&base, grant("preset-1"));
    assert_eq!(
        (again.status, again.json()["hint"].as_str()),
        (400, Some("Authorization code has been revoked"))
    );
    assert_eq!(
        token_request(&base, grant("garbage")).json()["hint"],
        "Cannot decrypt the authorization code"
    );
    let mut bad = grant(&sb.issue_code());
    bad["redirect_uri"] = json!("https://example.com/amocrm/callback/");
    assert_eq!(
        token_request(&base, bad).json()["hint"],
        "Redirect URI is not associated with client"
    );
    let mut bad = grant(&sb.issue_code());
    bad["client_secret"] = json!("nope");
    assert_eq!(
        token_request(&base, bad).json()["hint"],
        "Check the `client_secret` parameter"
    );

    let bearer = format!("Bearer {access}");
    let ok = send(
        &base,
        "GET",
        "/api/v4/account",
        &[("Authorization", &bearer)],
        None,
    );
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("Content-Type"), Some("application/hal+json"));
    let anon = send(&base, "GET", "/api/v4/account", &[], None);
    assert_eq!(anon.status, 401);
    assert_eq!(
        anon.header("Content-Type"),
        Some("application/problem+json")
    );
    assert_eq!(anon.json()["title"], "Unauthorized");

    // Refresh rotation, form-encoded like the PHP SDK.
    let form = format!(
        "client_id=sandbox-client-id&client_secret=sandbox-client-secret&grant_type=refresh_token&refresh_token={refresh}&redirect_uri=https%3A%2F%2Fexample.com%2Famocrm%2Fcallback"
    );
    let r = send(
        &base,
        "POST",
        "/oauth2/access_token",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(&form),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let refresh2 = r.json()["refresh_token"].as_str().unwrap().to_string();
    let reuse = send(
        &base,
        "POST",
        "/oauth2/access_token",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(&form),
    );
    assert_eq!(
        (reuse.status, reuse.json()["hint"].as_str()),
        (401, Some("Token has been revoked"))
    );
    let unknown = token_request(
        &base,
        json!({"client_id": "sandbox-client-id", "client_secret": "sandbox-client-secret", "grant_type": "refresh_token", "refresh_token": "x"}),
    );
    assert_eq!(unknown.json()["hint"], "Invalid refresh token");

    let sub = send(
        &base,
        "GET",
        "/oauth2/account/current/subdomain",
        &[("X-Refresh-Token", &refresh2)],
        None,
    );
    assert_eq!(sub.json()["subdomain"], "sandbox");

    sb.revoke_access_tokens();
    assert_eq!(
        send(
            &base,
            "GET",
            "/api/v4/account",
            &[("Authorization", &bearer)],
            None
        )
        .status,
        401
    );
    sb.revoke_refresh_tokens();
    let revoked = token_request(
        &base,
        json!({"client_id": "sandbox-client-id", "client_secret": "sandbox-client-secret", "grant_type": "refresh_token", "refresh_token": refresh2}),
    );
    assert_eq!(revoked.status, 401);

    let st = sb.stats();
    assert_eq!(
        (st.code_grants, st.refresh_grants, st.refresh_token_reuse),
        (1, 1, 1)
    );
    assert!(st.unauthorized >= 4);
}

#[test]
fn rate_limit_then_block() {
    let env = Env::with(SandboxConfig {
        rate_limit_rps: 7,
        retry_after_secs: 2,
        block_after_429s: Some(3),
        ..SandboxConfig::default()
    });
    let statuses: Vec<u16> = (0..10).map(|_| env.get("/api/v4/account").status).collect();
    assert_eq!(&statuses[..7], &[200; 7]);
    let r = env.get("/api/v4/account");
    assert_eq!(r.status, 403);
    assert!(r.body.contains("<center>nginx</center>"));
    assert_eq!(r.header("Content-Type"), Some("text/html"));
    let st = env.sb.stats();
    assert_eq!(st.status_429, 3);
    assert_eq!(st.requests, 11);
    assert!(st.max_per_second >= 10);
    assert_eq!(st.by_route["GET /api/v4/account"], 11);
    env.sb.set_blocked(false);
    std::thread::sleep(Duration::from_millis(1050));
    assert_eq!(env.get("/api/v4/account").status, 200);
}

#[test]
fn retry_after_in_429_body() {
    let env = Env::with(SandboxConfig {
        rate_limit_rps: 1,
        retry_after_secs: 5,
        ..SandboxConfig::default()
    });
    assert_eq!(env.get("/api/v4/account").status, 200);
    let r = env.get("/api/v4/account");
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["retry_after"], 5);
}

#[test]
fn faults_status_drop_lost_and_delay() {
    let env = Env::new();
    let body = json!([{"name": "Faulty"}]);
    env.sb.inject(Fault::Status {
        code: 503,
        count: 1,
        path_prefix: Some("/api/v4/contacts".into()),
    });
    assert_eq!(
        env.get("/api/v4/account").status,
        200,
        "prefix must not match"
    );
    assert_eq!(env.post("/api/v4/contacts", body.clone()).status, 503);
    assert!(
        env.sb.entities("contacts").is_empty(),
        "a faulted write is not applied"
    );

    env.sb.inject(Fault::Drop {
        count: 1,
        path_prefix: None,
    });
    let auth = env.auth.clone();
    let dropped = try_send(
        &env.base,
        "POST",
        "/api/v4/contacts",
        &[("Authorization", &auth)],
        Some(&body.to_string()),
    );
    assert!(dropped.is_err());
    assert!(env.sb.entities("contacts").is_empty());

    env.sb.inject(Fault::LostResponse {
        count: 1,
        path_prefix: None,
    });
    let lost = try_send(
        &env.base,
        "POST",
        "/api/v4/contacts",
        &[("Authorization", &auth)],
        Some(&body.to_string()),
    );
    assert!(lost.is_err());
    assert_eq!(
        env.sb.entities("contacts").len(),
        1,
        "a lost response was still applied"
    );

    env.sb.inject(Fault::Delay {
        ms: 150,
        count: 1,
        path_prefix: None,
    });
    let t0 = std::time::Instant::now();
    assert_eq!(env.get("/api/v4/account").status, 200);
    assert!(t0.elapsed() >= Duration::from_millis(150));

    let st = env.sb.stats();
    assert_eq!(st.status_5xx, 1);
    assert_eq!(st.writes, 1);
}

#[test]
fn control_api_over_http() {
    let env = Env::new();
    let b = &env.base;
    let code = send(b, "POST", "/_sandbox/codes", &[], None).json()["code"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(code.starts_with("def502"));
    let fault =
        json!({"kind": "status", "code": 500, "count": 1, "path_prefix": "/api/v4/account"});
    assert_eq!(
        send(b, "POST", "/_sandbox/faults", &[], Some(&fault.to_string())).status,
        200
    );
    assert_eq!(env.get("/api/v4/account").status, 500);
    let created = send(
        b,
        "POST",
        "/_sandbox/entities/contacts",
        &[],
        Some(r#"{"name":"From site"}"#),
    )
    .json();
    assert!(created["id"].as_i64().unwrap() > 0);
    let list = send(b, "GET", "/_sandbox/entities/contacts", &[], None).json();
    assert_eq!(list[0]["name"], "From site");
    let stats = send(b, "GET", "/_sandbox/stats", &[], None).json();
    assert_eq!(stats["status_5xx"], 1);
    assert_eq!(
        stats["requests"], 1,
        "control calls and inserts are not counted"
    );
    send(
        b,
        "POST",
        "/_sandbox/blocked",
        &[],
        Some(r#"{"blocked":true}"#),
    );
    assert_eq!(env.get("/api/v4/account").status, 403);
    send(
        b,
        "POST",
        "/_sandbox/blocked",
        &[],
        Some(r#"{"blocked":false}"#),
    );
    send(b, "POST", "/_sandbox/tokens/expire", &[], None);
    assert_eq!(env.get("/api/v4/account").status, 401);
}

#[test]
fn a_persons_work_in_the_interface_is_neither_rate_limited_nor_counted_but_still_authenticated() {
    let env = Env::with(SandboxConfig {
        rate_limit_rps: 1,
        ..SandboxConfig::default()
    });
    assert_eq!(env.get("/api/v4/account").status, 200);
    let by_hand = |auth: &str| {
        send(
            &env.base,
            "GET",
            "/api/v4/account",
            &[("Authorization", auth), (sandbox::BY_HAND, "1")],
            None,
        )
        .status
    };
    for _ in 0..5 {
        assert_eq!(by_hand(&env.auth), 200, "a person is not the integration");
    }
    assert_eq!(by_hand("Bearer nope"), 401);
    let st = env.sb.stats();
    assert_eq!(st.requests, 1, "only the integration's request counts");
    assert_eq!(st.status_429, 0);
    // The integration's own second request in that second is still refused.
    assert_eq!(env.get("/api/v4/account").status, 429);
}
