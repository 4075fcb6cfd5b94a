//! Lifecycle decisions while a lead is planned: its stage, its responsible manager, a
//! returning client's lost lead, the link note.

use serde_json::Value;

use super::Engine;
use crate::billing::Service;
use crate::engine::decide::returning_manager;
use crate::rules::condition::Facts;
use crate::rules::EntityKind;

impl Engine<'_> {
    /// Adjusts a lead's payload before it is hashed and planned; returns report lines.
    ///
    /// A bound lead only gets its rule's stage into the payload (so a billing change that
    /// changes the stage changes the hash) and a pending rule for the update's decision
    /// (`engine::decide`). A new lead is created in the rule's stage, for the manager the
    /// rules pick, and gets its follow-ups (notes, task) queued for after the create.
    pub(in crate::engine) fn lifecycle_plan_lead(
        &self,
        service: &Service,
        key: &str,
        f: &Facts,
        payload: &mut Value,
    ) -> anyhow::Result<Vec<(String, String)>> {
        let mut info = Vec::new();
        self.life_state
            .borrow_mut()
            .pending
            .remove(&(EntityKind::Lead, key.to_string()));
        let rule = self.status_rule(f);
        if let Some(r) = &rule {
            payload["pipeline_id"] = Value::from(r.stage.0);
            payload["status_id"] = Value::from(r.stage.1);
        }
        if self.store.binding("lead", key)?.is_some() {
            if let Some(r) = rule {
                self.pending_mut(EntityKind::Lead, key, |p| p.rule = Some(r));
            }
            return Ok(info);
        }
        if let Some(r) = &rule {
            info.push((
                "status".into(),
                format!("{} ({})", self.stage_name(r.stage), r.label),
            ));
        }
        let lost = self.lost_lead(service)?;
        let lost_id = lost
            .as_ref()
            .and_then(|l| l.get("id").and_then(Value::as_i64));
        let mut responsible = lost
            .as_ref()
            .and_then(|l| returning_manager(l, &self.resolved.dict.users));
        if responsible.is_none() && self.life.assignment.is_some() {
            let client = self.billing.client(&service.client_id)?;
            responsible = self.lead_manager(&client, f)?;
        }
        if let Some((r, why)) = &responsible {
            payload["responsible_user_id"] = Value::from(*r);
            info.push(self.responsible_change(*r, why));
        }
        if let Some(l) = &lost {
            info.push((
                "returning client".into(),
                format!(
                    "earlier lead #{} was lost: a note on both leads and a task for the manager",
                    lost_id.unwrap_or(0)
                ),
            ));
            let who = payload.get("responsible_user_id").and_then(Value::as_i64);
            self.plan_lost_return(key, service, l, who, f);
        }
        self.link_note(EntityKind::Lead, key, f);
        let stage = payload
            .get("pipeline_id")
            .and_then(Value::as_i64)
            .zip(payload.get("status_id").and_then(Value::as_i64));
        if let Some(stage) = stage {
            self.pending_mut(EntityKind::Lead, key, |p| {
                p.create_stage = Some((stage, rule.is_some()))
            });
        }
        Ok(info)
    }
}
