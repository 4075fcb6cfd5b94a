//! `auth`: code exchange, status, refresh rotation, bad codes, secrets never printed.

use crate::support::{run, stored_tokens, World, SECRET};

#[test]
fn auth_code_stores_tokens_and_status_shows_no_secret() {
    let w = World::new();
    let code = w.sandbox.issue_code();
    let (rc, out, err) = run(w.cmd().args(["-v", "auth", "--code", &code]));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(out.contains("Sandbox Hosting"), "{out}");
    let (access, refresh) = stored_tokens(&w.store());
    assert!(!access.is_empty() && !refresh.is_empty());
    for text in [&out, &err] {
        assert!(
            !text.contains(&access) && !text.contains(&refresh) && !text.contains(SECRET),
            "{text}"
        );
    }
    let (rc, out, _) = run(w.cmd().args(["auth", "--status", "--json"]));
    assert_eq!(rc, 0);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["refresh_token_present"], true);
    assert_eq!(v["account_name"], "Sandbox Hosting");
    assert!(!out.contains(&access) && !out.contains(&refresh));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(w.store()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[test]
fn reused_or_bad_code_exits_3_with_advice() {
    let w = World::new();
    let code = w.sandbox.issue_code();
    w.cmd().args(["auth", "--code", &code]).assert().success();
    let (rc, _, err) = run(w.cmd().args(["auth", "--code", &code]));
    assert_eq!(rc, 3, "{err}");
    assert!(err.contains("Authorization code has been revoked"), "{err}");
    assert!(err.contains("auth --code"), "{err}");
    let (rc, _, err) = run(w.cmd().args(["auth", "--code", "garbage"]));
    assert_eq!(rc, 3, "{err}");
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn status_without_auth_exits_3() {
    let w = World::new();
    let (rc, _, err) = run(w.cmd().args(["auth", "--status"]));
    assert_eq!(rc, 3, "{err}");
    assert!(err.contains("auth --code"), "{err}");
}

#[test]
fn expired_access_token_is_refreshed_and_old_refresh_token_never_reused() {
    let w = World::new();
    w.authorize();
    let (_, refresh_before) = stored_tokens(&w.store());
    w.sandbox.expire_access_tokens();
    // A sync needs the API; the 401 makes the client refresh once and retry.
    let (rc, out, err) = run(w
        .cmd()
        .args(["-vv", "sync", "--entity", "contact", "--elid", "101"]));
    assert_eq!(rc, 0, "{out}{err}");
    let (access_after, refresh_after) = stored_tokens(&w.store());
    assert_ne!(refresh_before, refresh_after, "rotated pair stored");
    let s = w.sandbox.stats();
    assert_eq!(s.refresh_grants, 1);
    assert_eq!(s.refresh_token_reuse, 0);
    for text in [&out, &err] {
        for secret in [
            &refresh_before,
            &refresh_after,
            &access_after,
            &SECRET.to_string(),
        ] {
            assert!(
                !text.contains(secret.as_str()),
                "secret leaked in -vv output"
            );
        }
    }
    // Many processes hitting an expired token at once spend the refresh token exactly once.
    w.sandbox.expire_access_tokens();
    let children: Vec<_> = (0..4).map(|_| w.spawn(&["auth", "--refresh"])).collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    assert_eq!(
        w.sandbox.stats().refresh_token_reuse,
        0,
        "no process presented a spent refresh token"
    );
}

#[test]
fn revoked_refresh_token_exits_3() {
    let w = World::new();
    w.authorize();
    w.sandbox.revoke_refresh_tokens();
    w.sandbox.expire_access_tokens();
    let (rc, _, err) = run(w
        .cmd()
        .args(["sync", "--entity", "contact", "--elid", "101"]));
    assert_eq!(rc, 3, "{err}");
    assert!(err.contains("auth --code"), "{err}");
}
