//! What a run did, entity by entity: for the human summary, `--json`, the journal and the
//! exit code.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::status::ExitStatus;

fn tally(c: &mut Counts, a: Action) -> &mut u64 {
    match a {
        Action::Created => &mut c.created,
        Action::Updated => &mut c.updated,
        Action::Unchanged => &mut c.unchanged,
        Action::Skipped => &mut c.skipped,
        Action::Joined => &mut c.joined,
        Action::Failed => &mut c.failed,
    }
}
use crate::rules::EntityKind;

/// How a warning about a phone left out begins: the report counts the entities that carry
/// it, since a wrong `[sync] default_country` drops every phone and only a count shows it.
pub const PHONE_NOT_SENT: &str = "PHONE not sent: ";

/// The phone warning of an entity that was sent (or is unchanged) without its phone.
fn phone_left_out(o: &Outcome) -> Option<&str> {
    if matches!(o.action, Action::Failed | Action::Skipped) {
        return None;
    }
    o.warnings
        .iter()
        .find_map(|w| w.strip_prefix(PHONE_NOT_SENT))
}

/// At most `max` characters of `text`, with `…` when cut: a summary line quotes what the
/// panel typed, which may be anything (a 100 000-digit "phone").
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// What happened (or, in a dry run, would happen) to one entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Created in amoCRM.
    Created,
    /// An existing amoCRM entity was updated (or adopted after a search found it).
    Updated,
    /// Nothing changed since the last push.
    Unchanged,
    /// A rule says not to send it.
    Skipped,
    /// Joined an existing entity (re-order within the timeout, same INN).
    Joined,
    /// amoCRM rejected it or it could not be sent; queued in the outbox.
    Failed,
}

/// One entity's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// amoCRM kind.
    pub kind: EntityKind,
    /// BILLmanager key (`user:17`, `payer:5`, `service:42`).
    pub key: String,
    /// What happened.
    pub action: Action,
    /// amoCRM id, when known.
    pub amo_id: Option<i64>,
    /// Why (skip reason, match reason, error with field path).
    pub detail: String,
    /// Field-by-field values sent (or to be sent in a dry run).
    pub changes: Vec<(String, String)>,
    /// Mapping problems (fields left out).
    pub warnings: Vec<String>,
    /// The failure was amoCRM rejecting the data (exit 4) rather than unreachable (exit 5).
    #[serde(skip)]
    pub rejected: bool,
    /// The sync to re-run for it: kind and BILLmanager id (client, payer or service).
    #[serde(skip)]
    pub origin: (EntityKind, String),
}

/// Something that could not be linked or identified (a lead with no contact, a contact
/// with no phone and no e-mail, a company with no INN, a client with no date): the entity
/// may still have been sent, but the run says which and why, and ends "partial".
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Gap {
    /// amoCRM kind.
    pub kind: EntityKind,
    /// BILLmanager key (`service:42`, `user:17`, `payer:5`, `client:101`).
    pub key: String,
    /// What is missing and why, naming the BILLmanager field or function.
    pub reason: String,
    /// The sync to queue so a later run retries it (kind and BILLmanager id), when a
    /// retry can help (a row not linked to its client).
    #[serde(skip)]
    pub requeue: Option<(EntityKind, String)>,
}

/// All outcomes of a run.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Report {
    /// Whether nothing was written.
    pub dry_run: bool,
    /// Outcomes in the order they were decided (in a summary-only report: failures only).
    pub outcomes: Vec<Outcome>,
    /// What could not be linked, one entry per entity (kept in summary-only reports too).
    pub unlinked: Vec<Gap>,
    /// What reading BILLmanager cost: calls and the time spent in them.
    pub panel: crate::billing::PanelStats,
    /// Counts per kind, kept for every outcome even when the outcome itself is not.
    #[serde(skip)]
    tallies: BTreeMap<EntityKind, Counts>,
    /// Keep only failures (backfill: memory stays flat however many entities pass).
    #[serde(skip)]
    pub summary_only: bool,
    /// Optional parts that failed while the core sync went on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub degraded: Vec<Degraded>,
    /// The first phone left out (entity key and why), for the summary line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_example: Option<(String, String)>,
    /// Notes and tasks that follow writes: sent, and queued when they failed.
    pub followups: FollowUps,
}

/// What became of the notes and tasks that follow writes (a link note, a returning
/// client's notes and task): a failed one is queued in the store, named here, and makes
/// the run "partial".
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct FollowUps {
    /// Notes amoCRM took in this run.
    pub notes_sent: u64,
    /// Tasks amoCRM created in this run.
    pub tasks_sent: u64,
    /// Sent by an earlier run that died before clearing them: found in amoCRM, not sent
    /// again.
    pub found_sent: u64,
    /// Notes that failed in this run; queued for the next run or drain.
    pub notes_queued: u64,
    /// Tasks that failed in this run; queued likewise.
    pub tasks_queued: u64,
    /// The first [`NAMED`] of those, each with its entity and why (`status` lists all).
    pub queued: Vec<QueuedFollowUp>,
    /// Queued ones whose entity is not in amoCRM yet (its own write failed and is queued):
    /// they go once it is.
    pub waiting: u64,
}

/// A note or task that failed and stays queued.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct QueuedFollowUp {
    /// `note` or `task`.
    pub what: String,
    /// Its idempotency key.
    pub key: String,
    /// The entity it belongs to.
    pub kind: EntityKind,
    /// That entity's BILLmanager key.
    pub entity: String,
    /// Why it was not sent.
    pub error: String,
}

/// Queued follow-ups a report names one by one; a storm over a large backfill counts the
/// rest (memory stays flat; `status` lists every one).
pub const NAMED: usize = 1000;

impl FollowUps {
    /// Records one that failed and stays queued.
    pub fn queue(&mut self, q: QueuedFollowUp) {
        if q.what == "task" {
            self.tasks_queued += 1;
        } else {
            self.notes_queued += 1;
        }
        if self.queued.len() < NAMED {
            self.queued.push(q);
        }
    }

    /// How many failed in this run.
    pub fn queued_total(&self) -> u64 {
        self.notes_queued + self.tasks_queued
    }

    /// The summary line, e.g. "notes: 5 sent, 2 queued; tasks: 1 sent, 0 queued".
    pub fn line(&self) -> String {
        let mut s = format!(
            "notes: {} sent, {} queued; tasks: {} sent, {} queued",
            self.notes_sent, self.notes_queued, self.tasks_sent, self.tasks_queued
        );
        let unnamed = self.queued_total() - self.queued.len() as u64;
        if unnamed > 0 {
            s.push_str(&format!(
                " ({unnamed} queued not named here: `amocrm-bin status` lists them)"
            ));
        }
        if self.found_sent > 0 {
            s.push_str(&format!(
                "; {} found in amoCRM already (sent before a crash)",
                self.found_sent
            ));
        }
        if self.waiting > 0 {
            s.push_str(&format!(
                "; {} wait for their entity (queued itself)",
                self.waiting
            ));
        }
        s
    }

    /// Adds another run's (a drain pushes each item with an engine of its own); the
    /// waiting count is the later one's.
    pub fn add(&mut self, other: FollowUps) {
        self.notes_sent += other.notes_sent;
        self.tasks_sent += other.tasks_sent;
        self.found_sent += other.found_sent;
        for q in other.queued {
            if self.queued.len() < NAMED {
                self.queued.push(q);
            }
        }
        self.notes_queued += other.notes_queued;
        self.tasks_queued += other.tasks_queued;
        self.waiting = other.waiting;
    }

    /// Whether anything happened worth a line.
    pub fn any(&self) -> bool {
        self.notes_sent + self.tasks_sent + self.found_sent + self.waiting > 0
            || self.queued_total() > 0
    }
}

/// An optional part (the events pull, say) that failed without stopping the core sync: the
/// run ends "partial" and says what to fix.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Degraded {
    /// Which part, with its rule-file table (`events pull ([lifecycle.pullback])`).
    pub part: String,
    /// What went wrong.
    pub error: String,
    /// What to do.
    pub fix: String,
}

/// Per-kind counts.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct Counts {
    /// Created.
    pub created: u64,
    /// Updated.
    pub updated: u64,
    /// Unchanged.
    pub unchanged: u64,
    /// Skipped by rules.
    pub skipped: u64,
    /// Joined to an existing entity.
    pub joined: u64,
    /// Failed and queued.
    pub failed: u64,
    /// Outcomes (of any action) that carry a warning: a field left out, an invalid phone.
    pub warned: u64,
    /// Not linked or not identifiable (see [`Gap`]); also counted under their action.
    pub unlinked: u64,
    /// Sent (or unchanged) without the phone BILLmanager holds, which was not a valid
    /// number ([`PHONE_NOT_SENT`]); also counted under their action and in `warned`.
    pub phoneless: u64,
}

impl Report {
    /// An empty report.
    pub fn new(dry_run: bool, summary_only: bool) -> Report {
        Report {
            dry_run,
            summary_only,
            ..Report::default()
        }
    }

    /// Records an outcome, replacing an earlier one for the same entity.
    pub fn push(&mut self, o: Outcome) {
        if let Some(i) = self
            .outcomes
            .iter()
            .position(|x| x.kind == o.kind && x.key == o.key)
        {
            let prev = self.outcomes.remove(i);
            let counts = self.tallies.entry(prev.kind).or_default();
            *tally(counts, prev.action) -= 1;
            counts.warned -= u64::from(!prev.warnings.is_empty());
            counts.phoneless -= u64::from(phone_left_out(&prev).is_some());
            if self
                .phone_example
                .as_ref()
                .is_some_and(|(k, _)| *k == prev.key)
            {
                self.phone_example = None;
            }
        }
        let counts = self.tallies.entry(o.kind).or_default();
        *tally(counts, o.action) += 1;
        counts.warned += u64::from(!o.warnings.is_empty());
        if let Some(why) = phone_left_out(&o) {
            counts.phoneless += 1;
            if self.phone_example.is_none() {
                self.phone_example = Some((o.key.clone(), why.to_string()));
            }
        }
        if !self.summary_only || o.action == Action::Failed {
            self.outcomes.push(o);
        }
    }

    /// Records that an entity could not be linked (once per entity; the last reason wins).
    pub fn gap(&mut self, kind: EntityKind, key: &str, reason: String) {
        if let Some(g) = self
            .unlinked
            .iter_mut()
            .find(|g| g.kind == kind && g.key == key)
        {
            g.reason = reason;
            return;
        }
        self.tallies.entry(kind).or_default().unlinked += 1;
        self.unlinked.push(Gap {
            kind,
            key: key.to_string(),
            reason,
            requeue: None,
        });
    }

    /// Sets the sync to queue for a recorded gap.
    pub fn requeue(&mut self, kind: EntityKind, key: &str, sync: Option<(EntityKind, String)>) {
        if let Some(g) = self
            .unlinked
            .iter_mut()
            .find(|g| g.kind == kind && g.key == key)
        {
            g.requeue = sync;
        }
    }

    /// Entities sent without their phone (all kinds).
    pub fn phoneless(&self) -> u64 {
        self.tallies.values().map(|c| c.phoneless).sum()
    }

    /// The summary line for phones left out: how many, the first one and why, and the two
    /// fixes. `None` when every phone was sent.
    pub fn phoneless_line(&self) -> Option<String> {
        let n = self.phoneless();
        if n == 0 {
            return None;
        }
        // The example's outcome may have been replaced by one with its phone sent.
        let example = match &self.phone_example {
            Some((key, why)) => format!(
                ": {} ({key}{})",
                shorten(why, 200),
                if n > 1 { " and others" } else { "" }
            ),
            None => " (their lines say why)".to_string(),
        };
        Some(format!(
            "{n} {} sent without a phone{example}; fix the number in BILLmanager, or set \
             `[sync] default_country` if the numbers are local ones of another country",
            if n == 1 { "entity" } else { "entities" },
        ))
    }

    /// Counts per kind.
    pub fn counts(&self) -> BTreeMap<EntityKind, Counts> {
        self.tallies.clone()
    }

    /// Exit status of a batch run (backfill, drain): 0 when everything was sent and
    /// linked, 1 (partial) when some items failed and were queued or could not be linked.
    pub fn exit_status(&self) -> ExitStatus {
        if !self.unlinked.is_empty()
            || self.tallies.values().any(|c| c.failed > 0)
            || !self.degraded.is_empty()
            || self.phoneless() > 0
            || self.followups.queued_total() > 0
        {
            ExitStatus::Partial
        } else {
            ExitStatus::Ok
        }
    }

    /// Exit status of a single-entity sync: the failure's class (4 rejected by amoCRM,
    /// 5 not sent), because the operator asked for exactly this entity; 1 (partial) when
    /// nothing failed but something could not be linked or was sent without its phone.
    pub fn entity_exit_status(&self) -> ExitStatus {
        let failed: Vec<&Outcome> = self
            .outcomes
            .iter()
            .filter(|o| o.action == Action::Failed)
            .collect();
        match failed.is_empty() {
            true if !self.degraded.is_empty()
                || !self.unlinked.is_empty()
                || self.phoneless() > 0
                || self.followups.queued_total() > 0 =>
            {
                ExitStatus::Partial
            }
            true => ExitStatus::Ok,
            false if failed.iter().all(|o| o.rejected) => ExitStatus::Rejected,
            false => ExitStatus::Unreachable,
        }
    }

    /// Whether amoCRM rejected something (stale dictionaries are a common cause).
    pub fn has_rejections(&self) -> bool {
        self.outcomes
            .iter()
            .any(|o| o.action == Action::Failed && o.rejected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(key: &str, action: Action, warnings: &[&str]) -> Outcome {
        Outcome {
            kind: EntityKind::Contact,
            key: key.into(),
            action,
            amo_id: None,
            detail: String::new(),
            changes: vec![],
            warnings: warnings.iter().map(|w| w.to_string()).collect(),
            rejected: false,
            origin: (EntityKind::Contact, key.into()),
        }
    }

    #[test]
    fn queued_follow_ups_are_all_counted_and_the_first_ones_named() {
        let mut f = FollowUps::default();
        for i in 0..NAMED + 5 {
            f.queue(QueuedFollowUp {
                what: if i == 0 { "task" } else { "note" }.into(),
                key: format!("k{i}"),
                kind: EntityKind::Lead,
                entity: format!("service:{i}"),
                error: "503".into(),
            });
        }
        assert_eq!((f.notes_queued, f.tasks_queued), (NAMED as u64 + 4, 1));
        assert_eq!(f.queued.len(), NAMED);
        assert!(
            f.line().contains("(5 queued not named here"),
            "{}",
            f.line()
        );
        let mut r = Report::new(false, true);
        assert_eq!(r.exit_status(), ExitStatus::Ok);
        r.followups = f;
        assert_eq!(r.exit_status(), ExitStatus::Partial);
        assert_eq!(r.entity_exit_status(), ExitStatus::Partial);
    }

    #[test]
    fn outcomes_with_warnings_are_counted_even_in_a_summary() {
        let mut r = Report::new(false, true);
        r.push(outcome(
            "user:1",
            Action::Created,
            &["PHONE not sent: `12-34` …"],
        ));
        r.push(outcome("user:2", Action::Created, &[]));
        assert_eq!(r.counts()[&EntityKind::Contact].warned, 1);
        assert!(r.outcomes.is_empty(), "a summary keeps failures only");
        let mut r = Report::new(false, false);
        r.push(outcome("user:1", Action::Failed, &["x"]));
        r.push(outcome("user:1", Action::Created, &[]));
        let c = &r.counts()[&EntityKind::Contact];
        assert_eq!(
            (c.warned, c.created, c.failed),
            (0, 1, 0),
            "a replaced outcome"
        );
    }

    #[test]
    fn a_long_example_is_cut_on_a_character_boundary() {
        assert_eq!(shorten("ab", 2), "ab");
        assert_eq!(shorten("абв", 2), "аб…");
        let huge = format!(
            "{PHONE_NOT_SENT}`+7{}` is not a valid phone number",
            "9".repeat(100_000)
        );
        let mut r = Report::new(false, true);
        r.push(outcome("user:6", Action::Created, &[&huge]));
        let line = r.phoneless_line().unwrap();
        assert!(
            line.starts_with("1 entity sent without a phone: `+7999"),
            "{line}"
        );
        assert!(
            line.len() < 1000,
            "a long example is cut: {} bytes",
            line.len()
        );
    }

    #[test]
    fn phones_left_out_are_counted_named_and_make_the_run_partial() {
        let bad = "PHONE not sent: `512 000 002` is not a valid phone number (read with default country RU)";
        let mut r = Report::new(false, false);
        r.push(outcome("user:1", Action::Created, &[]));
        assert_eq!(r.phoneless_line(), None);
        assert_eq!(r.exit_status(), ExitStatus::Ok);
        r.push(outcome("user:2", Action::Created, &[bad]));
        r.push(outcome("user:3", Action::Unchanged, &[bad]));
        r.push(outcome("user:4", Action::Failed, &[bad]));
        r.push(outcome(
            "user:5",
            Action::Updated,
            &["PHONE sent as +74951234567 without its extension 123 (amoCRM keeps numbers only)"],
        ));
        assert_eq!(r.phoneless(), 2, "failed ones are counted as failed");
        let line = r.phoneless_line().unwrap();
        assert!(
            line.starts_with("2 entities sent without a phone: `512 000 002` is not a valid phone number (read with default country RU) (user:2 and others);"),
            "{line}"
        );
        assert!(line.contains("`[sync] default_country`"), "{line}");
        assert_eq!(r.exit_status(), ExitStatus::Partial);
        r.push(outcome("user:4", Action::Created, &[]));
        assert_eq!(r.entity_exit_status(), ExitStatus::Partial);
        r.push(outcome("user:2", Action::Updated, &[]));
        assert_eq!(r.phoneless(), 1);
        assert!(
            r.phoneless_line()
                .unwrap()
                .starts_with("1 entity sent without a phone (their lines say why);"),
            "the example was replaced: {:?}",
            r.phoneless_line()
        );
        r.push(outcome("user:3", Action::Updated, &[]));
        assert_eq!(r.phoneless(), 0, "a replaced outcome");
        assert_eq!(r.phoneless_line(), None);
    }
}
