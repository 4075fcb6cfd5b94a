//! The fake HTTP API, spoken to with a raw socket.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::{demo, elems};
use fakebill::FakeBillmanagerApi;
use serde_json::Value;

/// Sends one request and returns (status line, body).
fn send(api: &FakeBillmanagerApi, method: &str, target: &str, body: &str) -> (String, String) {
    let host = api
        .base_url()
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let mut s = TcpStream::connect(&host).unwrap();
    let req = format!(
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_string(), body.to_string())
}

fn get(api: &FakeBillmanagerApi, query: &str) -> Value {
    let (status, body) = send(api, "GET", &format!("/billmgr?{query}"), "");
    assert!(status.contains("200"), "{status}");
    serde_json::from_str(&body).unwrap()
}

fn start() -> FakeBillmanagerApi {
    FakeBillmanagerApi::start(&demo(), "admin", "pw:with%odd").unwrap()
}

#[test]
fn authinfo_get_and_post() {
    let api = start();
    assert!(
        api.base_url().starts_with("http://127.0.0.1:") && api.base_url().ends_with("/billmgr")
    );
    let doc = get(
        &api,
        "func=user&filter=on&account_id=105&out=json&authinfo=admin:pw%3Awith%25odd",
    );
    assert_eq!(elems(&doc).len(), 2);
    let (status, body) = send(
        &api,
        "POST",
        "/billmgr",
        "func=account.edit&elid=104&out=json&authinfo=admin%3Apw%3Awith%25odd",
    );
    assert!(status.contains("200"));
    assert!(body.contains("Пётр Иванов"), "{body}");
    assert_eq!(api.requests(), 2);
    assert_eq!(api.targets()[1], "/billmgr");
}

#[test]
fn bad_credentials_get_an_error_document_with_200() {
    let api = start();
    let doc = get(&api, "func=user&out=json&authinfo=admin:wrong");
    assert_eq!(doc["doc"]["error"]["$type"], "auth");
    let doc = get(&api, "func=user&out=json");
    assert_eq!(doc["doc"]["error"]["$object"], "badpassword");
}

#[test]
fn session_login_then_auth() {
    let api = start();
    let doc = get(
        &api,
        "func=auth&username=admin&password=pw%3Awith%25odd&out=json",
    );
    let session = doc["doc"]["auth"]["$id"].as_str().unwrap().to_string();
    let doc = get(&api, &format!("func=profile&out=json&auth={session}"));
    assert_eq!(elems(&doc).len(), 5);
    let doc = get(&api, "func=auth&username=admin&password=nope&out=json");
    assert_eq!(doc["doc"]["error"]["$type"], "auth");
    let doc = get(&api, "func=profile&out=json&auth=forged");
    assert!(doc["doc"]["error"].is_object());
}

#[test]
fn unknown_elid_path_down_and_stop_on_drop() {
    let api = start();
    let doc = get(
        &api,
        "func=account.edit&elid=999&out=json&authinfo=admin:pw%3Awith%25odd",
    );
    assert_eq!(doc["doc"]["error"]["$object"], "elid");
    let (status, _) = send(&api, "GET", "/other", "");
    assert!(status.contains("404"), "{status}");
    api.set_down(true);
    let (status, body) = send(&api, "GET", "/billmgr?func=user", "");
    assert!(
        status.contains("503") && body.contains("<html>"),
        "{status}"
    );
    let host = api
        .base_url()
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    drop(api);
    assert!(
        TcpStream::connect(host).is_err(),
        "the listener is closed after drop"
    );
}
