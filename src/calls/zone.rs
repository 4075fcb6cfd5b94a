//! The clock calls are read and reported in: an IANA zone by name (`[calls] time_zone =
//! "Europe/Kyiv"`, through chrono-tz) or a fixed `utc_offset`.
//!
//! A fixed offset cannot follow daylight saving, so for half the year every call time,
//! call-back deadline and report hour would be an hour off; a named zone gives each instant
//! the offset in force at that instant. Ringostat does not document the zone of `calldate`
//! (docs/calls.md §2.4): it is taken to be the account's local time.

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;

/// A time zone by name, or a fixed offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallZone {
    /// `utc_offset`, e.g. `+03:00`.
    Fixed(FixedOffset),
    /// `time_zone`, e.g. `Europe/Kyiv`.
    Named(Tz),
}

impl CallZone {
    /// `time_zone` when set, else `utc_offset`; the error names the key.
    pub fn from_settings(
        time_zone: Option<&str>,
        utc_offset: &str,
    ) -> Result<CallZone, (&'static str, String)> {
        match time_zone.map(str::trim) {
            Some(name) => name.parse::<Tz>().map(CallZone::Named).map_err(|_| {
                (
                    "calls.time_zone",
                    format!("`{name}` is not an IANA time zone name: expected e.g. `Europe/Kyiv` or `Europe/Moscow`"),
                )
            }),
            None => parse_offset(utc_offset)
                .map(CallZone::Fixed)
                .map_err(|e| ("calls.utc_offset", e)),
        }
    }

    /// An instant as local time here, with the offset in force at that instant.
    pub fn local<Z: TimeZone>(&self, t: &DateTime<Z>) -> DateTime<FixedOffset> {
        match self {
            CallZone::Fixed(off) => t.with_timezone(off),
            CallZone::Named(tz) => t.with_timezone(tz).fixed_offset(),
        }
    }

    /// A wall-clock time read here. In the hour repeated when clocks go back the earlier
    /// instant is taken; a time skipped when clocks go forward is refused.
    pub fn from_local(&self, n: &NaiveDateTime) -> Result<DateTime<FixedOffset>, String> {
        let pick = |r: LocalResult<DateTime<FixedOffset>>| match r {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Ok(t),
            LocalResult::None => Err(format!(
                "`{n}` does not exist in {} (the clocks skipped it)",
                self.label()
            )),
        };
        match self {
            CallZone::Fixed(off) => pick(off.from_local_datetime(n)),
            CallZone::Named(tz) => pick(tz.from_local_datetime(n).map(|t| t.fixed_offset())),
        }
    }

    /// The offset in force at a Unix time (seconds east of UTC).
    pub fn offset_at(&self, unix: i64) -> FixedOffset {
        let utc = DateTime::from_timestamp(unix, 0).unwrap_or_default();
        match self {
            CallZone::Fixed(off) => *off,
            CallZone::Named(tz) => tz.offset_from_utc_datetime(&utc.naive_utc()).fix(),
        }
    }

    /// `Europe/Kyiv` or `+03:00`, for texts and the report.
    pub fn label(&self) -> String {
        match self {
            CallZone::Fixed(off) => off.to_string(),
            CallZone::Named(tz) => tz.name().to_string(),
        }
    }
}

/// Parses `+03:00`, `-05:30`, `Z` or `UTC`.
pub fn parse_offset(s: &str) -> Result<FixedOffset, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("z") || t.eq_ignore_ascii_case("utc") {
        return Ok(FixedOffset::east_opt(0).expect("zero offset"));
    }
    let bad = || format!("`{t}` is not a UTC offset: expected e.g. `+03:00`");
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'+') => (1, &t[1..]),
        Some(b'-') => (-1, &t[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 14 || m > 59 {
        return Err(bad());
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60)).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kyiv() -> CallZone {
        CallZone::from_settings(Some("Europe/Kyiv"), "+03:00").unwrap()
    }

    fn naive(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn a_named_zone_follows_daylight_saving() {
        let z = kyiv();
        // Winter: UTC+2; summer: UTC+3 (EU rules, last Sunday of March / October).
        let winter = z.from_local(&naive("2026-01-15 23:30:00")).unwrap();
        assert_eq!(winter.offset().local_minus_utc(), 7200);
        let summer = z.from_local(&naive("2026-07-15 23:30:00")).unwrap();
        assert_eq!(summer.offset().local_minus_utc(), 10800);
        // The night clocks go forward (2026-03-29 03:00 → 04:00) skips 03:30.
        assert!(z.from_local(&naive("2026-03-29 03:30:00")).is_err());
        // The repeated hour when they go back takes the earlier instant.
        let twice = z.from_local(&naive("2026-10-25 03:30:00")).unwrap();
        assert_eq!(twice.offset().local_minus_utc(), 10800);
        assert_eq!(z.local(&twice), twice);
        assert_eq!(
            z.offset_at(twice.timestamp() + 3600).local_minus_utc(),
            7200
        );
    }

    #[test]
    fn the_offset_is_still_accepted_and_bad_names_are_named() {
        let z = CallZone::from_settings(None, "+03:00").unwrap();
        assert_eq!(z.label(), "+03:00");
        let (key, msg) = CallZone::from_settings(Some("Europe/Kiev2"), "+03:00").unwrap_err();
        assert_eq!(key, "calls.time_zone");
        assert!(msg.contains("Europe/Kiev2"), "{msg}");
        let (key, _) = CallZone::from_settings(None, "3").unwrap_err();
        assert_eq!(key, "calls.utc_offset");
    }
}
