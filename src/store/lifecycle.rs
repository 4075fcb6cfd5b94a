//! What lifecycle automation remembers between runs (docs/lifecycle.md):
//!
//! - per amoCRM lead, the status the rules last put it in, the status we last set by any
//!   means, and the last status change read back from amoCRM's events (who and when), so a
//!   lead an operator closed by hand is told apart from one we closed;
//! - per BILLmanager service, a snapshot of its state, so billing *events* (paid, prolonged,
//!   suspended, …) can be derived from two successive states;
//! - per client, its manager (kept, or handed out by round-robin);
//! - the tasks we created (trial warm-up, abandoned cart) so none is created twice;
//! - small named values: the round-robin pointer and the events cursor.

use rusqlite::{params, OptionalExtension};

use super::{now, Result, Store};

/// A pipeline stage: (pipeline id, status id).
pub type Stage = (i64, i64);

/// What is known about one amoCRM lead's status.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LeadState {
    /// amoCRM lead id.
    pub amo_id: i64,
    /// The stage a status rule last put the lead in (or created it in).
    pub rule: Option<Stage>,
    /// The stage we last set, by any means (create, status rule, abandoned cart).
    pub set: Option<Stage>,
    /// When we set it.
    pub set_at: Option<i64>,
    /// The last status change read from amoCRM's events.
    pub seen: Option<Stage>,
    /// Who made it (0: a robot or this integration).
    pub seen_by: Option<i64>,
    /// When.
    pub seen_at: Option<i64>,
}

impl LeadState {
    /// The newest known stage (ours or read back).
    pub fn current(&self) -> Option<Stage> {
        match (self.set, self.seen) {
            (Some(s), Some(r)) => {
                if self.seen_at.unwrap_or(0) >= self.set_at.unwrap_or(0) {
                    Some(r)
                } else {
                    Some(s)
                }
            }
            (s, r) => r.or(s),
        }
    }

    /// A manager (not a robot, not us) moved it to `status` after we last set it.
    pub fn hand_moved_to(&self, status: i64) -> bool {
        self.seen.map(|s| s.1) == Some(status)
            && self.seen_by.unwrap_or(0) != 0
            && self.seen_at.unwrap_or(0) >= self.set_at.unwrap_or(0)
    }
}

/// The last recorded state of a BILLmanager service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSnapshot {
    /// `ordered`, `active`, … as facts name it.
    pub status: String,
    /// Expiry as facts write it.
    pub expires_at: Option<String>,
    /// The status before the last change.
    pub previous_status: Option<String>,
    /// The last billing event derived (`paid`, `prolonged`, …).
    pub event: Option<String>,
}

/// A task created by lifecycle automation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifeTask {
    /// amoCRM task id.
    pub task_id: i64,
    /// `leads` or `contacts`.
    pub entity_type: String,
    /// The entity it is attached to.
    pub entity_id: i64,
    /// Unix time it was created.
    pub created_at: i64,
}

fn stage(p: Option<i64>, s: Option<i64>) -> Option<Stage> {
    p.zip(s)
}

impl Store {
    /// What is known about a lead (all fields empty when nothing is).
    pub fn life_lead(&self, amo_id: i64) -> Result<LeadState> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT rule_pipeline, rule_status, set_pipeline, set_status, set_at,
                        seen_pipeline, seen_status, seen_by, seen_at
                 FROM life_leads WHERE amo_id = ?1",
            )
            .and_then(|mut st| {
                st.query_row(params![amo_id], |r| {
                    Ok(LeadState {
                        amo_id,
                        rule: stage(r.get(0)?, r.get(1)?),
                        set: stage(r.get(2)?, r.get(3)?),
                        set_at: r.get(4)?,
                        seen: stage(r.get(5)?, r.get(6)?),
                        seen_by: r.get(7)?,
                        seen_at: r.get(8)?,
                    })
                })
            })
            .optional()
            .map_err(|e| self.err("read a lead's lifecycle state", e))?;
        Ok(row.unwrap_or(LeadState {
            amo_id,
            ..LeadState::default()
        }))
    }

    /// Records that we put a lead in `set` (and, when a status rule did it, that rule's stage).
    pub fn life_lead_set(&self, amo_id: i64, set: Stage, rule: Option<Stage>) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO life_leads (amo_id, set_pipeline, set_status, set_at, rule_pipeline, rule_status)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (amo_id) DO UPDATE SET
                     set_pipeline = excluded.set_pipeline, set_status = excluded.set_status,
                     set_at = excluded.set_at,
                     rule_pipeline = COALESCE(excluded.rule_pipeline, rule_pipeline),
                     rule_status = COALESCE(excluded.rule_status, rule_status)",
                params![
                    amo_id,
                    set.0,
                    set.1,
                    now(),
                    rule.map(|r| r.0),
                    rule.map(|r| r.1)
                ],
            )
            .map(drop)
            .map_err(|e| self.err("record a lead's status", e))
    }

    /// Records that a status rule's stage is where the lead already is (nothing to send).
    pub fn life_lead_rule(&self, amo_id: i64, rule: Stage) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO life_leads (amo_id, rule_pipeline, rule_status) VALUES (?1, ?2, ?3)
                 ON CONFLICT (amo_id) DO UPDATE SET
                     rule_pipeline = excluded.rule_pipeline, rule_status = excluded.rule_status",
                params![amo_id, rule.0, rule.1],
            )
            .map(drop)
            .map_err(|e| self.err("record a lead's status", e))
    }

    /// Records a status change read from amoCRM's events, unless a newer one is known.
    pub fn life_lead_seen(&self, amo_id: i64, seen: Stage, by: i64, at: i64) -> Result<bool> {
        self.conn
            .execute(
                "INSERT INTO life_leads (amo_id, seen_pipeline, seen_status, seen_by, seen_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (amo_id) DO UPDATE SET
                     seen_pipeline = excluded.seen_pipeline, seen_status = excluded.seen_status,
                     seen_by = excluded.seen_by, seen_at = excluded.seen_at
                 WHERE seen_at IS NULL OR seen_at <= excluded.seen_at",
                params![amo_id, seen.0, seen.1, by, at],
            )
            .map(|n| n > 0)
            .map_err(|e| self.err("record a lead's status change", e))
    }

    /// The last snapshot of a service.
    pub fn life_service(&self, service_id: &str) -> Result<Option<ServiceSnapshot>> {
        self.conn
            .prepare_cached(
                "SELECT status, expires_at, previous_status, event FROM life_services
                 WHERE service_id = ?1",
            )
            .and_then(|mut st| {
                st.query_row(params![service_id], |r| {
                    Ok(ServiceSnapshot {
                        status: r.get(0)?,
                        expires_at: r.get(1)?,
                        previous_status: r.get(2)?,
                        event: r.get(3)?,
                    })
                })
            })
            .optional()
            .map_err(|e| self.err("read a service snapshot", e))
    }

    /// Replaces a service's snapshot.
    pub fn life_service_put(&self, service_id: &str, s: &ServiceSnapshot) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO life_services
                     (service_id, status, expires_at, previous_status, event, seen_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    service_id,
                    s.status,
                    s.expires_at,
                    s.previous_status,
                    s.event,
                    now()
                ],
            )
            .map(drop)
            .map_err(|e| self.err("write a service snapshot", e))
    }

    /// A client's manager, if one was recorded.
    pub fn life_client_manager(&self, client_id: &str) -> Result<Option<(i64, String)>> {
        self.conn
            .prepare_cached("SELECT manager_id, source FROM life_clients WHERE client_id = ?1")
            .and_then(|mut st| st.query_row(params![client_id], |r| Ok((r.get(0)?, r.get(1)?))))
            .optional()
            .map_err(|e| self.err("read a client's manager", e))
    }

    /// Records a client's manager and where it came from (`amoCRM`, `round-robin`, …).
    pub fn life_client_manager_put(
        &self,
        client_id: &str,
        manager: i64,
        source: &str,
    ) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO life_clients (client_id, manager_id, source, updated_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![client_id, manager, source, now()],
            )
            .map(drop)
            .map_err(|e| self.err("record a client's manager", e))
    }

    /// Tasks created for `purpose` (`nudge`, `cart`, `lost`) about `subject`, newest first.
    pub fn life_tasks(&self, purpose: &str, subject: &str) -> Result<Vec<LifeTask>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT task_id, entity_type, entity_id, created_at FROM life_tasks
                 WHERE purpose = ?1 AND subject = ?2 ORDER BY created_at DESC, task_id DESC",
            )
            .map_err(|e| self.err("read lifecycle tasks", e))?;
        let rows = stmt
            .query_map(params![purpose, subject], |r| {
                Ok(LifeTask {
                    task_id: r.get(0)?,
                    entity_type: r.get(1)?,
                    entity_id: r.get(2)?,
                    created_at: r.get(3)?,
                })
            })
            .map_err(|e| self.err("read lifecycle tasks", e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err("read lifecycle tasks", e))
    }

    /// Records a task right after amoCRM created it.
    pub fn life_task_put(&self, purpose: &str, subject: &str, t: &LifeTask) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO life_tasks
                     (purpose, subject, task_id, entity_type, entity_id, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    purpose,
                    subject,
                    t.task_id,
                    t.entity_type,
                    t.entity_id,
                    t.created_at
                ],
            )
            .map(drop)
            .map_err(|e| self.err("record a lifecycle task", e))
    }

    /// A named value (round-robin pointer, events cursor).
    pub fn life_value(&self, name: &str) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT value FROM life_values WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err("read a lifecycle value", e))
    }

    /// Sets a named value.
    pub fn life_value_put(&self, name: &str, value: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO life_values (name, value, updated_at) VALUES (?1, ?2, ?3)",
                params![name, value, now()],
            )
            .map(drop)
            .map_err(|e| self.err("write a lifecycle value", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lead_state_tells_our_moves_from_a_managers() {
        let s = Store::open_in_memory().unwrap();
        assert_eq!(s.life_lead(1).unwrap().current(), None);
        s.life_lead_set(1, (10, 143), Some((10, 143))).unwrap();
        let st = s.life_lead(1).unwrap();
        assert_eq!(st.current(), Some((10, 143)));
        assert!(!st.hand_moved_to(143));
        // Our own move read back (robot, 0) changes nothing; a manager's later one does.
        assert!(s.life_lead_seen(1, (10, 143), 0, now()).unwrap());
        assert!(!s.life_lead(1).unwrap().hand_moved_to(143));
        assert!(s.life_lead_seen(1, (10, 143), 504142, now() + 5).unwrap());
        assert!(s.life_lead(1).unwrap().hand_moved_to(143));
        // An older event does not overwrite a newer one.
        assert!(!s.life_lead_seen(1, (10, 20), 504142, now() - 100).unwrap());
        assert_eq!(s.life_lead(1).unwrap().seen, Some((10, 143)));
        s.life_lead_rule(1, (10, 30)).unwrap();
        assert_eq!(s.life_lead(1).unwrap().rule, Some((10, 30)));
        assert_eq!(s.life_lead(1).unwrap().set, Some((10, 143)));
    }

    #[test]
    fn snapshots_managers_tasks_and_values_round_trip() {
        let s = Store::open_in_memory().unwrap();
        let snap = ServiceSnapshot {
            status: "active".into(),
            expires_at: Some("2026-01-01 00:00:00".into()),
            previous_status: Some("ordered".into()),
            event: Some("paid".into()),
        };
        s.life_service_put("42", &snap).unwrap();
        assert_eq!(s.life_service("42").unwrap(), Some(snap));
        s.life_client_manager_put("7", 504142, "round-robin")
            .unwrap();
        assert_eq!(
            s.life_client_manager("7").unwrap(),
            Some((504142, "round-robin".into()))
        );
        let t = LifeTask {
            task_id: 5,
            entity_type: "leads".into(),
            entity_id: 9,
            created_at: 100,
        };
        s.life_task_put("nudge", "7", &t).unwrap();
        assert_eq!(s.life_tasks("nudge", "7").unwrap(), vec![t]);
        assert!(s.life_tasks("nudge", "8").unwrap().is_empty());
        s.life_value_put("round_robin", "504142").unwrap();
        assert_eq!(
            s.life_value("round_robin").unwrap().as_deref(),
            Some("504142")
        );
    }
}
