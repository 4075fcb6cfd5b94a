#![allow(dead_code)]
//! Shared by fakebill's tests: the demo fixture directory and a tiny JSON helper.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// `examples/billmanager` in the workspace.
pub fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/billmanager")
}

/// The rows of `doc.elem` (array or single object) as a vector.
pub fn elems(doc: &Value) -> Vec<Value> {
    match &doc["doc"]["elem"] {
        Value::Array(a) => a.clone(),
        Value::Null => Vec::new(),
        one => vec![one.clone()],
    }
}
