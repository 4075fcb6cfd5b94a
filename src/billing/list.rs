//! One BILLmanager list as the reader keeps it for a run, in memory that does not grow by
//! a row's size: the rows go to an unnamed temporary file as they are parsed, and only
//! indexes of 8 bytes per row stay in memory (`docs/billmanager.md` §13.7).
//!
//! Each index entry packs a 24-bit hash of the looked-up text (id, owner, client name)
//! with the row's 40-bit offset in the file, sorted; a lookup reads the few rows whose
//! hash matches and keeps those whose text really matches, so a collision costs a read,
//! never a wrong answer. Rows are read back with positional reads (`pread`), which the
//! page cache serves without counting towards this process's memory. 100 000 clients
//! with 200 000 services take about 7 MB of indexes instead of hundreds of MB of rows.

use std::collections::HashMap;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::sync::Arc;

use super::convert::{self, Owner};
use super::error::BillingError;
use super::model::{Attrs, Unlinked};
use super::values::{first, id_order};

/// Offsets up to 1 TiB fit beside the hash in one index entry.
const OFFSET_BITS: u32 = 40;
const OFFSET_MASK: u64 = (1 << OFFSET_BITS) - 1;

/// The entity word of a list's rows, for errors and reports.
pub(super) fn entity_of(func: &str) -> &'static str {
    match func {
        "account" => "client",
        "user" => "user",
        "profile" => "payer",
        _ => "service",
    }
}

/// A whole list: rows spooled to a temporary file, indexed by id, by owning client
/// (`user`, `profile`, `item`) and by client name (`account`).
pub(super) struct List {
    func: String,
    spool: Spool,
    by_id: Vec<u64>,
    by_owner: Vec<u64>,
    by_name: Vec<u64>,
    /// Rows that name their client only by its name, resolved once the list is read.
    named: Vec<u64>,
    /// The `account` list, when rows of this one name their client by name.
    accounts: Option<Arc<List>>,
    /// Rows no client could be tied to (the reader reports them).
    pub unlinked: Vec<Unlinked>,
    rows: u64,
}

impl List {
    /// An empty list of `func`, backed by a fresh temporary file.
    pub fn new(func: &str) -> Result<List, BillingError> {
        Ok(List {
            func: func.to_string(),
            spool: Spool::new().map_err(|e| spool_error(func, e))?,
            by_id: Vec::new(),
            by_owner: Vec::new(),
            by_name: Vec::new(),
            named: Vec::new(),
            accounts: None,
            unlinked: Vec::new(),
            rows: 0,
        })
    }

    fn owned(&self) -> bool {
        self.func != "account"
    }

    /// Adds a row as it is parsed: it is written out and indexed by what the row itself
    /// says; owners given only by name wait for [`List::finish`].
    pub fn push(&mut self, row: &Attrs) -> io::Result<()> {
        let at = self.spool.push(row)?;
        self.rows += 1;
        if let Some(id) = convert::row_id(row) {
            self.by_id.push(entry(id, at));
        }
        if !self.owned() {
            if let Some(name) = first(row, &["name"]) {
                self.by_name.push(entry(name, at));
            }
            return Ok(());
        }
        match convert::owner(row) {
            Owner::Id(id) => self.by_owner.push(entry(id, at)),
            Owner::Name(_) => self.named.push(at),
            Owner::Missing => self.unlinked.push(self.unlinked_row(
                row,
                "no `account_id` or `account` field names its client".into(),
                Vec::new(),
            )),
        }
        Ok(())
    }

    /// Whether rows name their client only by name (then the `account` list is needed).
    pub fn needs_accounts(&self) -> bool {
        !self.named.is_empty()
    }

    /// Ends the read: owners given by name are matched against `accounts` (a name two
    /// clients share, or no client has, makes the row unlinked) and the indexes sorted.
    pub fn finish(&mut self, accounts: Option<Arc<List>>) -> Result<(), BillingError> {
        self.spool
            .finish()
            .map_err(|e| spool_error(&self.func, e))?;
        self.accounts = accounts;
        for at in std::mem::take(&mut self.named) {
            let row = self.read(at)?;
            match self.owner_of(&row)? {
                Ok(owner) => self.by_owner.push(entry(&owner, at)),
                Err((reason, candidates)) => {
                    let u = self.unlinked_row(&row, reason, candidates);
                    self.unlinked.push(u);
                }
            }
        }
        for index in [&mut self.by_id, &mut self.by_owner, &mut self.by_name] {
            index.sort_unstable();
            index.shrink_to_fit();
        }
        Ok(())
    }

    fn unlinked_row(&self, row: &Attrs, reason: String, candidates: Vec<String>) -> Unlinked {
        Unlinked {
            entity: entity_of(&self.func),
            id: convert::row_id(row)
                .map(str::to_string)
                .unwrap_or_else(|| format!("#{}", self.rows)),
            reason: format!("`{}` row: {reason}", self.func),
            candidates,
        }
    }

    /// The owning client of a row, or why there is none (with the candidate ids).
    fn owner_of(&self, row: &Attrs) -> Result<Result<String, (String, Vec<String>)>, BillingError> {
        Ok(match convert::owner(row) {
            Owner::Id(id) => Ok(id.to_string()),
            Owner::Missing => Err((
                "no `account_id` or `account` field names its client".into(),
                Vec::new(),
            )),
            Owner::Name(name) => {
                let ids = match &self.accounts {
                    Some(a) => a.clients_named(name)?,
                    None => Vec::new(),
                };
                match ids.as_slice() {
                    [one] => Ok(one.clone()),
                    [] => Err((
                        format!("its client is named `{name}` in `account`, and no client in the `account` list has that name"),
                        Vec::new(),
                    )),
                    many => Err((
                        format!(
                            "its client is named `{name}` in `account`, and clients {} share that name; it is not guessed: rename one of them in BILLmanager",
                            many.join(" and ")
                        ),
                        ids.clone(),
                    )),
                }
            }
        })
    }

    /// Ids of the `account` rows named `name`, in id order.
    fn clients_named(&self, name: &str) -> Result<Vec<String>, BillingError> {
        let mut ids = Vec::new();
        for row in self.matching(&self.by_name, name)? {
            if first(&row, &["name"]) == Some(name) {
                if let Some(id) = convert::row_id(&row) {
                    ids.push(id.to_string());
                }
            }
        }
        ids.sort_by(|a, b| id_order(a, b));
        ids.dedup();
        Ok(ids)
    }

    /// The rows of `index` whose key hashes like `key` (a superset of the real matches).
    fn matching(&self, index: &[u64], key: &str) -> Result<Vec<Attrs>, BillingError> {
        let h = hash24(key) << OFFSET_BITS;
        let start = index.partition_point(|e| *e < h);
        index[start..]
            .iter()
            .take_while(|e| *e & !OFFSET_MASK == h)
            .map(|e| self.read(e & OFFSET_MASK))
            .collect()
    }

    fn read(&self, at: u64) -> Result<Attrs, BillingError> {
        self.spool.read(at).map_err(|e| spool_error(&self.func, e))
    }

    /// Row `id` (the first with that id) with its owner (`None` for `account` rows and
    /// rows no client can be tied to).
    pub fn row(&self, id: &str) -> Result<Option<(Attrs, Option<String>)>, BillingError> {
        for row in self.matching(&self.by_id, id)? {
            if convert::row_id(&row) == Some(id) {
                let owner = if self.owned() {
                    self.owner_of(&row)?.ok()
                } else {
                    None
                };
                return Ok(Some((row, owner)));
            }
        }
        Ok(None)
    }

    /// The rows owned by client `client`, in list order.
    pub fn of_owner(&self, client: &str) -> Result<Vec<Attrs>, BillingError> {
        let mut rows = Vec::new();
        for row in self.matching(&self.by_owner, client)? {
            if self.owner_of(&row)?.is_ok_and(|o| o == client) {
                rows.push(row);
            }
        }
        Ok(rows)
    }

    /// Every row, in list order, read back from the file.
    pub fn each(&self, f: &mut dyn FnMut(Attrs)) -> Result<(), BillingError> {
        self.spool.each(f).map_err(|e| spool_error(&self.func, e))
    }
}

/// A temporary file that could not be written or read: where, and what to do.
pub(super) fn spool_error(func: &str, e: io::Error) -> BillingError {
    BillingError::Unreachable {
        detail: format!(
            "the `{func}` list could not be kept in a temporary file in {} ({e}); point TMPDIR at a writable directory with room for the panel's lists",
            std::env::temp_dir().display()
        ),
    }
}

/// A key's 24-bit hash in an index entry's high bits, beside the row's offset.
fn entry(key: &str, at: u64) -> u64 {
    (hash24(key) << OFFSET_BITS) | at
}

fn hash24(key: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    key.hash(&mut h);
    h.finish() >> OFFSET_BITS
}

/// Rows written one after another to an unnamed temporary file (removed by the system
/// when closed, even after a crash), each as `len, (field, len, text)*` with field names
/// interned.
pub(super) struct Spool {
    file: File,
    out: Option<BufWriter<File>>,
    len: u64,
    keys: Vec<Box<str>>,
    key_index: HashMap<Box<str>, u64>,
}

impl Spool {
    /// An empty spool in a fresh temporary file.
    pub fn new() -> io::Result<Spool> {
        let file = tempfile::tempfile()?;
        let out = BufWriter::with_capacity(64 * 1024, file.try_clone()?);
        Ok(Spool {
            file,
            out: Some(out),
            len: 0,
            keys: Vec::new(),
            key_index: HashMap::new(),
        })
    }

    /// Writes a row; returns its offset. It can be read back after [`Spool::flush`].
    pub fn push(&mut self, row: &Attrs) -> io::Result<u64> {
        let mut body = Vec::with_capacity(128);
        for (k, v) in row {
            let next = self.keys.len() as u64;
            let key = *self.key_index.entry(k.as_str().into()).or_insert(next);
            if key == next {
                self.keys.push(k.as_str().into());
            }
            varint(&mut body, key);
            varint(&mut body, v.len() as u64);
            body.extend_from_slice(v.as_bytes());
        }
        let mut head = Vec::with_capacity(5);
        varint(&mut head, body.len() as u64);
        let at = self.len;
        if at + (head.len() + body.len()) as u64 > OFFSET_MASK {
            return Err(io::Error::other("the list is larger than 1 TiB"));
        }
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| io::Error::other("the list was already read"))?;
        out.write_all(&head)?;
        out.write_all(&body)?;
        self.len += (head.len() + body.len()) as u64;
        Ok(at)
    }

    /// Makes every row written so far readable.
    pub fn flush(&mut self) -> io::Result<()> {
        match self.out.as_mut() {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }

    fn finish(&mut self) -> io::Result<()> {
        if let Some(mut out) = self.out.take() {
            out.flush()?;
        }
        Ok(())
    }

    /// The row at `at`.
    pub fn read(&self, at: u64) -> io::Result<Attrs> {
        let mut head = [0u8; 256];
        let n = fill_at(&self.file, &mut head, at)?;
        let mut cur = &head[..n];
        let len = read_varint(&mut cur)? as usize;
        let used = n - cur.len();
        if cur.len() >= len {
            return self.decode(&cur[..len]);
        }
        let mut body = vec![0u8; len];
        body[..cur.len()].copy_from_slice(cur);
        let have = cur.len();
        if fill_at(&self.file, &mut body[have..], at + (used + have) as u64)? < len - have {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.decode(&body)
    }

    /// Every row from the start, in order.
    fn each(&self, f: &mut dyn FnMut(Attrs)) -> io::Result<()> {
        let mut r = BufReader::with_capacity(
            64 * 1024,
            At {
                file: &self.file,
                pos: 0,
            },
        );
        let mut pos = 0;
        let mut body = Vec::new();
        while pos < self.len {
            let len = read_varint(&mut r)? as usize;
            body.resize(len, 0);
            r.read_exact(&mut body)?;
            pos += (varint_len(len as u64) + len) as u64;
            f(self.decode(&body)?);
        }
        Ok(())
    }

    fn decode(&self, mut body: &[u8]) -> io::Result<Attrs> {
        let mut row = Attrs::new();
        while !body.is_empty() {
            let key = read_varint(&mut body)? as usize;
            let len = read_varint(&mut body)? as usize;
            let (text, rest) = body
                .split_at_checked(len)
                .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
            let name = self
                .keys
                .get(key)
                .ok_or_else(|| io::Error::other("bad field"))?;
            let text = String::from_utf8(text.to_vec()).map_err(io::Error::other)?;
            row.insert(name.to_string(), text);
            body = rest;
        }
        Ok(row)
    }
}

/// Sequential reads of the spool at its own position (the file's shared cursor is not
/// used, so lookups on other threads may run meanwhile).
struct At<'a> {
    file: &'a File,
    pos: u64,
}

impl Read for At<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = read_at(self.file, buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// Reads until `buf` is full or the file ends; returns how much was read.
fn fill_at(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match read_at(file, &mut buf[n..], at + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, at)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, at)
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint_len(v: u64) -> usize {
    let mut out = Vec::new();
    varint(&mut out, v);
    out.len()
}

fn read_varint(r: &mut impl Read) -> io::Result<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let mut b = [0u8];
        r.read_exact(&mut b)?;
        v |= u64::from(b[0] & 0x7f) << shift;
        if b[0] < 0x80 {
            return Ok(v);
        }
    }
    Err(io::Error::other("bad length"))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::billing::tests::support::attrs as row;

    #[test]
    fn rows_come_back_whole_by_id_owner_and_name() {
        let mut accounts = List::new("account").unwrap();
        let long = "x".repeat(1000);
        accounts
            .push(&row(&[("id", "1"), ("name", "Acme"), ("note", &long)]))
            .unwrap();
        accounts
            .push(&row(&[("id", "2"), ("name", "Twin")]))
            .unwrap();
        accounts
            .push(&row(&[("id", "3"), ("name", "Twin")]))
            .unwrap();
        accounts.finish(None).unwrap();
        let accounts = Arc::new(accounts);
        let (r, owner) = accounts.row("1").unwrap().unwrap();
        assert_eq!((r["note"].len(), owner), (1000, None));
        assert!(accounts.row("9").unwrap().is_none());

        let mut users = List::new("user").unwrap();
        users
            .push(&row(&[("id", "10"), ("account_id", "1")]))
            .unwrap();
        users
            .push(&row(&[("id", "11"), ("account", "Acme")]))
            .unwrap();
        users
            .push(&row(&[("id", "12"), ("account", "Twin")]))
            .unwrap();
        users.push(&row(&[("id", "13")])).unwrap();
        assert!(users.needs_accounts());
        users.finish(Some(accounts)).unwrap();
        let ids: Vec<String> = users
            .of_owner("1")
            .unwrap()
            .iter()
            .map(|r| r["id"].clone())
            .collect();
        assert_eq!(ids, ["10", "11"]);
        assert_eq!(users.row("11").unwrap().unwrap().1.as_deref(), Some("1"));
        assert_eq!(users.row("12").unwrap().unwrap().1, None);
        let unlinked: Vec<(&str, &Vec<String>)> = users
            .unlinked
            .iter()
            .map(|u| (u.id.as_str(), &u.candidates))
            .collect();
        assert_eq!(unlinked.len(), 2, "{:?}", users.unlinked);
        assert!(unlinked.contains(&("12", &vec!["2".to_string(), "3".to_string()])));
        let mut all = Vec::new();
        users.each(&mut |r| all.push(r["id"].clone())).unwrap();
        assert_eq!(all, ["10", "11", "12", "13"]);
    }

    #[test]
    fn index_entries_keep_offsets_whole() {
        let e = entry("42", OFFSET_MASK);
        assert_eq!(e & OFFSET_MASK, OFFSET_MASK);
        assert_eq!(e >> OFFSET_BITS, hash24("42"));
    }
}
