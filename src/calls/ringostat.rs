//! Ringostat webhooks → [`CallEvent`].
//!
//! Ringostat lets the account owner choose which parameters a webhook sends and under which
//! names (docs/calls.md §2.1, §2.6), so the parser reads every value through a key map whose
//! defaults are Ringostat's call-log names (§2.4); `[calls.ringostat_keys]` renames them.
//! Nested objects (e.g. `additional_call_data`) are flattened to dotted keys, so a map entry
//! may say `dst = "additional_call_data.dst"`. Values may be strings or numbers.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::event::{CallEvent, Direction, Employee, Source, Stage, Status, Utm, SCHEMA};
use super::options::{parse_time, ParseOptions};
pub use super::options::{status_of, RingostatKeys, StatusMap};
use super::party::{classify, Party};

/// The Ringostat parameter names the key map knows (call-log names, plus the employee
/// extension and SIP keys some setups add, and `substitution_type`: the insertion type
/// `dynamic`/`static`/`callback` that marks a website callback, docs/calls.md §2.5).
pub const KNOWN_KEYS: &[&str] = &[
    "uniqueid",
    "calldate",
    "call_type",
    "caller",
    "caller_number",
    "dst",
    "connected_with",
    "disposition",
    "duration",
    "billsec",
    "waittime",
    "recording",
    "recording_wav",
    "has_recording",
    "employee_number",
    "employee_fio",
    "employee_extension",
    "employee_sip",
    "department",
    "pool_name",
    "scheme_name",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "landing",
    "refferrer",
    "client_id",
    "remote_ip",
    "substitution_type",
];

/// Flattens nested objects to dotted keys and scalars to trimmed text; empty values and
/// nulls are left out.
fn flatten(obj: &Map<String, Value>, prefix: &str, out: &mut BTreeMap<String, String>) {
    for (k, v) in obj {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        let text = match v {
            Value::Object(inner) => {
                flatten(inner, &key, out);
                continue;
            }
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null | Value::Array(_) => continue,
        };
        if !text.is_empty() {
            out.insert(key, text);
        }
    }
}

/// Which keys a payload carried and which of them the key map read: what
/// `calls ingest --explain` prints so an admin can set up `[calls.ringostat_keys]` from one
/// real webhook.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyUse {
    /// Every key the payload carried with a value (nested keys dotted).
    pub carried: Vec<String>,
    /// Ringostat name → the key read for it, with its value.
    pub read: Vec<(String, String, String)>,
    /// Ringostat names whose key was not in the payload (name, key looked for).
    pub absent: Vec<(String, String)>,
    /// Carried keys no name read: candidates for `[calls.ringostat_keys]`.
    pub unused: Vec<String>,
}

/// How the key map reads one payload.
pub fn key_use(obj: &Map<String, Value>, keys: &RingostatKeys) -> KeyUse {
    let mut flat = BTreeMap::new();
    flatten(obj, "", &mut flat);
    let mut out = KeyUse {
        carried: flat.keys().cloned().collect(),
        ..Default::default()
    };
    let mut used = std::collections::BTreeSet::new();
    for name in KNOWN_KEYS {
        let key = keys.key(name);
        match flat.get(key) {
            Some(v) => {
                used.insert(key.to_string());
                out.read
                    .push((name.to_string(), key.to_string(), v.clone()));
            }
            None => out.absent.push((name.to_string(), key.to_string())),
        }
    }
    out.unused = flat
        .keys()
        .filter(|k| !used.contains(*k))
        .cloned()
        .collect();
    out
}

fn seconds(v: Option<&String>, key: &str) -> Result<u32, String> {
    match v {
        None => Ok(0),
        Some(s) => s
            .parse::<f64>()
            .ok()
            .filter(|f| *f >= 0.0 && *f < 1e9)
            .map(|f| f as u32)
            .ok_or_else(|| format!("`{key}` = `{s}` is not a number of seconds")),
    }
}

/// Parses one Ringostat payload.
pub fn parse(obj: &Map<String, Value>, opts: &ParseOptions) -> Result<CallEvent, String> {
    let mut flat = BTreeMap::new();
    flatten(obj, "", &mut flat);
    let keys = &opts.ringostat_keys;
    let get = |name: &str| flat.get(keys.key(name));
    let need = |name: &str, what: &str| {
        get(name).cloned().ok_or_else(|| {
            let key = keys.key(name);
            if key == name {
                format!("missing `{name}` ({what}); add it to the webhook's parameters, or map the key your webhook uses in `[calls.ringostat_keys]`")
            } else {
                format!("missing `{key}` ({what}; `[calls.ringostat_keys] {name}`)")
            }
        })
    };
    let call_id = need("uniqueid", "the Ringostat call id")?;
    let calldate = need("calldate", "the call's start time")?;
    let started_at = parse_time(&calldate, &opts.zone)
        .map_err(|e| format!("`{}`: {e}", keys.key("calldate")))?;
    let call_type = get("call_type")
        .map(|s| s.to_ascii_lowercase())
        .unwrap_or_default();
    // A website callback is an incoming call marked by its insertion type
    // (`substitution_type=callback`), not by `call_type` (docs/calls.md §2.5).
    let inserted_callback =
        get("substitution_type").is_some_and(|s| s.trim().eq_ignore_ascii_case("callback"));
    let (direction, is_callback, is_internal) = match call_type.as_str() {
        "" | "in" | "incoming" | "inbound" | "transitin" => (Direction::Inbound, false, false),
        "callback" => (Direction::Inbound, true, false),
        "out" | "outgoing" | "outbound" | "transitout" => (Direction::Outbound, false, false),
        "internal" | "local" => (Direction::Inbound, false, true),
        other => {
            crate::log::warn(&format!(
                "Ringostat call {call_id}: unknown call_type `{other}`, taken as inbound"
            ));
            (Direction::Inbound, false, false)
        }
    };
    let is_callback = is_callback || (inserted_callback && direction == Direction::Inbound);
    let country = opts.default_country.as_str();
    let caller = get("caller_number")
        .or_else(|| get("caller"))
        .map(|s| classify(s, country))
        .unwrap_or(Party::Empty);
    let dst = get("dst")
        .map(|s| classify(s, country))
        .unwrap_or(Party::Empty);
    let connected = get("connected_with")
        .map(|s| classify(s, country))
        .unwrap_or(Party::Empty);
    let mut employee = Employee {
        id: get("employee_number").cloned(),
        name: get("employee_fio").cloned(),
        extension: get("employee_extension").cloned(),
        sip: get("employee_sip").cloned(),
        phone: None,
    };
    // The employee's own side: who talked (inbound) or who dialled (outbound).
    let (client, tracking, staff_side) = match direction {
        Direction::Inbound => (&caller, dst.phone().map(String::from), &connected),
        Direction::Outbound => (&dst, None, &caller),
    };
    match staff_side {
        Party::Phone(p) => employee.phone = Some(p.clone()),
        Party::Login(l) if employee.sip.is_none() => employee.sip = Some(l.clone()),
        Party::Extension(x) if employee.extension.is_none() => employee.extension = Some(x.clone()),
        _ => {}
    }
    let provider_status = get("disposition").cloned().unwrap_or_default();
    let upper = provider_status.to_ascii_uppercase();
    let stage = if upper == "IN PROGRESS" || upper == "CALLING" {
        Stage::Started
    } else {
        Stage::Ended
    };
    let status = opts.statuses.status(&provider_status);
    let duration = seconds(get("duration"), keys.key("duration"))?;
    let billsec = seconds(get("billsec"), keys.key("billsec"))?;
    let wait_sec = match get("waittime") {
        Some(_) => Some(seconds(get("waittime"), keys.key("waittime"))?),
        None => None,
    };
    if billsec > 0 && status != Status::Answered && status != Status::Unknown {
        crate::log::warn(&format!(
            "Ringostat call {call_id}: status `{provider_status}` but {billsec} s of talk"
        ));
    }
    let has_recording = get("has_recording")
        .map(|s| !matches!(s.to_ascii_lowercase().as_str(), "0" | "false" | "no"))
        .unwrap_or(true);
    let recording_url = if has_recording {
        get("recording").or_else(|| get("recording_wav")).cloned()
    } else {
        None
    };
    let is_target = match upper.as_str() {
        "PROPER" => Some(true),
        "REPEATED" => Some(false),
        _ => None,
    };
    let (from, to) = (caller.text(), dst.text());
    Ok(CallEvent {
        schema: SCHEMA.into(),
        provider: "ringostat".into(),
        call_id,
        leg_id: None,
        stage,
        started_at,
        answered_at: None,
        ended_at: None,
        direction,
        is_callback,
        is_internal,
        from,
        to,
        client_phone: client.phone().map(String::from),
        tracking_number: tracking,
        employee: (!employee.is_empty()).then_some(employee),
        status,
        provider_status,
        is_target,
        duration,
        billsec,
        wait_sec,
        recording_url,
        utm: Utm {
            source: get("utm_source").cloned(),
            medium: get("utm_medium").cloned(),
            campaign: get("utm_campaign").cloned(),
            term: get("utm_term").cloned(),
            content: get("utm_content").cloned(),
        },
        source: Source {
            pool: get("pool_name").cloned(),
            scheme: get("scheme_name").cloned(),
            landing: get("landing").cloned(),
            referrer: get("refferrer").cloned(),
            client_id: get("client_id").cloned(),
            ip: get("remote_ip").cloned(),
            department: get("department").cloned(),
        },
        raw: Value::Object(obj.clone()),
        received_at: Some(opts.received_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calls::parse::{parse_body, parse_offset, Format};
    use serde_json::json;

    fn opts(keys: &[(&str, &str)]) -> ParseOptions {
        let off = crate::calls::zone::CallZone::Fixed(parse_offset("+02:00").unwrap());
        ParseOptions {
            default_country: "UA".into(),
            zone: off,
            statuses: Default::default(),
            ringostat_keys: RingostatKeys::with_overrides(
                &keys
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect(),
            ),
            format: Format::Auto,
            received_at: parse_time("2026-03-02 14:07:00", &off).unwrap(),
        }
    }

    #[test]
    fn answered_incoming_call_as_documented() {
        let v = json!({
            "uniqueid": "ua1_-1700000000.101", "calldate": "2026-03-02 14:05:31",
            "call_type": "in", "caller": "380671112233", "dst": "380445550000",
            "connected_with": "380501234567", "disposition": "PROPER", "duration": "95",
            "billsec": 80, "waittime": "15", "has_recording": "1",
            "recording": "https://example.invalid/r.mp3", "employee_number": "101",
            "employee_fio": "Olena Ivanenko", "pool_name": "Google Ads",
            "utm_source": "google", "utm_medium": "cpc", "utm_campaign": "brand"
        });
        let e = parse(v.as_object().unwrap(), &opts(&[])).unwrap();
        assert_eq!(e.call_id, "ua1_-1700000000.101");
        assert_eq!(e.started_at.to_rfc3339(), "2026-03-02T14:05:31+02:00");
        assert_eq!(e.direction, Direction::Inbound);
        assert_eq!(e.client_phone.as_deref(), Some("+380671112233"));
        assert_eq!(e.tracking_number.as_deref(), Some("+380445550000"));
        assert_eq!(e.status, Status::Answered);
        assert_eq!(e.is_target, Some(true));
        assert_eq!((e.duration, e.billsec, e.wait_sec), (95, 80, Some(15)));
        let emp = e.employee.unwrap();
        assert_eq!(emp.id.as_deref(), Some("101"));
        assert_eq!(emp.phone.as_deref(), Some("+380501234567"));
        assert_eq!(e.source.pool.as_deref(), Some("Google Ads"));
        assert_eq!(e.utm.source.as_deref(), Some("google"));
        assert!(e.recording_url.is_some());
    }

    #[test]
    fn missed_call_form_encoded() {
        let body = "uniqueid=ua1_-1700000300.102&calldate=2026-03-02+18%3A40%3A02&call_type=in&caller=380931234567&dst=380445550000&disposition=NO+ANSWER&duration=32&billsec=0&has_recording=0&pool_name=Organic&utm_source=&utm_medium=";
        let items = parse_body(body, &opts(&[])).unwrap();
        let e = items[0].event.clone().unwrap();
        assert_eq!(e.status, Status::Missed);
        assert_eq!(e.utm.source, None, "empty values are absent");
        assert_eq!(e.recording_url, None);
        assert_eq!(e.employee, None);
    }

    #[test]
    fn outgoing_call_from_a_sip_login() {
        let v = json!({"uniqueid":"ua1_-1700000600.103","calldate":"2026-03-03 10:00:00","call_type":"out",
            "caller":"\"manager1\" <manager1>","dst":"380671112233","disposition":"BUSY",
            "duration":"12","billsec":"0","has_recording":"0","employee_number":"101"});
        let e = parse(v.as_object().unwrap(), &opts(&[])).unwrap();
        assert_eq!(e.direction, Direction::Outbound);
        assert_eq!(e.client_phone.as_deref(), Some("+380671112233"));
        assert_eq!(e.employee.unwrap().sip.as_deref(), Some("manager1"));
        assert_eq!(e.status, Status::Busy);
    }

    #[test]
    fn renamed_and_nested_keys() {
        let v = json!({"call_id": "x1", "call_date": "2026-03-03 10:00:00",
            "additional_call_data": {"dst": "380445550000", "call_type": "in"},
            "phone": "380671112233", "call_status": "no_answer"});
        let keys = [
            ("uniqueid", "call_id"),
            ("calldate", "call_date"),
            ("caller", "phone"),
            ("dst", "additional_call_data.dst"),
            ("call_type", "additional_call_data.call_type"),
            ("disposition", "call_status"),
        ];
        let e = parse(v.as_object().unwrap(), &opts(&keys)).unwrap();
        assert_eq!(e.call_id, "x1");
        assert_eq!(e.status, Status::Missed);
        assert_eq!(e.tracking_number.as_deref(), Some("+380445550000"));
        let err = parse(
            json!({"calldate": "2026-03-03 10:00:00"})
                .as_object()
                .unwrap(),
            &opts(&keys),
        )
        .unwrap_err();
        assert!(err.contains("missing `call_id`"), "{err}");
    }

    #[test]
    fn statuses_are_open_ended() {
        assert_eq!(status_of("no answer"), Status::Missed);
        assert_eq!(status_of("NO_ANSWER"), Status::Missed);
        assert_eq!(status_of("REPEATED"), Status::Answered);
        assert_eq!(status_of("VOICEMAIL"), Status::Voicemail);
        assert_eq!(status_of("SOMETHING NEW"), Status::Unknown);
        let map: BTreeMap<String, String> =
            [("scheme_failed".to_string(), "missed".to_string())].into();
        let m = StatusMap::from_rules(&map).unwrap();
        assert_eq!(m.status("SCHEME FAILED"), Status::Missed);
        assert_eq!(m.status("PROPER"), Status::Answered);
        let bad: BTreeMap<String, String> = [("X".to_string(), "lost".to_string())].into();
        assert!(StatusMap::from_rules(&bad).unwrap_err().1.contains("lost"));
    }

    #[test]
    fn key_use_tells_read_absent_and_unused_keys() {
        let v = json!({"call_id": "x1", "calldate": "2026-03-03 10:00:00",
            "extra": {"phone": "380671112233"}, "mystery": "7"});
        let keys = RingostatKeys::with_overrides(
            &[("uniqueid".to_string(), "call_id".to_string())].into(),
        );
        let u = key_use(v.as_object().unwrap(), &keys);
        assert!(u.carried.contains(&"extra.phone".to_string()));
        assert!(u
            .read
            .contains(&("uniqueid".into(), "call_id".into(), "x1".into())));
        assert!(u.absent.contains(&("caller".into(), "caller".into())));
        assert_eq!(
            u.unused,
            vec!["extra.phone".to_string(), "mystery".to_string()]
        );
    }

    #[test]
    fn a_callback_is_marked_by_its_insertion_type() {
        let v = json!({"uniqueid": "cb1", "calldate": "2026-03-03 10:00:00", "call_type": "in",
            "substitution_type": "callback", "caller": "380671112233", "disposition": "ANSWERED",
            "billsec": "40"});
        let e = parse(v.as_object().unwrap(), &opts(&[])).unwrap();
        assert!(e.is_callback);
        assert_eq!(e.direction, Direction::Inbound);
        let v = json!({"uniqueid": "cb2", "calldate": "2026-03-03 10:00:00", "call_type": "in",
            "insertion": "Callback", "caller": "380671112233", "disposition": "ANSWERED"});
        let e = parse(
            v.as_object().unwrap(),
            &opts(&[("substitution_type", "insertion")]),
        )
        .unwrap();
        assert!(e.is_callback, "renamed through the key map");
        let v = json!({"uniqueid": "st1", "calldate": "2026-03-03 10:00:00", "call_type": "in",
            "substitution_type": "dynamic", "caller": "380671112233", "disposition": "ANSWERED"});
        assert!(
            !parse(v.as_object().unwrap(), &opts(&[]))
                .unwrap()
                .is_callback
        );
    }
}
