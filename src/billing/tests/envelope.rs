use crate::billing::envelope::{parse, Call};
use crate::billing::BillingError;

const LIST: Call<'static> = Call {
    func: "item",
    entity: "service",
    elid: None,
};
const FORM: Call<'static> = Call {
    func: "account.edit",
    entity: "client",
    elid: Some("7"),
};

fn rows(text: &str) -> Vec<crate::billing::Attrs> {
    parse(text.as_bytes(), &LIST)
        .unwrap()
        .elems("item")
        .unwrap()
}

#[test]
fn list_rows_prefer_orig_and_accept_plain_strings() {
    let r = rows(
        r#"{"doc":{"p_elems":{"$":"2"},"elem":[
            {"id":{"$":"5"},"cost":{"$":"1 200.00 RUB","$orig":"1200.00"},"name":"plain"},
            {"id":{"$":"6"},"note":{"$":""},"nested":{"$name":"x"}}]}}"#,
    );
    assert_eq!(r.len(), 2);
    assert_eq!(r[0]["id"], "5");
    assert_eq!(r[0]["cost"], "1200.00");
    assert_eq!(r[0]["name"], "plain");
    assert_eq!(r[1]["note"], "");
    assert!(
        !r[1].contains_key("nested"),
        "nodes without text are skipped"
    );
}

#[test]
fn single_element_list_as_object_and_absent_list() {
    let r = rows(r#"{"doc":{"elem":{"id":{"$":"5"}}}}"#);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["id"], "5");
    assert!(rows(r#"{"doc":{"p_elems":{"$":"0"}}}"#).is_empty());
    assert!(rows(r#"{"doc":{"elem":[]}}"#).is_empty());
    assert!(rows(r#"{"doc":null}"#).is_empty());
}

#[test]
fn sjson_arrays_at_every_level() {
    let r = rows(r#"[{"doc":[{"elem":[[{"id":[{"$":"5"}],"n":[7],"b":true}]]}]}]"#);
    assert_eq!(r[0]["id"], "5");
    assert_eq!(r[0]["n"], "7");
    assert_eq!(r[0]["b"], "on");
}

#[test]
fn edit_form_keeps_children_with_text_only() {
    let doc = parse(
        br#"{"doc":{"metadata":{"$name":"f"},"elid":{"$":"7"},"name":{"$":"A"},"slist":[{"$name":"country"}],"$lang":"ru"}}"#,
        &FORM,
    )
    .unwrap();
    let form = doc.form();
    assert_eq!(form.len(), 2, "{form:?}");
    assert_eq!(form["name"], "A");
}

#[test]
fn session_id_of_auth_answer() {
    let doc = parse(
        br#"{"doc":{"auth":{"$id":"abc","$level":"29","$":"abc"}}}"#,
        &LIST,
    )
    .unwrap();
    assert_eq!(doc.session().as_deref(), Some("abc"));
    let doc = parse(br#"{"doc":{}}"#, &LIST).unwrap();
    assert_eq!(doc.session(), None);
}

fn err(text: &str, call: &Call<'_>) -> BillingError {
    parse(text.as_bytes(), call).unwrap_err()
}

#[test]
fn missing_elid_is_not_found_with_entity_and_id() {
    let e = err(
        r#"{"doc":{"error":{"$type":"missed","$object":"elid","msg":{"$":"Object not found"}}}}"#,
        &FORM,
    );
    assert!(
        matches!(&e, BillingError::NotFound { entity: "client", id } if id == "7"),
        "{e:?}"
    );
    let e = err(
        r#"{"doc":{"error":{"$type":"exists","$object":"account","msg":{"$":"Клиент не найден"}}}}"#,
        &FORM,
    );
    assert!(matches!(e, BillingError::NotFound { .. }), "{e:?}");
}

#[test]
fn unknown_function_is_a_panel_error_even_with_elid() {
    let text = r#"{"doc":{"error":{"$type":"missed","$object":"account.edit","msg":{"$":"could not find function 'account.edit'"}}}}"#;
    let e = err(text, &FORM);
    assert!(
        matches!(&e, BillingError::Panel { kind, func, .. } if kind == "missed" && func == "account.edit"),
        "{e:?}"
    );
}

#[test]
fn auth_and_access_errors_are_access_denied() {
    for kind in ["auth", "badauth", "access"] {
        let text = format!(r#"{{"doc":{{"error":{{"$type":"{kind}","msg":{{"$":"no"}}}}}}}}"#);
        let e = err(&text, &FORM);
        assert!(
            matches!(&e, BillingError::AccessDenied { detail } if detail == "no"),
            "{e:?}"
        );
    }
}

#[test]
fn other_errors_are_panel_errors_with_the_message() {
    let e = err(
        r#"{"doc":{"error":{"$type":"value","$object":"x","msg":{"$":"Invalid value"}}}}"#,
        &LIST,
    );
    assert!(matches!(&e, BillingError::Panel { detail, .. } if detail == "Invalid value"));
    // Without an elid in the call, "missed elid" cannot name an entity.
    let e = err(
        r#"{"doc":{"error":{"$type":"missed","$object":"elid"}}}"#,
        &LIST,
    );
    assert!(matches!(e, BillingError::Panel { .. }), "{e:?}");
    // bjson: the error at the top level.
    let e = err(r#"{"error":{"$type":"value","msg":{"$":"top"}}}"#, &LIST);
    assert!(matches!(&e, BillingError::Panel { detail, .. } if detail == "top"));
}

#[test]
fn garbage_is_malformed_never_a_panic() {
    let cases: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"   ".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"123".to_vec(),
        b"\"doc\"".to_vec(),
        b"{}".to_vec(),
        b"{\"doc\": 5}".to_vec(),
        b"{\"doc\": \"x\"}".to_vec(),
        b"<html>login</html>".to_vec(),
        b"{\"doc\": {\"elem\": [{\"id\": {\"$\": \"5\"}}".to_vec(),
        vec![0xff, 0xfe, b'{', b'}'],
        format!("{}{}", "[".repeat(500), "]".repeat(500)).into_bytes(),
    ];
    for bytes in cases {
        match parse(&bytes, &LIST) {
            Err(BillingError::Malformed { func, .. }) => assert_eq!(func, "item"),
            other => panic!("{:?} gave {other:?}", String::from_utf8_lossy(&bytes)),
        }
    }
}

#[test]
fn wrong_types_in_elem_are_malformed() {
    for text in [
        r#"{"doc":{"elem":"oops"}}"#,
        r#"{"doc":{"elem":5}}"#,
        r#"{"doc":{"elem":[{"id":{"$":"1"}}, 7]}}"#,
    ] {
        let doc = parse(text.as_bytes(), &LIST).unwrap();
        assert!(
            matches!(doc.elems("item"), Err(BillingError::Malformed { .. })),
            "{text}"
        );
    }
}

#[test]
fn every_prefix_of_a_document_is_handled() {
    let full = std::fs::read(super::support::demo().join("item.json")).unwrap();
    for end in (0..full.len()).step_by(7) {
        if let Ok(doc) = parse(&full[..end], &LIST) {
            let _ = doc.elems("item");
        }
    }
}

#[test]
fn error_messages_quote_a_short_excerpt() {
    let long = format!("<html>{}</html>", "x".repeat(5000));
    let e = err(&long, &LIST);
    let text = e.to_string();
    assert!(text.len() < 400, "{text}");
    assert!(text.contains("not JSON"), "{text}");
}
