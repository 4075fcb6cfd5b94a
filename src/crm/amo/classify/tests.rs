//! The retry policy as one table: each row is an answer to one try and the verdict on it.

use std::time::{Duration, Instant};

use reqwest::Method;

use super::*;

/// One row: what was sent, which try it was, what came back, and the verdict in short.
struct Case {
    name: &'static str,
    method: Method,
    /// The try's number (from 1).
    number: u32,
    refreshes: u8,
    /// Seconds since the first try started.
    spent: u64,
    answer: Answer,
    expect: &'static str,
}

fn http(status: u16, body: &str) -> Answer {
    Answer::Http {
        status,
        retry_after: None,
        is_html: false,
        text: body.into(),
    }
}

fn html(status: u16, body: &str) -> Answer {
    Answer::Http {
        status,
        retry_after: None,
        is_html: true,
        text: body.into(),
    }
}

fn with_header(status: u16, secs: u64, body: &str) -> Answer {
    Answer::Http {
        status,
        retry_after: Some(secs),
        is_html: false,
        text: body.into(),
    }
}

fn lost(detail: &str, reached: bool) -> Answer {
    Answer::Lost {
        detail: detail.into(),
        reached,
    }
}

fn case(name: &'static str, method: Method, answer: Answer, expect: &'static str) -> Case {
    Case {
        name,
        method,
        number: 1,
        refreshes: 0,
        spent: 0,
        answer,
        expect,
    }
}

/// The verdict in a few words, so a row reads as input → outcome.
fn summary(v: &Verdict) -> String {
    match v {
        Verdict::Done(None) => "ok: nothing".into(),
        Verdict::Done(Some(body)) => format!("ok: {body}"),
        Verdict::Retry {
            wait,
            lanes,
            failure,
        } => format!(
            "retry in {} ms{}: {failure}",
            wait.as_millis(),
            if *lanes { ", lanes pause" } else { "" }
        ),
        Verdict::Refresh => "refresh".into(),
        Verdict::Failed(e) => match e {
            CrmError::AuthNeeded { detail, .. } => format!("auth needed: {detail}"),
            CrmError::Validation { items, detail, .. } => {
                let fields: Vec<String> = items
                    .iter()
                    .flat_map(|i| {
                        i.errors
                            .iter()
                            .map(move |f| format!("{} {} {}", i.request_id, f.path, f.code))
                    })
                    .collect();
                format!("rejected ({detail}): {}", fields.join(", "))
            }
            CrmError::Blocked => "blocked".into(),
            CrmError::Forbidden { detail, .. } => format!("forbidden: {detail}"),
            CrmError::PaymentRequired => "payment required".into(),
            CrmError::Unreachable { detail, .. } => format!("unreachable: {detail}"),
            CrmError::Ambiguous { detail, .. } => format!("ambiguous: {detail}"),
            CrmError::Http { status, detail, .. } => format!("http {status}: {detail}"),
            CrmError::Decode { .. } => "undecodable".into(),
        },
    }
}

const VALIDATION: &str = r#"{"title":"Bad Request","detail":"Request validation failed","validation-errors":[{"request_id":"user:7","errors":[{"code":"NotSupportedChoice","path":"custom_fields_values.0.values.0.enum_id","detail":"The value you selected is not a valid choice."}]},{"request_id":2,"errors":[{"code":"InvalidType","path":"price","detail":"This value should be of type int."}]}]}"#;

fn cases() -> Vec<Case> {
    let get = || Method::GET;
    let post = || Method::POST;
    let patch = || Method::PATCH;
    vec![
        // Success.
        case("200 with a body", get(), http(200, r#"{"id":1}"#), r#"ok: {"id":1}"#),
        case("200 empty", get(), http(200, ""), "ok: nothing"),
        case("200 blank", get(), http(200, " \n"), "ok: nothing"),
        case("204 nothing found", get(), http(204, ""), "ok: nothing"),
        case("201 created", post(), http(201, r#"{"_embedded":{}}"#), r#"ok: {"_embedded":{}}"#),
        case("202 accepted", patch(), http(202, r#"{"ok":true}"#), r#"ok: {"ok":true}"#),
        case("202 without a body", post(), http(202, ""), "ok: nothing"),
        case("200 with malformed JSON", get(), http(200, "{\"id\":"), "undecodable"),
        // Rejected data: field paths by item.
        case(
            "400 validation with field paths",
            post(),
            http(400, VALIDATION),
            "rejected (Bad Request: Request validation failed): user:7 custom_fields_values.0.values.0.enum_id NotSupportedChoice, 2 price InvalidType",
        ),
        case(
            "422 validation",
            patch(),
            http(422, r#"{"validation-errors":[{"request_id":"0","errors":[{"code":"NotBlank","path":"name","detail":"empty"}]}]}"#),
            "rejected ({\"validation-errors\":[{\"request_id\":\"0\",\"errors\":[{\"code\":\"NotBlank\",\"path\":\"name\",\"detail\":\"empty\"}]}]}): 0 name NotBlank",
        ),
        case(
            "400 without validation-errors",
            post(),
            http(400, r#"{"title":"Bad Request","detail":"Unknown filter"}"#),
            "http 400: Bad Request: Unknown filter",
        ),
        case("400 not JSON", get(), http(400, "  bad  "), "http 400: bad"),
        // Authorization.
        case("401 first", get(), http(401, r#"{"title":"Unauthorized"}"#), "refresh"),
        Case {
            refreshes: 1,
            ..case("401 after one refresh", post(), http(401, ""), "refresh")
        },
        Case {
            refreshes: 2,
            ..case(
                "401 after two refreshes",
                get(),
                http(401, ""),
                "auth needed: amoCRM rejects the freshly refreshed token",
            )
        },
        case("402 subscription ended", post(), http(402, ""), "payment required"),
        case(
            "403 problem+json",
            get(),
            http(403, r#"{"title":"Forbidden","detail":"Access denied"}"#),
            "forbidden: Forbidden: Access denied",
        ),
        case("403 HTML page", get(), html(403, "<html>blocked</html>"), "blocked"),
        case("403 HTML typed JSON", post(), html(403, "{}"), "blocked"),
        case("403 text, not JSON", get(), http(403, "Forbidden"), "blocked"),
        // Other refusals are final.
        case("404", get(), http(404, r#"{"title":"Not Found"}"#), "http 404: Not Found"),
        case("405", post(), http(405, "Method Not Allowed"), "http 405: Method Not Allowed"),
        case("409", patch(), http(409, r#"{"detail":"conflict"}"#), "http 409: conflict"),
        case("301 (redirects are not followed)", get(), http(301, ""), "http 301: "),
        // 429: the server's wait, shared by every process through the pacer.
        case(
            "429 retry_after in the body",
            post(),
            http(429, r#"{"retry_after":3}"#),
            "retry in 3000 ms: 429 Too Many Requests (retry after 3 s)",
        ),
        case(
            "429 Retry-After header",
            get(),
            with_header(429, 7, ""),
            "retry in 7000 ms: 429 Too Many Requests (retry after 7 s)",
        ),
        case(
            "429 body wins over the header",
            get(),
            with_header(429, 7, r#"{"retry_after":2}"#),
            "retry in 2000 ms: 429 Too Many Requests (retry after 2 s)",
        ),
        case(
            "429 without a wait",
            get(),
            http(429, ""),
            "retry in 1000 ms: 429 Too Many Requests (retry after 1 s)",
        ),
        case(
            "429 retry_after 0 waits 1 s",
            get(),
            http(429, r#"{"retry_after":0}"#),
            "retry in 1000 ms: 429 Too Many Requests (retry after 1 s)",
        ),
        case(
            "429 asking for more than the budget",
            get(),
            http(429, r#"{"retry_after":900}"#),
            "unreachable: gave up after 1 attempt in 0.0 s (the retry budget is 60 s); last: 429 Too Many Requests (retry after 300 s)",
        ),
        // 5xx: back off, every lane pauses, even for a create (amoCRM did not apply it).
        case(
            "500",
            get(),
            http(500, r#"{"title":"Internal Server Error"}"#),
            "retry in 500 ms, lanes pause: HTTP 500: Internal Server Error",
        ),
        case("502 to a create", post(), http(502, "Bad Gateway"), "retry in 500 ms, lanes pause: HTTP 502: Bad Gateway"),
        case("503", patch(), http(503, ""), "retry in 500 ms, lanes pause: HTTP 503: "),
        Case {
            number: 7,
            spent: 5,
            ..case(
                "504 at the last attempt",
                get(),
                http(504, "Gateway Timeout"),
                "unreachable: gave up after 7 attempts in 5.0 s (the retry budget is 60 s); last: HTTP 504: Gateway Timeout",
            )
        },
        Case {
            number: 2,
            spent: 40,
            ..case(
                "500 past the budget",
                get(),
                http(500, ""),
                "unreachable: gave up after 2 attempts in 40.0 s (the retry budget is 60 s); last: HTTP 500: ",
            )
        },
        // Transport failures: before sending, any request is tried again; after a write
        // was sent, a create is not (it may have been applied).
        case(
            "GET refused",
            get(),
            lost("connection failed: refused", false),
            "retry in 500 ms, lanes pause: connection failed: refused",
        ),
        case(
            "POST refused before sending",
            post(),
            lost("connection failed: refused", false),
            "retry in 500 ms, lanes pause: connection failed: refused",
        ),
        case(
            "POST reset after sending",
            post(),
            lost("connection broke while reading the answer", true),
            "ambiguous: connection broke while reading the answer",
        ),
        case("POST timed out", post(), lost("timed out", true), "ambiguous: timed out"),
        case(
            "PATCH timed out (idempotent)",
            patch(),
            lost("timed out", true),
            "retry in 500 ms, lanes pause: timed out",
        ),
        case("GET timed out", get(), lost("timed out", true), "retry in 500 ms, lanes pause: timed out"),
        Case {
            number: 2,
            spent: 41,
            ..case(
                "GET timed out twice at 20 s",
                get(),
                lost("timed out", true),
                "unreachable: gave up after 2 attempts in 41.0 s (the retry budget is 60 s); last: timed out",
            )
        },
    ]
}

#[test]
fn every_answer_gets_the_verdict_of_the_retry_policy() {
    let started = Instant::now();
    let cases = cases();
    assert!(cases.len() >= 28, "{} cases", cases.len());
    let mut failures = Vec::new();
    for c in cases {
        let request = format!("{} /api/v4/leads", c.method);
        let at = Attempt {
            method: &c.method,
            request: &request,
            number: c.number,
            refreshes: c.refreshes,
            spent: Duration::from_secs(c.spent),
            timeout: Duration::from_secs(20),
            backoff: Duration::from_millis(500),
        };
        let got = summary(&classify(&at, c.answer));
        if got != c.expect {
            failures.push(format!(
                "{}:\n  expected {}\n  got      {got}",
                c.name, c.expect
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn a_429_penalizes_every_process_even_when_the_request_gives_up() {
    assert_eq!(
        http(429, r#"{"retry_after":900}"#).penalty(),
        Some(Duration::from_secs(300))
    );
    assert_eq!(
        with_header(429, 4, "").penalty(),
        Some(Duration::from_secs(4))
    );
    assert_eq!(http(500, "").penalty(), None);
    assert_eq!(lost("timed out", true).penalty(), None);
}
