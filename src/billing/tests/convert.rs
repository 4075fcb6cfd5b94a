use super::support::attrs;
use crate::billing::convert;
use crate::billing::{PayerKind, ServiceStatus};

#[test]
fn client_uses_the_asked_id_when_the_form_has_none() {
    let c = convert::client("5", attrs(&[("name", "A"), ("regdate", "2024-01-02")])).unwrap();
    assert_eq!(c.id, "5");
    assert!(c.registered_at.is_some());
    assert!(c.users.is_empty());
    assert!(convert::client("5", attrs(&[("country", "x")])).is_err());
}

#[test]
fn user_email_falls_back_to_the_login() {
    let u = convert::user(attrs(&[("id", "1"), ("name", "a@b.example")]), "5").unwrap();
    assert_eq!(u.email.as_deref(), Some("a@b.example"));
    assert_eq!(u.client_id, "5");
    assert_eq!(u.realname, "");
    assert_eq!(u.marketing_consent, None);
    let u = convert::user(attrs(&[("id", "1"), ("name", "login")]), "5").unwrap();
    assert_eq!(u.email, None);
    let u = convert::user(attrs(&[("id", "1"), ("newsletter", "yes")]), "5").unwrap();
    assert_eq!(u.marketing_consent, Some(true));
    assert!(
        convert::user(attrs(&[("name", "x")]), "5").is_err(),
        "a user needs an id"
    );
}

#[test]
fn owner_prefers_account_id_then_a_numeric_account_then_the_name() {
    use convert::Owner;
    // Real `user` rows: `account` is the client's name, `account_id` its id (facts D6).
    let real = attrs(&[("account", "ООО «Ромашка»"), ("account_id", "101")]);
    assert_eq!(convert::owner(&real), Owner::Id("101"));
    // The assumed shapes: the id in `account` (or its `$orig`, flattened already).
    assert_eq!(
        convert::owner(&attrs(&[("account", "101")])),
        Owner::Id("101")
    );
    // Real `profile` rows: only the name (facts D4).
    assert_eq!(
        convert::owner(&attrs(&[("account", "Jane Doe")])),
        Owner::Name("Jane Doe")
    );
    assert_eq!(convert::owner(&attrs(&[("client", "7")])), Owner::Id("7"));
    assert_eq!(convert::owner(&attrs(&[("name", "x")])), Owner::Missing);
}

#[test]
fn payer_kind_and_bad_profiletype() {
    let p = convert::payer(
        attrs(&[("id", "3"), ("profiletype", "3"), ("inn", "123")]),
        "5",
    )
    .unwrap();
    assert_eq!(p.kind, PayerKind::SoleProprietor);
    assert_eq!(p.inn.as_deref(), Some("123"));
    // The real field (`profile.edit` `vatnum`, facts D5) wins over the assumed `inn`.
    let p = convert::payer(
        attrs(&[("id", "3"), ("vatnum", "7701234567"), ("person", "Иван")]),
        "5",
    )
    .unwrap();
    assert_eq!(p.inn.as_deref(), Some("7701234567"));
    assert_eq!(p.person.as_deref(), Some("Иван"));
    let e = convert::payer(attrs(&[("id", "3"), ("profiletype", "x")]), "5").unwrap_err();
    assert!(e.contains("profiletype"), "{e}");
}

#[test]
fn service_fields() {
    let s = convert::service(
        attrs(&[
            ("id", "9"),
            ("account", "5"),
            ("pricelist", "VPS-1"),
            ("itemtype", "vds"),
            ("status", "2"),
            ("period", "-100"),
            ("opendate", "2025-01-01 10:00"),
            ("expiredate", "2025-01-15"),
            ("cost", "590.00"),
            ("payer", "0"),
            ("user", "7"),
            ("utm_source", "google"),
        ]),
        "5",
    )
    .unwrap();
    assert!(s.trial);
    assert_eq!(s.status, ServiceStatus::Active);
    assert_eq!(s.cost, Some(590.0));
    assert_eq!(s.payer_id, None, "payer 0 means none");
    assert_eq!(s.user_id.as_deref(), Some("7"));
    assert_eq!(s.item_type.as_deref(), Some("vds"));
    assert!(s.created_at.is_some() && s.expires_at.is_some());
    assert_eq!(s.attrs["utm_source"], "google");
    let e = convert::service(attrs(&[("id", "9"), ("account", "5")]), "5").unwrap_err();
    assert!(e.contains("pricelist"), "{e}");
}
