//! What one call should become in amoCRM: a pure function from the event, the rules and
//! what amoCRM already holds for the caller ([`Known`]) to a [`Plan`] of writes.
//!
//! The rules (defaults; `[calls]` changes them):
//! - a new number calling in gets a contact, and a lead in the pipeline the call rules pick,
//!   with the answering employee responsible;
//! - a known number gets the call on its open lead or on the contact; no new lead while the
//!   contact has an open one;
//! - a missed inbound call gets a "call back" task (deadline: call time + 10 minutes) for the
//!   responsible manager and one for the senior manager, unless the contact already has an
//!   open call-back task;
//! - an answered call whose employee is not in `[[calls.employees]]` gets a task for the
//!   senior manager to fix the mapping;
//! - every call is logged with `POST /api/v4/calls`; keys without a value are left out,
//!   never sent as null (amoCRM rejects nulls, reference §13).

use serde_json::{json, Map, Value};

use super::config::{attribution, CallRules};
use super::event::{CallEvent, Direction, Status};
use super::setup::CallSetup;
use crate::rules::OutboundUnknown;

/// An existing contact with the caller's phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownContact {
    /// amoCRM id.
    pub id: i64,
    /// Its responsible user.
    pub responsible: Option<i64>,
}

/// An open lead of that contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownLead {
    /// amoCRM id.
    pub id: i64,
    /// Its responsible user.
    pub responsible: Option<i64>,
    /// Custom fields that already hold a value (never overwritten).
    pub filled_fields: Vec<i64>,
}

/// What amoCRM holds for the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Known {
    /// The caller's contact.
    pub contact: Option<KnownContact>,
    /// Its open leads (not won or lost).
    pub open_leads: Vec<KnownLead>,
    /// The contact has an open call-back task already.
    pub open_callback_task: bool,
    /// A mapping task for this employee was created within the last day.
    pub mapping_task_recent: bool,
}

/// The contact the call goes to.
#[derive(Debug, Clone, PartialEq)]
pub enum ContactStep {
    /// Already in amoCRM.
    Existing(i64),
    /// To create (`POST /api/v4/contacts` item).
    Create(Value),
}

/// A lead write.
#[derive(Debug, Clone, PartialEq)]
pub enum LeadStep {
    /// Create (`POST /api/v4/leads` item; the contact link is added when its id is known).
    Create(Value),
    /// Fill attribution fields that are empty on the open lead (`PATCH` item).
    Fill(Value),
}

/// A task to create on the contact.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskStep {
    /// Step key: `task:callback`, `task:senior`, `task:mapping`.
    pub key: &'static str,
    /// `POST /api/v4/tasks` item without the entity.
    pub body: Value,
}

/// The writes for one call, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The contact.
    pub contact: ContactStep,
    /// A lead to create or fill.
    pub lead: Option<LeadStep>,
    /// Tasks.
    pub tasks: Vec<TaskStep>,
    /// The `POST /api/v4/calls` item.
    pub call: Value,
    /// The user responsible for the call (stored for the report).
    pub responsible: Option<i64>,
    /// What was decided and why, for the log and `calls list`.
    pub why: Vec<String>,
}

/// A plan, or why nothing is sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Nothing to send; the reason is stored.
    Skip(String),
    /// Send this.
    Push(Box<Plan>),
}

/// Fills `{phone}`, `{time}`, `{pool}`, `{utm_source}`, `{provider}`, `{employee}`.
pub fn fill(template: &str, e: &CallEvent, setup: &CallSetup) -> String {
    let time = setup
        .zone
        .local(&e.started_at)
        .format("%Y-%m-%d %H:%M")
        .to_string();
    template
        .replace("{phone}", e.client_phone.as_deref().unwrap_or(&e.from))
        .replace("{time}", &time)
        .replace("{pool}", e.source.pool.as_deref().unwrap_or(""))
        .replace("{utm_source}", e.utm.source.as_deref().unwrap_or(""))
        .replace("{provider}", &e.source_name())
        .replace(
            "{employee}",
            &e.employee.as_ref().map(|x| x.label()).unwrap_or_default(),
        )
        .trim()
        .to_string()
}

/// The fixed start of the call-back task text: how our tasks are recognised by text.
pub fn callback_marker(setup: &CallSetup) -> &str {
    let t = setup.calls.callback_task_text.as_str();
    t.split('{').next().unwrap_or("").trim_end()
}

/// amoCRM `call_status` (reference §13): 1 left a message, 3 not available, 4 talked,
/// 6 did not get through, 7 busy; `None` for unknown (the key is left out). A missed
/// inbound call gets `[calls] missed_call_status` (default 6, "did not get through", the
/// code community integrations use, so automations keyed on it fire; docs/calls.md §7).
pub fn call_status(e: &CallEvent, missed_inbound: i64) -> Option<i64> {
    match (e.status, e.direction) {
        (Status::Answered, _) => Some(4),
        (Status::Voicemail, _) => Some(1),
        (Status::Busy, _) => Some(7),
        (Status::Missed, Direction::Inbound) => Some(missed_inbound),
        (Status::Missed, Direction::Outbound) | (Status::Failed, _) => Some(6),
        (Status::Unknown, _) => None,
    }
}

fn call_result(e: &CallEvent) -> String {
    let mut s = match e.status {
        Status::Answered => "Answered".to_string(),
        Status::Missed => "Missed call".into(),
        Status::Busy => "Line busy".into(),
        Status::Failed => "Call failed".into(),
        Status::Voicemail => "Voicemail".into(),
        Status::Unknown => format!("Status {}", e.provider_status),
    };
    // A status the rule file or the parser interpreted: keep the provider's own word.
    let raw = e.provider_status.trim();
    if e.status != Status::Unknown && !raw.is_empty() && super::options::status_of(raw) != e.status
    {
        s.push_str(&format!(" (provider status {raw})"));
    }
    match e.is_target {
        Some(true) => s.push_str(" (target call)"),
        Some(false) => s.push_str(" (repeat call)"),
        None => {}
    }
    if let Some(p) = &e.source.pool {
        s.push_str(&format!(", pool {p}"));
    }
    if let Some(src) = &e.utm.source {
        s.push_str(&format!(", utm_source {src}"));
    }
    s
}

fn tags(setup: &CallSetup) -> Option<Value> {
    (!setup.calls.tags.is_empty()).then(|| {
        Value::Array(
            setup
                .calls
                .tags
                .iter()
                .map(|t| json!({ "name": t }))
                .collect(),
        )
    })
}

fn put_user(m: &mut Map<String, Value>, key: &str, user: Option<i64>) {
    if let Some(u) = user {
        m.insert(key.into(), json!(u));
    }
}

/// The `POST /api/v4/calls` item.
pub fn call_body(
    e: &CallEvent,
    responsible: Option<i64>,
    employee_user: Option<i64>,
    missed_inbound: i64,
) -> Value {
    let mut m = Map::new();
    m.insert("direction".into(), json!(e.direction.as_str()));
    let talk = if e.status == Status::Answered {
        e.billsec
    } else {
        0
    };
    m.insert("duration".into(), json!(talk));
    m.insert("source".into(), json!(e.source_name()));
    m.insert(
        "phone".into(),
        json!(e.client_phone.as_deref().unwrap_or(&e.from)),
    );
    m.insert("uniq".into(), json!(e.call_id));
    m.insert("created_at".into(), json!(e.started_unix()));
    if let (Some(link), true) = (&e.recording_url, talk > 0) {
        m.insert("link".into(), json!(link));
    }
    if let Some(s) = call_status(e, missed_inbound) {
        m.insert("call_status".into(), json!(s));
    }
    m.insert("call_result".into(), json!(call_result(e)));
    // Analytics count a call only when created_by equals the responsible user (§12.2).
    put_user(&mut m, "responsible_user_id", responsible);
    put_user(&mut m, "created_by", responsible);
    put_user(&mut m, "call_responsible", employee_user);
    Value::Object(m)
}

/// Decides the writes for a call that passed triage (it has a client phone).
pub fn decide(e: &CallEvent, setup: &CallSetup, rules: &CallRules, known: &Known) -> Decision {
    let c = &setup.calls;
    let Some(phone) = e.client_phone.clone() else {
        return Decision::Skip("the event names no client phone".into());
    };
    let inbound = e.direction == Direction::Inbound;
    let answered = e.status == Status::Answered;
    let missed = inbound && e.status.is_missed();
    let mapped = e
        .employee
        .as_ref()
        .and_then(|emp| setup.staff.find(emp))
        .map(|s| rules.users.get(s.index).copied().unwrap_or(0))
        .filter(|u| *u != 0);
    let unmapped = e.employee.as_ref().filter(|_| mapped.is_none());
    let mut why = Vec::new();
    // The client's owner: the single open lead's responsible, else the contact's.
    let owner = known.contact.as_ref().and_then(|k| {
        match known.open_leads.as_slice() {
            [lead] => lead.responsible,
            _ => None,
        }
        .or(k.responsible)
    });
    let manager = owner.or(mapped).or(rules.fallback);
    let contact = match &known.contact {
        Some(k) => {
            why.push(format!("known number: contact {}", k.id));
            ContactStep::Existing(k.id)
        }
        None if !inbound && c.outbound_to_unknown == OutboundUnknown::Skip => {
            return Decision::Skip(format!(
                "outgoing call to {phone}, a number no amoCRM contact has (`[calls] outbound_to_unknown = \"skip\"`)"
            ));
        }
        None if e.status == Status::Unknown => {
            return Decision::Skip(format!(
                "status `{}` is unknown and no amoCRM contact has {phone}: nothing to attach the call to",
                e.provider_status
            ));
        }
        None => {
            let mut m = Map::new();
            m.insert("name".into(), json!(fill(&c.contact_name, e, setup)));
            put_user(&mut m, "responsible_user_id", manager);
            m.insert(
                "custom_fields_values".into(),
                json!([{"field_code": "PHONE", "values": [{"value": phone, "enum_code": "WORK"}]}]),
            );
            if let Some(t) = tags(setup) {
                m.insert("_embedded".into(), json!({ "tags": t }));
            }
            why.push("new number: contact created".into());
            ContactStep::Create(Value::Object(m))
        }
    };
    let attribution_values: Vec<(i64, &str)> = rules
        .lead_fields
        .iter()
        .filter_map(|(key, id)| attribution(e, key).map(|v| (*id, v)))
        .collect();
    let wants_lead = inbound
        && known.open_leads.is_empty()
        && (answered || (missed && c.missed_creates_lead))
        && (known.contact.is_none() || c.returning_client_lead);
    let lead = if wants_lead {
        let mut m = Map::new();
        m.insert("name".into(), json!(fill(&c.lead_name, e, setup)));
        if let Some((p, s)) = rules.pipeline_for(e) {
            m.insert("pipeline_id".into(), json!(p));
            m.insert("status_id".into(), json!(s));
        }
        let lead_user = if answered {
            mapped.or(manager)
        } else {
            manager
        };
        put_user(&mut m, "responsible_user_id", lead_user);
        if !attribution_values.is_empty() {
            m.insert(
                "custom_fields_values".into(),
                Value::Array(
                    attribution_values
                        .iter()
                        .map(|(id, v)| json!({"field_id": id, "values": [{"value": v}]}))
                        .collect(),
                ),
            );
        }
        if let Some(t) = tags(setup) {
            m.insert("_embedded".into(), json!({ "tags": t }));
        }
        why.push("lead created".into());
        Some(LeadStep::Create(Value::Object(m)))
    } else if let [open] = known.open_leads.as_slice() {
        why.push(format!("open lead {}", open.id));
        let empty: Vec<Value> = attribution_values
            .iter()
            .filter(|(id, _)| !open.filled_fields.contains(id))
            .map(|(id, v)| json!({"field_id": id, "values": [{"value": v}]}))
            .collect();
        (!empty.is_empty() && inbound)
            .then(|| LeadStep::Fill(json!({"id": open.id, "custom_fields_values": empty})))
    } else {
        if known.open_leads.len() > 1 {
            why.push(format!(
                "{} open leads: the call stays on the contact",
                known.open_leads.len()
            ));
        }
        None
    };
    let mut tasks = Vec::new();
    let task = |user: Option<i64>, text: String, till: i64| {
        let mut m = Map::new();
        m.insert("task_type_id".into(), json!(c.callback_task_type));
        m.insert("text".into(), json!(text));
        m.insert("complete_till".into(), json!(till));
        put_user(&mut m, "responsible_user_id", user);
        Value::Object(m)
    };
    if missed {
        if known.open_callback_task {
            why.push("an open call-back task exists: no new one".into());
        } else {
            let till = e.started_unix() + 60 * i64::from(c.callback_deadline_minutes);
            let text = fill(&c.callback_task_text, e, setup);
            tasks.push(TaskStep {
                key: "task:callback",
                body: task(manager, text.clone(), till),
            });
            let mut who = vec![manager.map(|u| rules.user_name(u)).unwrap_or_default()];
            if let Some(senior) = rules.senior.filter(|s| Some(*s) != manager) {
                tasks.push(TaskStep {
                    key: "task:senior",
                    body: task(Some(senior), text, till),
                });
                who.push(rules.user_name(senior));
            }
            why.push(format!("call-back task for {}", who.join(" and ")));
        }
    }
    if let (true, Some(emp)) = (answered, unmapped) {
        if known.mapping_task_recent {
            why.push(format!(
                "employee {} is not mapped (task already set)",
                emp.label()
            ));
        } else {
            let user = rules.senior.or(rules.fallback);
            let text = format!(
                "Call-tracking mapping: employee {} answered {} at {} but is not mapped to an amoCRM user; add them to [[calls.employees]] in the amocrm-bin rule file",
                emp.label(),
                phone,
                fill("{time}", e, setup)
            );
            let till = e.started_unix() + 86_400;
            tasks.push(TaskStep {
                key: "task:mapping",
                body: task(user, text, till),
            });
            why.push(format!(
                "employee {} not mapped: task for the senior manager",
                emp.label()
            ));
        }
    }
    let responsible = if answered || !inbound {
        mapped.or(manager)
    } else {
        manager
    };
    Decision::Push(Box::new(Plan {
        contact,
        lead,
        tasks,
        call: call_body(e, responsible, mapped, c.missed_call_status),
        responsible,
        why,
    }))
}

#[cfg(test)]
mod tests;
