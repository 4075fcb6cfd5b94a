//! The panel's clock. BILLmanager writes dates (`createdate`, `opendate`) in the panel's
//! local time without an offset, so "how old is this order" must be measured against the
//! panel's local now, not UTC: on a Moscow panel a UTC clock makes every order three hours
//! younger than it is. The zone comes by IANA name from `[billmanager] time_zone`
//! (chrono-tz, so daylight saving is followed where the zone has it); unset, it is this
//! host's zone, which is the panel's when amocrm-bin runs beside it.

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;

use crate::rules::BillingSection;

/// Now on the panel's wall clock, comparable with the dates BILLmanager writes.
pub fn panel_now(section: &BillingSection) -> NaiveDateTime {
    panel_time(Utc::now(), section.time_zone.as_deref())
}

/// `instant` on the wall clock of `zone` (an IANA name; `None` or unknown: this host's zone,
/// the rule file's validation having refused unknown names already).
pub fn panel_time(instant: DateTime<Utc>, zone: Option<&str>) -> NaiveDateTime {
    match zone.and_then(|z| z.trim().parse::<Tz>().ok()) {
        Some(tz) => instant.with_timezone(&tz).naive_local(),
        None => instant.with_timezone(&chrono::Local).naive_local(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn panel_time_follows_the_zone_and_its_daylight_saving() {
        let winter = Utc.with_ymd_and_hms(2026, 1, 15, 12, 0, 0).unwrap();
        let summer = Utc.with_ymd_and_hms(2026, 7, 15, 12, 0, 0).unwrap();
        let at = |t: DateTime<Utc>, z| panel_time(t, Some(z)).format("%H:%M").to_string();
        assert_eq!(at(winter, "Europe/Moscow"), "15:00");
        assert_eq!(
            at(summer, "Europe/Moscow"),
            "15:00",
            "Moscow keeps +03 all year"
        );
        assert_eq!(at(winter, "Europe/Berlin"), "13:00");
        assert_eq!(
            at(summer, "Europe/Berlin"),
            "14:00",
            "Berlin is +02 in summer"
        );
        assert_eq!(at(winter, "Asia/Almaty"), "17:00");
        assert_eq!(at(winter, "UTC"), "12:00");
    }
}
