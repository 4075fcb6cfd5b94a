//! BILLmanager failures: each says which entity or which call, and what to do.

use std::fmt;

use crate::status::{Classify, ExitStatus};

/// What went wrong reading BILLmanager.
#[derive(Debug)]
pub enum BillingError {
    /// No such entity (unknown `elid`).
    NotFound {
        /// `client`, `payer`, `service`.
        entity: &'static str,
        /// The id asked for.
        id: String,
    },
    /// The entity exists but cannot be tied to its client (a client name two clients
    /// share, or no client has): never guessed.
    Unlinked {
        /// `user`, `payer`, `service`.
        entity: &'static str,
        /// Its id.
        id: String,
        /// Why, naming the clients involved.
        detail: String,
    },
    /// BILLmanager refused (bad credentials, no rights).
    AccessDenied {
        /// BILLmanager's message.
        detail: String,
    },
    /// mgrctl could not be run or the API could not be reached.
    Unreachable {
        /// What failed.
        detail: String,
    },
    /// The answer was not in the expected shape.
    Malformed {
        /// The function called.
        func: String,
        /// What was wrong.
        detail: String,
    },
    /// BILLmanager answered with an error document.
    Panel {
        /// The function called.
        func: String,
        /// Error type (`$type`).
        kind: String,
        /// Message.
        detail: String,
    },
}

impl fmt::Display for BillingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BillingError::NotFound { entity, id } => {
                write!(f, "BILLmanager has no {entity} with id {id}")
            }
            BillingError::Unlinked { entity, id, detail } => {
                write!(
                    f,
                    "BILLmanager {entity} {id} cannot be linked to its client: {detail}"
                )
            }
            BillingError::AccessDenied { detail } => {
                write!(f, "BILLmanager refused access: {detail}")
            }
            BillingError::Unreachable { detail } => write!(f, "BILLmanager unreachable: {detail}"),
            BillingError::Malformed { func, detail } => {
                write!(f, "unexpected answer from BILLmanager `{func}`: {detail}")
            }
            BillingError::Panel { func, kind, detail } => {
                write!(f, "BILLmanager `{func}` failed ({kind}): {detail}")
            }
        }
    }
}

impl std::error::Error for BillingError {}

impl Classify for BillingError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            BillingError::NotFound { .. } => ExitStatus::Usage,
            BillingError::Unlinked { .. } => ExitStatus::Partial,
            _ => ExitStatus::Unreachable,
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            BillingError::NotFound { entity, .. } => format!(
                "check `--elid`: it must be the id of an existing {entity} as BILLmanager shows it"
            ),
            BillingError::Unlinked { .. } => {
                "give each client a unique name in BILLmanager (or fix the row's client), then sync again; the entity stays queued".into()
            }
            BillingError::AccessDenied { .. } => {
                "check `[billmanager] user` and the password variable, or run on the panel host as root with source = \"mgrctl\"".into()
            }
            BillingError::Unreachable { .. } => {
                "check `[billmanager]` (mgrctl path or API url) and that the panel runs; nothing was sent".into()
            }
            BillingError::Malformed { .. } | BillingError::Panel { .. } => {
                "run the same call with `mgrctl -m billmgr <func> out=json` to see the raw answer; see docs/billmanager.md".into()
            }
        })
    }

    /// BILLmanager could not be asked (mgrctl or the API unreachable, or refusing our
    /// credentials): every other item would fail alike until it can.
    fn is_transient(&self) -> bool {
        matches!(
            self,
            BillingError::Unreachable { .. } | BillingError::AccessDenied { .. }
        )
    }

    /// Nothing here stops a run: one entity's trouble is that entity's.
    fn is_fatal(&self) -> bool {
        false
    }

    /// No such entity: nothing to sync, ever.
    fn is_gone(&self) -> bool {
        matches!(self, BillingError::NotFound { .. })
    }
}
