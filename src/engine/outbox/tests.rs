//! Table tests: the classification of every error kind, and the outbox verdict around the
//! park threshold. Pure: no store, no network.

use std::path::PathBuf;

use super::*;
use crate::crm::{FieldError, ItemErrors};
use crate::lock::LockHeld;
use crate::rules::{Problem, RulesError};
use crate::status::{ExitStatus as S, Failure};
use crate::store::StoreError;

fn unreachable(detail: &str) -> anyhow::Error {
    CrmError::Unreachable {
        request: "POST /api/v4/leads".into(),
        detail: detail.into(),
    }
    .into()
}

fn http(status: u16) -> anyhow::Error {
    CrmError::Http {
        request: "GET /api/v4/leads/1".into(),
        status,
        detail: "refused".into(),
    }
    .into()
}

fn store(code: i32) -> anyhow::Error {
    StoreError {
        path: PathBuf::from("/var/lib/amocrm-bin.db"),
        action: "update the outbox",
        source: rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None),
    }
    .into()
}

fn billing(e: BillingError) -> anyhow::Error {
    e.into()
}

fn rules(e: RulesError) -> anyhow::Error {
    e.into()
}

/// Every error kind: (name, error, exit status, transient, fatal, outbox cause, queued by a
/// direct sync).
fn table() -> Vec<(&'static str, anyhow::Error, S, bool, bool, Cause, bool)> {
    use Cause::*;
    let path = || PathBuf::from("/etc/amocrm-bin/rules.toml");
    vec![
        (
            "400 validation",
            CrmError::Validation {
                request: "POST /api/v4/contacts".into(),
                detail: "Request validation failed".into(),
                items: vec![ItemErrors {
                    request_id: "7".into(),
                    errors: vec![FieldError {
                        code: "NotSupportedChoice".into(),
                        path: "custom_fields_values.0.values.0.value".into(),
                        detail: "The value is not supported".into(),
                    }],
                }],
            }
            .into(),
            S::Rejected,
            false,
            false,
            Refused,
            true,
        ),
        (
            "400 without validation-errors",
            http(400),
            S::Rejected,
            false,
            false,
            Refused,
            true,
        ),
        (
            "401 refresh revoked",
            CrmError::AuthNeeded {
                detail: "Refresh token has been revoked".into(),
                advice: "run `amocrm-bin auth --code CODE`".into(),
            }
            .into(),
            S::AuthNeeded,
            false,
            true,
            Fatal,
            true,
        ),
        (
            "402 payment required",
            CrmError::PaymentRequired.into(),
            S::Unreachable,
            false,
            true,
            Fatal,
            true,
        ),
        (
            "403 html: blocked",
            CrmError::Blocked.into(),
            S::Unreachable,
            false,
            true,
            Fatal,
            true,
        ),
        (
            "403 json: forbidden",
            CrmError::Forbidden {
                request: "POST /api/v4/tasks".into(),
                detail: "access denied".into(),
            }
            .into(),
            S::AuthNeeded,
            false,
            false,
            Fatal,
            true,
        ),
        (
            "404 no such route",
            http(404),
            S::Usage,
            false,
            false,
            Refused,
            false,
        ),
        (
            "405 method not allowed",
            http(405),
            S::Rejected,
            false,
            false,
            Refused,
            true,
        ),
        (
            "422 unexpected",
            http(422),
            S::Rejected,
            false,
            false,
            Refused,
            true,
        ),
        (
            "429 storm",
            unreachable("429 Too Many Requests after 7 attempts"),
            S::Unreachable,
            true,
            false,
            Transient,
            true,
        ),
        (
            "500",
            unreachable("500 Internal Server Error after 7 attempts"),
            S::Unreachable,
            true,
            false,
            Transient,
            true,
        ),
        (
            "502",
            unreachable("502 Bad Gateway after 7 attempts"),
            S::Unreachable,
            true,
            false,
            Transient,
            true,
        ),
        (
            "503",
            unreachable("503 Service Unavailable after 7 attempts"),
            S::Unreachable,
            true,
            false,
            Transient,
            true,
        ),
        (
            "504",
            unreachable("504 Gateway Timeout after 7 attempts"),
            S::Unreachable,
            true,
            false,
            Transient,
            true,
        ),
        (
            "connection refused",
            unreachable("connection refused"),
            S::Unreachable,
            true,
            false,
            Transient,
            true,
        ),
        (
            "timeout",
            unreachable("operation timed out"),
            S::Unreachable,
            true,
            false,
            Transient,
            true,
        ),
        (
            "lost answer",
            CrmError::Ambiguous {
                request: "POST /api/v4/leads".into(),
                detail: "connection reset".into(),
            }
            .into(),
            S::Unreachable,
            true,
            false,
            Transient,
            true,
        ),
        (
            "decode error",
            CrmError::Decode {
                request: "GET /api/v4/leads".into(),
                detail: "expected value at line 1".into(),
            }
            .into(),
            S::Unreachable,
            true,
            false,
            Transient,
            true,
        ),
        (
            "store busy",
            store(rusqlite::ffi::SQLITE_BUSY),
            S::Locked,
            false,
            false,
            Other,
            true,
        ),
        (
            "store locked",
            store(rusqlite::ffi::SQLITE_LOCKED),
            S::Locked,
            false,
            false,
            Other,
            true,
        ),
        (
            "store disk full",
            store(rusqlite::ffi::SQLITE_FULL),
            S::Unreachable,
            false,
            false,
            Other,
            true,
        ),
        (
            "store read-only",
            store(rusqlite::ffi::SQLITE_READONLY),
            S::Unreachable,
            false,
            false,
            Other,
            true,
        ),
        (
            "store corrupt",
            store(rusqlite::ffi::SQLITE_CORRUPT),
            S::Unreachable,
            false,
            false,
            Other,
            true,
        ),
        (
            "billing: no such client",
            billing(BillingError::NotFound {
                entity: "client",
                id: "9".into(),
            }),
            S::Usage,
            false,
            false,
            Gone,
            false,
        ),
        (
            "billing: unlinked",
            billing(BillingError::Unlinked {
                entity: "payer",
                id: "3".into(),
                detail: "two clients named Acme".into(),
            }),
            S::Partial,
            false,
            false,
            Other,
            true,
        ),
        (
            "billing: access denied",
            billing(BillingError::AccessDenied {
                detail: "bad password".into(),
            }),
            S::Unreachable,
            true,
            false,
            Transient,
            true,
        ),
        (
            "billing: unreachable",
            billing(BillingError::Unreachable {
                detail: "mgrctl: not found".into(),
            }),
            S::Unreachable,
            true,
            false,
            Transient,
            true,
        ),
        (
            "billing: malformed",
            billing(BillingError::Malformed {
                func: "user".into(),
                detail: "no elem".into(),
            }),
            S::Unreachable,
            false,
            false,
            Other,
            true,
        ),
        (
            "billing: panel error",
            billing(BillingError::Panel {
                func: "payer".into(),
                kind: "access".into(),
                detail: "denied".into(),
            }),
            S::Unreachable,
            false,
            false,
            Other,
            true,
        ),
        (
            "rules: unreadable",
            rules(RulesError::Read {
                path: path(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            }),
            S::Usage,
            false,
            true,
            Fatal,
            false,
        ),
        (
            "rules: too large",
            rules(RulesError::TooLarge {
                path: path(),
                cap: 1 << 20,
            }),
            S::Usage,
            false,
            true,
            Fatal,
            false,
        ),
        (
            "rules: parse",
            rules(RulesError::Parse {
                path: path(),
                line: 3,
                column: 1,
                key: "amocrm.base_url".into(),
                message: "expected a string".into(),
            }),
            S::Usage,
            false,
            true,
            Fatal,
            false,
        ),
        (
            "rules: invalid",
            rules(RulesError::Invalid {
                path: path(),
                problems: vec![Problem {
                    key: "pipelines[0].status".into(),
                    message: "unknown".into(),
                }],
            }),
            S::Usage,
            false,
            true,
            Fatal,
            false,
        ),
        (
            "run lock held",
            LockHeld {
                path: "/tmp/run.lock".into(),
                holder: "pid 7 drain".into(),
            }
            .into(),
            S::Locked,
            false,
            false,
            Other,
            true,
        ),
        (
            "usage failure",
            Failure::usage("bad --elid", "pass a number").into(),
            S::Usage,
            false,
            true,
            Fatal,
            false,
        ),
        (
            "auth failure",
            Failure::new(S::AuthNeeded, "no token", None).into(),
            S::AuthNeeded,
            false,
            true,
            Fatal,
            true,
        ),
        (
            "unclassified (a bug, I/O)",
            anyhow::anyhow!("disk on fire"),
            S::Partial,
            false,
            false,
            Other,
            true,
        ),
        (
            "amoCRM cause under context",
            unreachable("connection refused").context("sync contact 7"),
            S::Unreachable,
            true,
            false,
            Transient,
            true,
        ),
        (
            "amoCRM's answer decides over BILLmanager's",
            anyhow::Error::from(CrmError::Blocked)
                .context(BillingError::Unreachable { detail: "x".into() }),
            S::Unreachable,
            false,
            true,
            Fatal,
            true,
        ),
    ]
}

#[test]
fn every_error_kind_is_classified_once_the_same_way_for_exit_status_run_and_outbox() {
    let table = table();
    assert!(table.len() >= 25, "{} cases", table.len());
    for (name, err, exit, transient, fatal, cause, queued) in table {
        assert_eq!(status(&err), exit, "{name}: exit status");
        let c = classified(&err);
        assert_eq!(
            c.is_some_and(|c| c.is_transient()),
            transient,
            "{name}: is_transient"
        );
        assert_eq!(c.is_some_and(|c| c.is_fatal()), fatal, "{name}: is_fatal");
        assert_eq!(Cause::of(&err), cause, "{name}: outbox cause");
        assert_eq!(
            queue_after_direct_sync(&err),
            queued,
            "{name}: queued by sync"
        );
    }
}

#[test]
fn a_failure_attached_as_context_is_the_callers_advice_and_decides_the_status() {
    let err = unreachable("connection refused").context(Failure::usage("bad", "fix it"));
    assert_eq!(status(&err), S::Usage);
    assert_eq!(classified(&err).unwrap().hint().as_deref(), Some("fix it"));
    // The outbox still reads amoCRM's answer: the item is retried, not kept.
    assert_eq!(Cause::of(&err), Cause::Transient);
}

#[test]
fn the_verdict_around_the_park_threshold() {
    use Cause::*;
    use Fate::*;
    let last = PARK_AFTER - 1;
    let cases: &[(Cause, i64, Fate, bool)] = &[
        (Fatal, 0, Keep, true),
        (Fatal, last, Keep, true),
        (Fatal, PARK_AFTER + 5, Keep, true),
        (Gone, 0, Drop, false),
        (Gone, last, Drop, false),
        (Refused, 0, Retry, false),
        (Refused, 1, Park, false),
        (Refused, last, Park, false),
        (Transient, 0, Retry, true),
        (Transient, last - 1, Retry, true),
        (Transient, last, Park, true),
        (Transient, PARK_AFTER, Park, true),
        (Other, 0, Retry, false),
        (Other, 1, Retry, false),
        (Other, last - 1, Retry, false),
        (Other, last, Park, false),
        (Other, PARK_AFTER + 3, Park, false),
    ];
    for &(cause, attempts, fate, stop) in cases {
        assert_eq!(
            verdict(cause, attempts),
            Verdict { fate, stop },
            "{cause:?} after {attempts} attempt(s)"
        );
    }
}

#[test]
fn refused_twice_parks_at_once_while_other_failures_wait_for_the_threshold() {
    assert_eq!(verdict(Cause::Refused, 1).fate, Fate::Park);
    assert_eq!(verdict(Cause::Other, 1).fate, Fate::Retry);
    assert_eq!(verdict(Cause::Transient, 1).fate, Fate::Retry);
}
