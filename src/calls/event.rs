//! The neutral call event: one finished (or intermediate) call, whatever provider reported it.
//!
//! Its JSON form is the documented schema `amocrm-bin.call/1` (docs/calls-guide.md): other
//! providers can be mapped onto it outside this program, and the store keeps every event in
//! this form next to the untouched provider payload, so a stored call can be re-planned later
//! without re-parsing the provider's shape.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The value of the `schema` key of a neutral event.
pub const SCHEMA: &str = "amocrm-bin.call/1";

/// Which way the call went, seen from the company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// A client called us (Ringostat `in`, `callback`).
    Inbound,
    /// We called a client (Ringostat `out`, `transitout`).
    Outbound,
}

impl Direction {
    /// `inbound` / `outbound`, as amoCRM and the store spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

/// How the call ended. Unknown provider statuses map to [`Status::Unknown`], never to
/// "answered": a wrong "answered" hides a client nobody called back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// A conversation took place.
    Answered,
    /// Nobody picked up.
    Missed,
    /// Every destination was busy.
    Busy,
    /// The forwarding failed (misconfiguration, unreachable destination).
    Failed,
    /// The caller reached voicemail.
    Voicemail,
    /// The provider's status is not one we know.
    Unknown,
}

impl Status {
    /// The store's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Answered => "answered",
            Status::Missed => "missed",
            Status::Busy => "busy",
            Status::Failed => "failed",
            Status::Voicemail => "voicemail",
            Status::Unknown => "unknown",
        }
    }

    /// A client did not get through: the cases that need a call back when inbound.
    pub fn is_missed(self) -> bool {
        matches!(
            self,
            Status::Missed | Status::Busy | Status::Failed | Status::Voicemail
        )
    }
}

/// Where in its life the call was when the event was sent; only `ended` drives amoCRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// The call started.
    Started,
    /// An employee's phone is ringing.
    Ringing,
    /// Someone picked up.
    Answered,
    /// The call moved to another destination.
    Forwarded,
    /// The call is over: the only stage that creates anything in amoCRM.
    #[default]
    Ended,
}

/// The employee side of the call; any subset of the keys may be known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Employee {
    /// The provider's employee id (Ringostat `employee_number`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Internal extension.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<String>,
    /// SIP login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip: Option<String>,
    /// Display name (Ringostat `employee_fio`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The number that talked (Ringostat `connected_with`), E.164 when it is a phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl Employee {
    /// Whether nothing identifies the employee.
    pub fn is_empty(&self) -> bool {
        self.id.is_none()
            && self.extension.is_none()
            && self.sip.is_none()
            && self.name.is_none()
            && self.phone.is_none()
    }

    /// A short human label: name, then extension, SIP, phone, id.
    pub fn label(&self) -> String {
        let parts: Vec<String> = [
            self.name.clone(),
            self.extension.as_ref().map(|e| format!("ext {e}")),
            self.sip.as_ref().map(|s| format!("sip {s}")),
            self.phone.clone(),
            self.id.as_ref().map(|i| format!("id {i}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if parts.is_empty() {
            "unknown employee".into()
        } else {
            parts.join(", ")
        }
    }
}

/// The visitor's UTM tags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Utm {
    /// `utm_source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// `utm_medium`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medium: Option<String>,
    /// `utm_campaign`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    /// `utm_term`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
    /// `utm_content`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// Call-tracking attribution besides UTM.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Number pool (Ringostat `pool_name`), e.g. `Google Ads`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// Forwarding scheme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// Landing page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landing: Option<String>,
    /// Referrer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    /// Google Analytics client id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Visitor IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Department that took the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
}

/// One call event in the neutral schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallEvent {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// `ringostat`, `zadarma`, `manual`, … (lowercase).
    pub provider: String,
    /// The provider's call id: with `provider`, the idempotency key (amoCRM `uniq`).
    pub call_id: String,
    /// The provider's leg id, when it reports legs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leg_id: Option<String>,
    /// Only `ended` creates anything in amoCRM.
    #[serde(default)]
    pub stage: Stage,
    /// Call start, with its offset.
    pub started_at: DateTime<FixedOffset>,
    /// When someone picked up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<DateTime<FixedOffset>>,
    /// When the call ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<FixedOffset>>,
    /// Inbound or outbound.
    pub direction: Direction,
    /// A callback ordered on the website (an inbound call that we dialled).
    #[serde(default)]
    pub is_callback: bool,
    /// A call between two employees (the provider says so).
    #[serde(default)]
    pub is_internal: bool,
    /// Calling party as reported (E.164 when a phone, else a SIP login or extension).
    #[serde(default)]
    pub from: String,
    /// Called party as reported.
    #[serde(default)]
    pub to: String,
    /// The client's number in E.164 (from for inbound, to for outbound); `None` when the
    /// client side is not a phone (an extension: an internal call).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_phone: Option<String>,
    /// Our number the client dialled (inbound).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    /// Who took (or placed) the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee: Option<Employee>,
    /// Normalised status.
    pub status: Status,
    /// The provider's own status text (`PROPER`, `NO ANSWER`, …).
    #[serde(default)]
    pub provider_status: String,
    /// Ringostat target call (`PROPER` true, `REPEATED` false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_target: Option<bool>,
    /// Total length in seconds, waiting included.
    #[serde(default)]
    pub duration: u32,
    /// Talk time in seconds (0 when nobody talked).
    #[serde(default)]
    pub billsec: u32,
    /// Waiting time before an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_sec: Option<u32>,
    /// Recording link, only when a recording exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_url: Option<String>,
    /// UTM tags.
    #[serde(default)]
    pub utm: Utm,
    /// Other attribution.
    #[serde(default)]
    pub source: Source,
    /// The provider's payload, untouched (audit and re-mapping).
    #[serde(default)]
    pub raw: Value,
    /// When we received it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<DateTime<FixedOffset>>,
}

impl CallEvent {
    /// The start as Unix seconds (the store's unit).
    pub fn started_unix(&self) -> i64 {
        self.started_at.timestamp()
    }

    /// An inbound call that ended with a status nobody recognised and no talk time becomes
    /// missed, so the caller still gets a contact and call-back tasks: Ringostat documents
    /// missed-call statuses whose API strings no source gives (docs/calls.md §2.7), and a
    /// dropped missed call is the worst outcome. The raw status stays in
    /// `provider_status` (and in the call's result text). True when it changed the status.
    pub fn settle_unknown(&mut self) -> bool {
        let silent = self.status == Status::Unknown
            && self.direction == Direction::Inbound
            && self.billsec == 0
            && self.stage == Stage::Ended
            && !self.is_internal;
        if silent {
            self.status = Status::Missed;
        }
        silent
    }

    /// The provider's name as shown in amoCRM's call card (`ringostat` → `Ringostat`).
    pub fn source_name(&self) -> String {
        let mut c = self.provider.chars();
        match c.next() {
            Some(f) => f.to_uppercase().chain(c).collect(),
            None => "Call tracking".into(),
        }
    }
}
