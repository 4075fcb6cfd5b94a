//! What `check` reports: findings, each with the rule-file key it belongs to.

use serde::Serialize;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A sync would fail, or would send less than the rules ask for. `check` exits 2.
    Problem,
    /// Worth a look, but a sync would work (a tag amoCRM will create). `--strict` counts it.
    Warning,
}

/// One thing `check` found, with the rule-file key it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Problem or warning.
    pub severity: Severity,
    /// Dotted key path, e.g. `fields.lead."Product"` or `pipelines[1].status`.
    pub key: String,
    /// What is wrong and what exists instead.
    pub message: String,
}

impl Finding {
    /// A problem finding: the common case, so it has a short way to be made.
    pub(crate) fn problem(key: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding {
            severity: Severity::Problem,
            key: key.into(),
            message: message.into(),
        }
    }
}
