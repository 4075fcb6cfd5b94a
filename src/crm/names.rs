//! Names in the rule file to amoCRM ids: a field by id, code or name, a user by id, e-mail
//! or name, a pipeline and status by id or name, and the account's dictionaries they are
//! looked up in (cached in the store).
//!
//! Shared by the sync engine (`engine::resolve`) and call tracking (`calls::config`), so it
//! lives here next to [`super::Dictionaries`], below both.

use crate::rules::Problem;
use crate::store::Store;

use super::{Crm, Dictionaries, FieldDef};

/// Seconds the dictionaries stay cached.
pub const DICTIONARY_TTL: i64 = 3600;

/// Reads the dictionaries (from the store cache when fresh).
pub fn dictionaries(store: &Store, crm: &dyn Crm, base_url: &str) -> anyhow::Result<Dictionaries> {
    if let Some(text) = store.cache_get("dictionaries", base_url, DICTIONARY_TTL)? {
        if let Ok(d) = serde_json::from_str(&text) {
            return Ok(d);
        }
    }
    let d = crm.dictionaries()?;
    store.cache_put("dictionaries", base_url, &serde_json::to_string(&d)?)?;
    Ok(d)
}

/// Finds a field by id, code or (case-insensitive) name.
pub fn find_field<'a>(fields: &'a [FieldDef], key: &str) -> Option<&'a FieldDef> {
    let key = key.trim();
    if let Ok(id) = key.parse::<i64>() {
        return fields.iter().find(|f| f.id == id);
    }
    fields
        .iter()
        .find(|f| f.code.as_deref() == Some(key))
        .or_else(|| {
            fields
                .iter()
                .find(|f| f.name.to_lowercase() == key.to_lowercase())
        })
}

/// The name or code of a field one typo away from `key` (`Prodcut` → `Product`), when
/// [`find_field`] found none: the resolver's "did you mean" and `setup-fields`' refusal to
/// create a near-duplicate ask the same question.
pub fn near_field<'a>(fields: &'a [FieldDef], key: &str) -> Option<&'a str> {
    let names = fields
        .iter()
        .flat_map(|f| std::iter::once(f.name.as_str()).chain(f.code.as_deref()));
    crate::spelling::closest(key, names)
}

/// Finds a user by id, e-mail or name.
pub fn find_user(dict: &Dictionaries, key: &str) -> Result<i64, String> {
    let key = key.trim();
    if let Ok(id) = key.parse::<i64>() {
        if dict.users.is_empty() || dict.users.iter().any(|u| u.id == id && u.active) {
            return Ok(id);
        }
    }
    let hit = dict.users.iter().find(|u| {
        u.email
            .as_deref()
            .map(|e| e.eq_ignore_ascii_case(key))
            .unwrap_or(false)
            || u.name.to_lowercase() == key.to_lowercase()
            || u.id.to_string() == key
    });
    match hit {
        Some(u) if u.active => Ok(u.id),
        Some(u) => Err(format!(
            "user `{}` (id {}) is deactivated in amoCRM; choose an active user",
            u.name, u.id
        )),
        None => Err(format!(
            "no amoCRM user `{key}`; known users: {}",
            dict.users
                .iter()
                .filter(|u| u.active)
                .map(|u| format!("{} <{}>", u.name, u.email.as_deref().unwrap_or("-")))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Finds a pipeline and one of its statuses, each by id or (case-insensitive) name; the
/// problem names `<at>.pipeline` or `<at>.status` and lists what exists.
pub fn pipeline_status(
    dict: &Dictionaries,
    pipeline: &str,
    status: &str,
    at: &str,
) -> Result<(i64, i64), Problem> {
    let by_name = |a: &str, b: &str| a.trim().to_lowercase() == b.trim().to_lowercase();
    let pipe = pipeline
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|id| dict.pipelines.iter().find(|x| x.id == id))
        .or_else(|| dict.pipelines.iter().find(|x| by_name(&x.name, pipeline)))
        .ok_or_else(|| Problem {
            key: format!("{at}.pipeline"),
            message: format!(
                "no amoCRM pipeline `{pipeline}`; known pipelines: {}",
                dict.pipelines
                    .iter()
                    .map(|x| x.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
    let st = status
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|id| pipe.statuses.iter().find(|s| s.id == id))
        .or_else(|| pipe.statuses.iter().find(|s| by_name(&s.name, status)))
        .ok_or_else(|| Problem {
            key: format!("{at}.status"),
            message: format!(
                "pipeline `{}` has no status `{status}`; its statuses: {}",
                pipe.name,
                pipe.statuses
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
    Ok((pipe.id, st.id))
}
