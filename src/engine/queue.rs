//! Plans of one kind waiting until they fill whole write requests, so a backfill read in
//! chunks still sends every create and update in requests of `batch_size` entities; only
//! the last request of each kind is partial.

use std::collections::BTreeSet;

use super::plan::{Op, Plan};

/// Whether a plan needs a request of its own kind (a create or a PATCH).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sends {
    Create,
    Update,
    Nothing,
}

/// What request `p` goes into: the one test the queue and the backfill's groups share.
pub(super) fn sends(p: &Plan) -> Sends {
    match &p.op {
        Op::Create(_) => Sends::Create,
        // Only links to add: no PATCH (see `plan::apply`).
        _ if p.op.links_only() => Sends::Nothing,
        Op::Update { .. } => Sends::Update,
        _ => Sends::Nothing,
    }
}

/// The plans of one kind not applied yet.
#[derive(Debug, Default)]
pub struct Queue {
    plans: Vec<Plan>,
    keys: BTreeSet<String>,
}

impl Queue {
    /// Adds planned entities.
    pub fn push(&mut self, plans: impl IntoIterator<Item = Plan>) {
        for p in plans {
            self.keys.insert(p.key.clone());
            self.plans.push(p);
        }
    }

    /// Plans waiting.
    pub fn len(&self) -> usize {
        self.plans.len()
    }

    /// True when no plan waits.
    pub fn is_empty(&self) -> bool {
        self.plans.is_empty()
    }

    /// True while the entity with `key` waits to be written.
    pub fn pending(&self, key: &str) -> bool {
        self.keys.contains(key)
    }

    /// Takes the plans that fill whole requests of `batch` (every plan when `all`), and
    /// every plan that sends nothing; the rest keeps its order for the next call.
    pub fn take(&mut self, batch: usize, all: bool) -> Vec<Plan> {
        let batch = batch.max(1);
        let count = |kind| self.plans.iter().filter(|p| sends(p) == kind).count();
        let whole = |n: usize| if all { n } else { n / batch * batch };
        let mut creates = whole(count(Sends::Create));
        let mut updates = whole(count(Sends::Update));
        let mut taken = Vec::new();
        let mut kept = Vec::new();
        for p in std::mem::take(&mut self.plans) {
            let take = match sends(&p) {
                Sends::Create if creates > 0 => {
                    creates -= 1;
                    true
                }
                Sends::Update if updates > 0 => {
                    updates -= 1;
                    true
                }
                Sends::Nothing => true,
                _ => false,
            };
            if take {
                self.keys.remove(&p.key);
                taken.push(p);
            } else {
                kept.push(p);
            }
        }
        self.plans = kept;
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::EntityKind;
    use serde_json::json;

    fn plan(key: &str, op: Op) -> Plan {
        Plan {
            kind: EntityKind::Contact,
            key: key.into(),
            op,
            hash: String::new(),
            links: vec![],
            changes: vec![],
            warnings: vec![],
            origin: (EntityKind::Contact, key.into()),
        }
    }

    #[test]
    fn only_whole_requests_leave_until_the_end() {
        let mut q = Queue::default();
        q.push((0..7).map(|i| plan(&format!("c{i}"), Op::Create(json!({}).into()))));
        q.push([plan("k", Op::Keep(1))]);
        q.push([plan(
            "u",
            Op::Update {
                id: 2,
                body: json!({"id": 2, "name": "x", "request_id": "u"}).into(),
                adopted: None,
            },
        )]);
        let first = q.take(3, false);
        // Six creates (two requests of 3) and the keep; the seventh create and the lone
        // update wait for more.
        assert_eq!(first.len(), 7);
        assert!(q.pending("c6") && q.pending("u") && !q.pending("c0") && !q.pending("k"));
        assert!(q.take(3, false).is_empty(), "a partial request waits");
        let last = q.take(3, true);
        assert_eq!(
            last.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(),
            ["c6", "u"]
        );
        assert!(q.take(3, true).is_empty());
    }
}
