//! [`Crm`] over the amoCRM API v4: paths, paging, chunking and rejected-item handling.
//!
//! Writes go in chunks of the configured batch size (amoCRM's hard limit is 250 per request;
//! 50 is its recommendation; a rejected chunk costs one retry of its good items). amoCRM rejects a whole write request when one item
//! is invalid, so a rejected chunk is split: the items named in `validation-errors` are set
//! aside and the rest is sent again.

use serde_json::{json, Value};

use super::client::{AmoClient, RequestStats};
use crate::crm::{
    BatchOutcome, Created, Crm, CrmError, Dictionaries, EnumDef, FieldDef, ItemErrors, Link,
    PipelineDef, StatusDef, UserDef,
};
use crate::rules::EntityKind;

/// amoCRM's hard limit of entities per write request.
pub const CHUNK: usize = 250;

/// The amoCRM implementation of [`Crm`].
pub struct AmoCrm<'a> {
    client: AmoClient<'a>,
    batch: usize,
}

impl<'a> AmoCrm<'a> {
    /// Wraps a client; writes go in chunks of up to 250.
    pub fn new(client: AmoClient<'a>) -> Self {
        AmoCrm {
            client,
            batch: CHUNK,
        }
    }

    /// Sets the entities per write request (1..=250).
    pub fn with_batch_size(mut self, n: usize) -> Self {
        self.batch = n.clamp(1, CHUNK);
        self
    }

    /// The underlying client (for `auth` and raw calls).
    pub fn client(&self) -> &AmoClient<'a> {
        &self.client
    }

    /// Follows `_links.next` through a paged collection.
    fn pages(
        &self,
        path: &str,
        key: &str,
        limit: usize,
        f: &mut dyn FnMut(Value),
    ) -> Result<(), CrmError> {
        self.pages_with(path, key, limit, &[], f)
    }

    /// [`Self::pages`] with extra query parameters (filters, order).
    fn pages_with(
        &self,
        path: &str,
        key: &str,
        limit: usize,
        extra: &[(String, String)],
        f: &mut dyn FnMut(Value),
    ) -> Result<(), CrmError> {
        let mut page = 1;
        loop {
            let mut q = vec![
                ("page".to_string(), page.to_string()),
                ("limit".to_string(), limit.to_string()),
            ];
            q.extend(extra.iter().cloned());
            let Some(v) = self.client.get(path, &q)? else {
                return Ok(());
            };
            if let Some(items) = v
                .pointer(&format!("/_embedded/{key}"))
                .and_then(Value::as_array)
            {
                for item in items {
                    f(item.clone());
                }
            }
            if v.pointer("/_links/next").is_none() {
                return Ok(());
            }
            page += 1;
        }
    }

    fn write(
        &self,
        kind: EntityKind,
        items: Vec<Value>,
        patch: bool,
    ) -> Result<BatchOutcome, CrmError> {
        let path = format!("/api/v4/{}", kind.collection());
        let mut outcome = BatchOutcome::default();
        for chunk in items.chunks(self.batch) {
            let mut pending: Vec<Value> = chunk.to_vec();
            // At most two rounds: the second without the items the first one rejected.
            for _round in 0..2 {
                if pending.is_empty() {
                    break;
                }
                let body = Value::Array(pending.clone());
                let result = if patch {
                    self.client.patch(&path, &body)
                } else {
                    self.client.post(&path, &body)
                };
                match result {
                    Ok(v) => {
                        let v = v.unwrap_or(Value::Null);
                        let returned = v
                            .pointer(&format!("/_embedded/{}", kind.collection()))
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default();
                        for (i, item) in returned.iter().enumerate() {
                            let rid = match item.get("request_id") {
                                Some(Value::String(s)) => s.clone(),
                                _ => pending
                                    .get(i)
                                    .and_then(|p| p.get("request_id"))
                                    .and_then(Value::as_str)
                                    .unwrap_or_default()
                                    .to_string(),
                            };
                            if let (false, Some(id)) =
                                (patch, item.get("id").and_then(Value::as_i64))
                            {
                                outcome.created.push(Created {
                                    request_id: rid.clone(),
                                    id,
                                });
                            }
                            outcome.applied.push(rid);
                        }
                        break;
                    }
                    Err(CrmError::Validation {
                        items: bad,
                        request,
                        detail,
                    }) => {
                        let names: Vec<String> = pending
                            .iter()
                            .map(|p| {
                                p.get("request_id")
                                    .and_then(Value::as_str)
                                    .unwrap_or("")
                                    .to_string()
                            })
                            .collect();
                        // amoCRM may name items by our request_id or by their index.
                        let mut rejected = Vec::new();
                        for b in bad {
                            let rid = if names.contains(&b.request_id) {
                                b.request_id.clone()
                            } else if let Some(n) = b
                                .request_id
                                .parse::<usize>()
                                .ok()
                                .and_then(|i| names.get(i))
                            {
                                n.clone()
                            } else {
                                // Cannot tell which item: the whole chunk stays rejected.
                                return Err(CrmError::Validation {
                                    request,
                                    detail,
                                    items: vec![b],
                                });
                            };
                            rejected.push(ItemErrors {
                                request_id: rid,
                                errors: b.errors,
                            });
                        }
                        pending.retain(|p| {
                            let rid = p.get("request_id").and_then(Value::as_str).unwrap_or("");
                            !rejected.iter().any(|r| r.request_id == rid)
                        });
                        outcome.rejected.extend(rejected);
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(outcome)
    }
}

fn s(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

fn field_def(v: &Value) -> Option<FieldDef> {
    Some(FieldDef {
        id: v.get("id")?.as_i64()?,
        name: s(v, "name"),
        code: v
            .get("code")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .map(String::from),
        field_type: s(v, "type"),
        enums: v
            .get("enums")
            .and_then(Value::as_array)
            .map(|es| {
                es.iter()
                    .filter_map(|e| {
                        Some(EnumDef {
                            id: e.get("id")?.as_i64()?,
                            value: s(e, "value"),
                            code: e.get("code").and_then(Value::as_str).map(String::from),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default(),
    })
}

impl Crm for AmoCrm<'_> {
    fn dictionaries(&self) -> Result<Dictionaries, CrmError> {
        let mut d = Dictionaries::default();
        if let Some(acc) = self.client.get("/api/v4/account", &[])? {
            d.current_user_id = acc.get("current_user_id").and_then(Value::as_i64);
        }
        for kind in [EntityKind::Contact, EntityKind::Company, EntityKind::Lead] {
            let mut fields = Vec::new();
            self.pages(
                &format!("/api/v4/{}/custom_fields", kind.collection()),
                "custom_fields",
                50,
                &mut |v| fields.extend(field_def(&v)),
            )?;
            d.fields.insert(kind.as_str().to_string(), fields);
        }
        if let Some(v) = self.client.get("/api/v4/leads/pipelines", &[])? {
            for p in v
                .pointer("/_embedded/pipelines")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                d.pipelines.push(PipelineDef {
                    id: p.get("id").and_then(Value::as_i64).unwrap_or(0),
                    name: s(p, "name"),
                    is_main: p.get("is_main").and_then(Value::as_bool).unwrap_or(false),
                    statuses: p
                        .pointer("/_embedded/statuses")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        // "Unsorted" (type 1) cannot be set by hand: amoCRM rejects a lead
                        // sent there, so it is neither a default nor a rule target.
                        .filter(|st| st.get("type").and_then(Value::as_i64) != Some(1))
                        .map(|st| StatusDef {
                            id: st.get("id").and_then(Value::as_i64).unwrap_or(0),
                            name: s(st, "name"),
                        })
                        .collect(),
                });
            }
        }
        // The users list needs admin rights; without it, responsible users are given by id.
        let mut users = Vec::new();
        match self.pages("/api/v4/users", "users", 250, &mut |u| {
            users.push(UserDef {
                id: u.get("id").and_then(Value::as_i64).unwrap_or(0),
                name: s(&u, "name"),
                email: u.get("email").and_then(Value::as_str).map(String::from),
                active: u
                    .pointer("/rights/is_active")
                    .and_then(Value::as_bool)
                    .unwrap_or(true),
            })
        }) {
            Ok(()) => d.users = users,
            Err(CrmError::Forbidden { .. }) => {}
            Err(e) => return Err(e),
        }
        Ok(d)
    }

    fn search(&self, kind: EntityKind, query: &str) -> Result<Vec<Value>, CrmError> {
        let q = vec![
            ("query".to_string(), query.to_string()),
            ("limit".to_string(), "50".to_string()),
        ];
        let v = self
            .client
            .get(&format!("/api/v4/{}", kind.collection()), &q)?;
        Ok(v.and_then(|v| {
            v.pointer(&format!("/_embedded/{}", kind.collection()))
                .and_then(Value::as_array)
                .cloned()
        })
        .unwrap_or_default())
    }

    fn get(&self, kind: EntityKind, id: i64) -> Result<Option<Value>, CrmError> {
        let q = if kind == EntityKind::Lead {
            vec![("with".to_string(), "contacts".to_string())]
        } else {
            vec![]
        };
        self.client
            .get(&format!("/api/v4/{}/{id}", kind.collection()), &q)
    }

    fn create(&self, kind: EntityKind, items: Vec<Value>) -> Result<BatchOutcome, CrmError> {
        self.write(kind, items, false)
    }

    fn update(&self, kind: EntityKind, items: Vec<Value>) -> Result<BatchOutcome, CrmError> {
        self.write(kind, items, true)
    }

    fn link(&self, kind: EntityKind, links: Vec<Link>) -> Result<(), CrmError> {
        let path = format!("/api/v4/{}/link", kind.collection());
        for chunk in links.chunks(self.batch) {
            let body: Vec<Value> = chunk
                .iter()
                .map(|l| {
                    let mut v = json!({"entity_id": l.from_id, "to_entity_id": l.to_id, "to_entity_type": l.to_kind.collection()});
                    if l.is_main {
                        v["metadata"] = json!({"is_main": true});
                    }
                    v
                })
                .collect();
            self.client.post(&path, &Value::Array(body))?;
        }
        Ok(())
    }

    fn for_each(&self, kind: EntityKind, f: &mut dyn FnMut(Value)) -> Result<(), CrmError> {
        self.pages(
            &format!("/api/v4/{}", kind.collection()),
            kind.collection(),
            250,
            f,
        )
    }

    fn requests(&self) -> RequestStats {
        self.client.stats()
    }

    fn create_tasks(&self, tasks: Vec<Value>) -> Result<Vec<Created>, CrmError> {
        let mut out = Vec::new();
        for chunk in tasks.chunks(self.batch) {
            let v = self
                .client
                .post("/api/v4/tasks", &Value::Array(chunk.to_vec()))?
                .unwrap_or(Value::Null);
            for (i, t) in v
                .pointer("/_embedded/tasks")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let request_id = match t.get("request_id") {
                    Some(Value::String(s)) => s.clone(),
                    _ => chunk.get(i).map(|c| s(c, "request_id")).unwrap_or_default(),
                };
                if let Some(id) = t.get("id").and_then(Value::as_i64) {
                    out.push(Created { request_id, id });
                }
            }
        }
        Ok(out)
    }

    fn open_tasks(&self, kind: EntityKind, ids: &[i64]) -> Result<Vec<Value>, CrmError> {
        let mut out = Vec::new();
        // `filter[entity_id]` takes a list; keep URLs short.
        for chunk in ids.chunks(50) {
            let mut q = vec![
                (
                    "filter[entity_type]".to_string(),
                    kind.collection().to_string(),
                ),
                ("filter[is_completed]".to_string(), "0".to_string()),
            ];
            q.extend(
                chunk
                    .iter()
                    .map(|id| ("filter[entity_id][]".to_string(), id.to_string())),
            );
            self.pages_with("/api/v4/tasks", "tasks", 250, &q, &mut |t| {
                // Filters may be ignored on accounts without the API filter add-on.
                let open = !t
                    .get("is_completed")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let mine = t.get("entity_type").and_then(Value::as_str) == Some(kind.collection())
                    && t.get("entity_id")
                        .and_then(Value::as_i64)
                        .is_some_and(|e| chunk.contains(&e));
                if open && mine {
                    out.push(t);
                }
            })?;
        }
        Ok(out)
    }

    fn add_notes(&self, kind: EntityKind, notes: Vec<Value>) -> Result<(), CrmError> {
        let path = format!("/api/v4/{}/notes", kind.collection());
        for chunk in notes.chunks(self.batch) {
            self.client.post(&path, &Value::Array(chunk.to_vec()))?;
        }
        Ok(())
    }

    fn events(&self, types: &[&str], since: i64, f: &mut dyn FnMut(Value)) -> Result<(), CrmError> {
        let q = vec![
            ("filter[type]".to_string(), types.join(",")),
            ("filter[created_at][from]".to_string(), since.to_string()),
            ("order[created_at]".to_string(), "asc".to_string()),
        ];
        self.pages_with("/api/v4/events", "events", 100, &q, f)
    }
}
