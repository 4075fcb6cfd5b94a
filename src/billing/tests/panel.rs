//! Real panel shapes against the project's assumed ones: owners, payer forms, not-found
//! errors, the streaming list parser, form reuse and parallel reads.

use std::path::Path;

use super::support::{demo, fixture};

/// A private copy of a fixture set.
fn copy_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}
use crate::billing::envelope::{parse, Call};
use crate::billing::{stream, BillingError, BillingSource, CachedForm, FilesSource, PayerKind};

const LIST: Call<'static> = Call {
    func: "item",
    entity: "service",
    elid: None,
};

fn assumed() -> std::path::PathBuf {
    demo().join("../billmanager-assumed")
}

#[test]
fn both_fixture_sets_read_the_same_entities() {
    for dir in [demo(), assumed()] {
        let s = FilesSource::open(&dir).unwrap();
        let c = s.client("101").unwrap();
        let users: Vec<_> = c.users.iter().map(|u| u.id.as_str()).collect();
        assert_eq!(users, ["201", "202"], "{}", dir.display());
        assert!(c.registered_at.is_some(), "{}", dir.display());
        let p = s.payers_of("101").unwrap();
        assert_eq!(p[0].inn.as_deref(), Some("7701234567"), "{}", dir.display());
        assert_eq!(p[0].email.as_deref(), Some("buh@romashka.example"));
        assert_eq!(p[0].person.as_deref(), Some("Иван Петров"));
        let jane = s.payer("305").unwrap();
        assert_eq!(
            (jane.kind, jane.client_id.as_str()),
            (PayerKind::Individual, "106")
        );
        assert_eq!(jane.inn, None, "`vatnum: {{}}` is empty");
        // 403 and 409 name their client only by name in the real set.
        assert_eq!(s.service("403").unwrap().client_id, "102");
        assert_eq!(s.service("409").unwrap().client_id, "106");
        assert!(s.unlinked().is_empty(), "{:?}", s.unlinked());
    }
}

#[test]
fn each_payer_form_is_read_once_per_run() {
    let s = FilesSource::open(&demo()).unwrap();
    for _ in 0..3 {
        s.payers_of("102").unwrap();
        s.payer("302").unwrap();
    }
    // profile list, profile.edit 302 (the account list is not needed: ids in account_id
    // are not used here and payer rows resolve by unique name through it)
    let forms = s.stats().forms;
    assert_eq!(forms, 1);
}

#[test]
fn a_shared_client_name_is_never_guessed() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&demo(), dir.path());
    let path = dir.path().join("account.json");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"Пётр Иванов\"", "\"Jane Doe\"");
    std::fs::write(&path, text).unwrap();
    let s = FilesSource::open(dir.path()).unwrap();
    let e = s.payer("305").unwrap_err();
    assert!(
        matches!(&e, BillingError::Unlinked { entity: "payer", id, .. } if id == "305"),
        "{e:?}"
    );
    assert!(e.to_string().contains("104 and 106"), "{e}");
    assert!(s.payers_of("106").unwrap().is_empty());
    let u = s.unlinked();
    assert!(
        u.iter()
            .any(|u| u.id == "305" && u.candidates == ["104", "106"]),
        "{u:?}"
    );
    // Users carry `account_id`: they stay linked whatever the names.
    assert_eq!(s.client("106").unwrap().users.len(), 2);
}

#[test]
fn missing_objects_are_not_found_whatever_the_error_shape() {
    let form = Call {
        func: "account.edit",
        entity: "client",
        elid: Some("999"),
    };
    for (kind, object) in [("value", "elid"), ("missed", "elid"), ("missed", "users")] {
        let doc = format!(
            r#"{{"doc":{{"error":{{"$type":"{kind}","$object":"{object}","msg":{{"$":"x"}}}}}}}}"#
        );
        let e = parse(doc.as_bytes(), &form).unwrap_err();
        assert!(
            matches!(&e, BillingError::NotFound { id, .. } if id == "999"),
            "{kind}/{object}: {e:?}"
        );
    }
    // An unknown function is not a missing entity, and `value` on another field is not.
    for (kind, object) in [("missed", "account.edit"), ("value", "name")] {
        let doc = format!(
            r#"{{"doc":{{"error":{{"$type":"{kind}","$object":"{object}","msg":{{"$":"x"}}}}}}}}"#
        );
        let e = parse(doc.as_bytes(), &form).unwrap_err();
        assert!(
            matches!(e, BillingError::Panel { .. }),
            "{kind}/{object}: {e:?}"
        );
    }
    // The sources answer a missing form as real panels do.
    for dir in [demo(), assumed()] {
        let s = FilesSource::open(&dir).unwrap();
        assert!(matches!(
            s.client("999"),
            Err(BillingError::NotFound { .. })
        ));
        assert!(matches!(s.payer("999"), Err(BillingError::NotFound { .. })));
    }
}

#[test]
fn the_streaming_parser_reads_what_the_tree_parser_reads() {
    let mut cases: Vec<Vec<u8>> = vec![
        br#"{"doc":{"p_elems":{"$":"2"},"elem":[{"id":{"$":"5"},"cost":{"$":"1 200.00 RUB","$orig":"1200.00"},"name":"plain","e":{}},{"id":{"$":"6"},"note":{"$":""},"nested":{"$name":"x"}}]}}"#.to_vec(),
        br#"{"doc":{"elem":{"id":{"$":"5"}}}}"#.to_vec(),
        br#"{"doc":{"p_elems":{"$":"0"}}}"#.to_vec(),
        br#"{"doc":null}"#.to_vec(),
        br#"[{"doc":[{"elem":[[{"id":[{"$":"5"}],"n":[7],"b":true}]]}]}]"#.to_vec(),
        br#"{"doc":{"error":{"$type":"access","$object":"user","msg":{"$":"no"}}}}"#.to_vec(),
        br#"{"error":{"$type":"value","$object":"x"}}"#.to_vec(),
        br#"{"doc":{"elem":"oops"}}"#.to_vec(),
        br#"{"doc":{"elem":[{"id":{"$":"1"}}, 7]}}"#.to_vec(),
        b"<html>login</html>".to_vec(),
        b"{\"doc\": 5}".to_vec(),
        b"".to_vec(),
    ];
    for name in ["item.json", "user.json", "profile.json", "account.json"] {
        cases.push(std::fs::read(demo().join(name)).unwrap());
        cases.push(std::fs::read(fixture("quirks").join(name)).unwrap());
    }
    for bytes in cases {
        let tree = parse(&bytes, &LIST).and_then(|d| d.elems("item"));
        let streamed = stream::rows(&bytes[..], &LIST);
        match (&tree, &streamed) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{}", String::from_utf8_lossy(&bytes)),
            (Err(a), Err(b)) => assert_eq!(
                std::mem::discriminant(a),
                std::mem::discriminant(b),
                "{a:?} vs {b:?}"
            ),
            _ => panic!(
                "{tree:?} vs {streamed:?} for {}",
                String::from_utf8_lossy(&bytes)
            ),
        }
    }
}

#[test]
fn kept_forms_are_reused_until_their_row_changes_and_prefetch_reads_each_once() {
    let s = FilesSource::open(&demo()).unwrap().tuned(3, 24);
    let ids: Vec<String> = (101..=106).map(|i| i.to_string()).collect();
    s.prefetch(&ids);
    // 6 account.edit + 5 profile.edit, read on 3 threads, each once.
    assert_eq!(s.stats().forms, 11);
    for id in &ids {
        s.client(id).unwrap();
        s.payers_of(id).unwrap();
    }
    assert_eq!(s.stats().forms, 11, "nothing read twice");
    let fresh: Vec<CachedForm> = s.fresh_forms();
    assert_eq!(fresh.len(), 11);
    // The next run starts with them: nothing is read again.
    let next = FilesSource::open(&demo()).unwrap();
    next.preload_forms(fresh.clone());
    for id in &ids {
        next.client(id).unwrap();
        next.payers_of(id).unwrap();
    }
    assert_eq!(next.stats().forms, 0);
    // A form read for another list row (the row changed since) is read again.
    let mut stale = fresh;
    for f in &mut stale {
        f.row_hash = "changed".into();
    }
    let third = FilesSource::open(&demo()).unwrap();
    third.preload_forms(stale);
    third.client("101").unwrap();
    assert_eq!(third.stats().forms, 1);
    // So is one older than the age limit.
    let old = FilesSource::open(&demo()).unwrap().tuned(4, 1);
    let mut aged = next_forms(&demo());
    for f in &mut aged {
        f.fetched_at -= 2 * 3600;
    }
    old.preload_forms(aged);
    old.client("101").unwrap();
    assert_eq!(old.stats().forms, 1);
}

fn next_forms(dir: &Path) -> Vec<CachedForm> {
    let s = FilesSource::open(dir).unwrap();
    s.client("101").unwrap();
    s.fresh_forms()
}

#[test]
fn clients_whose_list_rows_have_what_the_rules_use_need_no_form() {
    let s = FilesSource::open(&demo()).unwrap();
    s.need_client_fields(vec![
        vec!["tz_registration_date".into()],
        vec!["name".into()],
    ]);
    let c = s.client("101").unwrap();
    assert_eq!(c.name, "ООО «Ромашка»");
    assert!(c.registered_at.is_some());
    assert_eq!(s.stats().forms, 0);
    s.need_client_fields(vec![vec!["country".into()]]);
    assert_eq!(s.client("102").unwrap().country.as_deref(), Some("Россия"));
    assert_eq!(s.stats().forms, 1);
}
