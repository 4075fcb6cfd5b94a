//! Talking to amoCRM: the [`Crm`] trait the engine uses, its amoCRM implementation
//! ([`amo`]) and typed errors.
//!
//! The engine builds amoCRM-shaped JSON payloads (that is domain knowledge of amoCRM's data
//! model) but never sees HTTP: paths, verbs, paging, batching into chunks and splitting a
//! rejected batch are the implementation's business.

pub mod amo;
mod dictionaries;
mod error;
mod item;
pub mod names;

use serde_json::Value;

pub use dictionaries::{Dictionaries, EnumDef, FieldDef, PipelineDef, StatusDef, UserDef};
pub use error::{CrmError, FieldError, ItemErrors};
pub use item::{array_text, Item};

use crate::rules::EntityKind;

/// Which of our items became which amoCRM entity (matched by `request_id`, never by position).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The `request_id` we sent (a BILLmanager key).
    pub request_id: String,
    /// The new amoCRM id.
    pub id: i64,
}

/// Result of a batch write: what succeeded and which items amoCRM rejected.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// Created entities (empty for updates).
    pub created: Vec<Created>,
    /// `request_id`s that were applied (creates and updates).
    pub applied: Vec<String>,
    /// Items amoCRM rejected, with field paths.
    pub rejected: Vec<ItemErrors>,
}

impl BatchOutcome {
    /// Adds another request's outcome.
    pub fn merge(&mut self, other: BatchOutcome) {
        self.created.extend(other.created);
        self.applied.extend(other.applied);
        self.rejected.extend(other.rejected);
    }
}

/// A link to make between two entities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The entity the link starts from (of the kind passed to [`Crm::link`]).
    pub from_id: i64,
    /// The kind it links to.
    pub to_kind: EntityKind,
    /// The id it links to.
    pub to_id: i64,
    /// Mark a contact as the lead's main contact.
    pub is_main: bool,
}

/// One write request of a pipelined run ([`Crm::write_fed`]): up to a batch of items.
#[derive(Debug)]
pub enum Write {
    /// Create these (each with a unique `request_id`).
    Create(Vec<Item>),
    /// Update these (each with `id` and `request_id`).
    Update(Vec<Item>),
    /// Make these links.
    Link(Vec<Link>),
    /// Add these notes (`entity_id`, `note_type`, `params`).
    Notes(Vec<Value>),
}

/// A caller that hands out writes as it plans them and records each answer as it arrives,
/// so a long run keeps requests open while it reads and plans the next ones.
pub trait WriteFeed {
    /// Writes to start now, each with the number the caller knows it by: ideally at most
    /// `room`. `idle` when nothing is open; an empty answer then ends the run.
    fn more(&mut self, room: usize, idle: bool) -> Vec<(u64, EntityKind, Write)>;
    /// Reading and planning while requests are open; true when some was done.
    fn meanwhile(&mut self) -> bool {
        false
    }
    /// The final answer to write `id`: what was written and rejected (nothing for links),
    /// or the error that ended it. `false` starts nothing new; open writes still answer.
    fn answered(&mut self, id: u64, result: Result<BatchOutcome, CrmError>) -> bool;
}

/// The amoCRM operations the sync engine needs.
pub trait Crm {
    /// Fields, pipelines, users of the account.
    fn dictionaries(&self) -> Result<Dictionaries, CrmError>;
    /// Full-text search (`query`); the caller verifies matches (amoCRM searches every field).
    fn search(&self, kind: EntityKind, query: &str) -> Result<Vec<Value>, CrmError>;
    /// Every contact with this phone among its PHONE values, compared by the last ten
    /// digits ([`crate::phone::same`]): amoCRM's `query` searches every field and tells +7
    /// from 8, so its hits are verified here. The one phone lookup of the product; each
    /// caller keeps its own rule for which contact to take. `with_leads` embeds each
    /// contact's leads (`with=leads`).
    fn contacts_by_phone(&self, phone: &str, with_leads: bool) -> Result<Vec<Value>, CrmError>;
    /// One entity by id; `None` when it no longer exists.
    fn get(&self, kind: EntityKind, id: i64) -> Result<Option<Value>, CrmError>;
    /// Entities by id, in pages of up to 250 (`filter[id][]`) rather than one request
    /// each (one by one only where the account ignores the filter); ids that no longer
    /// exist are missing from the answer.
    fn get_many(&self, kind: EntityKind, ids: &[i64]) -> Result<Vec<Value>, CrmError>;
    /// Creates entities; each item must carry a unique `request_id`.
    fn create(&self, kind: EntityKind, items: Vec<Item>) -> Result<BatchOutcome, CrmError>;
    /// Updates entities; each item must carry `id` and `request_id`.
    fn update(&self, kind: EntityKind, items: Vec<Item>) -> Result<BatchOutcome, CrmError>;
    /// Creates (or with `patch` updates) entities, reporting each request's outcome as its
    /// answer arrives (several may be open at once), so the caller records bindings at once.
    /// On an error, items not reported were not written as far as we know. `on_answer`
    /// returns `false` to start no further request.
    fn write_each(
        &self,
        kind: EntityKind,
        items: Vec<Item>,
        patch: bool,
        on_answer: &mut dyn FnMut(BatchOutcome) -> bool,
    ) -> Result<(), CrmError>;
    /// Links entities of `kind` to others.
    fn link(&self, kind: EntityKind, links: Vec<Link>) -> Result<(), CrmError>;
    /// Runs the writes `feed` hands out until it has no more, recording each answer as it
    /// arrives; up to `[amocrm] max_in_flight` are open at once.
    fn write_fed(&self, feed: &mut dyn WriteFeed) -> Result<(), CrmError>;

    /// Walks every entity of a kind (250 per page), for pre-loading lookups in bulk.
    fn for_each(&self, kind: EntityKind, f: &mut dyn FnMut(Value)) -> Result<(), CrmError>;
    /// Requests made so far (for summaries and the benchmark).
    fn requests(&self) -> amo::RequestStats;
    /// Creates tasks (each with `request_id`); returns `request_id` → task id.
    fn create_tasks(&self, tasks: Vec<Value>) -> Result<Vec<Created>, CrmError>;
    /// Tasks not completed yet that are attached to these entities of `kind`.
    fn open_tasks(&self, kind: EntityKind, ids: &[i64]) -> Result<Vec<Value>, CrmError>;
    /// Adds notes (`entity_id`, `note_type`, `params`) to entities of `kind`.
    fn add_notes(&self, kind: EntityKind, notes: Vec<Value>) -> Result<(), CrmError>;
    /// The notes on one entity of `kind`: whether a note sent before a crash arrived.
    fn notes_of(&self, kind: EntityKind, id: i64) -> Result<Vec<Value>, CrmError>;
    /// Walks events of these types created at or after `since` (unix time), oldest first.
    fn events(&self, types: &[&str], since: i64, f: &mut dyn FnMut(Value)) -> Result<(), CrmError>;
}
