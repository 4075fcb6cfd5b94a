//! Recognising one call reported twice.
//!
//! The provider's call id catches a webhook delivered twice. A forwarded call can also be
//! reported once per leg under different ids; those legs share the caller, the direction
//! and the destination (the tracking number dialled, or the employee for outgoing calls),
//! start within seconds of each other and overlap in time. The fingerprint hashes the
//! first three; the store compares start times and durations (a client who calls again
//! after hanging up starts a new call after the first one ended, so it is never merged).

use sha2::{Digest, Sha256};

use super::event::{CallEvent, Direction, Status};
use crate::phone;

/// The fingerprint of a call: equal for legs of the same call.
pub fn fingerprint(e: &CallEvent) -> String {
    let client = e
        .client_phone
        .as_deref()
        .map(phone::search_key)
        .unwrap_or_else(|| format!("no-phone:{}", e.call_id));
    let employee = e.employee.as_ref().and_then(|x| {
        x.sip
            .clone()
            .or_else(|| x.extension.clone())
            .or_else(|| x.id.clone())
            .or_else(|| x.phone.as_deref().map(phone::search_key))
    });
    let anchor = match e.direction {
        Direction::Inbound => e
            .tracking_number
            .as_deref()
            .map(phone::search_key)
            .or(employee),
        Direction::Outbound => employee,
    }
    .unwrap_or_else(|| "-".into());
    let text = format!(
        "{}|{}|{client}|{}",
        e.provider,
        e.direction.as_str(),
        anchor.to_ascii_lowercase()
    );
    let digest = Sha256::digest(text.as_bytes());
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// Which of two reports of one call to keep: an answered leg beats a missed one, then the
/// longer conversation, then the longer call.
pub fn rank(e: &CallEvent) -> i64 {
    let answered = if e.status == Status::Answered {
        1_000_000_000
    } else {
        0
    };
    answered + i64::from(e.billsec) * 10_000 + i64::from(e.duration.min(9_999))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calls::parse::{parse_body, parse_offset, parse_time, Format, ParseOptions};
    use crate::calls::ringostat::RingostatKeys;

    fn ev(json: &str) -> CallEvent {
        let off = crate::calls::zone::CallZone::Fixed(parse_offset("+03:00").unwrap());
        let o = ParseOptions {
            default_country: "RU".into(),
            zone: off,
            statuses: Default::default(),
            ringostat_keys: RingostatKeys::default(),
            format: Format::Auto,
            received_at: parse_time("2026-03-02 14:07:00", &off).unwrap(),
        };
        parse_body(json, &o).unwrap()[0].event.clone().unwrap()
    }

    #[test]
    fn legs_share_a_fingerprint_and_the_answered_one_ranks_first() {
        let a = ev(
            r#"{"uniqueid":"a.1","calldate":"2026-03-02 10:00:00","caller":"79161234567","dst":"74950000000","connected_with":"101","disposition":"NO ANSWER","duration":"20"}"#,
        );
        let b = ev(
            r#"{"uniqueid":"a.2","calldate":"2026-03-02 10:00:01","caller":"8 916 123 45 67","dst":"74950000000","connected_with":"102","disposition":"ANSWERED","duration":"90","billsec":"60"}"#,
        );
        let other = ev(
            r#"{"uniqueid":"b","calldate":"2026-03-02 10:00:00","caller":"79161234568","dst":"74950000000","disposition":"ANSWERED"}"#,
        );
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&other));
        assert!(rank(&b) > rank(&a));
    }
}
