//! The account's dictionaries: custom fields, pipelines and statuses, users. Rule files name
//! these by name, code or id; the engine resolves them once per run (cached in the store).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One option of a select/multiselect/radiobutton/multitext field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnumDef {
    /// Enum id.
    pub id: i64,
    /// Option text.
    pub value: String,
    /// Option code (multitext: `WORK`, `MOB`, …).
    pub code: Option<String>,
}

/// A custom field definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDef {
    /// Field id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Code (`PHONE`, `EMAIL`, custom codes).
    pub code: Option<String>,
    /// amoCRM type (`text`, `numeric`, `select`, `multitext`, …).
    pub field_type: String,
    /// Options for enum-based types.
    pub enums: Vec<EnumDef>,
}

/// A pipeline status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusDef {
    /// Status id (142 won and 143 lost are the same in every pipeline).
    pub id: i64,
    /// Name.
    pub name: String,
}

/// A pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineDef {
    /// Pipeline id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// The account's main pipeline.
    pub is_main: bool,
    /// Statuses in order.
    pub statuses: Vec<StatusDef>,
}

/// A user of the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserDef {
    /// User id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// E-mail (login).
    pub email: Option<String>,
    /// Deactivated users cannot be made responsible.
    pub active: bool,
}

/// Everything the rules may refer to by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dictionaries {
    /// Custom fields per kind (`contact`, `company`, `lead`).
    pub fields: BTreeMap<String, Vec<FieldDef>>,
    /// Pipelines.
    pub pipelines: Vec<PipelineDef>,
    /// Users (empty when the token may not read them).
    pub users: Vec<UserDef>,
    /// The token owner's user id (default responsible).
    pub current_user_id: Option<i64>,
}
