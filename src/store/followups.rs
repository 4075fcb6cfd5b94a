//! Follow-ups: the notes and tasks that belong to a write (a link note on a new contact,
//! a returning client's notes and task). Nothing is lost: each is stored here, under its own
//! idempotency key, before its entity's create request is sent; it is due once the entity
//! is bound, and removed only once amoCRM took it. A failed send keeps the row (counted,
//! reported, retried by the next run or drain). A row marked `sending` may have reached
//! amoCRM (the run died or the answer was lost): the next run looks before sending again.

use rusqlite::{params, Row};

use super::{now, Result, Store};

/// A note or a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FollowUpKind {
    /// A common note.
    Note,
    /// A task for a manager.
    Task,
}

impl FollowUpKind {
    /// The word stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            FollowUpKind::Note => "note",
            FollowUpKind::Task => "task",
        }
    }

    fn parse(s: &str) -> FollowUpKind {
        if s == "task" {
            FollowUpKind::Task
        } else {
            FollowUpKind::Note
        }
    }
}

/// What a task needs besides its text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FollowUpTask {
    /// amoCRM task type id.
    pub task_type: i64,
    /// Due this many hours after it is sent.
    pub hours: i64,
    /// The manager it is for (amoCRM picks one when absent).
    pub responsible: Option<i64>,
    /// Recorded in `life_tasks` as (purpose, subject) once created.
    pub purpose: String,
    /// See `purpose`.
    pub subject: String,
}

/// One queued note or task.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FollowUp {
    /// Idempotency key (the `request_id` sent).
    pub key: String,
    /// Kind of the entity it belongs to (`contact`, `lead`, …).
    pub kind: String,
    /// BILLmanager key of that entity (`service:42`).
    pub bm_id: String,
    /// Note or task.
    pub what: FollowUpKind,
    /// A note on another entity of the same kind (`None`: on the entity itself).
    pub target_id: Option<i64>,
    /// The text; `{new.id}` is the entity's amoCRM id, filled in when sent.
    pub text: String,
    /// Task details (tasks only).
    pub task: Option<FollowUpTask>,
    /// A POST may have reached amoCRM.
    pub sending: bool,
    /// amoCRM refused it twice: not sent again until `drain --all`.
    pub parked: bool,
    /// Failed sends so far.
    pub attempts: i64,
    /// The last error, for `status` and the report.
    pub last_error: Option<String>,
    /// The entity's amoCRM id when it is bound (read with the row).
    pub entity_id: Option<i64>,
}

/// How many follow-ups wait, and for what (`status`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FollowUpCounts {
    /// Their entity is not in amoCRM yet (its create failed or is queued).
    pub waiting: u64,
    /// Due: the entity is bound.
    pub due: u64,
    /// Refused by amoCRM twice: only `drain --all` sends them again.
    pub parked: u64,
    /// Of those waiting or due, the ones that failed at least once.
    pub failed: u64,
}

const COLUMNS: &str = "f.key, f.kind, f.bm_id, f.what, f.target_id, f.text, f.task_type, f.hours,
     f.responsible, f.purpose, f.subject, f.sending, f.attempts, f.last_error, b.amo_id,
     f.parked";

fn from_row(r: &Row<'_>) -> rusqlite::Result<FollowUp> {
    let what = FollowUpKind::parse(&r.get::<_, String>(3)?);
    let task = match what {
        FollowUpKind::Task => Some(FollowUpTask {
            task_type: r.get::<_, Option<i64>>(6)?.unwrap_or(1),
            hours: r.get::<_, Option<i64>>(7)?.unwrap_or(24),
            responsible: r.get(8)?,
            purpose: r.get::<_, Option<String>>(9)?.unwrap_or_default(),
            subject: r.get::<_, Option<String>>(10)?.unwrap_or_default(),
        }),
        FollowUpKind::Note => None,
    };
    Ok(FollowUp {
        key: r.get(0)?,
        kind: r.get(1)?,
        bm_id: r.get(2)?,
        what,
        target_id: r.get(4)?,
        text: r.get(5)?,
        task,
        sending: r.get::<_, i64>(11)? != 0,
        attempts: r.get(12)?,
        last_error: r.get(13)?,
        entity_id: r.get(14)?,
        parked: r.get::<_, i64>(15)? != 0,
    })
}

impl Store {
    /// Stores a follow-up before its entity's create is sent; one already stored under the
    /// same key is kept as it is (a re-planned create must not send it twice).
    pub fn followup_put(&self, f: &FollowUp) -> Result<()> {
        self.followups_put(std::slice::from_ref(f))
    }

    /// [`Store::followup_put`] for a batch's worth, in one transaction.
    pub fn followups_put(&self, rows: &[FollowUp]) -> Result<()> {
        let action = "queue notes and tasks";
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(|e| self.err(action, e))?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO followups (key, kind, bm_id, what, target_id, text,
                         task_type, hours, responsible, purpose, subject, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
                )
                .map_err(|e| self.err(action, e))?;
            let t = now();
            for f in rows {
                let task = f.task.as_ref();
                stmt.execute(params![
                    f.key,
                    f.kind,
                    f.bm_id,
                    f.what.as_str(),
                    f.target_id,
                    f.text,
                    task.map(|t| t.task_type),
                    task.map(|t| t.hours),
                    task.and_then(|t| t.responsible),
                    task.map(|t| t.purpose.as_str()),
                    task.map(|t| t.subject.as_str()),
                    t
                ])
                .map_err(|e| self.err(action, e))?;
            }
        }
        tx.commit().map_err(|e| self.err(action, e))
    }

    /// Follow-ups whose entity is bound (due to send, or to check when `sending`), by key,
    /// from the first key after `after` (`""`: from the start) on.
    pub fn followups_due(&self, after: &str, limit: usize) -> Result<Vec<FollowUp>> {
        self.followup_query(
            &format!(
                "SELECT {COLUMNS} FROM followups f
                 JOIN bindings b ON b.kind = f.kind AND b.bm_id = f.bm_id
                 WHERE f.key > ?1 AND f.parked = 0 ORDER BY f.key LIMIT ?2"
            ),
            params![after, limit as i64],
        )
    }

    /// The due follow-ups of one entity (none until it is bound).
    pub fn followups_of(&self, kind: &str, bm_id: &str) -> Result<Vec<FollowUp>> {
        self.followup_query(
            &format!(
                "SELECT {COLUMNS} FROM followups f
                 JOIN bindings b ON b.kind = f.kind AND b.bm_id = f.bm_id
                 WHERE f.kind = ?1 AND f.bm_id = ?2 AND f.parked = 0 ORDER BY f.key"
            ),
            params![kind, bm_id],
        )
    }

    /// Every follow-up, with its entity's id when bound (for `status`).
    pub fn followups_all(&self) -> Result<Vec<FollowUp>> {
        self.followup_query(
            &format!(
                "SELECT {COLUMNS} FROM followups f
                 LEFT JOIN bindings b ON b.kind = f.kind AND b.bm_id = f.bm_id
                 ORDER BY f.created_at, f.key LIMIT ?1"
            ),
            params![i64::MAX],
        )
    }

    /// How many follow-ups wait for their entity, are due, have failed.
    pub fn followup_counts(&self) -> Result<FollowUpCounts> {
        self.conn
            .query_row(
                "SELECT COALESCE(SUM(b.amo_id IS NULL AND f.parked = 0), 0),
                        COALESCE(SUM(b.amo_id IS NOT NULL AND f.parked = 0), 0),
                        COALESCE(SUM(f.attempts > 0), 0), COALESCE(SUM(f.parked), 0)
                 FROM followups f
                 LEFT JOIN bindings b ON b.kind = f.kind AND b.bm_id = f.bm_id",
                [],
                |r| {
                    Ok(FollowUpCounts {
                        waiting: r.get::<_, i64>(0)? as u64,
                        due: r.get::<_, i64>(1)? as u64,
                        failed: r.get::<_, i64>(2)? as u64,
                        parked: r.get::<_, i64>(3)? as u64,
                    })
                },
            )
            .map_err(|e| self.err("count queued notes and tasks", e))
    }

    fn followup_query(&self, sql: &str, p: impl rusqlite::Params) -> Result<Vec<FollowUp>> {
        let mut stmt = self
            .conn
            .prepare_cached(sql)
            .map_err(|e| self.err("read queued notes and tasks", e))?;
        let rows = stmt
            .query_map(p, from_row)
            .map_err(|e| self.err("read queued notes and tasks", e))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err("read queued notes and tasks", e))
    }

    /// Marks follow-ups as on their way (before their POST), in one transaction.
    pub fn followups_sending(&self, keys: &[&str]) -> Result<()> {
        self.followup_each(
            "UPDATE followups SET sending = 1, updated_at = ?2 WHERE key = ?1",
            keys,
            "mark notes and tasks as sent",
        )
    }

    /// Removes follow-ups amoCRM took.
    pub fn followups_done(&self, keys: &[&str]) -> Result<()> {
        self.followup_each(
            "DELETE FROM followups WHERE key = ?1 AND ?2 > 0",
            keys,
            "clear sent notes and tasks",
        )
    }

    /// Records a failed send. `maybe_sent` keeps the row marked `sending` (the request may
    /// have reached amoCRM: the next run looks first); otherwise it is plainly due again.
    /// `refused` (amoCRM said no, rather than being out of reach) a second time parks it.
    pub fn followup_failed(
        &self,
        key: &str,
        error: &str,
        maybe_sent: bool,
        refused: bool,
    ) -> Result<()> {
        self.conn
            .execute(
                "UPDATE followups SET attempts = attempts + 1, last_error = ?2,
                     sending = CASE WHEN ?3 THEN sending ELSE 0 END,
                     parked = CASE WHEN ?4 AND attempts >= 1 THEN 1 ELSE parked END,
                     updated_at = ?5
                 WHERE key = ?1",
                params![key, error, maybe_sent, refused, now()],
            )
            .map(drop)
            .map_err(|e| self.err("record a failed note or task", e))
    }

    /// Makes parked follow-ups due again (`drain --all`: an operator fixed the cause);
    /// returns how many.
    pub fn followups_retry_all(&self) -> Result<usize> {
        self.conn
            .execute(
                "UPDATE followups SET parked = 0, updated_at = ?1 WHERE parked = 1",
                params![now()],
            )
            .map_err(|e| self.err("update queued notes and tasks", e))
    }

    /// A row marked `sending` that amoCRM turned out not to have: plainly due again.
    pub fn followup_not_sent(&self, key: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE followups SET sending = 0, updated_at = ?2 WHERE key = ?1",
                params![key, now()],
            )
            .map(drop)
            .map_err(|e| self.err("update a queued note or task", e))
    }

    fn followup_each(&self, sql: &str, keys: &[&str], action: &'static str) -> Result<()> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(|e| self.err(action, e))?;
        {
            let mut stmt = tx.prepare_cached(sql).map_err(|e| self.err(action, e))?;
            let t = now();
            for k in keys {
                stmt.execute(params![k, t])
                    .map_err(|e| self.err(action, e))?;
            }
        }
        tx.commit().map_err(|e| self.err(action, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Binding;

    fn note(key: &str, bm_id: &str) -> FollowUp {
        FollowUp {
            key: key.into(),
            kind: "lead".into(),
            bm_id: bm_id.into(),
            what: FollowUpKind::Note,
            target_id: None,
            text: "lead #{new.id}".into(),
            task: None,
            sending: false,
            parked: false,
            attempts: 0,
            last_error: None,
            entity_id: None,
        }
    }

    fn bind(s: &Store, bm_id: &str, amo_id: i64) {
        s.put_binding(&Binding {
            kind: "lead".into(),
            bm_id: bm_id.into(),
            amo_id,
            payload_hash: "h".into(),
            synced_at: 1,
        })
        .unwrap();
    }

    #[test]
    fn a_first_refusal_is_retried_a_second_parks() {
        let s = Store::open_in_memory().unwrap();
        s.followup_put(&note("n", "service:1")).unwrap();
        bind(&s, "service:1", 5);
        s.followup_failed("n", "400", false, true).unwrap();
        assert_eq!(s.followups_due("", 10).unwrap().len(), 1);
        s.followup_failed("n", "400", false, true).unwrap();
        assert!(s.followups_due("", 10).unwrap().is_empty());
        assert_eq!(s.followup_counts().unwrap().parked, 1);
    }

    #[test]
    fn a_follow_up_waits_for_its_entity_then_is_due_until_done() {
        let s = Store::open_in_memory().unwrap();
        let task = FollowUp {
            key: "lost:413".into(),
            what: FollowUpKind::Task,
            task: Some(FollowUpTask {
                task_type: 1,
                hours: 48,
                responsible: Some(7),
                purpose: "lost".into(),
                subject: "413".into(),
            }),
            ..note("lost:413", "service:413")
        };
        s.followup_put(&note("lead:service:413:note:0", "service:413"))
            .unwrap();
        s.followup_put(&task).unwrap();
        assert!(s.followups_due("", 10).unwrap().is_empty(), "not bound yet");
        assert_eq!(
            s.followup_counts().unwrap(),
            FollowUpCounts {
                waiting: 2,
                ..FollowUpCounts::default()
            }
        );
        assert!(s.followups_of("lead", "service:413").unwrap().is_empty());
        bind(&s, "service:413", 99);
        assert_eq!(s.followups_of("lead", "service:413").unwrap().len(), 2);
        assert!(s.followups_of("lead", "service:414").unwrap().is_empty());
        let due = s.followups_due("", 10).unwrap();
        assert_eq!(due.len(), 2);
        let page = s.followups_due("", 1).unwrap();
        assert_eq!(page[0].key, "lead:service:413:note:0");
        let next = s.followups_due(&page[0].key, 1).unwrap();
        assert_eq!(next[0].key, "lost:413");
        assert!(s.followups_due(&next[0].key, 1).unwrap().is_empty());
        assert!(due.iter().all(|f| f.entity_id == Some(99)));
        let t = due.iter().find(|f| f.key == "lost:413").unwrap();
        assert_eq!(t.task, task.task);

        // Stored again by a re-planned create: the first stays as it was.
        let mut again = note("lead:service:413:note:0", "service:413");
        again.text = "other".into();
        s.followup_put(&again).unwrap();
        s.followups_sending(&["lead:service:413:note:0"]).unwrap();
        let n = s
            .followups_due("", 10)
            .unwrap()
            .into_iter()
            .find(|f| f.key == "lead:service:413:note:0")
            .unwrap();
        assert_eq!(n.text, "lead #{new.id}");
        assert!(n.sending);

        // A failure that may have reached amoCRM stays `sending`; one that did not, is due.
        s.followup_failed("lead:service:413:note:0", "503", true, false)
            .unwrap();
        s.followup_failed("lost:413", "503", false, false).unwrap();
        let due = s.followups_due("", 10).unwrap();
        let n = due.iter().find(|f| f.what == FollowUpKind::Note).unwrap();
        assert!(n.sending && n.attempts == 1 && n.last_error.as_deref() == Some("503"));
        let t = due.iter().find(|f| f.what == FollowUpKind::Task).unwrap();
        assert!(!t.sending && t.attempts == 1);
        assert_eq!(s.followup_counts().unwrap().failed, 2);
        s.followup_not_sent("lead:service:413:note:0").unwrap();
        assert!(!s.followups_due("", 10).unwrap()[0].sending);

        // Refused by amoCRM after an earlier failure: parked until an operator's
        // `drain --all`.
        s.followup_failed("lost:413", "400: entity deleted", false, true)
            .unwrap();
        assert_eq!(s.followups_due("", 10).unwrap().len(), 1);
        s.followup_failed("lead:service:413:note:0", "400", false, true)
            .unwrap();
        assert_eq!(s.followups_due("", 10).unwrap().len(), 0);
        assert!(s.followups_of("lead", "service:413").unwrap().is_empty());
        assert_eq!(s.followup_counts().unwrap().parked, 2);
        assert!(s.followups_all().unwrap().iter().all(|f| f.parked));
        assert_eq!(s.followups_retry_all().unwrap(), 2);
        assert_eq!(s.followups_due("", 10).unwrap().len(), 2);

        s.followups_done(&["lead:service:413:note:0", "lost:413"])
            .unwrap();
        assert!(s.followups_all().unwrap().is_empty());
        assert_eq!(s.followup_counts().unwrap(), FollowUpCounts::default());
    }
}
