//! The rule file: loading, strict parsing and whole-file validation.
//!
//! Loading happens in two passes (as ripgrep's low/high args): serde parses the TOML into
//! [`schema::RuleFile`] with unknown keys denied, then [`validate`] collects every semantic
//! problem with its key path so the operator sees them all at once. Relative paths are
//! resolved against the rule file's directory, so a rule file and its store can travel
//! together (the demo and tests rely on this).

pub mod attributes;
pub mod condition;
mod error;
pub mod lifecycle;
mod lifecycle_check;
pub mod schema;
mod validate;
mod when;

use std::path::{Path, PathBuf};

pub use error::{Problem, RulesError};
pub use schema::*;
pub use when::{Condition, Ops, When};

use crate::secret::Secret;

/// The default rule-file path on a BILLmanager host.
pub const DEFAULT_PATH: &str = "/usr/local/mgr5/etc/amocrm-bin.toml";

/// Largest rule file read. A real one is a few KiB; the cap keeps a wrong path
/// (`--config /dev/zero`, a log file) from filling memory before parsing fails.
pub const MAX_RULE_FILE: u64 = 4 << 20;

/// Reads at most `cap` bytes of `path` as UTF-8 text; a longer file (or an endless one such as
/// `/dev/zero`) stops at `cap + 1` bytes and is refused with `ErrorKind::FileTooLarge`, so
/// memory stays bounded whatever the path names.
pub fn read_capped(path: &Path, cap: u64) -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(cap + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("larger than {} MiB", cap >> 20),
        ));
    }
    String::from_utf8(bytes)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()))
}

/// The rule file's text, bounded by [`MAX_RULE_FILE`]; for the readers that look at the raw
/// text after [`RuleSet::load`] (which attributes the rules use, `init`'s tables).
pub fn read_text(path: &Path) -> std::io::Result<String> {
    read_capped(path, MAX_RULE_FILE)
}

/// The offline check of a section whose vocabulary another layer owns: `[calls]` conditions
/// name call facts that `calls` defines, and `calls` builds on `rules`, so its check is
/// passed in by whoever loads the file rather than imported here.
pub type SectionCheck = fn(&RuleFile, &mut Vec<Problem>);

/// A loaded, validated rule file.
#[derive(Debug, Clone)]
pub struct RuleSet {
    /// Where it was read from (for messages).
    pub path: PathBuf,
    /// The parsed content, with relative paths already resolved.
    pub file: RuleFile,
    /// The text it was parsed from, for [`RuleSet::attributes`].
    source: Source,
}

/// The rule file's text and, once asked for, the attributes it names. Kept so no layer
/// reads the file a second time; walked only by the runs that need it (the engine, `check`),
/// not by the hook, which answers inside a panel request.
#[derive(Clone)]
struct Source {
    text: String,
    attributes: std::sync::OnceLock<std::collections::BTreeSet<String>>,
}

/// The text can hold an inline `client_secret`: a debug print shows only its size.
impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<rule file text, {} bytes>", self.text.len())
    }
}

impl RuleSet {
    /// Reads, parses and validates the rule file at `path`.
    pub fn load(path: &Path) -> Result<RuleSet, RulesError> {
        Self::load_with(path, &[])
    }

    /// [`RuleSet::load`] plus the checks of sections that other layers own (`[calls]`:
    /// `calls::validate::check`); every problem is still reported at once.
    pub fn load_with(path: &Path, checks: &[SectionCheck]) -> Result<RuleSet, RulesError> {
        let text = read_text(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::FileTooLarge {
                RulesError::TooLarge {
                    path: path.to_path_buf(),
                    cap: MAX_RULE_FILE,
                }
            } else {
                RulesError::Read {
                    path: path.to_path_buf(),
                    source,
                }
            }
        })?;
        let mut set = Self::parse_with(&text, path, checks)?;
        set.resolve_paths();
        warn_if_secret_exposed(path, &set.file);
        Ok(set)
    }

    /// Parses and validates rule-file text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<RuleSet, RulesError> {
        Self::parse_with(text, path, &[])
    }

    /// [`RuleSet::parse`] plus the section checks other layers own.
    pub fn parse_with(
        text: &str,
        path: &Path,
        checks: &[SectionCheck],
    ) -> Result<RuleSet, RulesError> {
        let de = toml::Deserializer::new(text);
        let file: RuleFile = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let (line, column) = inner
                .span()
                .map(|s| line_col(text, s.start))
                .unwrap_or((1, 1));
            RulesError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                key: if key == "." { String::new() } else { key },
                message: inner.message().trim().to_string(),
            }
        })?;
        let mut problems = validate::check(&file);
        for check in checks {
            check(&file, &mut problems);
        }
        if !problems.is_empty() {
            return Err(RulesError::Invalid {
                path: path.to_path_buf(),
                problems,
            });
        }
        Ok(RuleSet {
            path: path.to_path_buf(),
            file,
            source: Source {
                text: text.to_string(),
                attributes: std::sync::OnceLock::new(),
            },
        })
    }

    fn resolve_paths(&mut self) {
        let base = self
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let abs = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        abs(&mut self.file.store.path);
        if let Some(p) = self.file.log.path.as_mut() {
            abs(p);
        }
        if let Some(p) = self.file.billmanager.dir.as_mut() {
            abs(p);
        }
        if let Some(p) = self.file.amocrm.client_secret_file.as_mut() {
            abs(p);
        }
    }

    /// The panel attributes the file names anywhere ([`attributes::referenced`]), from the
    /// text it was loaded from, walked once on first use.
    pub fn attributes(&self) -> &std::collections::BTreeSet<String> {
        self.source.attributes.get_or_init(|| {
            // The typed parse succeeded, so the untyped one does too (the fallback is
            // unreachable and would only name no attribute).
            let doc: toml::Value = self
                .source
                .text
                .parse()
                .unwrap_or(toml::Value::Boolean(false));
            attributes::referenced(&doc)
        })
    }

    /// The integration's secret key, from wherever the rule file says it lives.
    pub fn client_secret(&self) -> Result<Secret, RulesError> {
        let a = &self.file.amocrm;
        if let Some(s) = &a.client_secret {
            return Ok(Secret::new(s.clone()));
        }
        if let Some(var) = &a.client_secret_env {
            return from_env(
                var,
                "amocrm.client_secret_env",
                "the integration's secret key",
                ", or keep it in a file named by `client_secret_file`",
            );
        }
        if let Some(file) = &a.client_secret_file {
            let missing = |message: String| RulesError::Secret {
                key: "amocrm.client_secret_file".into(),
                message,
                hint: "put the secret key (the integration's \"Keys and scopes\" tab) on the \
                       first line of that file, readable by the user this runs as (mode 0600), \
                       or name another file in `client_secret_file`"
                    .into(),
            };
            return match std::fs::read_to_string(file) {
                Ok(v) if !v.trim().is_empty() => Ok(Secret::new(
                    v.lines().next().unwrap_or("").trim().to_string(),
                )),
                Ok(_) => Err(missing(format!("file `{}` is empty", file.display()))),
                Err(e) => Err(missing(format!("cannot read `{}`: {e}", file.display()))),
            };
        }
        Err(RulesError::Invalid {
            path: self.path.clone(),
            problems: vec![Problem {
                key: "amocrm.client_secret".into(),
                message: "set one of `client_secret_env`, `client_secret_file` or `client_secret`"
                    .into(),
            }],
        })
    }

    /// A long-lived token, when the rule file names one; `None` means OAuth is used.
    pub fn long_lived_token(&self) -> Result<Option<Secret>, RulesError> {
        match &self.file.amocrm.long_lived_token_env {
            None => Ok(None),
            Some(var) => from_env(
                var,
                "amocrm.long_lived_token_env",
                "the long-lived token",
                "",
            )
            .map(Some),
        }
    }
}

/// The secret in environment variable `var` (named by `key`), or an error that says to
/// export it (`or_else` names another way): the rule file is right, the process's
/// environment is not.
fn from_env(var: &str, key: &str, what: &str, or_else: &str) -> Result<Secret, RulesError> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim().to_string())),
        _ => Err(RulesError::Secret {
            key: key.into(),
            message: format!("environment variable `{var}` is not set in this process"),
            hint: format!(
                "export {var}=… ({what}) where this command runs (cron's file, the panel's \
                 environment){or_else}"
            ),
        }),
    }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

/// A secret written inline in a file others can read is one `cat` away from leaking.
fn warn_if_secret_exposed(path: &Path, file: &RuleFile) {
    if file.amocrm.client_secret.is_none() {
        return;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o004 != 0 {
                crate::log::warn(&format!(
                    "rule file `{}` holds `client_secret` and is world-readable: run `chmod 600 {}` \
                     or move the secret to `client_secret_env`",
                    path.display(),
                    path.display()
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests;
