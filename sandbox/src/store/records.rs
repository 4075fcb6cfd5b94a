//! Stored records. Entities keep normalised values; JSON is produced on read.

use serde_json::{Number, Value};

use super::kind::{Kind, Node};

/// One value of a custom field as stored (value already type-normalised).
#[derive(Clone, Debug, PartialEq)]
pub struct CfVal {
    pub value: Value,
    pub enum_id: Option<i64>,
    pub enum_code: Option<String>,
}

#[derive(Clone, Debug)]
pub struct CfValues {
    pub field_id: i64,
    pub values: Vec<CfVal>,
}

/// A lead, contact or company.
#[derive(Clone, Debug)]
pub struct Entity {
    pub id: i64,
    pub kind: Kind,
    pub name: String,
    pub first_name: String,
    pub last_name: String,
    pub price: Number,
    pub responsible_user_id: i64,
    pub group_id: i64,
    pub created_by: i64,
    pub updated_by: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
    pub closest_task_at: Option<i64>,
    pub pipeline_id: i64,
    pub status_id: i64,
    pub loss_reason_id: Option<i64>,
    pub cf: Vec<CfValues>,
    pub tags: Vec<i64>,
    /// Lower-cased name and values joined by '\n' (for `query`).
    pub search_text: String,
    /// Digits-only name and values joined by '\n' (for digit `query`).
    pub search_digits: String,
    /// Last-10-digit keys of PHONE values (for calls matching).
    pub phone_keys: Vec<String>,
}

impl Entity {
    pub fn new(id: i64, kind: Kind) -> Entity {
        Entity {
            id,
            kind,
            name: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            price: Number::from(0),
            responsible_user_id: 0,
            group_id: 0,
            created_by: 0,
            updated_by: 0,
            created_at: 0,
            updated_at: 0,
            closed_at: None,
            closest_task_at: None,
            pipeline_id: 0,
            status_id: 0,
            loss_reason_id: None,
            cf: Vec::new(),
            tags: Vec::new(),
            search_text: String::new(),
            search_digits: String::new(),
            phone_keys: Vec::new(),
        }
    }

    pub fn node(&self) -> Node {
        (self.kind, self.id)
    }

    pub fn is_closed(&self) -> bool {
        self.status_id == 142 || self.status_id == 143
    }
}

#[derive(Clone, Debug)]
pub struct Task {
    pub id: i64,
    pub created_by: i64,
    pub updated_by: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub responsible_user_id: i64,
    pub group_id: i64,
    pub entity: Option<Node>,
    pub is_completed: bool,
    pub task_type_id: i64,
    pub text: String,
    pub duration: i64,
    pub complete_till: i64,
    pub result: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Note {
    pub id: i64,
    pub entity: Node,
    pub note_type: String,
    pub params: Value,
    pub created_by: i64,
    pub updated_by: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub responsible_user_id: i64,
    pub group_id: i64,
}

#[derive(Clone, Debug)]
pub struct Event {
    pub id: String,
    pub event_type: String,
    /// Singular: lead, contact, company, task.
    pub entity_type: &'static str,
    pub entity_id: i64,
    pub created_by: i64,
    pub created_at: i64,
    pub value_after: Value,
    pub value_before: Value,
}
