//! [`Item`]: one create or update item, held as compact JSON text.

use serde_json::Value;

/// One create or update item as its compact JSON text. A backfill keeps thousands of these
/// queued and on their way; a `serde_json::Value` tree of a lead (custom fields are nested
/// objects, each a B-tree node) costs about ten times its text. What the engine asks of an
/// item without reading it back (its `request_id`, how many keys it has) is kept beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    json: Box<str>,
    request_id: Box<str>,
    keys: usize,
}

impl Item {
    /// The item `v` (an object with a `request_id`, as every write carries).
    pub fn new(v: &Value) -> Item {
        Item {
            json: v.to_string().into_boxed_str(),
            request_id: v
                .get("request_id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .into(),
            keys: v.as_object().map_or(0, serde_json::Map::len),
        }
    }

    /// The `request_id` it carries (empty when it has none).
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// How many top-level keys it has: an update of `id` and `request_id` alone sends
    /// nothing.
    pub fn keys(&self) -> usize {
        self.keys
    }

    /// The compact JSON text, as sent.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The item as a tree, read back from its text (for what inspects one item at a time).
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.json).unwrap_or(Value::Null)
    }

    /// One top-level key's value.
    pub fn get(&self, key: &str) -> Option<Value> {
        match self.value() {
            Value::Object(mut o) => o.remove(key),
            _ => None,
        }
    }
}

impl From<Value> for Item {
    fn from(v: Value) -> Item {
        Item::new(&v)
    }
}

impl Default for Item {
    /// An empty object: what is left where an item was moved out.
    fn default() -> Item {
        Item::new(&Value::Object(serde_json::Map::new()))
    }
}

/// The JSON array of `items`: one request's body, built from their texts without a tree.
pub fn array_text<'a>(items: impl IntoIterator<Item = &'a Item>) -> String {
    let mut out = String::from("[");
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item.json());
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_item_keeps_its_request_id_and_key_count_and_reads_back_the_same_tree() {
        let v = json!({"id": 7, "request_id": "service:42", "custom_fields_values": [
            {"field_id": 1, "values": [{"value": "Хостинг \"Старт\""}]}
        ]});
        let item = Item::new(&v);
        assert_eq!(item.request_id(), "service:42");
        assert_eq!(item.keys(), 3);
        assert_eq!(item.value(), v);
        assert_eq!(item.get("id"), Some(json!(7)));
        assert_eq!(item.get("name"), None);
        assert_eq!(
            item.json(),
            serde_json::to_string(&v).unwrap(),
            "compact text"
        );
    }

    #[test]
    fn an_array_of_items_is_the_json_array_of_their_trees() {
        let a = Item::new(&json!({"request_id": "a", "name": "x"}));
        let b = Item::new(&json!({"request_id": "b"}));
        let text = array_text([&a, &b]);
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, json!([a.value(), b.value()]));
        assert_eq!(array_text([]), "[]");
        assert_eq!(Item::default().keys(), 0);
    }
}
