//! Status follows billing: billing events derived from service snapshots, the stage a
//! `[[lifecycle.status]]` rule gives, and the decision whether a lead may move.
//!
//! The decision ([`decide`]) is pure. A lead moves only when
//! - a rule's stage differs from where the lead is, and
//! - that stage is not the one a rule already put it in (when only a manager moved the lead
//!   since, billing has not changed: we do not fight the manager), and
//! - the lead is not closed (won/lost) by hand — closed by us counts as open — unless the
//!   rule has `override_closed = true`.

use serde_json::Value;

use super::{closed_by_hand, Engine};
use crate::billing::Service;
use crate::rules::condition::{holds, Facts};
use crate::rules::EntityKind;
use crate::store::{LeadState, ServiceSnapshot, Stage};

/// A rule's stage waiting for the update decision.
#[derive(Debug, Clone)]
pub struct RuleTarget {
    /// `lifecycle.status[i]`.
    pub label: String,
    /// The rule's stage.
    pub stage: Stage,
    /// May move leads closed by hand.
    pub override_closed: bool,
}

/// The next snapshot of a service, with the billing event it implies (sticky: an unchanged
/// service keeps its last event, so re-runs see the same facts).
pub fn next_snapshot(
    old: Option<&ServiceSnapshot>,
    status: &str,
    expires_at: Option<&str>,
    trial: bool,
) -> ServiceSnapshot {
    let mut next = ServiceSnapshot {
        status: status.to_string(),
        expires_at: expires_at.map(String::from),
        previous_status: old.and_then(|o| o.previous_status.clone()),
        event: old.and_then(|o| o.event.clone()),
    };
    let Some(old) = old else {
        next.event = (status == "ordered").then(|| "ordered".to_string());
        return next;
    };
    if old.status != status {
        next.previous_status = Some(old.status.clone());
        next.event = Some(
            match (old.status.as_str(), status) {
                ("ordered", "active" | "processing") if trial => "activated",
                ("ordered", "active" | "processing") => "paid",
                ("processing", "active") if old.event.as_deref() == Some("paid") => "paid",
                ("processing", "active") if trial => "activated",
                ("processing", "active") => "paid",
                ("suspended", "active") => "resumed",
                (_, other) => other,
            }
            .to_string(),
        );
    } else if status == "active" {
        if let (Some(a), Some(b)) = (old.expires_at.as_deref(), expires_at) {
            // `YYYY-MM-DD HH:MM:SS` compares correctly as text.
            if b > a {
                next.event = Some("prolonged".into());
            }
        }
    }
    next
}

/// What to do with a lead's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Send the rule's stage.
    Move,
    /// The lead is already there.
    AlreadyThere,
    /// The rule's stage is the one it last gave: only a manager moved the lead since.
    ManagerMoved,
    /// Closed (won/lost) by an operator; the rule does not override that.
    ClosedByHand,
}

/// Decides about one lead. `remote` is where amoCRM says it is.
pub fn decide(target: &RuleTarget, remote: Stage, known: &LeadState) -> Decision {
    if remote == target.stage {
        return Decision::AlreadyThere;
    }
    if known.rule == Some(target.stage) {
        return Decision::ManagerMoved;
    }
    if !target.override_closed && closed_by_hand(known, remote.1) {
        return Decision::ClosedByHand;
    }
    Decision::Move
}

impl Engine<'_> {
    /// The first status rule whose condition holds.
    pub(in crate::engine) fn status_rule(&self, f: &Facts) -> Option<RuleTarget> {
        self.life
            .status
            .iter()
            .find(|r| holds(&r.when, f))
            .map(|r| RuleTarget {
                label: r.label.clone(),
                stage: r.stage,
                override_closed: r.override_closed,
            })
    }

    /// A status's name for messages.
    pub(in crate::engine) fn stage_name(&self, stage: Stage) -> String {
        self.resolved
            .dict
            .pipelines
            .iter()
            .find(|p| p.id == stage.0)
            .and_then(|p| p.statuses.iter().find(|s| s.id == stage.1))
            .map(|s| s.name.clone())
            .unwrap_or_else(|| format!("status {}", stage.1))
    }

    /// Adds lifecycle facts for a service: `service.event`, `service.previous_status`,
    /// `lead.*` (what is known about its lead's status) and page links. Records the
    /// service's snapshot (not in a dry run). Store trouble only costs these facts.
    pub(in crate::engine) fn lifecycle_facts(&self, service: &Service, f: &mut Facts) {
        self.link_facts(f);
        let status = f.get("service.status").cloned().unwrap_or_default();
        let expires = f.get("service.expires_at").cloned();
        match self.store.life_service(&service.id) {
            Ok(old) => {
                let next = next_snapshot(old.as_ref(), &status, expires.as_deref(), service.trial);
                if old.as_ref() != Some(&next) && !self.dry_run {
                    if let Err(e) = self.store.life_service_put(&service.id, &next) {
                        crate::log::warn(&format!("lifecycle: {e}"));
                    }
                }
                if let Some(e) = &next.event {
                    f.insert("service.event".into(), e.clone());
                }
                if let Some(p) = &next.previous_status {
                    f.insert("service.previous_status".into(), p.clone());
                }
            }
            Err(e) => crate::log::warn(&format!("lifecycle: {e}")),
        }
        let key = format!("service:{}", service.id);
        let Ok(Some(b)) = self.store.binding("lead", &key) else {
            return;
        };
        f.insert("lead.id".into(), b.amo_id.to_string());
        let Ok(st) = self.store.life_lead(b.amo_id) else {
            return;
        };
        if let Some(stage) = st.current() {
            f.insert("lead.pipeline_id".into(), stage.0.to_string());
            f.insert("lead.status_id".into(), stage.1.to_string());
            f.insert("lead.status".into(), self.stage_name(stage));
            let closed = match stage.1 {
                super::WON => "won",
                super::LOST => "lost",
                _ => "",
            };
            if !closed.is_empty() {
                f.insert("lead.closed".into(), closed.into());
            }
            f.insert(
                "lead.closed_by_hand".into(),
                (!closed.is_empty() && st.hand_moved_to(stage.1)).to_string(),
            );
        }
    }

    /// What the status decision of a lead being updated needs ([`crate::engine::decide`]):
    /// its pending rule's stage, and what the store knows of the lead amoCRM holds.
    pub(in crate::engine) fn stage_inputs(
        &self,
        kind: EntityKind,
        key: &str,
        remote: &Value,
    ) -> anyhow::Result<Option<(RuleTarget, LeadState)>> {
        if kind != EntityKind::Lead {
            return Ok(None);
        }
        let Some(target) = self.pending_mut(kind, key, |p| p.rule.clone()) else {
            return Ok(None);
        };
        let (Some(id), Some(_), Some(_)) = (
            remote.get("id").and_then(Value::as_i64),
            remote.get("pipeline_id").and_then(Value::as_i64),
            remote.get("status_id").and_then(Value::as_i64),
        ) else {
            return Ok(None);
        };
        Ok(Some((target, self.store.life_lead(id)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(status: &str, expires: Option<&str>, event: Option<&str>) -> ServiceSnapshot {
        ServiceSnapshot {
            status: status.into(),
            expires_at: expires.map(String::from),
            previous_status: None,
            event: event.map(String::from),
        }
    }

    #[test]
    fn billing_events_come_from_two_snapshots_and_stick() {
        let first = next_snapshot(None, "ordered", None, false);
        assert_eq!(first.event.as_deref(), Some("ordered"));
        assert_eq!(next_snapshot(None, "active", None, false).event, None);
        let paid = next_snapshot(Some(&first), "processing", None, false);
        assert_eq!(paid.event.as_deref(), Some("paid"));
        assert_eq!(paid.previous_status.as_deref(), Some("ordered"));
        let active = next_snapshot(Some(&paid), "active", Some("2026-02-01"), false);
        assert_eq!(active.event.as_deref(), Some("paid"));
        // Unchanged: the same snapshot (sticky event, no write, same facts).
        assert_eq!(
            next_snapshot(Some(&active), "active", Some("2026-02-01"), false),
            active
        );
        let prolonged = next_snapshot(Some(&active), "active", Some("2026-03-01"), false);
        assert_eq!(prolonged.event.as_deref(), Some("prolonged"));
        let suspended = next_snapshot(Some(&prolonged), "suspended", Some("2026-03-01"), false);
        assert_eq!(suspended.event.as_deref(), Some("suspended"));
        let resumed = next_snapshot(Some(&suspended), "active", Some("2026-03-01"), false);
        assert_eq!(resumed.event.as_deref(), Some("resumed"));
        let trial = next_snapshot(Some(&snap("ordered", None, None)), "active", None, true);
        assert_eq!(trial.event.as_deref(), Some("activated"));
        let gone = next_snapshot(Some(&resumed), "deleted", None, false);
        assert_eq!(gone.event.as_deref(), Some("deleted"));
        assert_eq!(gone.previous_status.as_deref(), Some("active"));
    }

    #[test]
    fn decisions_respect_managers() {
        let t = |stage: Stage, over: bool| RuleTarget {
            label: "lifecycle.status[0]".into(),
            stage,
            override_closed: over,
        };
        let none = LeadState::default();
        let suspended = (1, 30);
        assert_eq!(decide(&t(suspended, false), (1, 20), &none), Decision::Move);
        assert_eq!(
            decide(&t(suspended, false), suspended, &none),
            Decision::AlreadyThere
        );
        // A rule already put it there; a manager moved it on: leave it.
        let ruled = LeadState {
            rule: Some(suspended),
            ..LeadState::default()
        };
        assert_eq!(
            decide(&t(suspended, false), (1, 20), &ruled),
            Decision::ManagerMoved
        );
        // Closed by hand (we never set 143): only override_closed moves it.
        assert_eq!(
            decide(&t(suspended, false), (1, 143), &none),
            Decision::ClosedByHand
        );
        assert_eq!(decide(&t(suspended, true), (1, 143), &none), Decision::Move);
        // Closed by us: open to the rules.
        let ours = LeadState {
            set: Some((1, 143)),
            set_at: Some(100),
            ..LeadState::default()
        };
        assert_eq!(
            decide(&t(suspended, false), (1, 143), &ours),
            Decision::Move
        );
        // Closed by us, then reopened and closed again by a manager (read back from events).
        let theirs = LeadState {
            seen: Some((1, 143)),
            seen_by: Some(504142),
            seen_at: Some(200),
            ..ours
        };
        assert_eq!(
            decide(&t(suspended, false), (1, 143), &theirs),
            Decision::ClosedByHand
        );
    }
}
