use chrono::NaiveDate;

use super::support::{demo, fixture};
use crate::billing::{BillingError, BillingSource, FilesSource, PayerKind, ServiceStatus};

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn source() -> FilesSource {
    FilesSource::open(&demo()).unwrap()
}

#[test]
fn client_101_has_two_users_owner_first_and_one_company_payer() {
    let s = source();
    let c = s.client("101").unwrap();
    assert_eq!(c.name, "ООО «Ромашка»");
    assert_eq!(c.country.as_deref(), Some("Россия"));
    assert_eq!(c.registered_at.unwrap().to_string(), "2024-02-10 10:15:00");
    let ids: Vec<_> = c.users.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, ["201", "202"]);
    assert_ne!(c.users[0].phone, c.users[1].phone);
    assert_ne!(c.users[0].email, c.users[1].email);
    assert_eq!(c.users[0].marketing_consent, Some(true));
    assert_eq!(c.users[1].marketing_consent, Some(false));
    let payers = s.payers_of("101").unwrap();
    assert_eq!(payers.len(), 1);
    assert_eq!(payers[0].kind, PayerKind::Company);
    assert_eq!(payers[0].inn.as_deref(), Some("7701234567"));
}

#[test]
fn clients_102_and_103_pay_through_the_same_organisation() {
    let s = source();
    let a = s.payers_of("102").unwrap();
    let b = s.payers_of("103").unwrap();
    assert_eq!((a.len(), b.len()), (1, 1));
    assert_ne!(a[0].id, b[0].id);
    assert_eq!(a[0].inn, b[0].inn);
    assert_eq!(s.payer("303").unwrap().client_id, "103");
}

#[test]
fn individual_client_104_trial_then_reorder_30_days_later() {
    let s = source();
    let c = s.client("104").unwrap();
    assert_eq!(c.users[0].phone.as_deref(), Some("8 (916) 123-45-67"));
    assert!(s.payers_of("104").unwrap().is_empty());
    let sv = s.services_of("104").unwrap();
    assert_eq!(sv.len(), 2);
    let (trial, paid) = (&sv[0], &sv[1]);
    assert!(trial.trial && !paid.trial);
    assert_eq!(trial.product, paid.product);
    let gap = paid.created_at.unwrap() - trial.created_at.unwrap();
    assert_eq!(gap.num_days(), 30);
    assert_eq!(trial.payer_id, None);
}

#[test]
fn website_order_with_marketing_attributes() {
    let sv = source().service("407").unwrap();
    assert_eq!(sv.client_id, "105", "the account column's $orig is the id");
    assert_eq!(sv.attrs["source"], "site");
    assert_eq!(sv.attrs["utm_source"], "yandex");
    assert_eq!(sv.attrs["roistat_visit"], "123456");
    assert_eq!(sv.cost, Some(1490.0));
    assert_eq!(sv.status, ServiceStatus::Active);
}

#[test]
fn every_status_is_represented() {
    let s = source();
    let st = |id: &str| s.service(id).unwrap().status;
    assert_eq!(st("409"), ServiceStatus::Suspended);
    assert_eq!(st("410"), ServiceStatus::Deleted);
    assert_eq!(st("411"), ServiceStatus::Ordered);
    assert_eq!(st("412"), ServiceStatus::Processing);
}

#[test]
fn unknown_ids_are_not_found() {
    let s = source();
    let e = s.client("999").unwrap_err();
    assert!(matches!(&e, BillingError::NotFound { entity: "client", id } if id == "999"));
    assert!(matches!(
        s.service("999"),
        Err(BillingError::NotFound {
            entity: "service",
            ..
        })
    ));
    assert!(matches!(
        s.payer("999"),
        Err(BillingError::NotFound {
            entity: "payer",
            ..
        })
    ));
    assert!(matches!(
        s.client("../item"),
        Err(BillingError::NotFound { .. })
    ));
}

#[test]
fn backfill_ids_since() {
    let s = source();
    assert_eq!(
        s.client_ids_since(date(2025, 1, 1)).unwrap(),
        ["103", "104", "105"]
    );
    assert_eq!(s.client_ids_since(date(2000, 1, 1)).unwrap().len(), 6);
    assert_eq!(
        s.service_ids_since(date(2026, 1, 1)).unwrap(),
        ["411", "412"]
    );
    // The packed lists a backfill keeps hold the same ids, in the same order.
    let packed = s.client_id_list(date(2025, 1, 1)).unwrap();
    assert_eq!(packed.iter().collect::<Vec<_>>(), ["103", "104", "105"]);
    assert!(packed.contains_sorted("104") && !packed.contains_sorted("102"));
    let packed = s.service_id_list(date(2026, 1, 1)).unwrap();
    assert_eq!(packed.iter().collect::<Vec<_>>(), ["411", "412"]);
}

#[test]
fn one_client_sync_reads_each_list_once() {
    let s = source();
    for _ in 0..2 {
        s.client("101").unwrap();
        s.payers_of("101").unwrap();
        s.services_of("101").unwrap();
        s.service("401").unwrap();
        s.payer("301").unwrap();
    }
    assert_eq!(
        s.calls(),
        6,
        "account, account.edit, user, profile, profile.edit 301, item"
    );
}

#[test]
fn quirks_single_objects_arrays_and_odd_values() {
    let s = FilesSource::open(&fixture("quirks")).unwrap();
    let c = s.client("1").unwrap();
    assert_eq!(c.country.as_deref(), Some("182"));
    assert_eq!(c.registered_at.unwrap().to_string(), "2025-05-05 00:00:00");
    assert_eq!(c.users.len(), 1);
    assert_eq!(c.users[0].email.as_deref(), Some("owner@quirk.example"));
    assert_eq!(c.users[0].marketing_consent, Some(false));
    assert!(matches!(s.client("2"), Err(BillingError::NotFound { .. })));
    assert!(matches!(s.client("3"), Err(BillingError::NotFound { .. })));
    assert!(s.payers_of("1").unwrap().is_empty());
    let sv = s.services_of("1").unwrap();
    let ids: Vec<_> = sv.iter().map(|x| x.id.as_str()).collect();
    assert_eq!(ids, ["9", "20", "30"]);
    assert_eq!(sv[0].status, ServiceStatus::Unknown);
    assert_eq!(sv[0].cost, Some(15.0));
    assert!(
        sv[0].created_at.is_some(),
        "opendate when createdate is absent"
    );
    assert!(sv[1].trial);
    assert_eq!(sv[1].cost, Some(1200.5));
    assert_eq!(sv[1].payer_id, None);
    assert_eq!(sv[2].created_at, None);
    assert_eq!(s.service_ids_since(date(2025, 1, 1)).unwrap(), ["9", "20"]);
    assert_eq!(s.client_ids_since(date(2025, 1, 1)).unwrap(), ["1"]);
}

#[test]
fn malformed_answers_are_malformed_errors() {
    let s = FilesSource::open(&fixture("malformed")).unwrap();
    let is_malformed = |r: Result<(), BillingError>, what: &str| {
        assert!(
            matches!(r, Err(BillingError::Malformed { .. })),
            "{what}: {r:?}"
        );
    };
    is_malformed(s.client("1").map(drop), "truncated form");
    is_malformed(s.client("2").map(drop), "HTML user list");
    is_malformed(s.payers_of("1").map(drop), "non-UTF-8 payers");
    is_malformed(s.services_of("1").map(drop), "elem is a string");
    is_malformed(s.client_ids_since(date(2020, 1, 1)).map(drop), "array root");
}

#[test]
fn error_documents_map_to_typed_errors() {
    let s = FilesSource::open(&fixture("errors")).unwrap();
    assert!(matches!(
        s.client("1"),
        Err(BillingError::AccessDenied { .. })
    ));
    let e = s.payers_of("1").unwrap_err();
    assert!(
        matches!(&e, BillingError::Panel { kind, .. } if kind == "value"),
        "{e:?}"
    );
    let e = s.service("5").unwrap_err();
    assert!(
        matches!(&e, BillingError::Panel { kind, .. } if kind == "missed"),
        "{e:?}"
    );
    assert!(e.to_string().contains("could not find function"), "{e}");
}

#[test]
fn missing_directory_and_function() {
    let e = FilesSource::open(&demo().join("nope")).err().unwrap();
    assert!(matches!(e, BillingError::Unreachable { .. }));
    let empty = FilesSource::open(&fixture("errors").join("account.edit")).unwrap();
    let e = empty.services_of("1").unwrap_err();
    assert!(matches!(e, BillingError::Panel { .. }), "{e:?}");
}
