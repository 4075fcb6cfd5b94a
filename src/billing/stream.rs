//! Streaming parse of a list answer: `doc.elem` rows go straight from the bytes (or a file)
//! into [`Attrs`], with serde visitors, so a 200 000-row list never exists as a
//! `serde_json::Value` tree (`docs/billmanager.md` §13.7).
//!
//! It accepts what [`super::envelope::parse`] accepts for lists: `elem` as an array or a
//! single object, `X | [X]` around fields, `{"$orig"?, "$"}` or plain scalars, `{}` for an
//! empty field (skipped), nested structures without text (skipped), and an error document
//! at `doc.error` or (bjson) at the top level, which becomes the typed error.

use std::fmt;
use std::io::Read;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::envelope::{self, Call};
use super::error::BillingError;
use super::model::Attrs;

/// What the root of a list answer held.
enum Parsed {
    Rows,
    Error(Value),
    NoDoc,
}

/// The rows of list answer `reader` for `call`.
pub fn rows<R: Read>(reader: R, call: &Call<'_>) -> Result<Vec<Attrs>, BillingError> {
    let mut rows = Vec::new();
    each_row(reader, call, &mut |r| rows.push(r))?;
    Ok(rows)
}

/// Hands each row of list answer `reader` to `sink` as soon as it is parsed, so the caller
/// keeps only what it needs. On an error document or a broken answer, rows already handed
/// over are followed by the error.
pub fn each_row<R: Read>(
    reader: R,
    call: &Call<'_>,
    sink: &mut dyn FnMut(Attrs),
) -> Result<(), BillingError> {
    let malformed = |detail: String| BillingError::Malformed {
        func: call.func.to_string(),
        detail,
    };
    let mut de = serde_json::Deserializer::from_reader(std::io::BufReader::new(reader));
    // A transport failure met mid-answer (mgrctl killed at the timeout or exiting non-zero,
    // a broken HTTP body) is reported as itself; after a whole document it is not: an
    // error document printed with a non-zero exit is still classified by its content.
    let parsed = Root(sink)
        .deserialize(&mut de)
        .map_err(|e| transport_failure(e).unwrap_or_else(|e| malformed(describe(&e))))?;
    if let Err(e) = de.end() {
        if let Err(e) = transport_failure(e) {
            return Err(malformed(format!("trailing data after the document ({e})")));
        }
    }
    match parsed {
        Parsed::Rows => Ok(()),
        Parsed::Error(err) => {
            // The error node is small: rebuild the document and let the envelope classify it.
            let doc = serde_json::json!({ "doc": { "error": err } }).to_string();
            match envelope::parse(doc.as_bytes(), call) {
                Err(e) => Err(e),
                Ok(_) => Err(malformed("an unreadable error document".into())),
            }
        }
        Parsed::NoDoc => Err(malformed("no `doc` node; was `out=json` honoured?".into())),
    }
}

/// The transport's own error when `e` carries one (see [`super::transport::carry`]).
fn transport_failure(e: serde_json::Error) -> Result<BillingError, serde_json::Error> {
    if !e.is_io() {
        return Err(e);
    }
    super::transport::carried(std::io::Error::from(e)).map_err(serde_json::Error::io)
}

fn describe(e: &serde_json::Error) -> String {
    match e.classify() {
        serde_json::error::Category::Io => format!("the answer could not be read ({e})"),
        serde_json::error::Category::Eof => format!("the answer is cut short ({e})"),
        serde_json::error::Category::Syntax => format!("the answer is not JSON ({e})"),
        serde_json::error::Category::Data => e.to_string(),
    }
}

/// The root object: `doc`, or a top-level `error` (bjson).
struct Root<'s>(&'s mut dyn FnMut(Attrs));

impl<'de> DeserializeSeed<'de> for Root<'_> {
    type Value = Parsed;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Parsed, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Root<'_> {
    type Value = Parsed;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object with a `doc` node")
    }
    /// `[root]` (sjson) counts by its first element.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Parsed, A::Error> {
        let first = seq
            .next_element_seed(Root(self.0))?
            .unwrap_or(Parsed::NoDoc);
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(first)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed, A::Error> {
        let mut out = Parsed::NoDoc;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "doc" if !matches!(out, Parsed::Error(_)) => {
                    out = map.next_value_seed(DocNode(&mut *self.0))?
                }
                "error" => out = Parsed::Error(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

/// `doc`: its `elem` rows, or its `error`.
struct DocNode<'s>(&'s mut dyn FnMut(Attrs));

impl<'de> DeserializeSeed<'de> for DocNode<'_> {
    type Value = Parsed;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Parsed, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DocNode<'_> {
    type Value = Parsed;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("`doc` as an object")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Parsed, E> {
        Ok(Parsed::Rows)
    }
    /// `[doc]` (sjson) counts by its first element.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Parsed, A::Error> {
        let first = seq
            .next_element_seed(DocNode(self.0))?
            .unwrap_or(Parsed::Rows);
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(first)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed, A::Error> {
        let mut error = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "elem" => map.next_value_seed(Elems(&mut *self.0))?,
                "error" => error = Some(map.next_value::<Value>()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(match error {
            Some(e) => Parsed::Error(e),
            None => Parsed::Rows,
        })
    }
}

/// `doc.elem`: an array of rows, one row as an object, or null.
struct Elems<'s>(&'s mut dyn FnMut(Attrs));

impl<'de> DeserializeSeed<'de> for Elems<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Elems<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("`doc.elem` as objects")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(row) = seq.next_element_seed(Row)? {
            (self.0)(row);
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        (self.0)(Row.visit_map(map)?);
        Ok(())
    }
}

/// One row: field name → text; fields without text are left out.
struct Row;

impl<'de> DeserializeSeed<'de> for Row {
    type Value = Attrs;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Attrs, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Row {
    type Value = Attrs;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a row of `doc.elem` as an object")
    }
    /// `[row]` (sjson) counts by its first element.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Attrs, A::Error> {
        let first = seq.next_element_seed(Row)?.unwrap_or_default();
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(first)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Attrs, A::Error> {
        let mut attrs = Attrs::new();
        while let Some(key) = map.next_key::<String>()? {
            if key.starts_with('$') {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            if let Some(text) = map.next_value_seed(Field)? {
                attrs.insert(key, text);
            }
        }
        Ok(attrs)
    }
}

/// The visits shared by [`Field`] and [`Scalar`]: strings and numbers are text.
macro_rules! text_visits {
    () => {
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<String>, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Option<String>, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<String>, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<String>, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<String>, E> {
            Ok(Some(
                serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string()),
            ))
        }
    };
}

/// A field's text: a scalar, `{"$orig"?, "$"}` (`$orig` wins), or the first of an array.
struct Field;

impl<'de> DeserializeSeed<'de> for Field {
    type Value = Option<String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Field {
    type Value = Option<String>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field value")
    }
    text_visits!();
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Option<String>, E> {
        Ok(Some(if v { "on" } else { "off" }.to_string()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<String>, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<String>, A::Error> {
        let first = seq.next_element_seed(Field)?.flatten();
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(first)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<String>, A::Error> {
        let (mut orig, mut shown) = (None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "$orig" => orig = map.next_value_seed(Scalar)?,
                "$" => shown = map.next_value_seed(Scalar)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(orig.or(shown))
    }
}

/// The text under `$`/`$orig`: a string or number (first of an array); nothing else.
struct Scalar;

impl<'de> DeserializeSeed<'de> for Scalar {
    type Value = Option<String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Scalar {
    type Value = Option<String>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("text")
    }
    text_visits!();
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Option<String>, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<String>, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<String>, A::Error> {
        let first = seq.next_element_seed(Scalar)?.flatten();
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(first)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<String>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}
