//! The client's steps against a scripted HTTP server on loopback: one request goes out and
//! is judged on the calling thread; the pool answers every job it was handed.

use std::io::{BufRead, BufReader, Read, Write as _};
use std::net::TcpListener;
use std::thread::JoinHandle;

use serde_json::json;

use super::*;
use crate::secret::Secret;

/// Serves `n` requests, one connection each, answering by `answer(request line)` (an empty
/// answer closes the connection unanswered); yields the request lines it saw.
fn serve(n: usize, answer: fn(&str) -> &'static str) -> (String, JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for stream in listener.incoming().take(n) {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut length = 0;
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                if header.trim().is_empty() {
                    break;
                }
                if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            reader.read_exact(&mut vec![0; length]).unwrap();
            let reply = answer(&line);
            if !reply.is_empty() {
                let (status, body) = reply.split_once(' ').unwrap_or((reply, ""));
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                stream.write_all(head.as_bytes()).unwrap();
                stream.write_all(body.as_bytes()).unwrap();
            }
            seen.push(line.trim().to_string());
        }
        seen
    });
    (addr, handle)
}

fn client<'a>(store: &'a Store, base_url: &str) -> AmoClient<'a> {
    let cfg = ClientConfig {
        base_url: base_url.to_string(),
        timeout: Duration::from_secs(5),
        rps: 100,
        pace_file: None,
    };
    AmoClient::new(cfg, store, TokenSource::LongLived(Secret::new("token"))).unwrap()
}

#[test]
fn one_request_is_sent_once_and_answers_its_body() {
    let store = Store::open_in_memory().unwrap();
    let (url, server) = serve(1, |_| r#"200 {"id":1}"#);
    let c = client(&store, &url);
    let q = [("limit".to_string(), "1".to_string())];
    assert_eq!(
        c.get("/api/v4/account", &q).unwrap(),
        Some(json!({"id": 1}))
    );
    assert_eq!(
        server.join().unwrap(),
        ["GET /api/v4/account?limit=1 HTTP/1.1"]
    );
    let s = c.stats();
    assert_eq!((s.requests, s.writes, s.retries), (1, 0, 0));
}

#[test]
fn a_create_whose_answer_is_lost_is_ambiguous_and_not_sent_again() {
    let store = Store::open_in_memory().unwrap();
    let (url, server) = serve(2, |line| match line.starts_with("POST") {
        true => "",
        false => "204",
    });
    let c = client(&store, &url);
    let r = c.post("/api/v4/leads", &json!([{"name": "x"}]));
    assert!(matches!(r, Err(CrmError::Ambiguous { .. })), "{r:?}");
    // A lost answer concerns one request: the run goes on.
    assert_eq!(c.get("/api/v4/leads", &[]).unwrap(), None);
    assert_eq!(
        server.join().unwrap(),
        ["POST /api/v4/leads HTTP/1.1", "GET /api/v4/leads HTTP/1.1"]
    );
    let s = c.stats();
    assert_eq!((s.requests, s.writes, s.retries), (2, 1, 0));
}

#[test]
fn a_rejected_long_lived_token_needs_a_new_authorization() {
    let store = Store::open_in_memory().unwrap();
    let (url, server) = serve(1, |_| "401");
    let r = client(&store, &url).get("/api/v4/account", &[]);
    assert!(matches!(r, Err(CrmError::AuthNeeded { .. })), "{r:?}");
    server.join().unwrap();
}

/// Jobs handed out at once; every answer by job number; stops after `stop_after` answers.
struct Jobs {
    jobs: Vec<Job>,
    answers: Vec<(usize, Result<Option<Value>, CrmError>)>,
    stop_after: usize,
}

impl JobFeed for Jobs {
    fn more(&mut self, _room: usize, _idle: bool) -> Vec<Job> {
        std::mem::take(&mut self.jobs)
    }
    fn meanwhile(&mut self) -> bool {
        false
    }
    fn answered(&mut self, index: usize, result: Result<Option<Value>, CrmError>) -> Flow {
        self.answers.push((index, result));
        match self.answers.len() >= self.stop_after {
            true => Flow::Stop,
            false => Flow::Continue(Vec::new()),
        }
    }
}

fn jobs(paths: &[&str], stop_after: usize) -> Jobs {
    Jobs {
        jobs: paths
            .iter()
            .map(|p| Job::new(Method::GET, p, Vec::new(), None))
            .collect(),
        answers: Vec::new(),
        stop_after,
    }
}

#[test]
fn the_pool_answers_every_job_and_a_refusal_concerns_its_job_only() {
    let store = Store::open_in_memory().unwrap();
    let (url, server) = serve(3, |line| match line.split(' ').nth(1) {
        Some("/a") => r#"200 {"a":1}"#,
        Some("/b") => r#"404 {"title":"Not Found"}"#,
        _ => "204",
    });
    let c = client(&store, &url);
    let mut feed = jobs(&["/a", "/b", "/c"], usize::MAX);
    c.run_fed(2, &mut feed).unwrap();
    feed.answers.sort_by_key(|(i, _)| *i);
    let got: Vec<String> = feed
        .answers
        .iter()
        .map(|(i, r)| match r {
            Ok(v) => format!("{i}: {v:?}"),
            Err(e) => format!("{i}: {e}"),
        })
        .collect();
    assert_eq!(
        got,
        [
            r#"0: Some(Object {"a": Number(1)})"#,
            "1: amoCRM has no such route: GET /b answered 404 Not Found (Not Found)",
            "2: None",
        ]
    );
    assert_eq!(server.join().unwrap().len(), 3);
    assert_eq!(c.stats().requests, 3);
}

#[test]
fn after_a_stop_the_jobs_not_started_are_answered_not_sent() {
    let store = Store::open_in_memory().unwrap();
    let (url, server) = serve(1, |_| "204");
    let c = client(&store, &url);
    let mut feed = jobs(&["/a", "/b", "/c"], 1);
    c.run_fed(1, &mut feed).unwrap();
    assert_eq!(server.join().unwrap(), ["GET /a HTTP/1.1"]);
    assert!(matches!(feed.answers[0], (0, Ok(None))));
    for (n, (i, r)) in feed.answers.iter().enumerate().skip(1) {
        assert_eq!(*i, n);
        let text = r.as_ref().unwrap_err().to_string();
        assert!(text.contains(super::super::outage::NOT_SENT), "{text}");
    }
    assert_eq!(feed.answers.len(), 3);
    assert_eq!(c.stats().requests, 1);
}
