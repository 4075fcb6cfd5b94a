//! A tiny blocking HTTP/1.1 client over std TcpStream for the sandbox tests
//! (keeps the test build free of an HTTP client crate).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use sandbox::{Sandbox, SandboxConfig};
use serde_json::Value;

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request on its own connection (`Connection: close`, read to the end); Err
/// when the server closed without answering.
pub fn try_send(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Result<Resp, String> {
    let host = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(host).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = body.unwrap_or("");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    if raw.is_empty() {
        return Err("connection closed without a response".into());
    }
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no header end")?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(Resp {
        status,
        headers,
        body: body.to_string(),
    })
}

pub fn send(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Resp {
    try_send(base, method, path, headers, body).unwrap()
}

/// A sandbox without rate limiting plus a valid bearer token.
pub struct Env {
    pub sb: Sandbox,
    pub base: String,
    pub auth: String,
}

impl Env {
    pub fn new() -> Env {
        Env::with(SandboxConfig {
            rate_limit_rps: 0,
            ..SandboxConfig::default()
        })
    }

    pub fn with(cfg: SandboxConfig) -> Env {
        let sb = Sandbox::start(cfg).unwrap();
        let base = sb.base_url();
        let auth = format!("Bearer {}", sb.issue_access_token());
        Env { sb, base, auth }
    }

    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        let body = body.map(|b| b.to_string());
        send(
            &self.base,
            method,
            path,
            &[
                ("Authorization", &self.auth),
                ("Content-Type", "application/json"),
            ],
            body.as_deref(),
        )
    }

    pub fn get(&self, path: &str) -> Resp {
        self.call("GET", path, None)
    }

    pub fn post(&self, path: &str, body: Value) -> Resp {
        self.call("POST", path, Some(body))
    }

    pub fn patch(&self, path: &str, body: Value) -> Resp {
        self.call("PATCH", path, Some(body))
    }
}

/// The error codes and paths of a 400 validation answer.
pub fn errors(resp: &Resp) -> Vec<(String, String)> {
    assert_eq!(resp.status, 400, "{}", resp.body);
    let v = resp.json();
    v["validation-errors"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|item| item["errors"].as_array().unwrap().clone())
        .map(|e| {
            (
                e["code"].as_str().unwrap().to_string(),
                e["path"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}
