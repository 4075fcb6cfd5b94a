//! An emulator of Ringostat's call-log export, `GET /calls/list` (amocrm-bin's
//! docs/calls.md §2.8 and shared/reference/calls-facts.md §2): the `Auth-key` header,
//! `export_type`, `from`/`to` as `YYYY-MM-DD HH:MM:SS` (inclusive, compared as the
//! account's wall-clock time, as `calldate` is written), `fields` (call-log names only),
//! `order` (`calldate asc|desc`), `projectId`, and at most 6 500 calls per answer, cut
//! without a warning, so a client that does not split its period loses calls here too.
//!
//! UNCONFIRMED and chosen strict: a wrong or missing key answers 401 (client code treats
//! 401 as "wrong Auth-key" and 403 as "forbidden"); an unknown field, a malformed time or a
//! missing `from`/`to` answers 400 (the real API defaults `to` to now and `from` to a day
//! earlier; amocrm-bin always sends both); `export_type=csv` and `merge` other than 0 are
//! not emulated (400). The handler is a pure function of the request, so it does not
//! depend on the HTTP server that carries it.

use serde_json::{json, Map, Value};

/// Ringostat's cap on calls per answer.
pub const MAX_ROWS: usize = 6500;

/// The call-log field names ([R-PKG] default `fields`, plus `employee_fio` from [OKAY]).
pub const FIELDS: &[&str] = &[
    "caller",
    "dst",
    "pool_name",
    "disposition",
    "calldate",
    "category_mark",
    "duration",
    "call_type",
    "waittime",
    "billsec",
    "connected_with",
    "call_counter",
    "proper_flag",
    "repeated_flag",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "uniqueid",
    "category_number",
    "employee_number",
    "employee_mark",
    "client_id",
    "remote_ip",
    "refferrer",
    "landing",
    "recording",
    "recording_wav",
    "call_card",
    "additional_number",
    "has_recording",
    "scheme_name",
    "duration_ms",
    "department",
    "caller_number",
    "employee_fio",
];

/// The emulated project: its key, id, calls, and the requests it answered.
#[derive(Debug, Default)]
pub struct CallLog {
    /// The project's Auth-key; `None`: every request is refused.
    pub key: Option<String>,
    /// The project id; when set, a `projectId` that differs is refused.
    pub project_id: Option<String>,
    /// Calls as rows keyed by call-log field names (values as Ringostat writes them).
    pub calls: Vec<Map<String, Value>>,
    /// The query string of every request that passed the key check.
    pub requests: Vec<String>,
}

fn is_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

fn error(status: u16, message: &str) -> (u16, String) {
    (status, json!({ "error": message }).to_string())
}

/// Answers one request: (HTTP status, JSON body).
pub fn handle(
    log: &mut CallLog,
    method: &str,
    query: &str,
    auth_key: Option<&str>,
) -> (u16, String) {
    if method != "GET" {
        return error(405, "Method not allowed");
    }
    match (&log.key, auth_key) {
        (Some(want), Some(got)) if want == got.trim() => {}
        _ => return error(401, "Unauthorized"),
    }
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    if let (Some(want), Some(got)) = (&log.project_id, get("projectId")) {
        if want != got {
            return error(403, "Forbidden");
        }
    }
    log.requests.push(query.to_string());
    match get("export_type").unwrap_or("json") {
        "json" => {}
        other => return error(400, &format!("export_type `{other}` is not emulated")),
    }
    if get("merge").is_some_and(|m| m != "0") {
        return error(400, "merge other than 0 is not emulated");
    }
    let (Some(from), Some(to)) = (get("from"), get("to")) else {
        return error(400, "from and to are required (YYYY-MM-DD HH:MM:SS)");
    };
    if !is_time(from) || !is_time(to) {
        return error(400, "from and to must be YYYY-MM-DD HH:MM:SS");
    }
    let fields: Vec<&str> = match get("fields") {
        Some(f) => f
            .split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .collect(),
        None => FIELDS.to_vec(),
    };
    if let Some(bad) = fields.iter().find(|f| !FIELDS.contains(f)) {
        return error(400, &format!("unknown field `{bad}`"));
    }
    let desc = match get("order").map(str::trim) {
        None | Some("calldate asc") | Some("calldate") => false,
        Some("calldate desc") => true,
        Some(other) => return error(400, &format!("order `{other}` is not emulated")),
    };
    let date = |c: &Map<String, Value>| {
        c.get("calldate")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let mut rows: Vec<&Map<String, Value>> = log
        .calls
        .iter()
        .filter(|c| {
            let d = date(c);
            d.as_str() >= from && d.as_str() <= to
        })
        .collect();
    rows.sort_by_key(|c| date(c));
    if desc {
        rows.reverse();
    }
    rows.truncate(MAX_ROWS);
    let out: Vec<Value> = rows
        .iter()
        .map(|c| {
            Value::Object(
                fields
                    .iter()
                    .map(|f| (f.to_string(), c.get(*f).cloned().unwrap_or(Value::Null)))
                    .collect(),
            )
        })
        .collect();
    (200, Value::Array(out).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(n: usize) -> CallLog {
        CallLog {
            key: Some("k-123456789".into()),
            project_id: None,
            calls: (0..n)
                .map(|i| {
                    json!({"uniqueid": format!("u{i}"), "calldate": format!("2026-03-02 10:{:02}:{:02}", (i / 60) % 60, i % 60),
                        "caller": "380671112233", "disposition": "ANSWERED"})
                    .as_object()
                    .unwrap()
                    .clone()
                })
                .collect(),
            requests: Vec::new(),
        }
    }

    const Q: &str =
        "from=2026-03-02+00%3A00%3A00&to=2026-03-02+23%3A59%3A59&fields=uniqueid%2Ccalldate";

    #[test]
    fn the_key_is_checked() {
        let mut l = log(1);
        assert_eq!(handle(&mut l, "GET", Q, None).0, 401);
        assert_eq!(handle(&mut l, "GET", Q, Some("wrong")).0, 401);
        assert_eq!(handle(&mut l, "GET", Q, Some("k-123456789")).0, 200);
        assert_eq!(l.requests.len(), 1);
    }

    #[test]
    fn answers_carry_the_requested_fields_and_stop_at_the_cap() {
        let mut l = log(3);
        let (_, body) = handle(&mut l, "GET", Q, Some("k-123456789"));
        let rows: Vec<Value> = serde_json::from_str(&body).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].as_object().unwrap().len(), 2);
        let mut big = log(MAX_ROWS + 10);
        let (_, body) = handle(&mut big, "GET", Q, Some("k-123456789"));
        let rows: Vec<Value> = serde_json::from_str(&body).unwrap();
        assert_eq!(rows.len(), MAX_ROWS);
        let q = "from=2026-03-02&to=2026-03-02+23%3A59%3A59";
        assert_eq!(handle(&mut l, "GET", q, Some("k-123456789")).0, 400);
        let q = format!("{Q}%2Cphone");
        assert_eq!(handle(&mut l, "GET", &q, Some("k-123456789")).0, 400);
    }
}
