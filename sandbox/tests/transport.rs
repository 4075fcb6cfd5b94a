//! The transport: keep-alive, pipelining, several clients at once, and a dropped
//! connection that ends a kept-alive connection without an answer.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::Env;
use sandbox::{Fault, SandboxConfig};

/// Reads one response (status and body) from a kept-alive connection by its Content-Length.
fn read_response(r: &mut BufReader<TcpStream>) -> std::io::Result<(u16, String)> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut len = 0;
    loop {
        line.clear();
        r.read_line(&mut line)?;
        if line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body)?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// One kept-alive connection to the sandbox: its host, a writer and a buffered reader.
fn connect(env: &Env) -> (String, TcpStream, BufReader<TcpStream>) {
    let host = env.base.trim_start_matches("http://").to_string();
    let stream = TcpStream::connect(&host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let w = stream.try_clone().unwrap();
    (host, w, BufReader::new(stream))
}

fn get(host: &str, auth: &str, path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n\r\n")
}

#[test]
fn one_connection_carries_many_requests_in_turn_and_pipelined() {
    let env = Env::new();
    let (host, mut w, mut r) = connect(&env);
    for _ in 0..3 {
        w.write_all(get(&host, &env.auth, "/api/v4/account").as_bytes())
            .unwrap();
        let (status, body) = read_response(&mut r).unwrap();
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("\"id\""), "{body}");
    }
    // Pipelined: three requests written at once, answered in order on the same socket.
    let batch = ["/api/v4/account", "/api/v4/nothing-here", "/api/v4/account"]
        .map(|p| get(&host, &env.auth, p))
        .concat();
    w.write_all(batch.as_bytes()).unwrap();
    let statuses: Vec<u16> = (0..3).map(|_| read_response(&mut r).unwrap().0).collect();
    assert_eq!(statuses, [200, 404, 200]);
    assert_eq!(
        env.sb.stats().requests,
        6,
        "the unknown path is an API 404 too"
    );
}

#[test]
fn several_clients_at_once_are_served_side_by_side() {
    // Each request waits 400 ms inside the sandbox; eight served one after another would
    // take 3.2 s, served side by side well under half of that.
    let env = Env::with(SandboxConfig {
        rate_limit_rps: 0,
        latency_ms: 400,
        ..SandboxConfig::default()
    });
    let t = Instant::now();
    let clients: Vec<_> = (0..8)
        .map(|i| {
            let (base, auth) = (env.base.clone(), env.auth.clone());
            std::thread::spawn(move || {
                let body = format!(r#"[{{"name": "Client {i}"}}]"#);
                common::send(
                    &base,
                    "POST",
                    "/api/v4/contacts",
                    &[
                        ("Authorization", &auth),
                        ("Content-Type", "application/json"),
                    ],
                    Some(&body),
                )
                .status
            })
        })
        .collect();
    let statuses: Vec<u16> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let elapsed = t.elapsed();
    assert_eq!(statuses, [200; 8]);
    assert_eq!(env.sb.entities("contacts").len(), 8);
    assert!(
        elapsed < Duration::from_millis(1600),
        "eight clients took {elapsed:?}: served one at a time?"
    );
}

#[test]
fn a_dropped_connection_ends_a_kept_alive_connection_without_an_answer() {
    let env = Env::new();
    let (host, mut w, mut r) = connect(&env);
    w.write_all(get(&host, &env.auth, "/api/v4/account").as_bytes())
        .unwrap();
    assert_eq!(read_response(&mut r).unwrap().0, 200);
    env.sb.inject(Fault::Drop {
        count: 1,
        path_prefix: None,
    });
    w.write_all(get(&host, &env.auth, "/api/v4/account").as_bytes())
        .unwrap();
    let mut rest = Vec::new();
    let _ = r.read_to_end(&mut rest);
    assert!(
        rest.is_empty(),
        "nothing is written: {}",
        String::from_utf8_lossy(&rest)
    );
}

#[test]
fn vanishing_after_n_requests_closes_open_connections_refuses_new_ones_until_revived() {
    let env = Env::new();
    let (host, mut w, mut r) = connect(&env);
    env.sb.vanish_after(2);
    for _ in 0..2 {
        w.write_all(get(&host, &env.auth, "/api/v4/account").as_bytes())
            .unwrap();
        assert_eq!(read_response(&mut r).unwrap().0, 200);
    }
    assert!(!env.sb.is_down() && env.sb.vanished_at().is_none());
    // The third finds it gone: no answer on the open connection, and it was not applied.
    let body = r#"[{"name": "Never"}]"#;
    let post = format!(
        "POST /api/v4/contacts HTTP/1.1\r\nHost: {host}\r\nAuthorization: {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        env.auth,
        body.len()
    );
    w.write_all(post.as_bytes()).unwrap();
    assert!(read_response(&mut r).is_err(), "answered after vanishing");
    assert!(env.sb.is_down() && env.sb.vanished_at().is_some());
    assert!(env.sb.entities("contacts").is_empty());
    // Nothing listens: connecting is refused (polled: the listener closes within ~20 ms).
    let start = Instant::now();
    while TcpStream::connect(&host).is_ok() {
        assert!(start.elapsed() < Duration::from_secs(5), "still listening");
        std::thread::sleep(Duration::from_millis(10));
    }
    let refused = TcpStream::connect(&host).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    // Back on the same port.
    env.sb.revive();
    let start = Instant::now();
    let (_, mut w, mut r) = loop {
        if TcpStream::connect(&host).is_ok() {
            break connect(&env);
        }
        assert!(start.elapsed() < Duration::from_secs(5), "not back");
        std::thread::sleep(Duration::from_millis(10));
    };
    w.write_all(get(&host, &env.auth, "/api/v4/account").as_bytes())
        .unwrap();
    assert_eq!(read_response(&mut r).unwrap().0, 200);
}
