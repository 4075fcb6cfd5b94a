//! amoCRM failures, typed so callers decide by kind (retry, queue, stop) and the user gets
//! the field path and the command that fixes it.

use std::fmt;

use crate::status::{Classify, ExitStatus};

/// One rejected field of one submitted item, as amoCRM reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// Symfony-style code, e.g. `NotSupportedChoice`.
    pub code: String,
    /// Dotted path inside the submitted item, e.g. `custom_fields_values.0.values.0.value`.
    pub path: String,
    /// Human text from amoCRM.
    pub detail: String,
}

/// The errors of one submitted item, keyed by the `request_id` we sent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ItemErrors {
    /// Our `request_id` (a BILLmanager key) or the item's index as a string.
    pub request_id: String,
    /// What was wrong with it.
    pub errors: Vec<FieldError>,
}

/// Everything that can go wrong talking to amoCRM.
#[derive(Debug)]
pub enum CrmError {
    /// No usable authorization: never authorized, refresh token revoked or spent, bad code.
    AuthNeeded {
        /// amoCRM's explanation (its `hint`), never a token.
        detail: String,
        /// What to do.
        advice: String,
    },
    /// amoCRM rejected the data (400/422 with `validation-errors`).
    Validation {
        /// Request summary (`POST /api/v4/contacts`).
        request: String,
        /// amoCRM's `detail`.
        detail: String,
        /// Per-item field errors.
        items: Vec<ItemErrors>,
    },
    /// 403 with an HTML page: the account or IP is blocked (usually after too many 429s).
    Blocked,
    /// 403 problem+json: the token's user lacks rights for this method.
    Forbidden {
        /// Request summary.
        request: String,
        /// amoCRM's explanation.
        detail: String,
    },
    /// 402: the account's subscription has ended.
    PaymentRequired,
    /// Could not get an answer after retries (connection errors, 5xx, 429 storm).
    Unreachable {
        /// Request summary.
        request: String,
        /// The last failure.
        detail: String,
    },
    /// A write was sent but its answer was lost: it may or may not have been applied.
    Ambiguous {
        /// Request summary.
        request: String,
        /// The transport error.
        detail: String,
    },
    /// Any other refusal (404, 405, unexpected 4xx).
    Http {
        /// Request summary.
        request: String,
        /// HTTP status.
        status: u16,
        /// amoCRM's explanation.
        detail: String,
    },
    /// amoCRM answered with something we cannot read.
    Decode {
        /// Request summary.
        request: String,
        /// Where decoding failed.
        detail: String,
    },
}

impl CrmError {
    /// Whether this error ends the run it happened in: amoCRM could not be reached after a
    /// request's retries (the client's one stop decision, `amo::Outage`; issue 22). Nothing
    /// new is sent after it; what was not sent is reported and sent by the next run.
    pub fn stops_the_run(&self) -> bool {
        matches!(self, CrmError::Unreachable { .. })
    }
}

impl fmt::Display for CrmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CrmError::AuthNeeded { detail, .. } => write!(f, "amoCRM authorization failed: {detail}"),
            CrmError::Validation {
                request,
                detail,
                items,
            } => {
                write!(f, "amoCRM rejected the data ({request}): {detail}")?;
                for item in items {
                    for e in &item.errors {
                        write!(
                            f,
                            "\n  - item `{}`: field `{}`: {} ({})",
                            item.request_id, e.path, e.detail, e.code
                        )?;
                    }
                }
                Ok(())
            }
            CrmError::Blocked => f.write_str(
                "amoCRM answered 403 Forbidden with an HTML page: the account or this IP is blocked",
            ),
            CrmError::Forbidden { request, detail } => {
                write!(f, "amoCRM refused {request}: access denied ({detail})")
            }
            CrmError::PaymentRequired => {
                f.write_str("amoCRM answered 402 Payment Required: the account's subscription has ended")
            }
            CrmError::Unreachable { request, detail } => {
                write!(f, "amoCRM unreachable ({request}): {detail}")
            }
            CrmError::Ambiguous { request, detail } => write!(
                f,
                "the answer to {request} was lost ({detail}); it may have been applied"
            ),
            CrmError::Http {
                request,
                status: 404,
                detail,
            } => write!(
                f,
                "amoCRM has no such route: {request} answered 404 Not Found ({detail})"
            ),
            CrmError::Http {
                request,
                status,
                detail,
            } => write!(f, "amoCRM answered {status} to {request}: {detail}"),
            CrmError::Decode { request, detail } => {
                write!(f, "cannot read amoCRM's answer to {request}: {detail}")
            }
        }
    }
}

impl std::error::Error for CrmError {}

impl Classify for CrmError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            CrmError::AuthNeeded { .. } | CrmError::Forbidden { .. } => ExitStatus::AuthNeeded,
            // A missing route is a configuration problem (base_url, scope), not rejected data.
            CrmError::Http { status: 404, .. } => ExitStatus::Usage,
            CrmError::Validation { .. } | CrmError::Http { .. } => ExitStatus::Rejected,
            CrmError::Blocked
            | CrmError::PaymentRequired
            | CrmError::Unreachable { .. }
            | CrmError::Ambiguous { .. }
            | CrmError::Decode { .. } => ExitStatus::Unreachable,
        }
    }

    fn hint(&self) -> Option<String> {
        Some(match self {
            CrmError::AuthNeeded { advice, .. } => advice.clone(),
            CrmError::Validation { .. } => {
                "fix the value at the field path shown (rule file mapping or BILLmanager data); \
                 the item stays queued and is retried by the next run"
                    .into()
            }
            CrmError::Blocked => "stop every amocrm-bin job (cron, hook), then ask amoCRM support to lift the \
                 block, giving them this server's IP and your account subdomain"
                .into(),
            CrmError::Forbidden { .. } => {
                "authorize the integration as an account administrator (`amocrm-bin auth --code CODE`)".into()
            }
            CrmError::PaymentRequired => "renew the amoCRM subscription; queued work is kept".into(),
            CrmError::Unreachable { .. } => {
                "check the network and https://status.amocrm.ru; nothing was lost, re-run later".into()
            }
            CrmError::Ambiguous { .. } => {
                "re-run: the next run looks the entity up before creating it, so nothing is duplicated".into()
            }
            CrmError::Http { status: 404, .. } => {
                "a configuration or scope problem: check that `[amocrm] base_url` is the account's \
                 address (https://<subdomain>.amocrm.ru) and that the integration has access to \
                 this part of the API (amoCRM → Settings → Integrations → the integration's \
                 access); switch the rule part that needs it off meanwhile"
                    .into()
            }
            // The account answered, so its address is right: the request itself was refused.
            CrmError::Http { status: 400, .. } => {
                "amoCRM refused the request as malformed; the item stays queued. Run the same \
                 command with -v to see the request and amoCRM's answer, and check the values the \
                 rule file maps into it"
                    .into()
            }
            CrmError::Http { .. } => {
                "run the same command with -v to see the request and amoCRM's answer; the item \
                 stays queued"
                    .into()
            }
            CrmError::Decode { .. } => "run with -vv and report the answer shown".into(),
        })
    }

    /// No answer after the retries (connection refused, timeout, 5xx, a 429 storm), an
    /// answer lost after a write, or one we cannot read: retrying later unchanged can work.
    fn is_transient(&self) -> bool {
        matches!(
            self,
            CrmError::Unreachable { .. } | CrmError::Ambiguous { .. } | CrmError::Decode { .. }
        )
    }

    /// Account-wide refusals: no write can succeed until a person re-authorizes, lifts the
    /// block or pays. A 403 problem+json ([`CrmError::Forbidden`]) concerns one method, so
    /// it is not fatal here; a drain still stops on it, as it exits 3 (see the default rule
    /// in `engine::outbox`).
    fn is_fatal(&self) -> bool {
        matches!(
            self,
            CrmError::AuthNeeded { .. } | CrmError::Blocked | CrmError::PaymentRequired
        )
    }

    /// amoCRM answered and refused this item (validation errors, 404, any other 4xx).
    fn is_refused(&self) -> bool {
        matches!(self, CrmError::Validation { .. } | CrmError::Http { .. })
    }
}

#[cfg(test)]
mod hint_tests {
    use super::CrmError;
    use crate::status::Classify;

    #[test]
    fn only_a_missing_route_points_at_the_base_url() {
        let http = |status| CrmError::Http {
            request: "POST /api/v4/leads".into(),
            status,
            detail: "Bad Request".into(),
        };
        for (status, base_url) in [(400, false), (409, false), (422, false), (404, true)] {
            let hint = http(status).hint().unwrap();
            assert_eq!(hint.contains("base_url"), base_url, "{status}: {hint}");
        }
        assert!(http(400).hint().unwrap().contains("-v"));
    }
}
