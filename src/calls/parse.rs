//! Turning a request body into call events: one JSON object, a JSON array, JSON lines, or
//! a form-encoded body (Ringostat lets the customer pick the format, docs/calls.md §2.3).
//!
//! Every item is parsed on its own, so one bad line does not cost the good ones; each
//! failure names the item (1-based line or array position) and the key that was wrong.

use serde_json::{Map, Value};

use super::event::{CallEvent, SCHEMA};
use super::options::RingostatKeys;
pub use super::options::{parse_time, Format, ParseOptions};
pub use super::zone::parse_offset;
use super::{neutral, ringostat};

/// One item of a body: its position (1-based) and the event or why it was refused.
#[derive(Debug, Clone)]
pub struct Item {
    /// 1-based line (JSON lines) or array position; 1 for a single object.
    pub position: usize,
    /// The event, or what is wrong with the item.
    pub event: Result<CallEvent, String>,
    /// The item's own text (an array element, a line, the whole form): what is stored as
    /// `unparsed` when it cannot be read, and read again by `calls reparse`.
    pub raw: String,
}

/// Splits and parses a body. `Err` when the body as a whole is unreadable (not JSON, not
/// a form); item-level problems are in the items. An inbound call whose status nobody
/// recognises and with no talk time is taken as missed (see [`CallEvent::settle_unknown`]).
pub fn parse_body(body: &str, opts: &ParseOptions) -> Result<Vec<Item>, String> {
    let mut items = split_and_parse(body, opts)?;
    for item in &mut items {
        if let Ok(e) = &mut item.event {
            settle(e);
        }
    }
    Ok(items)
}

/// One row of Ringostat's call log (always the call log's own field names, whatever
/// `[calls.ringostat_keys]` says about webhooks).
pub fn parse_call_log_row(
    row: &Map<String, Value>,
    opts: &ParseOptions,
) -> Result<CallEvent, String> {
    let opts = ParseOptions {
        ringostat_keys: RingostatKeys::default(),
        ..opts.clone()
    };
    let mut e = ringostat::parse(row, &opts)?;
    settle(&mut e);
    Ok(e)
}

/// Applies [`CallEvent::settle_unknown`] and logs the raw status when it did something.
fn settle(e: &mut CallEvent) {
    if e.settle_unknown() {
        crate::log::warn(&format!(
            "{} call {}: status `{}` is not recognised and nobody talked: taken as a missed call (map it in `[calls.statuses]`)",
            e.provider, e.call_id, e.provider_status
        ));
    }
}

fn split_and_parse(body: &str, opts: &ParseOptions) -> Result<Vec<Item>, String> {
    let text = body.trim_start_matches('\u{feff}').trim();
    if text.is_empty() {
        return Err("the body is empty: expected a call event as JSON or form fields".into());
    }
    if text.starts_with('{') || text.starts_with('[') {
        return match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(items)) => Ok(items
                .into_iter()
                .enumerate()
                .map(|(i, v)| Item {
                    position: i + 1,
                    raw: v.to_string(),
                    event: parse_value(v, opts),
                })
                .collect()),
            Ok(v) => Ok(vec![Item {
                position: 1,
                event: parse_value(v, opts),
                raw: text.to_string(),
            }]),
            Err(whole) => json_lines(text, opts).ok_or_else(|| {
                format!("the body is not valid JSON ({whole}); send one object, an array or one object per line")
            }),
        };
    }
    if text.contains('=') {
        let map: Map<String, Value> = form_pairs(text)
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        let event = match opts.format {
            Format::Neutral => {
                Err("a form-encoded body cannot be a neutral event (send JSON)".into())
            }
            _ => ringostat::parse(&map, opts),
        };
        return Ok(vec![Item {
            position: 1,
            event,
            raw: text.to_string(),
        }]);
    }
    Err("the body is neither JSON nor form fields (key=value&…)".into())
}

/// JSON lines: `None` unless the first non-empty line is a JSON value on its own.
fn json_lines(text: &str, opts: &ParseOptions) -> Option<Vec<Item>> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, first) = lines.next()?;
    serde_json::from_str::<Value>(first.trim()).ok()?;
    Some(
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, line)| Item {
                position: i + 1,
                raw: line.trim().to_string(),
                event: serde_json::from_str::<Value>(line.trim())
                    .map_err(|e| format!("not valid JSON: {e}"))
                    .and_then(|v| parse_value(v, opts)),
            })
            .collect(),
    )
}

/// Parses one JSON value with the chosen (or detected) format.
pub fn parse_value(v: Value, opts: &ParseOptions) -> Result<CallEvent, String> {
    let Value::Object(obj) = v else {
        return Err("expected a JSON object for a call event".into());
    };
    let neutral = match opts.format {
        Format::Neutral => true,
        Format::Ringostat => false,
        Format::Auto => obj.contains_key("schema"),
    };
    if neutral {
        match obj.get("schema") {
            Some(Value::String(s)) if s == SCHEMA => {}
            Some(other) => {
                return Err(format!(
                    "unknown `schema` {other}; this version reads `{SCHEMA}`"
                ))
            }
            None => return Err(format!("missing `schema` (expected `{SCHEMA}`)")),
        }
        neutral::parse(Value::Object(obj), opts)
    } else {
        ringostat::parse(&obj, opts)
    }
}

/// One item's text as an object: a JSON object, or form fields (for `--explain`).
pub fn item_object(raw: &str) -> Option<Map<String, Value>> {
    let t = raw.trim_start_matches('\u{feff}').trim();
    if t.starts_with('{') {
        return match serde_json::from_str::<Value>(t) {
            Ok(Value::Object(m)) => Some(m),
            _ => None,
        };
    }
    t.contains('=').then(|| {
        form_pairs(t)
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect()
    })
}

/// Decodes `a=1&b=x+y%21` into pairs (later duplicates win when collected into a map).
pub fn form_pairs(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> ParseOptions {
        let off = crate::calls::zone::CallZone::Fixed(parse_offset("+03:00").unwrap());
        ParseOptions {
            default_country: "RU".into(),
            zone: off,
            statuses: Default::default(),
            ringostat_keys: RingostatKeys::default(),
            format: Format::Auto,
            received_at: parse_time("2026-03-02 14:07:00", &off).unwrap(),
        }
    }

    #[test]
    fn form_bodies_decode() {
        let pairs = form_pairs("calldate=2026-03-02+18%3A40%3A02&utm_source=&x=%D0%96");
        assert_eq!(pairs[0].1, "2026-03-02 18:40:02");
        assert_eq!(pairs[1].1, "");
        assert_eq!(pairs[2].1, "Ж");
    }

    #[test]
    fn json_lines_keep_good_items_and_name_bad_lines() {
        let body = "{\"uniqueid\":\"a\",\"calldate\":\"2026-03-02 10:00:00\",\"caller\":\"79161234567\",\"disposition\":\"ANSWERED\"}\n\nnot json\n{\"schema\":\"other/2\"}\n";
        let items = parse_body(body, &opts()).unwrap();
        assert_eq!(items.len(), 3);
        assert!(items[0].event.is_ok(), "{:?}", items[0].event);
        assert_eq!(items[1].position, 3);
        assert!(items[1]
            .event
            .as_ref()
            .unwrap_err()
            .contains("not valid JSON"));
        assert!(items[2]
            .event
            .as_ref()
            .unwrap_err()
            .contains("unknown `schema`"));
        assert!(parse_body("   ", &opts()).is_err());
        assert!(parse_body("{broken", &opts()).is_err());
        assert!(parse_body("hello", &opts()).is_err());
    }
}
