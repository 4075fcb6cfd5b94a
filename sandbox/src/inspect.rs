//! Test-side access to the account data (`Sandbox::entities`/`insert` and the
//! `/_sandbox/entities/{kind}` control routes), bypassing HTTP, limits and stats.

use serde_json::{json, Value};

use crate::entities::{self, render::render};
use crate::shared::{lock, Shared};
use crate::store::Kind;
use crate::{calls, events, notes, tasks};

/// Every stored record of `kind` (leads|contacts|companies|tasks|notes|calls|events|tags).
pub fn entities(sh: &Shared, kind: &str) -> Option<Vec<Value>> {
    let store = lock(&sh.store);
    let base = sh.base_url.as_str();
    let with = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    if let Some(k) = Kind::from_plural(kind) {
        let w = match k {
            Kind::Lead => with(&["contacts"]),
            Kind::Contact => with(&["leads"]),
            Kind::Company => with(&["contacts", "leads"]),
        };
        return Some(
            store.ents[k.idx()]
                .values()
                .map(|e| render(&store, base, e, &w))
                .collect(),
        );
    }
    Some(match kind {
        "tasks" => store
            .tasks
            .values()
            .map(|t| tasks::render(&store, base, t))
            .collect(),
        "notes" => store
            .notes
            .values()
            .map(|n| notes::render(&store, base, n, true))
            .collect(),
        "calls" => store.calls.values().cloned().collect(),
        "events" => store
            .events
            .iter()
            .map(|e| events::render(&store, base, e))
            .collect(),
        "tags" => Kind::ALL
            .iter()
            .flat_map(|k| {
                store.tags.dict(*k).by_id.values().map(move |t| {
                    let mut v = crate::tags::render(t);
                    v["entity_type"] = json!(k.plural());
                    v
                })
            })
            .collect(),
        _ => return None,
    })
}

/// Creates a record as a POST would (same validation), without counting it.
pub fn insert(sh: &Shared, kind: &str, item: &Value) -> Result<i64, String> {
    let mut store = lock(&sh.store);
    if let Some(k) = Kind::from_plural(kind) {
        return entities::insert(&mut store, k, item);
    }
    match kind {
        "tasks" => tasks::insert(&mut store, item),
        "notes" => notes::insert(&mut store, item),
        "calls" => calls::insert(&mut store, item, &sh.base_url),
        "tags" => {
            let name = item
                .get("name")
                .and_then(Value::as_str)
                .ok_or("tag needs a name")?;
            let k = item
                .get("entity_type")
                .and_then(Value::as_str)
                .map_or(Some(Kind::Lead), Kind::from_plural)
                .ok_or("tag entity_type must be leads|contacts|companies")?;
            let color = item.get("color").and_then(Value::as_str);
            Ok(store.tags.ensure(k, name, color))
        }
        _ => Err(format!("unsupported kind {kind}")),
    }
}
