//! `source = "files"`: BILLmanager answers stored as JSON files, for the demo, dry runs and
//! tests.
//!
//! The layout mirrors mgrctl calls, so one directory serves this source, `fake-mgrctl` and
//! the fake HTTP API (crate `fakebill`) alike:
//!
//! - `<dir>/<func>.json` answers `<func>` with any parameters (lists: `account.json`,
//!   `user.json`, `profile.json`, `item.json`; the reader filters rows itself);
//! - `<dir>/<func>/<elid>.json` answers `<func> elid=<elid>` when the folder `<dir>/<func>/`
//!   exists (edit forms: `account.edit/101.json`); a missing file there is answered with
//!   BILLmanager's "object not found" error document, as the panel would.
//!
//! Files hold the document exactly as `mgrctl ... out=json` prints it, error documents
//! included, so a captured answer from a real panel can be dropped in unchanged.

use std::path::{Path, PathBuf};

use super::error::BillingError;
use super::reader::PanelReader;
use super::transport::{Params, Transport};

/// Reads answers from a fixture directory.
#[derive(Debug, Clone)]
pub struct FilesTransport {
    dir: PathBuf,
}

/// The `files` source.
pub type FilesSource = PanelReader<FilesTransport>;

impl PanelReader<FilesTransport> {
    /// A source over `dir`; fails when the directory does not exist.
    pub fn open(dir: &Path) -> Result<FilesSource, BillingError> {
        if !dir.is_dir() {
            return Err(BillingError::Unreachable {
                detail: format!(
                    "`[billmanager] dir` = {} is not a directory (source = \"files\")",
                    dir.display()
                ),
            });
        }
        Ok(PanelReader::new(FilesTransport {
            dir: dir.to_path_buf(),
        }))
    }
}

impl Transport for FilesTransport {
    fn open(
        &self,
        func: &str,
        params: &Params<'_>,
    ) -> Result<Box<dyn std::io::Read + Send + '_>, BillingError> {
        let list = self.dir.join(format!("{func}.json"));
        if params.is_empty() && safe_name(func) && !self.dir.join(func).is_dir() && list.is_file() {
            let file = std::fs::File::open(&list).map_err(|e| BillingError::Unreachable {
                detail: format!("cannot read {}: {e}", list.display()),
            })?;
            return Ok(Box::new(file));
        }
        Ok(Box::new(std::io::Cursor::new(self.fetch(func, params)?)))
    }

    fn fetch(&self, func: &str, params: &Params<'_>) -> Result<Vec<u8>, BillingError> {
        if !safe_name(func) {
            return Ok(missed_function(func));
        }
        let elid = params.iter().find(|(k, _)| *k == "elid").map(|(_, v)| *v);
        let folder = self.dir.join(func);
        let path = match elid {
            Some(id) if folder.is_dir() => {
                if !safe_name(id) {
                    return Ok(missed_elid(id));
                }
                let path = folder.join(format!("{id}.json"));
                if !path.is_file() {
                    return Ok(missed_elid(id));
                }
                path
            }
            _ => {
                let path = self.dir.join(format!("{func}.json"));
                if !path.is_file() {
                    return Ok(missed_function(func));
                }
                path
            }
        };
        std::fs::read(&path).map_err(|e| BillingError::Unreachable {
            detail: format!("cannot read {}: {e}", path.display()),
        })
    }
}

/// A function or id usable as a file name (no separators, no `..`).
fn safe_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The error document a panel answers for an edit form of a missing object: `value` on
/// `elid` (`docs/billmanager.md` §3.4; facts J7).
fn missed_elid(id: &str) -> Vec<u8> {
    error_doc(
        "value",
        "elid",
        &format!("Invalid value of the field elid: {id}"),
    )
}

/// BILLmanager's error document for an unknown function.
fn missed_function(func: &str) -> Vec<u8> {
    error_doc(
        "missed",
        func,
        &format!("could not find function '{func}'; the module may not be loaded"),
    )
}

fn error_doc(kind: &str, object: &str, msg: &str) -> Vec<u8> {
    serde_json::json!({"doc": {"error": {"$type": kind, "$object": object, "msg": {"$": msg}}}})
        .to_string()
        .into_bytes()
}
