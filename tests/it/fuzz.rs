//! Property-based fuzzing (issue 7) of every parser that reads outside input: the rule file,
//! BILLmanager's JSON answers (and the values inside them), call-tracking events and the
//! panel's XML document. The property is the same everywhere: any input gives `Ok` or
//! `Err`, never a panic.
//!
//! Bounded for `cargo test` (a few hundred cases per target, seconds in all). For a longer
//! session: `PROPTEST_CASES=20000 cargo test --test integration fuzz`.

use std::path::Path;

use amocrm_bin::billing::envelope::{self, Call};
use amocrm_bin::billing::{convert, values, Attrs};
use amocrm_bin::calls::parse::{parse_body, Format, ParseOptions};
use amocrm_bin::calls::ringostat::RingostatKeys;
use amocrm_bin::rules::RuleSet;
use chrono::{FixedOffset, TimeZone};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

use crate::support::root;

/// Cases per target: `PROPTEST_CASES`, else `default`.
fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Text that looks like what the parsers see: mostly their own punctuation and keywords,
/// some arbitrary Unicode.
fn texty() -> impl Strategy<Value = String> {
    let atoms = prop_oneof![
        4 => "[ \\[\\]{}=\",.:#\\n$0-9a-z_+-]{0,12}",
        1 => any::<String>(),
        1 => Just("\u{202e}".to_string()),
        1 => Just("1e400".to_string()),
        1 => Just("-9223372036854775809".to_string()),
        1 => Just("18446744073709551616".to_string()),
        1 => Just("9999-99-99 99:99:99".to_string()),
        1 => Just("\\u0000".to_string()),
        1 => prop::sample::select(vec![
            "true", "false", "null", "[", "]", "{", "}", "\"", "'", "'''", "\"\"\"", "=", "\\",
            "[[", "]]", "NaN", "inf", "0x1F", "1_000", "on", "off", "+7", "8 (916)", "@",
        ]).prop_map(String::from),
    ];
    prop::collection::vec(atoms, 0..12).prop_map(|v| v.concat())
}

/// A JSON value of bounded depth and size.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        texty().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(field_name(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Keys BILLmanager documents carry (and a few strangers).
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "doc", "elem", "error", "$", "$orig", "$type", "$object", "msg", "id", "elid",
            "account", "name", "realname", "email", "phone", "inn", "profiletype", "status",
            "pricelist", "itemtype", "createdate", "expiredate", "cost", "period", "payer",
            "user", "country", "registration_date", "superuser", "auth", "$id", "p_elems",
        ]).prop_map(String::from),
        1 => "[a-z$_]{0,8}",
    ]
}

/// BILLmanager-shaped answers: `{"doc": {"elem": [rows]}}` with fuzzed rows, or anything.
fn billing_answer() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => json_value().prop_map(|v| json!({"doc": {"elem": v}}).to_string().into_bytes()),
        2 => json_value().prop_map(|v| json!({"doc": v}).to_string().into_bytes()),
        1 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => json_value().prop_map(|v| {
            // Truncated somewhere.
            let s = json!({"doc": {"elem": [v]}}).to_string();
            s.as_bytes()[..s.len() / 2].to_vec()
        }),
        1 => prop::collection::vec(any::<u8>(), 0..256),
    ]
}

/// A row of text fields as the reader flattens them.
fn attrs() -> impl Strategy<Value = Attrs> {
    prop::collection::btree_map(field_name(), texty(), 0..12)
}

fn parse_options(country: &str) -> ParseOptions {
    let offset = FixedOffset::east_opt(3 * 3600).unwrap();
    ParseOptions {
        default_country: country.to_string(),
        zone: amocrm_bin::calls::zone::CallZone::Fixed(offset),
        statuses: Default::default(),
        ringostat_keys: RingostatKeys::default(),
        format: Format::Auto,
        received_at: offset.with_ymd_and_hms(2026, 3, 2, 14, 7, 0).unwrap(),
    }
}

/// Call-event bodies: Ringostat-keyed and neutral-schema objects with fuzzed values, as one
/// object, an array, JSON lines or form fields; or anything.
fn call_body() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        3 => prop::sample::select(vec![
            "uniqueid", "calldate", "call_type", "caller", "caller_number", "dst",
            "connected_with", "disposition", "duration", "billsec", "waittime", "recording",
            "has_recording", "employee_number", "employee_fio", "pool_name", "utm_source",
            "schema", "provider", "call_id", "leg_id", "stage", "started_at", "answered_at",
            "ended_at", "direction", "from", "to", "client_phone", "tracking_number",
            "employee", "status", "provider_status", "is_target", "wait_sec", "attribution",
        ]).prop_map(String::from),
        1 => "[a-z_.]{0,10}",
    ];
    let value = prop_oneof![
        3 => texty().prop_map(Value::String),
        1 => json_value(),
        1 => Just(json!("amocrm-bin.call/1")),
        1 => Just(json!("2026-03-02T14:05:31+03:00")),
        1 => Just(json!("+7 916 123-45-67")),
    ];
    let object = prop::collection::btree_map(key, value, 0..14)
        .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>()));
    prop_oneof![
        3 => object.clone().prop_map(|o| o.to_string()),
        1 => prop::collection::vec(object.clone(), 0..4).prop_map(|v| Value::Array(v).to_string()),
        1 => prop::collection::vec(object.clone(), 0..4).prop_map(|v| {
            v.iter().map(Value::to_string).collect::<Vec<_>>().join("\n")
        }),
        1 => object.prop_map(|o| {
            o.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().map(String::from).unwrap_or_else(|| v.to_string())))
                .collect::<Vec<_>>()
                .join("&")
        }),
        1 => any::<String>(),
        1 => texty(),
    ]
}

/// The example rule file with random lines dropped, duplicated or given a fuzzed value.
fn mutated_rules() -> impl Strategy<Value = String> {
    let text = std::fs::read_to_string(root().join("examples/rules.toml")).unwrap();
    let lines: Vec<String> = text.lines().map(String::from).collect();
    let n = lines.len();
    prop::collection::vec((0..n, 0..4u8, texty()), 1..6).prop_map(move |edits| {
        let mut out = lines.clone();
        for (i, what, fuzz) in edits {
            let i = i.min(out.len().saturating_sub(1));
            if out.is_empty() {
                break;
            }
            match what {
                0 => {
                    out.remove(i);
                }
                1 => {
                    let l = out[i].clone();
                    out.insert(i, l);
                }
                2 => {
                    if let Some((k, _)) = out[i].split_once('=') {
                        out[i] = format!("{k}= {fuzz}");
                    }
                }
                _ => out[i] = fuzz,
            }
        }
        out.join("\n")
    })
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn rule_parser_never_panics_on_mutated_example_files(text in mutated_rules()) {
        let _ = RuleSet::parse(&text, Path::new("fuzz.toml"));
    }

    #[test]
    fn rule_parser_never_panics_on_arbitrary_text(text in texty(), raw in any::<String>()) {
        let _ = RuleSet::parse(&text, Path::new("fuzz.toml"));
        let _ = RuleSet::parse(&raw, Path::new("fuzz.toml"));
        let _ = RuleSet::parse(&format!("[amocrm]\n{text}\n[billmanager]\n{raw}"), Path::new("fuzz.toml"));
    }

    #[test]
    fn billmanager_json_parser_never_panics(bytes in billing_answer()) {
        for (func, entity) in [("item", "service"), ("account.edit", "client"), ("auth", "user")] {
            let call = Call { func, entity, elid: Some("401") };
            if let Ok(doc) = envelope::parse(&bytes, &call) {
                for row in doc.elems(func).unwrap_or_default() {
                    let _ = convert::row_id(&row);
                    let _ = convert::owner(&row);
                    let _ = convert::service(row.clone(), "101");
                    let _ = convert::payer(row.clone(), "101");
                    if let Ok(u) = convert::user(row.clone(), "101") {
                        let _ = convert::is_owner(&u);
                    }
                    let _ = convert::client("101", row);
                }
                let _ = convert::client("101", doc.form());
                let _ = doc.session();
            }
        }
        let _ = envelope::looks_like_doc(&bytes);
    }

    #[test]
    fn billmanager_values_and_phones_never_panic(row in attrs(), s in texty(), country in "[A-Z]{0,3}") {
        let _ = convert::service(row.clone(), "101");
        let _ = convert::payer(row.clone(), "101");
        let _ = convert::user(row.clone(), "101");
        let _ = convert::client("1", row);
        let _ = values::datetime(&s);
        let _ = values::money(&s);
        let _ = values::flag(&s);
        let _ = values::status(&s);
        let _ = values::payer_kind(Some(&s));
        let _ = values::id_order(&s, "42");
        for c in [country.as_str(), "RU", "KZ", ""] {
            if let Some(p) = amocrm_bin::phone::normalize(&s, c) {
                let _ = amocrm_bin::phone::search_key(&p);
                let _ = amocrm_bin::phone::same(&p, &s);
            }
        }
    }

    #[test]
    fn call_event_parser_never_panics(body in call_body(), country in "[A-Z]{0,3}") {
        for format in [Format::Auto, Format::Ringostat, Format::Neutral] {
            let mut opts = parse_options(&country);
            opts.format = format;
            if let Ok(items) = parse_body(&body, &opts) {
                for item in items {
                    if let Ok(e) = item.event {
                        let _ = amocrm_bin::calls::fingerprint::fingerprint(&e);
                        let _ = amocrm_bin::calls::fingerprint::rank(&e);
                        let _ = e.started_unix();
                        let _ = e.source_name();
                    }
                }
            }
        }
    }

    #[test]
    fn panel_xml_scanner_never_panics(
        doc in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..512),
            prop::collection::vec(
                prop::sample::select(vec![
                    "<?xml version=\"1.0\"?>", "<doc>", "</doc>", "<elid>", "</elid>", "<ok/>",
                    "<error type=\"x\">", "</error>", "<![CDATA[", "]]>", "<!--", "-->", "&amp;",
                    "&#x0;", "&#99999999;", "<", ">", "\"", "'", "=", "401", " ", "\n", "<!DOCTYPE",
                    "<a b='c'", "/>", "\u{feff}", "<doc func=\"service.postopen\">",
                ]),
                0..40,
            ).prop_map(|v| v.concat().into_bytes()),
        ]
    ) {
        let _ = amocrm_bin::hook::xml::inspect(&doc);
    }
}
