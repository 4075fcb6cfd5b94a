//! What parsing a call body needs (the rule file's key and status maps, the zone, the
//! clock) and the readings the parsers share. Kept apart from [`super::parse`], which
//! dispatches to [`super::ringostat`] and [`super::neutral`], so that the parsers depend on
//! it and never on the dispatcher: the file-level imports of `calls` have no circle.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDateTime};

use super::event::Status;
use super::zone::CallZone;

/// Which parser to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Neutral when the object has a `schema` key, Ringostat otherwise.
    #[default]
    Auto,
    /// Ringostat webhook keys (mapped through `[calls.ringostat_keys]`).
    Ringostat,
    /// The neutral schema `amocrm-bin.call/1`.
    Neutral,
}

/// What parsing needs from the rule file and the clock.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// Country for numbers written without a country code.
    pub default_country: String,
    /// Zone of provider times written without an offset (Ringostat `calldate`).
    pub zone: CallZone,
    /// Ringostat's key names as the customer configured them.
    pub ringostat_keys: RingostatKeys,
    /// Provider status strings the rule file maps (`[calls.statuses]`).
    pub statuses: StatusMap,
    /// Forced format, or auto-detection.
    pub format: Format,
    /// Stamped on every event as `received_at`.
    pub received_at: DateTime<FixedOffset>,
}

/// Ringostat parameter name → the key the customer's webhook actually sends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RingostatKeys {
    renamed: BTreeMap<String, String>,
}

impl RingostatKeys {
    /// The defaults with the rule file's renames applied.
    pub fn with_overrides(map: &BTreeMap<String, String>) -> RingostatKeys {
        RingostatKeys {
            renamed: map.clone(),
        }
    }

    /// The key to read for a Ringostat name.
    pub fn key<'a>(&'a self, name: &'a str) -> &'a str {
        self.renamed.get(name).map(String::as_str).unwrap_or(name)
    }
}

/// `NO_ANSWER`, ` no answer ` → `NO ANSWER`: how statuses are compared.
fn normalise_status(raw: &str) -> String {
    raw.trim()
        .to_ascii_uppercase()
        .replace(['_', '-'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Ringostat's `disposition` (case, `_` and spacing as configured) → our status, by the
/// strings sources confirm (docs/calls.md §2.7) plus common PBX spellings.
pub fn status_of(disposition: &str) -> Status {
    match normalise_status(disposition).as_str() {
        "ANSWERED" | "ANSWER" | "PROPER" | "REPEATED" => Status::Answered,
        "NO ANSWER" | "NOANSWER" | "CANCEL" | "CANCELLED" | "WRONG EXTENSION" | "NO EXTENSION" => {
            Status::Missed
        }
        "VOICEMAIL" | "VM" => Status::Voicemail,
        "BUSY" => Status::Busy,
        "FAILED" | "CONGESTION" | "CHANUNAVAIL" => Status::Failed,
        _ => Status::Unknown,
    }
}

/// `[calls.statuses]`: provider status strings the rule file maps, checked before the
/// built-in ones, so an admin can name the strings of Ringostat statuses no source spells
/// out ("call forwarding scheme did not work", "forbidden destination", …).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusMap {
    mapped: BTreeMap<String, Status>,
}

impl StatusMap {
    /// The words `[calls.statuses]` values may use.
    pub const WORDS: &'static [&'static str] =
        &["answered", "missed", "busy", "voicemail", "failed"];

    /// Reads the rule file's map; `Err` names the first raw status with an unknown word.
    pub fn from_rules(map: &BTreeMap<String, String>) -> Result<StatusMap, (String, String)> {
        let mut mapped = BTreeMap::new();
        for (raw, word) in map {
            let status = match word.trim().to_ascii_lowercase().as_str() {
                "answered" => Status::Answered,
                "missed" => Status::Missed,
                "busy" => Status::Busy,
                "voicemail" => Status::Voicemail,
                "failed" => Status::Failed,
                _ => {
                    return Err((
                        raw.clone(),
                        format!(
                            "`{word}` is not a call status; expected one of {}",
                            Self::WORDS.join(", ")
                        ),
                    ))
                }
            };
            mapped.insert(normalise_status(raw), status);
        }
        Ok(StatusMap { mapped })
    }

    /// The status of a provider string: the rule file's map first, then [`status_of`].
    pub fn status(&self, raw: &str) -> Status {
        self.mapped
            .get(&normalise_status(raw))
            .copied()
            .unwrap_or_else(|| status_of(raw))
    }
}

/// Reads a time: Unix seconds (or milliseconds), RFC 3339, or `YYYY-MM-DD HH:MM:SS`
/// (also with `T`) as wall-clock time in `zone`, as provider call logs write it.
pub fn parse_time(s: &str, zone: &CallZone) -> Result<DateTime<FixedOffset>, String> {
    let t = s.trim();
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) {
        let n: i64 = t.parse().map_err(|_| format!("`{t}` is out of range"))?;
        let secs = if n > 100_000_000_000 { n / 1000 } else { n };
        return DateTime::from_timestamp(secs, 0)
            .map(|u| zone.local(&u))
            .ok_or_else(|| format!("`{t}` is not a valid Unix time"));
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d);
    }
    for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, fmt) {
            return zone.from_local(&n);
        }
    }
    Err(format!(
        "`{t}` is not a time: expected `YYYY-MM-DD HH:MM:SS`, RFC 3339 or Unix seconds"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calls::zone::parse_offset;

    #[test]
    fn times_in_every_accepted_form() {
        let off = crate::calls::zone::CallZone::Fixed(parse_offset("+03:00").unwrap());
        let want = DateTime::parse_from_rfc3339("2026-03-02T14:05:31+03:00").unwrap();
        for s in [
            "2026-03-02 14:05:31",
            "2026-03-02T14:05:31",
            "2026-03-02T11:05:31Z",
            "1772449531",
            "1772449531000",
        ] {
            assert_eq!(parse_time(s, &off).unwrap(), want, "{s}");
        }
        assert!(parse_time("02.03.2026", &off).is_err());
        assert_eq!(parse_offset("-05:30").unwrap().local_minus_utc(), -19800);
        assert!(parse_offset("03:00").is_err());
    }
}
