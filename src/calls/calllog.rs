//! Ringostat's call log (`GET /calls/list`): what `replay-calls` reads to recover calls
//! whose webhooks never arrived (receiver down, wrong URL, an item refused with 400 that
//! Ringostat stopped resending). docs/calls.md §2.8 has the sources.
//!
//! - `Auth-key` header; `projectId` as a query parameter when the account has several
//!   projects; `export_type=json`; `from`/`to` as `YYYY-MM-DD HH:MM:SS` in the account's
//!   local time (the zone is not documented; `[calls] time_zone` is used, as for
//!   `calldate`); `fields` = exactly what the parser reads; `order=calldate asc`.
//! - At most 6 500 calls per answer: the period is asked for one day at a time, and a
//!   window whose answer is full is split in halves until every answer is below the cap.
//! - The answer is a JSON array of calls, or an object with the array under `data`
//!   (both seen in client code; which one the API sends is UNCONFIRMED).
//!
//! The key is read from the environment variable the rule file names and registered as a
//! secret, so it never appears in argv, logs or errors; errors name the variable.

use std::time::Duration;

use chrono::{NaiveDateTime, TimeDelta};
use serde_json::{Map, Value};

use crate::rules::RingostatApi;

/// Ringostat's cap on calls per answer.
pub const MAX_ROWS: usize = 6500;

/// Keys the parser reads that are not call-log fields (no source lists them there).
const NOT_IN_CALL_LOG: &[&str] = &["employee_extension", "employee_sip", "substitution_type"];

/// The call-log fields the Ringostat parser reads (its defaults are the call log's names).
pub fn fields() -> Vec<&'static str> {
    super::ringostat::KNOWN_KEYS
        .iter()
        .copied()
        .filter(|k| !NOT_IN_CALL_LOG.contains(k))
        .collect()
}

/// The smallest window split further when an answer is full.
const MIN_WINDOW_SECS: i64 = 60;

/// Why reading the call log failed.
#[derive(Debug)]
pub enum CallLogError {
    /// The variable that should hold the key is not set (names the variable).
    KeyMissing(String),
    /// Ringostat refused the key (variable, HTTP status).
    KeyRefused(String, u16),
    /// Ringostat could not be reached, or answered with an error or an unreadable body.
    Unreachable(String),
}

impl std::fmt::Display for CallLogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallLogError::KeyMissing(var) => write!(
                f,
                "`[calls.ringostat_api] auth_key_env` names `{var}`, which is not set or empty"
            ),
            CallLogError::KeyRefused(var, status) => write!(
                f,
                "Ringostat refused the Auth-key from `{var}` (HTTP {status})"
            ),
            CallLogError::Unreachable(what) => write!(f, "Ringostat's call log: {what}"),
        }
    }
}

impl std::error::Error for CallLogError {}

/// A reader of one project's call log.
pub struct CallLog {
    url: String,
    key: String,
    var: String,
    project_id: Option<String>,
    http: reqwest::blocking::Client,
}

impl std::fmt::Debug for CallLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallLog")
            .field("url", &self.url)
            .field("key", &format_args!("${}", self.var))
            .finish()
    }
}

/// One request's window, `[from, to]` inclusive, in the account's wall-clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First second.
    pub from: NaiveDateTime,
    /// Last second.
    pub to: NaiveDateTime,
}

impl Window {
    fn halves(self) -> Option<(Window, Window)> {
        let secs = (self.to - self.from).num_seconds();
        if secs < MIN_WINDOW_SECS {
            return None;
        }
        let mid = self.from + TimeDelta::seconds(secs / 2);
        Some((
            Window {
                from: self.from,
                to: mid,
            },
            Window {
                from: mid + TimeDelta::seconds(1),
                to: self.to,
            },
        ))
    }
}

/// `[from, to]` as windows of at most one day that neither overlap nor leave a gap.
pub fn day_windows(from: NaiveDateTime, to: NaiveDateTime) -> Vec<Window> {
    let mut out = Vec::new();
    let mut start = from;
    while start <= to {
        let end = (start + TimeDelta::days(1) - TimeDelta::seconds(1)).min(to);
        out.push(Window {
            from: start,
            to: end,
        });
        start = end + TimeDelta::seconds(1);
    }
    out
}

const TIME: &str = "%Y-%m-%d %H:%M:%S";

impl CallLog {
    /// Reads the key from the environment; the error names the variable, never a value.
    pub fn from_settings(api: &RingostatApi) -> Result<CallLog, CallLogError> {
        let var = api.auth_key_env.trim().to_string();
        let key = std::env::var(&var).unwrap_or_default().trim().to_string();
        if key.is_empty() {
            return Err(CallLogError::KeyMissing(var));
        }
        crate::log::register_secret(&key);
        let http = reqwest::blocking::Client::builder()
            .user_agent(concat!("amocrm-bin/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| CallLogError::Unreachable(format!("cannot start HTTP: {e}")))?;
        Ok(CallLog {
            url: api.url.trim_end_matches('/').to_string(),
            key,
            var,
            project_id: api.project_id.clone(),
            http,
        })
    }

    /// One request: the calls of `w` (at most [`MAX_ROWS`]).
    pub fn fetch(&self, w: Window) -> Result<Vec<Map<String, Value>>, CallLogError> {
        let mut query = vec![
            ("export_type", "json".to_string()),
            ("from", w.from.format(TIME).to_string()),
            ("to", w.to.format(TIME).to_string()),
            ("fields", fields().join(",")),
            ("order", "calldate asc".to_string()),
        ];
        if let Some(p) = &self.project_id {
            query.push(("projectId", p.clone()));
        }
        let unreachable = |what: String| CallLogError::Unreachable(crate::log::redact(&what));
        let resp = self
            .http
            .get(format!("{}/calls/list", self.url))
            .header("Auth-key", &self.key)
            .header("Accept", "application/json")
            .query(&query)
            .send()
            .map_err(|e| unreachable(format!("{} cannot be reached: {e}", self.url)))?;
        let status = resp.status().as_u16();
        if status == 401 || status == 403 {
            return Err(CallLogError::KeyRefused(self.var.clone(), status));
        }
        let text = resp
            .text()
            .map_err(|e| unreachable(format!("the answer could not be read: {e}")))?;
        if !(200..300).contains(&status) {
            let short: String = text.chars().take(200).collect();
            return Err(unreachable(format!("HTTP {status}: {short}")));
        }
        let rows = rows(&text).map_err(unreachable)?;
        crate::log::verbose(&format!(
            "Ringostat GET {}/calls/list {} – {}: {} call(s)",
            self.url,
            w.from,
            w.to,
            rows.len()
        ));
        Ok(rows)
    }

    /// Every call of `[from, to]`: one request per day, a full answer split in halves.
    /// `progress` hears of each window as it is done, with the rows it brought.
    pub fn fetch_range(
        &self,
        from: NaiveDateTime,
        to: NaiveDateTime,
        progress: &mut dyn FnMut(Window, usize),
    ) -> Result<Vec<Map<String, Value>>, CallLogError> {
        let mut out = Vec::new();
        let mut todo: Vec<Window> = day_windows(from, to);
        todo.reverse();
        while let Some(w) = todo.pop() {
            let rows = self.fetch(w)?;
            if rows.len() >= MAX_ROWS {
                match w.halves() {
                    Some((a, b)) => {
                        todo.push(b);
                        todo.push(a);
                        continue;
                    }
                    None => {
                        return Err(CallLogError::Unreachable(format!(
                            "more than {MAX_ROWS} calls between {} and {}; cannot split further",
                            w.from, w.to
                        )))
                    }
                }
            }
            progress(w, rows.len());
            out.extend(rows);
        }
        Ok(out)
    }
}

/// The calls of an answer: an array, or an object with the array under `data`.
fn rows(text: &str) -> Result<Vec<Map<String, Value>>, String> {
    let v: Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
        .map_err(|e| format!("the answer is not JSON: {e}"))?;
    let items = match v {
        Value::Array(a) => a,
        Value::Object(mut o) => match o.remove("data") {
            Some(Value::Array(a)) => a,
            _ => return Err("the answer is an object without a `data` list of calls".into()),
        },
        _ => return Err("the answer is not a list of calls".into()),
    };
    Ok(items
        .into_iter()
        .filter_map(|i| match i {
            Value::Object(m) => Some(m),
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, TIME).unwrap()
    }

    #[test]
    fn days_tile_the_period_without_overlap() {
        let w = day_windows(t("2026-03-01 10:00:00"), t("2026-03-03 12:00:00"));
        assert_eq!(w.len(), 3);
        assert_eq!(w[0].to, t("2026-03-02 09:59:59"));
        assert_eq!(w[1].from, t("2026-03-02 10:00:00"));
        assert_eq!(w[2].to, t("2026-03-03 12:00:00"));
        let (a, b) = w[0].halves().unwrap();
        assert_eq!(a.from, w[0].from);
        assert_eq!(b.to, w[0].to);
        assert_eq!(a.to + TimeDelta::seconds(1), b.from);
        let tiny = Window {
            from: t("2026-03-01 10:00:00"),
            to: t("2026-03-01 10:00:30"),
        };
        assert!(tiny.halves().is_none());
    }

    #[test]
    fn answers_as_a_list_or_under_data() {
        assert_eq!(
            rows(r#"[{"uniqueid":"a"},{"uniqueid":"b"}]"#)
                .unwrap()
                .len(),
            2
        );
        assert_eq!(rows(r#"{"data":[{"uniqueid":"a"}]}"#).unwrap().len(), 1);
        assert!(rows(r#"{"error":"x"}"#).is_err());
        assert!(rows("<html>").is_err());
    }

    #[test]
    fn fields_are_the_call_log_names_the_parser_reads() {
        let f = fields();
        assert_eq!(&f[..3], ["uniqueid", "calldate", "call_type"]);
        assert!(f.contains(&"refferrer") && f.contains(&"employee_fio"));
        assert!(!f.contains(&"substitution_type"));
    }
}
