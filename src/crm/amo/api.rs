//! [`Crm`] over the amoCRM API v4: paths, paging and the account's quirks. Every write
//! goes through the write path of [`super::write`], in chunks of the configured batch size.

use serde_json::Value;

use super::client::{AmoClient, RequestStats};
use super::write::{in_batches, Fed, Listed};
use crate::crm::{
    BatchOutcome, Created, Crm, CrmError, Dictionaries, EnumDef, FieldDef, Item, Link, PipelineDef,
    StatusDef, UserDef, Write, WriteFeed,
};
use crate::rules::EntityKind;

/// amoCRM's hard limit of entities per write request.
pub const CHUNK: usize = 250;

/// What a read of entities by id asks for besides the entity: a lead's contacts appear in
/// `_embedded` only with `with=contacts` (§3.2), and the engine checks its links there.
fn with_of(kind: EntityKind) -> Vec<(String, String)> {
    if kind == EntityKind::Lead {
        vec![("with".to_string(), "contacts".to_string())]
    } else {
        vec![]
    }
}

/// The amoCRM implementation of [`Crm`].
pub struct AmoCrm<'a> {
    client: AmoClient<'a>,
    batch: usize,
    in_flight: usize,
    /// The account ignored `filter[id]` once: read by id one by one.
    filter_ignored: std::cell::Cell<bool>,
}

impl<'a> AmoCrm<'a> {
    /// Wraps a client; writes go in chunks of up to 250.
    pub fn new(client: AmoClient<'a>) -> Self {
        AmoCrm {
            client,
            batch: CHUNK,
            in_flight: 1,
            filter_ignored: std::cell::Cell::new(false),
        }
    }

    /// Sets how many write requests may be open at once (`[amocrm] max_in_flight`); the
    /// pacer still starts at most `rate_limit_rps` per second.
    pub fn with_in_flight(mut self, n: usize) -> Self {
        self.in_flight = n.max(1);
        self
    }

    /// Sets the entities per write request (1..=250).
    pub fn with_batch_size(mut self, n: usize) -> Self {
        self.batch = n.clamp(1, CHUNK);
        self
    }

    /// A contact with its leads embedded (`with=leads`), as a call is filed against it;
    /// `None` when it no longer exists.
    pub fn contact_with_leads(&self, id: i64) -> Result<Option<Value>, CrmError> {
        self.client.get(
            &format!("/api/v4/contacts/{id}"),
            &[("with".into(), "leads".into())],
        )
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

    /// Creates (or with `patch` updates) `items` in requests of the batch size, up to
    /// `in_flight` open at once; `on_answer` gets each request's outcome as it arrives.
    /// amoCRM rejects a whole request when one item is invalid, so a rejected request is
    /// sent once more without the items `validation-errors` names. On another error nothing
    /// new starts, the open requests' outcomes are still delivered, and the error is returned.
    fn write_chunks(
        &self,
        kind: EntityKind,
        items: Vec<Item>,
        patch: bool,
        on_answer: &mut dyn FnMut(BatchOutcome) -> bool,
    ) -> Result<(), CrmError> {
        let writes = in_batches(items, self.batch)
            .into_iter()
            .map(|part| match patch {
                true => Write::Update(part),
                false => Write::Create(part),
            })
            .collect();
        self.write_list(kind, writes, on_answer)
    }

    /// Sends `writes` (each a request's worth), up to `in_flight` at once, through the
    /// write path of a pipelined run ([`Fed`]); the first error starts nothing new and is
    /// returned once the open requests are in.
    fn write_list(
        &self,
        kind: EntityKind,
        writes: Vec<Write>,
        on_answer: &mut dyn FnMut(BatchOutcome) -> bool,
    ) -> Result<(), CrmError> {
        let lanes = self.in_flight.min(writes.len()).max(1);
        let mut list = Listed::new(kind, writes, on_answer);
        self.client
            .run_fed(lanes, &mut Fed::new(&mut list, self.batch))?;
        list.finish()
    }

    /// [`Self::write_chunks`] with every request's outcome gathered into one.
    fn write_all(
        &self,
        kind: EntityKind,
        items: Vec<Item>,
        patch: bool,
    ) -> Result<BatchOutcome, CrmError> {
        let mut all = BatchOutcome::default();
        self.write_chunks(kind, items, patch, &mut |o| {
            all.merge(o);
            true
        })?;
        Ok(all)
    }
}

/// Every value of a contact's PHONE fields (amoCRM names the standard field by its
/// `field_code` in every answer).
fn phones_of(contact: &Value) -> impl Iterator<Item = &str> {
    contact
        .get("custom_fields_values")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|f| f.get("field_code").and_then(Value::as_str) == Some("PHONE"))
        .flat_map(|f| {
            f.get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(|v| v.get("value").and_then(Value::as_str))
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

    fn contacts_by_phone(&self, phone: &str, with_leads: bool) -> Result<Vec<Value>, CrmError> {
        let mut q = vec![
            ("query".to_string(), crate::phone::search_key(phone)),
            ("limit".to_string(), "50".to_string()),
        ];
        if with_leads {
            q.push(("with".to_string(), "leads".to_string()));
        }
        let found = self.client.get("/api/v4/contacts", &q)?;
        let hits = found
            .and_then(|v| {
                v.pointer("/_embedded/contacts")
                    .and_then(Value::as_array)
                    .cloned()
            })
            .unwrap_or_default();
        Ok(hits
            .into_iter()
            .filter(|c| phones_of(c).any(|p| crate::phone::same(p, phone)))
            .collect())
    }

    fn get(&self, kind: EntityKind, id: i64) -> Result<Option<Value>, CrmError> {
        self.client.get(
            &format!("/api/v4/{}/{id}", kind.collection()),
            &with_of(kind),
        )
    }

    /// `filter[id][]` pages of up to 250 (§3.3). The filter is an add-on some accounts lack,
    /// and then amoCRM ignores it and lists everything (amocrm-api-php#348): an answer
    /// holding an id we did not ask for means that, and the rest is read one by one (and
    /// this client stops trying the filter).
    fn get_many(&self, kind: EntityKind, ids: &[i64]) -> Result<Vec<Value>, CrmError> {
        let mut out = Vec::new();
        let mut left: Vec<i64> = ids.to_vec();
        if !self.filter_ignored.get() {
            let path = format!("/api/v4/{}", kind.collection());
            let mut done = Vec::new();
            for page in ids.chunks(CHUNK) {
                let mut q: Vec<(String, String)> = page
                    .iter()
                    .map(|id| ("filter[id][]".to_string(), id.to_string()))
                    .collect();
                q.push(("limit".into(), CHUNK.to_string()));
                q.extend(with_of(kind));
                let listed = self
                    .client
                    .get(&path, &q)?
                    .and_then(|v| {
                        v.pointer(&format!("/_embedded/{}", kind.collection()))
                            .and_then(Value::as_array)
                            .cloned()
                    })
                    .unwrap_or_default();
                let foreign = listed.iter().any(|e| {
                    e.get("id")
                        .and_then(Value::as_i64)
                        .is_none_or(|id| !page.contains(&id))
                });
                if foreign {
                    crate::log::verbose(
                        "amoCRM ignored filter[id] (the filter add-on is off): reading one by one",
                    );
                    self.filter_ignored.set(true);
                    break;
                }
                out.extend(listed);
                done.extend_from_slice(page);
            }
            left.retain(|id| !done.contains(id));
        }
        for id in left {
            out.extend(self.get(kind, id)?);
        }
        Ok(out)
    }

    fn create(&self, kind: EntityKind, items: Vec<Item>) -> Result<BatchOutcome, CrmError> {
        self.write_all(kind, items, false)
    }

    fn update(&self, kind: EntityKind, items: Vec<Item>) -> Result<BatchOutcome, CrmError> {
        self.write_all(kind, items, true)
    }

    fn write_each(
        &self,
        kind: EntityKind,
        items: Vec<Item>,
        patch: bool,
        on_answer: &mut dyn FnMut(BatchOutcome) -> bool,
    ) -> Result<(), CrmError> {
        self.write_chunks(kind, items, patch, on_answer)
    }

    fn write_fed(&self, feed: &mut dyn WriteFeed) -> Result<(), CrmError> {
        self.client
            .run_fed(self.in_flight, &mut Fed::new(feed, self.batch))
    }

    fn link(&self, kind: EntityKind, links: Vec<Link>) -> Result<(), CrmError> {
        let writes = links
            .chunks(self.batch)
            .map(|c| Write::Link(c.to_vec()))
            .collect();
        self.write_list(kind, writes, &mut |_| true)
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
        let writes = notes
            .chunks(self.batch)
            .map(|c| Write::Notes(c.to_vec()))
            .collect();
        self.write_list(kind, writes, &mut |_| true)
    }

    fn notes_of(&self, kind: EntityKind, id: i64) -> Result<Vec<Value>, CrmError> {
        let mut out = Vec::new();
        let path = format!("/api/v4/{}/{id}/notes", kind.collection());
        self.pages(&path, "notes", 250, &mut |n| out.push(n))?;
        Ok(out)
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_contacts_phones_are_the_values_of_its_phone_fields_only() {
        let c = json!({"custom_fields_values": [
            {"field_id": 1, "field_code": "PHONE", "values": [{"value": "+7 916 000-11-22"}, {"value": "8 495 123 45 67"}]},
            {"field_id": 2, "field_code": "EMAIL", "values": [{"value": "79160001122@x.example"}]},
            {"field_id": 3, "values": [{"value": "79161112233"}]},
        ]});
        let phones: Vec<&str> = phones_of(&c).collect();
        assert_eq!(phones, ["+7 916 000-11-22", "8 495 123 45 67"]);
        assert_eq!(phones_of(&json!({"id": 1})).count(), 0);
    }
}
