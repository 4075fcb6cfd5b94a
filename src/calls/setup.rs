//! What `[calls]` means before amoCRM is asked anything: parse options, the employee
//! mapping, and turning a parsed event into a stored call (store first, push after).

use chrono::{DateTime, FixedOffset};

use super::zone::CallZone;

use super::event::CallEvent;
use super::fingerprint::{fingerprint, rank};
use super::options::{Format, ParseOptions};
use super::options::{RingostatKeys, StatusMap};
use super::staff::{Staff, Triage};
use crate::rules::{CallsSection, Problem, RuleSet, RulesError};
use crate::store::{CallRecord, CallState, Intake, Store};

/// `[calls]` ready for intake and planning.
#[derive(Debug, Clone)]
pub struct CallSetup {
    /// The section as written.
    pub calls: CallsSection,
    /// Country for numbers without a country code.
    pub country: String,
    /// Zone of provider times without an offset, task deadlines' texts and report hours.
    pub zone: CallZone,
    /// Employees.
    pub staff: Staff,
    /// Ringostat key names.
    pub keys: RingostatKeys,
    /// `[calls.statuses]`.
    pub statuses: StatusMap,
}

impl CallSetup {
    /// Reads `[calls]` (validated already; a zone error here is still reported cleanly).
    pub fn from_rules(rules: &RuleSet) -> Result<CallSetup, RulesError> {
        let calls = rules.file.calls.clone();
        let zone = CallZone::from_settings(calls.time_zone.as_deref(), &calls.utc_offset).map_err(
            |(key, message)| RulesError::Invalid {
                path: rules.path.clone(),
                problems: vec![Problem {
                    key: key.into(),
                    message,
                }],
            },
        )?;
        let statuses = StatusMap::from_rules(&calls.statuses).map_err(|(raw, message)| {
            RulesError::Invalid {
                path: rules.path.clone(),
                problems: vec![Problem {
                    key: format!("calls.statuses.\"{raw}\""),
                    message,
                }],
            }
        })?;
        let country = calls
            .default_country
            .clone()
            .unwrap_or_else(|| rules.file.sync.default_country.clone());
        Ok(CallSetup {
            staff: Staff::from_rules(&calls, &country),
            keys: RingostatKeys::with_overrides(&calls.ringostat_keys),
            statuses,
            calls,
            country,
            zone,
        })
    }

    /// Parse options for a body received at `now`.
    pub fn parse_options(&self, format: Format, now: DateTime<FixedOffset>) -> ParseOptions {
        ParseOptions {
            default_country: self.country.clone(),
            zone: self.zone,
            ringostat_keys: self.keys.clone(),
            statuses: self.statuses.clone(),
            format,
            received_at: now,
        }
    }

    /// Now, on the calls' clock.
    pub fn now(&self) -> DateTime<FixedOffset> {
        self.zone.local(&chrono::Utc::now())
    }

    /// Decides the initial state of an event (internal, interim, to push).
    pub fn triage(&self, e: &CallEvent) -> Triage {
        self.staff.triage(e, &self.country)
    }

    /// The row to store for an event.
    pub fn new_call(&self, e: &CallEvent) -> CallRecord {
        let (state, detail, internal) = match self.triage(e) {
            Triage::Interim => (CallState::Interim, None, false),
            Triage::Internal(why) => (
                CallState::Skipped,
                Some(format!("internal call: {why}")),
                true,
            ),
            Triage::Skip(why) => (CallState::Skipped, Some(why), false),
            Triage::Push => (CallState::Pending, None, false),
        };
        CallRecord {
            provider: e.provider.clone(),
            call_id: e.call_id.clone(),
            fingerprint: fingerprint(e),
            direction: e.direction.as_str().into(),
            status: e.status.as_str().into(),
            ended: state != CallState::Interim,
            internal,
            started_at: e.started_unix(),
            duration: i64::from(e.duration),
            billsec: i64::from(e.billsec),
            client_phone: e.client_phone.clone(),
            rank: rank(e),
            event: serde_json::to_string(e).unwrap_or_else(|_| "{}".into()),
            raw: e.raw.to_string(),
            state,
            detail,
        }
    }

    /// Stores an event (deduplicated); nothing is sent.
    pub fn store(&self, store: &Store, e: &CallEvent) -> crate::store::Result<Intake> {
        store.call_intake(&self.new_call(e), i64::from(self.calls.dedup_window_secs))
    }
}
