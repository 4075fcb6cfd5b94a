//! The call report: per-manager counts and durations, and calls per hour of the working day.
//!
//! It is computed from the store alone (no amoCRM access), so it works while amoCRM is down
//! and counts every call once however often it was reported. Categories:
//! - *inbound*: inbound calls that were answered; duration = talk time;
//! - *outbound*: every outgoing call; duration = talk time;
//! - *missed*: inbound calls nobody answered; duration = how long the client waited.
//!
//! Internal calls and interim events are left out (internal ones are counted apart). A call
//! belongs to the employee the provider names (mapped through `[[calls.employees]]`); a
//! missed call that rang nobody belongs to the manager it was given to, once delivered.

use std::collections::BTreeMap;

use chrono::{DateTime, Timelike, Utc};
use serde::Serialize;

use super::event::CallEvent;
use super::setup::CallSetup;
use crate::crm::Dictionaries;
use crate::store::{CallState, StoredCall};

/// Count and durations of one category.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Bucket {
    /// Calls.
    pub count: u64,
    /// Sum of durations, seconds.
    pub total_secs: u64,
    /// Average, seconds (rounded; 0 without calls).
    pub average_secs: u64,
}

impl Bucket {
    fn add(&mut self, secs: u64) {
        self.count += 1;
        self.total_secs += secs;
        self.average_secs = (self.total_secs + self.count / 2) / self.count;
    }
}

/// One manager's numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ManagerRow {
    /// Name (amoCRM user, report label, or the provider's name for unmapped employees).
    pub manager: String,
    /// Answered inbound calls.
    pub inbound: Bucket,
    /// Outgoing calls.
    pub outbound: Bucket,
    /// Missed inbound calls.
    pub missed: Bucket,
}

/// Calls that started in one hour of the working day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct HourRow {
    /// Hour of the day (local to `utc_offset`), 0–23.
    pub hour: u32,
    /// Answered inbound calls.
    pub inbound: u64,
    /// Outgoing calls.
    pub outbound: u64,
    /// Missed inbound calls.
    pub missed: u64,
}

impl HourRow {
    /// All calls of the hour.
    pub fn total(&self) -> u64 {
        self.inbound + self.outbound + self.missed
    }
}

/// Totals over every manager.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Answered inbound calls.
    pub inbound: Bucket,
    /// Outgoing calls.
    pub outbound: Bucket,
    /// Missed inbound calls.
    pub missed: Bucket,
    /// Calls between employees (not in the numbers above).
    pub internal: u64,
    /// Calls amoCRM has not acknowledged yet (`replay-calls` sends them).
    pub pending_delivery: u64,
}

/// The whole report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CallReport {
    /// Days covered.
    pub days: u32,
    /// Start of the period (RFC 3339, in `utc_offset`).
    pub from: String,
    /// End of the period.
    pub to: String,
    /// The zone hours are counted in: `[calls] time_zone` (`Europe/Kyiv`) or `utc_offset`.
    pub utc_offset: String,
    /// `[first hour, end hour)` of the working day.
    pub working_hours: [u32; 2],
    /// Totals.
    pub totals: Totals,
    /// Per manager, by name.
    pub managers: Vec<ManagerRow>,
    /// One row per working hour.
    pub hours: Vec<HourRow>,
    /// Client calls that started outside the working hours.
    pub outside_working_hours: u64,
}

#[derive(Clone, Copy)]
enum Category {
    Inbound,
    Outbound,
    Missed,
}

fn category(c: &StoredCall) -> Category {
    match (c.call.direction.as_str(), c.call.status.as_str()) {
        ("outbound", _) => Category::Outbound,
        (_, "answered") => Category::Inbound,
        _ => Category::Missed,
    }
}

/// The name a call is reported under.
fn manager(c: &StoredCall, setup: &CallSetup, dict: Option<&Dictionaries>) -> String {
    let user_name = |id: i64| {
        dict.and_then(|d| d.users.iter().find(|u| u.id == id))
            .map(|u| u.name.clone())
            .unwrap_or_else(|| format!("amoCRM user {id}"))
    };
    let employee = serde_json::from_str::<CallEvent>(&c.call.event)
        .ok()
        .and_then(|e| e.employee);
    match employee {
        Some(emp) => match setup.staff.find(&emp) {
            Some(s) => s.name.clone().unwrap_or_else(|| {
                dict.and_then(|d| crate::crm::names::find_user(d, &s.user).ok())
                    .map(user_name)
                    .unwrap_or_else(|| s.user.clone())
            }),
            None => format!("{} (not mapped)", emp.label()),
        },
        // A call given to a user (a missed call, say) goes under the same label as the calls
        // that user answered, or one person gets two rows.
        None => match c.user_id {
            Some(id) => setup
                .staff
                .entries
                .iter()
                .find(|s| {
                    s.name.is_some()
                        && dict.and_then(|d| crate::crm::names::find_user(d, &s.user).ok())
                            == Some(id)
                })
                .and_then(|s| s.name.clone())
                .unwrap_or_else(|| user_name(id)),
            None => "(no employee)".into(),
        },
    }
}

/// Builds the report over `calls` (the store's calls of the period).
pub fn build(
    calls: &[StoredCall],
    setup: &CallSetup,
    dict: Option<&Dictionaries>,
    days: u32,
    from: i64,
    to: i64,
) -> CallReport {
    let [start, end] = setup.calls.working_hours;
    let local = |t: i64| {
        setup
            .zone
            .local(&DateTime::<Utc>::from_timestamp(t, 0).unwrap_or_default())
    };
    let mut hours: Vec<HourRow> = (start..end)
        .map(|hour| HourRow {
            hour,
            ..Default::default()
        })
        .collect();
    let mut managers: BTreeMap<String, ManagerRow> = BTreeMap::new();
    let mut totals = Totals::default();
    let mut outside = 0;
    for c in calls.iter().filter(|c| c.call.ended) {
        if c.call.internal {
            totals.internal += 1;
            continue;
        }
        if c.call.state == CallState::Pending {
            totals.pending_delivery += 1;
        }
        let name = manager(c, setup, dict);
        let row = managers.entry(name.clone()).or_insert_with(|| ManagerRow {
            manager: name,
            ..Default::default()
        });
        let talk = c.call.billsec.max(0) as u64;
        let wait = c.call.duration.max(0) as u64;
        let hour = local(c.call.started_at).hour();
        let slot = hours.iter_mut().find(|h| h.hour == hour);
        if slot.is_none() {
            outside += 1;
        }
        match category(c) {
            Category::Inbound => {
                row.inbound.add(talk);
                totals.inbound.add(talk);
                if let Some(h) = slot {
                    h.inbound += 1;
                }
            }
            Category::Outbound => {
                row.outbound.add(talk);
                totals.outbound.add(talk);
                if let Some(h) = slot {
                    h.outbound += 1;
                }
            }
            Category::Missed => {
                row.missed.add(wait);
                totals.missed.add(wait);
                if let Some(h) = slot {
                    h.missed += 1;
                }
            }
        }
    }
    CallReport {
        days,
        from: local(from).to_rfc3339(),
        to: local(to).to_rfc3339(),
        utc_offset: setup.zone.label(),
        working_hours: [start, end],
        totals,
        managers: managers.into_values().collect(),
        hours,
        outside_working_hours: outside,
    }
}

impl CallReport {
    /// `UTC+03:00` or `Europe/Kyiv`, for titles.
    pub fn zone_label(&self) -> String {
        if self.utc_offset.starts_with(['+', '-']) {
            format!("UTC{}", self.utc_offset)
        } else {
            self.utc_offset.clone()
        }
    }
}

/// `1h02m03s`, `4m05s`, `35s`.
pub fn human_secs(s: u64) -> String {
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    if h > 0 {
        format!("{h}h{m:02}m{sec:02}s")
    } else if m > 0 {
        format!("{m}m{sec:02}s")
    } else {
        format!("{sec}s")
    }
}

/// The per-manager table as text.
pub fn table(r: &CallReport) -> String {
    let width = r
        .managers
        .iter()
        .map(|m| m.manager.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(7, NAME_WIDTH);
    let cell = |b: &Bucket| {
        format!(
            "{:>4} {:>9} {:>8}",
            b.count,
            human_secs(b.total_secs),
            human_secs(b.average_secs)
        )
    };
    let mut out = format!(
        "{:<width$}  {:^23}  {:^23}  {:^23}\n{:<width$}  {h}  {h}  {h}\n",
        "",
        "inbound",
        "outbound",
        "missed",
        "manager",
        h = format!("{:>4} {:>9} {:>8}", "n", "total", "avg"),
    );
    for m in &r.managers {
        out.push_str(&format!(
            "{:<width$}  {}  {}  {}\n",
            fit(&m.manager, width),
            cell(&m.inbound),
            cell(&m.outbound),
            cell(&m.missed)
        ));
    }
    out.push_str(&format!(
        "{:<width$}  {}  {}  {}\n",
        "total",
        cell(&r.totals.inbound),
        cell(&r.totals.outbound),
        cell(&r.totals.missed)
    ));
    out
}

/// The widest manager column: with the three 23-character columns (an average of an hour
/// or more is 8 characters) the table stays within 100 characters, what a terminal and a
/// cron mail show without wrapping.
const NAME_WIDTH: usize = 100 - 3 * (23 + 2);

/// `name` cut to `width` characters, its end shown as `…` when cut (`--json` keeps it whole).
fn fit(name: &str, width: usize) -> String {
    if name.chars().count() <= width {
        name.to_string()
    } else {
        let mut cut: String = name.chars().take(width - 1).collect();
        cut.push('…');
        cut
    }
}

/// Calls per working hour as a terminal bar chart (█ inbound, ▓ outbound, ░ missed), the
/// busiest hour about `width` characters long.
pub fn chart(r: &CallReport, width: usize) -> String {
    let max = r.hours.iter().map(HourRow::total).max().unwrap_or(0);
    // Small counts: a whole number of characters per call, so bars can be counted.
    let scale = |n: u64| -> usize {
        if max == 0 {
            0
        } else if max as usize <= width {
            n as usize * (width / max as usize)
        } else {
            ((n as f64) * (width as f64) / (max as f64)).round() as usize
        }
    };
    let zone = r.zone_label();
    let mut out = format!(
        "calls per hour ({:02}:00–{:02}:00, {zone}): █ inbound  ▓ outbound  ░ missed\n",
        r.working_hours[0], r.working_hours[1]
    );
    for h in &r.hours {
        let bar = format!(
            "{}{}{}",
            "█".repeat(scale(h.inbound)),
            "▓".repeat(scale(h.outbound)),
            "░".repeat(scale(h.missed))
        );
        let pad = scale(max).saturating_sub(bar.chars().count());
        out.push_str(&format!(
            "{:02} │{bar}{} {}\n",
            h.hour,
            " ".repeat(pad),
            h.total()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_round_the_average_and_durations_read_well() {
        let mut b = Bucket::default();
        for s in [10, 11] {
            b.add(s);
        }
        assert_eq!((b.count, b.total_secs, b.average_secs), (2, 21, 11));
        assert_eq!(human_secs(35), "35s");
        assert_eq!(human_secs(245), "4m05s");
        assert_eq!(human_secs(3723), "1h02m03s");
    }

    #[test]
    fn the_table_stays_within_100_characters_with_a_long_unmapped_name() {
        let mut b = Bucket::default();
        b.add(3723);
        let row = |name: &str| ManagerRow {
            manager: name.into(),
            inbound: b,
            outbound: b,
            missed: b,
        };
        let r = CallReport {
            managers: vec![
                row("Anna (office)"),
                row("Ringostat employee 1203 <sip:1203@office.example.com> (not mapped)"),
            ],
            ..CallReport::default()
        };
        let text = table(&r);
        for line in text.lines() {
            assert!(
                line.chars().count() <= 100,
                "{} chars: {line}",
                line.chars().count()
            );
        }
        assert!(text.contains("Anna (office)  "), "{text}");
        assert!(text.contains("Ringostat employee 1203 …"), "{text}");
    }

    /// A call at 23:30 Kyiv time on each side of a clock change is counted at 23:00 of
    /// its own day; a fixed `+03:00` would put the winter-time call at 00:30 next day.
    #[test]
    fn late_calls_around_a_daylight_saving_change_land_on_their_day_and_hour() {
        use crate::calls::parse::{parse_body, Format};
        use crate::store::StoredCall;
        let rules = |zone: &str| {
            let text = format!(
                "[amocrm]\nbase_url = \"https://x.amocrm.ru\"\nclient_id = \"id\"\nclient_secret_env = \"S\"\nredirect_uri = \"https://example.com/cb\"\n[billmanager]\nsource = \"files\"\ndir = \"bm\"\n[calls]\n{zone}\nworking_hours = [0, 24]\n"
            );
            let r = crate::rules::RuleSet::parse(&text, std::path::Path::new("r.toml")).unwrap();
            CallSetup::from_rules(&r).unwrap()
        };
        let kyiv = rules("time_zone = \"Europe/Kyiv\"");
        let fixed = rules("utc_offset = \"+03:00\"");
        // Wall-clock `calldate`s (the night before and after 2026-03-29 03:00 → 04:00,
        // and after 2026-10-25 04:00 → 03:00), then the same instants as Unix seconds.
        let walls = [
            "2026-03-28 23:30:00",
            "2026-03-29 23:30:00",
            "2026-10-25 23:30:00",
        ];
        let unix = ["1774733400", "1774816200", "1792963800"];
        let stored = |setup: &CallSetup, calldate: &str, n: usize| {
            let body = format!(
                r#"{{"uniqueid":"u{n}","calldate":"{calldate}","caller":"380671112233","disposition":"ANSWERED","billsec":"30"}}"#
            );
            let opts = setup.parse_options(Format::Auto, setup.now());
            let e = parse_body(&body, &opts).unwrap()[0].event.clone().unwrap();
            StoredCall {
                id: n as i64,
                call: setup.new_call(&e),
                attempts: 0,
                last_error: None,
                amo_call_id: None,
                amo_entity: None,
                user_id: None,
                delivered_at: None,
                duplicates: 0,
                received_at: 0,
            }
        };
        let mut calls = Vec::new();
        for (n, t) in walls.iter().chain(unix.iter()).enumerate() {
            calls.push(stored(&kyiv, t, n));
        }
        for (c, day) in calls
            .iter()
            .zip(["2026-03-28", "2026-03-29", "2026-10-25"].iter().cycle())
        {
            let local = kyiv
                .zone
                .local(&DateTime::<Utc>::from_timestamp(c.call.started_at, 0).unwrap());
            assert_eq!(
                local.format("%Y-%m-%d %H:%M").to_string(),
                format!("{day} 23:30")
            );
        }
        let r = build(&calls, &kyiv, None, 365, 0, 0);
        assert_eq!(r.utc_offset, "Europe/Kyiv");
        let at = |r: &CallReport, h: u32| r.hours.iter().find(|x| x.hour == h).unwrap().inbound;
        assert_eq!((at(&r, 23), at(&r, 0)), (6, 0), "{:?}", r.hours);
        // The same instants with a fixed offset: the winter-time ones move to 00:30.
        let calls: Vec<StoredCall> = unix
            .iter()
            .enumerate()
            .map(|(n, t)| stored(&fixed, t, n))
            .collect();
        let r = build(&calls, &fixed, None, 365, 0, 0);
        assert_eq!((at(&r, 23), at(&r, 0)), (1, 2), "{:?}", r.hours);
    }

    #[test]
    fn chart_scales_to_the_width() {
        let r = CallReport {
            working_hours: [9, 11],
            utc_offset: "+03:00".into(),
            hours: vec![
                HourRow {
                    hour: 9,
                    inbound: 100,
                    outbound: 50,
                    missed: 50,
                },
                HourRow {
                    hour: 10,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let text = chart(&r, 40);
        let line = text.lines().nth(1).unwrap();
        assert_eq!(line.chars().filter(|c| "█▓░".contains(*c)).count(), 40);
        assert!(line.ends_with(" 200"), "{line}");
        assert!(text.lines().nth(2).unwrap().starts_with("10 │"));
    }
}
