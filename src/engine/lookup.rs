//! Finding an amoCRM entity that already stands for a BILLmanager entity we have no binding
//! for: the website, a manager or an interrupted earlier run may have created it.
//!
//! Searches use amoCRM's `query` (substring over every field), so every hit is verified: a
//! phone must match the last 10 digits of a PHONE value, an e-mail must equal an EMAIL value,
//! an INN must equal a field value, a BILLmanager id must be in the mapped id field.

use serde_json::Value;

use super::payload::remote_values;
use super::phone;
use super::Engine;
use crate::rules::EntityKind;

fn texts(values: &[Value]) -> Vec<String> {
    values
        .iter()
        .filter_map(|v| match v.get("value") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
        .collect()
}

fn oldest(mut hits: Vec<Value>) -> Option<Value> {
    hits.sort_by_key(|h| h.get("id").and_then(Value::as_i64).unwrap_or(i64::MAX));
    hits.into_iter().next()
}

impl Engine<'_> {
    /// A contact with this phone or e-mail; the reason says which matched.
    pub(super) fn find_contact(
        &self,
        phone_e164: Option<&str>,
        email: Option<&str>,
    ) -> anyhow::Result<Option<(Value, String)>> {
        let phone_field = self
            .resolved
            .standard(EntityKind::Contact, "PHONE")
            .map(|f| f.id);
        let email_field = self
            .resolved
            .standard(EntityKind::Contact, "EMAIL")
            .map(|f| f.id);
        if let (Some(p), Some(fid)) = (phone_e164, phone_field) {
            let key = phone::search_key(p);
            let hits: Vec<Value> = self
                .crm
                .search(EntityKind::Contact, &key)?
                .into_iter()
                .filter(|c| {
                    texts(&remote_values(c, fid, Some("PHONE")))
                        .iter()
                        .any(|v| phone::same(v, p))
                })
                .collect();
            if let Some(c) = oldest(hits) {
                return Ok(Some((c, format!("same phone {p}"))));
            }
        }
        if let (Some(e), Some(fid)) = (email, email_field) {
            let hits: Vec<Value> = self
                .crm
                .search(EntityKind::Contact, e)?
                .into_iter()
                .filter(|c| {
                    texts(&remote_values(c, fid, Some("EMAIL")))
                        .iter()
                        .any(|v| v.trim().eq_ignore_ascii_case(e))
                })
                .collect();
            if let Some(c) = oldest(hits) {
                return Ok(Some((c, format!("same e-mail {e}"))));
            }
        }
        Ok(None)
    }

    /// A company with this INN (in any field) or, without an INN, this exact name.
    pub(super) fn find_company(
        &self,
        inn: Option<&str>,
        name: &str,
    ) -> anyhow::Result<Option<(Value, String)>> {
        if let Some(inn) = inn.filter(|i| !i.trim().is_empty()) {
            let hits: Vec<Value> = self
                .crm
                .search(EntityKind::Company, inn)?
                .into_iter()
                .filter(|c| {
                    c.get("custom_fields_values")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .any(|f| {
                            texts(
                                f.get("values")
                                    .and_then(Value::as_array)
                                    .map(Vec::as_slice)
                                    .unwrap_or(&[]),
                            )
                            .iter()
                            .any(|v| v.trim() == inn)
                        })
                })
                .collect();
            return Ok(oldest(hits).map(|c| (c, format!("same INN {inn}"))));
        }
        if name.trim().is_empty() {
            return Ok(None);
        }
        let hits: Vec<Value> = self
            .crm
            .search(EntityKind::Company, name)?
            .into_iter()
            .filter(|c| {
                c.get("name")
                    .and_then(Value::as_str)
                    .map(|n| n.trim().eq_ignore_ascii_case(name.trim()))
                    .unwrap_or(false)
            })
            .collect();
        Ok(oldest(hits).map(|c| (c, format!("same name {name}"))))
    }

    /// An entity whose mapped BILLmanager-id field holds `bm_id` (an interrupted run's orphan).
    pub(super) fn find_by_marker(
        &self,
        kind: EntityKind,
        attr: &str,
        bm_id: &str,
    ) -> anyhow::Result<Option<(Value, String)>> {
        let Some(field) = self
            .resolved
            .fields
            .get(&kind)
            .into_iter()
            .flatten()
            .find(|m| m.from.as_deref() == Some(attr))
        else {
            return Ok(None);
        };
        let fid = field.def.id;
        let hits: Vec<Value> = self
            .crm
            .search(kind, bm_id)?
            .into_iter()
            .filter(|e| {
                texts(&remote_values(e, fid, None))
                    .iter()
                    .any(|v| v.trim() == bm_id)
            })
            .collect();
        Ok(oldest(hits).map(|e| (e, format!("its `{}` field holds {bm_id}", field.key))))
    }
}
