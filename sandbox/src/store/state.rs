//! The whole mutable account: entities with their indexes, tags, links, tasks,
//! notes, calls and the event log, plus id allocation.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

use super::fields::FieldIndex;
use super::index;
use super::kind::{Kind, Node};
use super::links::Links;
use super::records::{Entity, Event, Note, Task};
use super::tags::Tags;
use crate::config::QueryMode;
use crate::seed::Seed;

pub struct Store {
    pub seed: Seed,
    pub fields: FieldIndex,
    pub query_mode: QueryMode,
    pub ents: [BTreeMap<i64, Entity>; 3],
    pub tags: Tags,
    pub links: Links,
    pub tasks: BTreeMap<i64, Task>,
    pub tasks_by_entity: HashMap<Node, BTreeSet<i64>>,
    pub notes: BTreeMap<i64, Note>,
    pub notes_by_entity: HashMap<Node, Vec<i64>>,
    /// Calls as accepted, keyed by the id of their call note.
    pub calls: BTreeMap<i64, Value>,
    pub events: Vec<Event>,
    /// Phone key (last 10 digits) → contacts/companies carrying it.
    pub phones: HashMap<String, BTreeSet<Node>>,
    next_ids: [i64; 3],
    next_task: i64,
    next_note: i64,
}

impl Store {
    pub fn new(seed: Seed, query_mode: QueryMode) -> Store {
        Store {
            fields: FieldIndex::new(&seed.custom_fields),
            seed,
            query_mode,
            ents: Default::default(),
            tags: Tags::new(),
            links: Links::default(),
            tasks: BTreeMap::new(),
            tasks_by_entity: HashMap::new(),
            notes: BTreeMap::new(),
            notes_by_entity: HashMap::new(),
            calls: BTreeMap::new(),
            events: Vec::new(),
            phones: HashMap::new(),
            next_ids: [9_100_001, 40_400_001, 40_900_001],
            next_task: 7_300_001,
            next_note: 76_780_001,
        }
    }

    pub fn current_user(&self) -> i64 {
        self.seed.account.current_user_id
    }

    pub fn account_id(&self) -> i64 {
        self.seed.account.id
    }

    pub fn next_id(&mut self, kind: Kind) -> i64 {
        let id = self.next_ids[kind.idx()];
        self.next_ids[kind.idx()] += 1;
        id
    }

    pub fn get(&self, kind: Kind, id: i64) -> Option<&Entity> {
        self.ents[kind.idx()].get(&id)
    }

    /// Stores an entity, refreshing its search data and the phone index.
    pub fn put(&mut self, mut e: Entity) {
        let node = e.node();
        if let Some(old) = self.ents[node.0.idx()].get(&node.1) {
            for key in &old.phone_keys {
                if let Some(set) = self.phones.get_mut(key) {
                    set.remove(&node);
                }
            }
        }
        index::reindex(&self.fields, &mut e);
        for key in &e.phone_keys {
            self.phones.entry(key.clone()).or_default().insert(node);
        }
        self.ents[node.0.idx()].insert(node.1, e);
    }

    pub fn next_task_id(&mut self) -> i64 {
        self.next_task += 1;
        self.next_task - 1
    }

    /// Stores a task and keeps the per-entity index and `closest_task_at` right.
    pub fn put_task(&mut self, task: Task) {
        let old_entity = self.tasks.get(&task.id).and_then(|t| t.entity);
        if let Some(old) = old_entity {
            if let Some(set) = self.tasks_by_entity.get_mut(&old) {
                set.remove(&task.id);
            }
        }
        let new_entity = task.entity;
        if let Some(node) = new_entity {
            self.tasks_by_entity
                .entry(node)
                .or_default()
                .insert(task.id);
        }
        self.tasks.insert(task.id, task);
        for node in [old_entity, new_entity].into_iter().flatten() {
            self.refresh_closest_task(node);
        }
    }

    fn refresh_closest_task(&mut self, node: Node) {
        let closest = self.tasks_by_entity.get(&node).and_then(|ids| {
            ids.iter()
                .filter_map(|id| self.tasks.get(id))
                .filter(|t| !t.is_completed)
                .map(|t| t.complete_till)
                .min()
        });
        if let Some(e) = self.ents[node.0.idx()].get_mut(&node.1) {
            e.closest_task_at = closest;
        }
    }

    pub fn next_note_id(&mut self) -> i64 {
        self.next_note += 1;
        self.next_note - 1
    }

    pub fn put_note(&mut self, note: Note) {
        if !self.notes.contains_key(&note.id) {
            self.notes_by_entity
                .entry(note.entity)
                .or_default()
                .push(note.id);
        }
        self.notes.insert(note.id, note);
    }

    /// Appends an event with a string id, as amoCRM's are (§14).
    pub fn record_event(
        &mut self,
        event_type: &str,
        entity: (&'static str, i64),
        created_by: i64,
        created_at: i64,
        before: Value,
        after: Value,
    ) {
        let seq = self.events.len() as u64 + 1;
        self.events.push(Event {
            id: format!("01sbx{seq:021}"),
            event_type: event_type.to_string(),
            entity_type: entity.0,
            entity_id: entity.1,
            created_by,
            created_at,
            value_after: after,
            value_before: before,
        });
    }
}
