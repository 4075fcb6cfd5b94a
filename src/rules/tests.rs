use std::path::Path;

use super::*;

const GOOD: &str = r#"
[amocrm]
base_url = "https://acme.amocrm.ru"
client_id = "abc"
client_secret_env = "AMO_SECRET"
redirect_uri = "https://example.com/cb"

[billmanager]
source = "mgrctl"
"#;

fn parse(text: &str) -> Result<RuleSet, RulesError> {
    RuleSet::parse(text, Path::new("rules.toml"))
}

#[test]
fn minimal_file_parses_with_defaults() {
    let r = parse(GOOD).unwrap();
    assert_eq!(r.file.amocrm.rate_limit_rps, 7);
    assert_eq!(r.file.billmanager.source, SourceKind::Mgrctl);
    assert!(r.file.store.path.ends_with("amocrm-bin.db"));
}

#[test]
fn unknown_key_names_line_key_and_expected() {
    let text = GOOD.replace(
        "client_id = \"abc\"",
        "client_id = \"abc\"\nclient_secert = \"x\"",
    );
    let err = parse(&text).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("rules.toml:5:"), "{msg}");
    assert!(msg.contains("client_secert"), "{msg}");
    assert!(msg.contains("expected one of"), "{msg}");
}

#[test]
fn wrong_type_names_the_key_path() {
    let text = GOOD.replace(
        "redirect_uri = \"https://example.com/cb\"",
        "redirect_uri = \"https://example.com/cb\"\ntimeout_secs = \"ten\"",
    );
    let msg = parse(&text).unwrap_err().to_string();
    assert!(msg.contains("key `amocrm.timeout_secs`"), "{msg}");
    assert!(msg.starts_with("rules.toml:7:16:"), "{msg}");
}

#[test]
fn plain_http_only_for_loopback() {
    let text = GOOD.replace("https://acme.amocrm.ru", "http://acme.amocrm.ru");
    let msg = parse(&text).unwrap_err().to_string();
    assert!(msg.contains("must use https"), "{msg}");
    let text = GOOD.replace("https://acme.amocrm.ru", "http://127.0.0.1:8080");
    parse(&text).unwrap();
}

#[test]
fn more_than_7_per_second_only_for_a_plain_http_loopback_sandbox() {
    for (url, rps, ok) in [
        ("https://acme.amocrm.ru", "7", true),
        ("https://acme.amocrm.ru", "8", false),
        ("https://acme.amocrm.ru", "0", false),
        ("http://127.0.0.1:8080", "100", true),
        ("http://127.0.0.1:8080", "1000", true),
        ("http://127.0.0.1:8080", "1001", false),
        ("http://127.0.0.1:8080", "0", false),
        ("https://127.0.0.1:8080", "8", false),
    ] {
        let text = GOOD.replace("https://acme.amocrm.ru", url).replace(
            "client_id = \"abc\"",
            &format!("client_id = \"abc\"\nrate_limit_rps = {rps}"),
        );
        match parse(&text) {
            Ok(_) => assert!(ok, "{url} at {rps} per second was accepted"),
            Err(e) => {
                assert!(!ok, "{url} at {rps} per second: {e}");
                assert!(e.to_string().contains("amocrm.rate_limit_rps"), "{e}");
            }
        }
    }
}

#[test]
fn foreign_host_needs_explicit_allow() {
    let text = GOOD.replace("https://acme.amocrm.ru", "https://evil.example.com");
    let msg = parse(&text).unwrap_err().to_string();
    assert!(msg.contains("not an amoCRM/Kommo account"), "{msg}");
    let text = text.replace(
        "client_id = \"abc\"",
        "client_id = \"abc\"\nallow_any_host = true",
    );
    parse(&text).unwrap();
    for ok in ["https://x.kommo.com", "https://x.amocrm.com"] {
        parse(&GOOD.replace("https://acme.amocrm.ru", ok)).unwrap();
    }
}

#[test]
fn all_problems_are_listed_at_once() {
    let text = GOOD
        .replace("source = \"mgrctl\"", "source = \"api\"")
        .replace("client_id = \"abc\"", "client_id = \"\"");
    let RulesError::Invalid { problems, .. } = parse(&text).unwrap_err() else {
        panic!("expected Invalid");
    };
    let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "amocrm.client_id",
            "billmanager.url",
            "billmanager.user",
            "billmanager.password_env"
        ]
    );
}

#[test]
fn secret_from_env_is_required_when_named() {
    let r = parse(&GOOD.replace("AMO_SECRET", "AMO_SECRET_SURELY_UNSET_42")).unwrap();
    let msg = r.client_secret().unwrap_err().to_string();
    assert!(msg.contains("AMO_SECRET_SURELY_UNSET_42"), "{msg}");
}

#[test]
fn a_date_out_of_range_or_in_another_form_says_what_is_expected() {
    for (written, ok) in [
        ("\"2024-01-31\"", true),
        ("2024-01-31", true),
        ("\"2024-13-01\"", false),
        ("\"01.02.2024\"", false),
        ("2024-01-31T10:00:00", false),
        ("5", false),
    ] {
        let text = format!("{GOOD}\n[sync]\nsince = {written}\n");
        match parse(&text) {
            Ok(r) => {
                assert!(ok, "{written} was accepted");
                assert_eq!(r.file.sync.since.unwrap().to_string(), "2024-01-31");
            }
            Err(e) => {
                assert!(!ok, "{written}: {e}");
                let msg = e.to_string();
                assert!(msg.contains("key `sync.since`"), "{msg}");
                assert!(msg.contains("expected YYYY-MM-DD"), "{msg}");
            }
        }
    }
}

#[test]
fn a_missing_secret_names_the_key_written_and_says_to_export_or_create_it() {
    use crate::status::Classify;
    let var = "AMOCRM_BIN_RULES_TEST_UNSET_SECRET";
    let r = parse(&GOOD.replace("AMO_SECRET", var)).unwrap();
    let e = r.client_secret().unwrap_err();
    assert!(e.to_string().starts_with("`amocrm.client_secret_env`: environment variable `AMOCRM_BIN_RULES_TEST_UNSET_SECRET` is not set"), "{e}");
    let hint = e.hint().unwrap();
    assert!(hint.starts_with(&format!("export {var}=")), "{hint}");
    assert!(!hint.contains("fix the rule file"), "{hint}");

    let text = GOOD.replace(
        "client_secret_env = \"AMO_SECRET\"",
        "client_secret_file = \"/nonexistent/amocrm-bin.secret\"",
    );
    let e = parse(&text).unwrap().client_secret().unwrap_err();
    assert!(
        e.to_string().starts_with(
            "`amocrm.client_secret_file`: cannot read `/nonexistent/amocrm-bin.secret`"
        ),
        "{e}"
    );
    assert!(e.hint().unwrap().contains("first line of that file"));
}
