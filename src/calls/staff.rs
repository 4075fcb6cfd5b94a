//! Employees: which provider extension, SIP login, phone or id is which amoCRM user, and
//! which calls are internal (between employees) and so create nothing in amoCRM.
//!
//! The mapping is read from `[[calls.employees]]` without talking to amoCRM, so deciding
//! "internal" and labelling the report work offline; turning `user` into an amoCRM id
//! happens in [`super::config`].

use super::event::{CallEvent, Direction, Employee, Stage};
use super::party::{classify, Party};
use crate::phone;
use crate::rules::CallsSection;

/// One `[[calls.employees]]` entry, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffEntry {
    /// Position in the rule file (for messages and the resolved user list).
    pub index: usize,
    /// The amoCRM user as written (name, e-mail or id).
    pub user: String,
    /// Report label.
    pub name: Option<String>,
    /// Extensions.
    pub extensions: Vec<String>,
    /// SIP logins, lowercase.
    pub sip: Vec<String>,
    /// Phones in E.164.
    pub phones: Vec<String>,
    /// Provider employee ids.
    pub ids: Vec<String>,
}

/// The employee mapping plus the company's own numbers.
#[derive(Debug, Clone, Default)]
pub struct Staff {
    /// Entries in file order.
    pub entries: Vec<StaffEntry>,
    internal_numbers: Vec<String>,
}

/// What to do with a stored event before amoCRM is asked anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Triage {
    /// Not the final event of the call: kept, never sent.
    Interim,
    /// Between employees: kept, never sent, not a client call in the report.
    Internal(String),
    /// Nothing in amoCRM could hold it (no client phone).
    Skip(String),
    /// Goes to amoCRM.
    Push,
}

fn norm(s: &str) -> String {
    s.trim().to_ascii_lowercase()
}

impl Staff {
    /// Builds the mapping from the rule file.
    pub fn from_rules(calls: &CallsSection, default_country: &str) -> Staff {
        let phone_of = |p: &String| phone::normalize(p, default_country);
        Staff {
            entries: calls
                .employees
                .iter()
                .enumerate()
                .map(|(index, e)| StaffEntry {
                    index,
                    user: e.user.clone(),
                    name: e.name.clone(),
                    extensions: e.extensions.iter().map(|x| norm(x)).collect(),
                    sip: e.sip.iter().map(|x| norm(x)).collect(),
                    phones: e.phones.iter().filter_map(phone_of).collect(),
                    ids: e.ids.iter().map(|x| norm(x)).collect(),
                })
                .collect(),
            internal_numbers: calls.internal_numbers.iter().filter_map(phone_of).collect(),
        }
    }

    /// The entry an event's employee maps to: by provider id, extension, SIP login, then
    /// phone. Ringostat's `employee_number` may be an id or an extension, so ids are also
    /// compared with extensions.
    pub fn find(&self, e: &Employee) -> Option<&StaffEntry> {
        let id = e.id.as_deref().map(norm);
        let ext = e.extension.as_deref().map(norm);
        let sip = e.sip.as_deref().map(norm);
        self.entries
            .iter()
            .find(|s| id.as_ref().is_some_and(|i| s.ids.contains(i)))
            .or_else(|| {
                self.entries.iter().find(|s| {
                    ext.as_ref().is_some_and(|x| s.extensions.contains(x))
                        || id.as_ref().is_some_and(|i| s.extensions.contains(i))
                })
            })
            .or_else(|| {
                self.entries
                    .iter()
                    .find(|s| sip.as_ref().is_some_and(|x| s.sip.contains(x)))
            })
            .or_else(|| {
                let p = e.phone.as_deref()?;
                self.entries
                    .iter()
                    .find(|s| s.phones.iter().any(|q| phone::same(p, q)))
            })
    }

    /// The employee a raw party (number, extension, login) belongs to, if any.
    fn owner_of(&self, party: &Party) -> Option<&StaffEntry> {
        match party {
            Party::Phone(p) => self
                .entries
                .iter()
                .find(|s| s.phones.iter().any(|q| phone::same(p, q))),
            Party::Extension(x) => self.entries.iter().find(|s| s.extensions.contains(x)),
            Party::Login(l) => {
                let l = norm(l);
                self.entries.iter().find(|s| s.sip.contains(&l))
            }
            Party::Empty => None,
        }
    }

    /// Decides whether an event goes to amoCRM at all.
    pub fn triage(&self, e: &CallEvent, default_country: &str) -> Triage {
        if e.stage != Stage::Ended {
            return Triage::Interim;
        }
        if e.is_internal {
            return Triage::Internal("the provider marks the call as internal".into());
        }
        let raw = match e.direction {
            Direction::Inbound => &e.from,
            Direction::Outbound => &e.to,
        };
        let party = match e.client_phone.as_deref() {
            Some(p) => Party::Phone(p.to_string()),
            None => classify(raw, default_country),
        };
        if let Some(s) = self.owner_of(&party) {
            return Triage::Internal(format!(
                "{} belongs to employee `{}`",
                party.text(),
                s.name.as_deref().unwrap_or(&s.user)
            ));
        }
        match &party {
            Party::Phone(p) if self.internal_numbers.iter().any(|q| phone::same(p, q)) => {
                Triage::Internal(format!("{p} is listed in `[calls] internal_numbers`"))
            }
            Party::Phone(_) => Triage::Push,
            Party::Extension(x) => Triage::Internal(format!(
                "the other side is extension {x}, not a client phone"
            )),
            Party::Login(l) => Triage::Internal(format!(
                "the other side is SIP login `{l}`, not a client phone"
            )),
            Party::Empty => Triage::Skip("the event names no client phone".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calls::event::{Status, SCHEMA};
    use crate::rules::EmployeeRule;

    fn staff() -> Staff {
        let c = CallsSection {
            employees: vec![EmployeeRule {
                user: "boris@example.com".into(),
                name: None,
                extensions: vec!["101".into()],
                sip: vec!["Boris".into()],
                phones: vec!["8 916 000-01-01".into()],
                ids: vec!["340944".into()],
            }],
            internal_numbers: vec!["+74950000000".into()],
            ..Default::default()
        };
        Staff::from_rules(&c, "RU")
    }

    fn event(from: &str, client: Option<&str>) -> CallEvent {
        CallEvent {
            schema: SCHEMA.into(),
            provider: "ringostat".into(),
            call_id: "1".into(),
            leg_id: None,
            stage: Stage::Ended,
            started_at: chrono::DateTime::parse_from_rfc3339("2026-03-02T10:00:00+03:00").unwrap(),
            answered_at: None,
            ended_at: None,
            direction: Direction::Inbound,
            is_callback: false,
            is_internal: false,
            from: from.into(),
            to: "+74951111111".into(),
            client_phone: client.map(String::from),
            tracking_number: None,
            employee: None,
            status: Status::Answered,
            provider_status: String::new(),
            is_target: None,
            duration: 0,
            billsec: 0,
            wait_sec: None,
            recording_url: None,
            utm: Default::default(),
            source: Default::default(),
            raw: serde_json::Value::Null,
            received_at: None,
        }
    }

    #[test]
    fn finds_employees_by_every_key() {
        let s = staff();
        for e in [
            Employee {
                id: Some("340944".into()),
                ..Default::default()
            },
            Employee {
                id: Some("101".into()),
                ..Default::default()
            },
            Employee {
                sip: Some("boris".into()),
                ..Default::default()
            },
            Employee {
                phone: Some("+79160000101".into()),
                ..Default::default()
            },
        ] {
            assert_eq!(s.find(&e).map(|x| x.index), Some(0), "{e:?}");
        }
        assert!(s
            .find(&Employee {
                extension: Some("999".into()),
                ..Default::default()
            })
            .is_none());
    }

    #[test]
    fn internal_calls_are_recognised() {
        let s = staff();
        let t = |e: &CallEvent| s.triage(e, "RU");
        assert_eq!(
            t(&event("+79161234567", Some("+79161234567"))),
            Triage::Push
        );
        assert!(matches!(t(&event("101", None)), Triage::Internal(_)));
        assert!(matches!(
            t(&event("+79160000101", Some("+79160000101"))),
            Triage::Internal(_)
        ));
        assert!(matches!(
            t(&event("+74950000000", Some("+74950000000"))),
            Triage::Internal(_)
        ));
        assert!(matches!(t(&event("", None)), Triage::Skip(_)));
        let mut interim = event("+79161234567", Some("+79161234567"));
        interim.stage = Stage::Ringing;
        assert_eq!(t(&interim), Triage::Interim);
    }
}
