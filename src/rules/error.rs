//! Errors about the rule file: each names the file, the line and the key, and says what was
//! expected, because the operator fixes them with an editor open at that line.

use std::fmt;
use std::path::PathBuf;

use crate::status::{Classify, ExitStatus};

/// One semantic problem found after the file parsed, with the key path it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path, e.g. `amocrm.base_url` or `pipelines[2].status`.
    pub key: String,
    /// What is wrong and what is expected.
    pub message: String,
}

/// Everything that can be wrong with the rule file.
#[derive(Debug)]
pub enum RulesError {
    /// The file could not be read.
    Read {
        /// The rule file.
        path: PathBuf,
        /// Why reading failed.
        source: std::io::Error,
    },
    /// The file is longer than any rule file could be (a wrong path such as `/dev/zero`).
    TooLarge {
        /// The rule file.
        path: PathBuf,
        /// The largest size read, in bytes.
        cap: u64,
    },
    /// TOML syntax error, unknown key or wrong type.
    Parse {
        /// The rule file.
        path: PathBuf,
        /// 1-based line of the offending key or value.
        line: usize,
        /// 1-based column.
        column: usize,
        /// Dotted key path (may be empty for syntax errors).
        key: String,
        /// The parser's explanation, including what was expected.
        message: String,
    },
    /// The rule file is right but the secret it points at is not there: an environment
    /// variable not exported to this process, or a file that cannot be read. The fix is
    /// outside the rule file, so the hint says what to do instead.
    Secret {
        /// The key that names where the secret lives (`amocrm.client_secret_env`).
        key: String,
        /// What is missing.
        message: String,
        /// What to do about it.
        hint: String,
    },
    /// The file parsed but some values make no sense; every problem is listed.
    Invalid {
        /// The rule file.
        path: PathBuf,
        /// All problems, in file order.
        problems: Vec<Problem>,
    },
}

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RulesError::Read { path, source } => {
                write!(f, "cannot read rule file `{}`: {source}", path.display())
            }
            RulesError::TooLarge { path, cap } => write!(
                f,
                "rule file too large: `{}` is over {} MiB (a rule file is a few KiB)",
                path.display(),
                cap >> 20
            ),
            RulesError::Parse {
                path,
                line,
                column,
                key,
                message,
            } => {
                write!(f, "{}:{line}:{column}: ", path.display())?;
                if !key.is_empty() {
                    write!(f, "key `{key}`: ")?;
                }
                f.write_str(message)
            }
            RulesError::Secret { key, message, .. } => write!(f, "`{key}`: {message}"),
            RulesError::Invalid { path, problems } => {
                write!(
                    f,
                    "rule file `{}` has {} problem(s):",
                    path.display(),
                    problems.len()
                )?;
                for p in problems {
                    write!(f, "\n  - `{}`: {}", p.key, p.message)?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for RulesError {}

impl Classify for RulesError {
    fn exit_status(&self) -> ExitStatus {
        ExitStatus::Usage
    }
    fn hint(&self) -> Option<String> {
        Some(match self {
            RulesError::TooLarge { .. } => "check that --config or AMOCRM_BIN_CONFIG names the rule \
                 file; examples/rules.toml is a commented template"
                .into(),
            RulesError::Read { .. } => "pass the rule file with --config PATH or AMOCRM_BIN_CONFIG; \
                 examples/rules.toml is a commented template"
                .into(),
            RulesError::Secret { hint, .. } => hint.clone(),
            _ => "fix the rule file (examples/rules.toml documents every key) and run the command again"
                .into(),
        })
    }
}
