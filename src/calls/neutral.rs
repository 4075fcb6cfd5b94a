//! The neutral schema `amocrm-bin.call/1` → [`CallEvent`].
//!
//! The schema is ours (docs/calls-guide.md), so it is strict: unknown keys are refused with
//! their path, because a misspelt `billsec` silently read as 0 would turn a conversation
//! into a missed call. Phones are normalised to E.164; `client_phone` may be left out and
//! is then taken from `from` (inbound) or `to` (outbound).

use serde_json::Value;

use super::event::{CallEvent, Direction};
use super::options::ParseOptions;
use super::party::{classify, Party};

/// Parses one neutral event.
pub fn parse(v: Value, opts: &ParseOptions) -> Result<CallEvent, String> {
    let mut e: CallEvent = serde_path_to_error::deserialize(v).map_err(|err| {
        let path = err.path().to_string();
        if path == "." {
            err.into_inner().to_string()
        } else {
            format!("`{path}`: {}", err.into_inner())
        }
    })?;
    e.provider = e.provider.trim().to_ascii_lowercase();
    if e.provider.is_empty() {
        return Err("`provider` must not be empty (e.g. `zadarma`, `manual`)".into());
    }
    e.call_id = e.call_id.trim().to_string();
    if e.call_id.is_empty() {
        return Err("`call_id` must not be empty: it is the idempotency key".into());
    }
    let country = opts.default_country.as_str();
    let (from, to) = (classify(&e.from, country), classify(&e.to, country));
    e.client_phone = match e.client_phone.as_deref() {
        Some(raw) => match classify(raw, country) {
            Party::Phone(p) => Some(p),
            _ => {
                return Err(format!(
                "`client_phone` `{raw}` is not a phone number (E.164 expected, e.g. +79161234567)"
            ))
            }
        },
        None => match e.direction {
            Direction::Inbound => from.phone().map(String::from),
            Direction::Outbound => to.phone().map(String::from),
        },
    };
    if !from.text().is_empty() {
        e.from = from.text();
    }
    if !to.text().is_empty() {
        e.to = to.text();
    }
    if let Some(t) = e.tracking_number.as_deref() {
        if let Party::Phone(p) = classify(t, country) {
            e.tracking_number = Some(p);
        }
    }
    if let Some(emp) = e.employee.as_mut() {
        if let Some(Party::Phone(p)) = emp.phone.as_deref().map(|p| classify(p, country)) {
            emp.phone = Some(p);
        }
    }
    if e.received_at.is_none() {
        e.received_at = Some(opts.received_at);
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use crate::calls::event::Status;
    use crate::calls::parse::{parse_body, parse_offset, parse_time, Format, ParseOptions};
    use crate::calls::ringostat::RingostatKeys;

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
    fn minimal_event_derives_the_client_phone() {
        let body = r#"{"schema":"amocrm-bin.call/1","provider":"Zadarma","call_id":"in_1",
            "started_at":"2026-03-02T14:05:31+03:00","direction":"inbound",
            "from":"8 916 123-45-67","to":"+74950000000","status":"missed"}"#;
        let e = parse_body(body, &opts()).unwrap()[0].event.clone().unwrap();
        assert_eq!(e.provider, "zadarma");
        assert_eq!(e.client_phone.as_deref(), Some("+79161234567"));
        assert_eq!(e.status, Status::Missed);
        assert!(e.received_at.is_some());
    }

    #[test]
    fn typos_are_refused_with_their_path() {
        let body = r#"{"schema":"amocrm-bin.call/1","provider":"x","call_id":"1",
            "started_at":"2026-03-02T14:05:31+03:00","direction":"inbound","from":"+79161234567",
            "status":"answered","bilsec":5}"#;
        let err = parse_body(body, &opts()).unwrap()[0]
            .event
            .clone()
            .unwrap_err();
        assert!(err.contains("bilsec"), "{err}");
        let body = r#"{"schema":"amocrm-bin.call/1","provider":"x","call_id":"1",
            "started_at":"yesterday","direction":"inbound","status":"answered"}"#;
        let err = parse_body(body, &opts()).unwrap()[0]
            .event
            .clone()
            .unwrap_err();
        assert!(err.contains("started_at"), "{err}");
    }
}
