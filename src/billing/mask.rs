//! Masking personal data in captured panel answers (`amocrm-bin capture`), so an admin can
//! attach them to a bug report. The shape is kept exactly; only text that identifies a
//! person or an organisation is replaced, the same input always by the same mask, so the
//! client names that link payer rows to clients still match after masking.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Fields whose text is personal or identifying.
const PERSONAL: &[&str] = &[
    "name",
    "realname",
    "email",
    "phone",
    "person",
    "vatnum",
    "inn",
    "kpp",
    "account",
    "login",
    "address",
    "note",
    "passport",
    "ip",
    "domain",
    "recipient_name",
    "company",
    "fax",
    "mobile",
    "postcode",
    "city",
    "street",
    "bank",
    "rs",
    "ks",
    "bik",
    "ogrn",
];

/// At most `rows` rows of `doc.elem`, with personal data masked.
pub fn mask(doc: &mut Value, rows: usize) {
    if let Some(elem) = doc.pointer_mut("/doc/elem").and_then(Value::as_array_mut) {
        elem.truncate(rows);
    }
    walk(doc, None);
}

fn walk(v: &mut Value, field: Option<&str>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                let child = if k.starts_with('$') {
                    field.map(str::to_string)
                } else {
                    Some(k.clone())
                };
                walk(x, child.as_deref());
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| walk(x, field)),
        Value::String(s) => {
            if let Some(f) = field.filter(|f| PERSONAL.contains(f)) {
                *s = masked(f, s);
            }
        }
        _ => {}
    }
}

/// The mask of one value: ids (all digits in `account`) stay, e-mails keep their shape,
/// digits become other digits (length and punctuation kept), other text a tag.
fn masked(field: &str, s: &str) -> String {
    if s.trim().is_empty() || (field == "account" && s.bytes().all(|b| b.is_ascii_digit())) {
        return s.to_string();
    }
    // The value alone decides the mask: a client's `name` in the `account` list and the
    // same name in a payer row's `account` must still match.
    let digest = Sha256::digest(s.as_bytes());
    let tag: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    if s.contains('@') {
        return format!("user-{tag}@masked.invalid");
    }
    let digits = s.chars().filter(char::is_ascii_digit).count();
    if digits * 2 >= s.chars().count() {
        let mut n = 0;
        return s
            .chars()
            .map(|c| {
                if c.is_ascii_digit() {
                    n += 1;
                    char::from(b'0' + digest[n % digest.len()] % 10)
                } else {
                    c
                }
            })
            .collect();
    }
    format!("masked-{tag}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_text_is_masked_consistently_and_ids_stay() {
        let mut doc = serde_json::json!({"doc": {"elem": [
            {"id": {"$": "201"}, "account": {"$": "ООО «Ромашка»"}, "account_id": {"$": "101"},
             "email": {"$": "ivan@romashka.example"}, "phone": {"$": "+7 916 000-11-22"}},
            {"id": {"$": "301"}, "account": {"$": "ООО «Ромашка»"}, "vatnum": {"$": "7701234567"}, "x": {}},
            {"id": {"$": "999"}}
        ]}});
        mask(&mut doc, 2);
        let text = doc.to_string();
        for secret in ["Ромашка", "ivan@", "916 000", "7701234567"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        let rows = doc["doc"]["elem"].as_array().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["id"]["$"], "201");
        assert_eq!(rows[0]["account_id"]["$"], "101");
        assert_eq!(
            rows[0]["account"], rows[1]["account"],
            "same name, same mask"
        );
        let phone = rows[0]["phone"]["$"].as_str().unwrap();
        assert_eq!(phone.len(), "+7 916 000-11-22".len());
        assert!(rows[1]["vatnum"]["$"].as_str().unwrap().len() == 10);
        assert_eq!(rows[1]["x"], serde_json::json!({}));
    }
}
