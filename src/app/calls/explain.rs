//! `calls ingest --explain`: for each item, the keys it carried, which ones the key map
//! read (and for what), which it looked for in vain, and the event it became. Nothing is
//! stored or sent.

use serde::{Serialize, Serializer};
use serde_json::{json, Value};

use crate::calls::parse::{item_object, Item};
use crate::calls::ringostat::{key_use, KeyUse};
use crate::calls::{parse_body, CallSetup, Format};
use crate::exit::Failure;
use crate::rules::RuleSet;

/// One item explained.
pub struct Explained {
    /// The parsed item (its position and event, or why it was refused).
    pub item: Item,
    /// How the key map read it (none when the item is not an object).
    pub keys: Option<KeyUse>,
}

/// Every item of a body, explained.
pub struct Explanation {
    /// The items, in the body's order.
    pub items: Vec<Explained>,
}

/// Parses `body` as `format` and says how the key map reads each item.
pub fn explain(rules: &RuleSet, body: &str, format: Format) -> anyhow::Result<Explanation> {
    let setup = CallSetup::from_rules(rules)?;
    let items = parse_body(body, &setup.parse_options(format, setup.now())).map_err(|why| {
        Failure::usage(
            format!("cannot read the call events: {why}"),
            "send one webhook body as Ringostat posts it (JSON or form fields)",
        )
    })?;
    let items = items
        .into_iter()
        .map(|item| Explained {
            keys: item_object(&item.raw).map(|o| key_use(&o, &setup.keys)),
            item,
        })
        .collect();
    Ok(Explanation { items })
}

impl Explained {
    fn json(&self) -> Value {
        let (item, keys) = (&self.item, &self.keys);
        let event = match &item.event {
            Ok(e) => json!({
                "provider": e.provider, "call_id": e.call_id, "direction": e.direction.as_str(),
                "status": e.status.as_str(), "provider_status": e.provider_status,
                "is_callback": e.is_callback, "client_phone": e.client_phone,
                "started_at": e.started_at.to_rfc3339(), "billsec": e.billsec,
            }),
            Err(e) => json!({"error": e}),
        };
        json!({
            "position": item.position,
            "carried": keys.as_ref().map(|k| k.carried.clone()),
            "read": keys.as_ref().map(|k| k.read.iter().map(|(n, key, v)| json!({"name": n, "key": key, "value": v})).collect::<Vec<_>>()),
            "absent": keys.as_ref().map(|k| k.absent.iter().map(|(n, key)| json!({"name": n, "key": key})).collect::<Vec<_>>()),
            "unused": keys.as_ref().map(|k| k.unused.clone()),
            "event": event,
        })
    }
}

impl Serialize for Explanation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let items: Vec<Value> = self.items.iter().map(Explained::json).collect();
        json!({"ok": true, "items": items}).serialize(s)
    }
}
