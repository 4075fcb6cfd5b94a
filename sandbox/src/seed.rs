//! The fixed part of an emulated account: account info, users, pipelines and
//! custom-field definitions. Serde-(de)serialisable so a JSON seed file can replace
//! any part of the demo account (missing keys fall back to the demo values).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Seed {
    pub account: SeedAccount,
    pub users: Vec<SeedUser>,
    pub groups: Vec<SeedGroup>,
    pub task_types: Vec<SeedTaskType>,
    pub pipelines: Vec<SeedPipeline>,
    pub custom_fields: SeedCustomFields,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct SeedAccount {
    pub id: i64,
    pub name: String,
    pub subdomain: String,
    pub current_user_id: i64,
    pub country: String,
    pub currency: String,
    pub currency_symbol: String,
    pub timezone: String,
    /// When false, `filter[...]` on leads/contacts/companies is silently ignored,
    /// like an account without the filtering add-on (§3.3, pitfall 5).
    pub is_api_filter_enabled: bool,
    /// 1 = "First Last", 2 = "Last First" when a contact's name is composed.
    pub contact_name_display_order: u8,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SeedUser {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub lang: String,
    pub is_admin: bool,
    pub is_active: bool,
    pub group_id: i64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SeedGroup {
    pub id: i64,
    pub name: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SeedTaskType {
    pub id: i64,
    pub name: String,
    pub code: Option<String>,
    pub color: Option<String>,
    pub icon_id: Option<i64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SeedPipeline {
    pub id: i64,
    pub name: String,
    pub sort: i64,
    pub is_main: bool,
    pub is_unsorted_on: bool,
    pub is_archive: bool,
    pub statuses: Vec<SeedStatus>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SeedStatus {
    pub id: i64,
    pub name: String,
    pub sort: i64,
    /// 1 = unsorted, 0 = normal.
    #[serde(rename = "type")]
    pub status_type: u8,
    pub color: String,
    pub is_editable: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SeedCustomFields {
    pub leads: Vec<SeedField>,
    pub contacts: Vec<SeedField>,
    pub companies: Vec<SeedField>,
}

/// Custom field types the sandbox validates (§7.2/§7.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    #[default]
    Text,
    Numeric,
    Checkbox,
    Select,
    Multiselect,
    Date,
    DateTime,
    Birthday,
    Url,
    Textarea,
    Radiobutton,
    Streetaddress,
    Multitext,
}

impl FieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Numeric => "numeric",
            FieldType::Checkbox => "checkbox",
            FieldType::Select => "select",
            FieldType::Multiselect => "multiselect",
            FieldType::Date => "date",
            FieldType::DateTime => "date_time",
            FieldType::Birthday => "birthday",
            FieldType::Url => "url",
            FieldType::Textarea => "textarea",
            FieldType::Radiobutton => "radiobutton",
            FieldType::Streetaddress => "streetaddress",
            FieldType::Multitext => "multitext",
        }
    }

    /// Types whose values carry an enum (id/code) in responses.
    pub fn has_enums(self) -> bool {
        matches!(
            self,
            FieldType::Select
                | FieldType::Multiselect
                | FieldType::Radiobutton
                | FieldType::Multitext
        )
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SeedField {
    pub id: i64,
    pub name: String,
    pub code: Option<String>,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    pub sort: i64,
    pub is_api_only: bool,
    pub enums: Vec<SeedEnum>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SeedEnum {
    pub id: i64,
    pub value: String,
    pub sort: i64,
    pub code: Option<String>,
}

impl Seed {
    pub fn user(&self, id: i64) -> Option<&SeedUser> {
        self.users.iter().find(|u| u.id == id)
    }

    /// An id that may be written into responsible_user_id/created_by/updated_by.
    pub fn is_active_user(&self, id: i64) -> bool {
        self.user(id).is_some_and(|u| u.is_active)
    }

    pub fn group_of(&self, user_id: i64) -> i64 {
        self.user(user_id).map_or(0, |u| u.group_id)
    }

    pub fn pipeline(&self, id: i64) -> Option<&SeedPipeline> {
        self.pipelines.iter().find(|p| p.id == id)
    }

    pub fn main_pipeline(&self) -> Option<&SeedPipeline> {
        self.pipelines
            .iter()
            .find(|p| p.is_main)
            .or(self.pipelines.first())
    }
}

impl SeedPipeline {
    pub fn status(&self, id: i64) -> Option<&SeedStatus> {
        self.statuses.iter().find(|s| s.id == id)
    }

    /// Where a lead lands when no status is given: the first non-unsorted stage.
    pub fn first_stage(&self) -> Option<i64> {
        let mut open: Vec<&SeedStatus> = self
            .statuses
            .iter()
            .filter(|s| s.status_type == 0 && s.id != 142 && s.id != 143)
            .collect();
        open.sort_by_key(|s| s.sort);
        open.first().map(|s| s.id)
    }

    pub fn unsorted_stage(&self) -> Option<i64> {
        self.statuses
            .iter()
            .find(|s| s.status_type == 1)
            .map(|s| s.id)
    }
}
