//! The condition types of `when` tables, which every section with conditions shares
//! (`[[skip]]`, `[[tags]]`, `[[pipelines]]`, `[lifecycle]`, `[calls]`). A leaf of `rules`:
//! the schema, the lifecycle section and the evaluator in `condition` all build on it.

use serde::Deserialize;

/// A condition table: every key (an attribute such as `service.product`) must match.
pub type When = std::collections::BTreeMap<String, Condition>;

/// What one attribute must be: a value, a list of alternatives, or an operator table.
///
/// The operator table is tried first: serde's untagged enums take the first variant that
/// parses, and a TOML table would otherwise be read as a plain value. A table that is not a
/// valid operator table is reported by validation (see `condition::check`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Condition {
    /// One of an operator table's tests (all that are given must hold).
    Ops(Box<Ops>),
    /// Equal to this value (strings compare exactly, numbers numerically).
    Value(toml::Value),
}

/// `{ gt = 1000 }`, `{ matches = "^VPS" }`, `{ in = [...] }`, `{ exists = true }`, …
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ops {
    /// Equal.
    pub eq: Option<toml::Value>,
    /// Not equal.
    pub ne: Option<toml::Value>,
    /// Greater than (numbers, or ISO dates as text).
    pub gt: Option<toml::Value>,
    /// Greater or equal.
    pub ge: Option<toml::Value>,
    /// Less than.
    pub lt: Option<toml::Value>,
    /// Less or equal.
    pub le: Option<toml::Value>,
    /// Regular expression the text must match.
    pub matches: Option<String>,
    /// One of these values.
    #[serde(rename = "in")]
    pub any_of: Option<Vec<toml::Value>>,
    /// None of these values.
    pub not_in: Option<Vec<toml::Value>>,
    /// The attribute is present and non-empty (true) or absent/empty (false).
    pub exists: Option<bool>,
}
