//! [`open`]: the `[billmanager]` section → the configured [`BillingSource`].

use std::time::Duration;

use super::error::BillingError;
use super::{ApiSource, BillingSource, FilesSource, MgrctlSource};
use crate::rules::{BillingSection, SourceKind};
use crate::secret::Secret;

/// Builds the source `[billmanager] source` names. Nothing is called yet: mgrctl and the
/// API are first contacted by the first read, so `--dry-run` and `check` stay cheap.
///
/// Fails when a required setting is missing (the rule-file validation normally catches
/// that first), when the password variable is unset, or when the `files` directory or the
/// API URL is unusable.
pub fn open(section: &BillingSection) -> Result<Box<dyn BillingSource>, BillingError> {
    let timeout = Duration::from_secs(section.timeout_secs.max(1));
    let tune = (section.parallel, section.form_max_age_hours);
    Ok(match section.source {
        SourceKind::Mgrctl => Box::new(
            MgrctlSource::mgrctl(&section.mgrctl, &section.manager, timeout).tuned(tune.0, tune.1),
        ),
        SourceKind::Files => {
            let dir = section
                .dir
                .as_deref()
                .ok_or_else(|| missing("dir", "files"))?;
            Box::new(FilesSource::open(dir)?.tuned(tune.0, tune.1))
        }
        SourceKind::Api => {
            let url = section
                .url
                .as_deref()
                .ok_or_else(|| missing("url", "api"))?;
            let user = section
                .user
                .as_deref()
                .ok_or_else(|| missing("user", "api"))?;
            let var = section
                .password_env
                .as_deref()
                .ok_or_else(|| missing("password_env", "api"))?;
            let password = match std::env::var(var) {
                Ok(v) if !v.is_empty() => Secret::new(v),
                _ => {
                    return Err(BillingError::AccessDenied {
                        detail: format!(
                            "environment variable `{var}` (named by `[billmanager] password_env`) is not set; export the API user's password in it"
                        ),
                    })
                }
            };
            Box::new(ApiSource::api(url, user, password, timeout)?.tuned(tune.0, tune.1))
        }
    })
}

fn missing(key: &str, source: &str) -> BillingError {
    BillingError::Unreachable {
        detail: format!("`[billmanager] {key}` is required when source = \"{source}\""),
    }
}
