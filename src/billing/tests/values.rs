use chrono::{NaiveDate, NaiveDateTime};

use crate::billing::values::{datetime, flag, id_order, money, payer_kind, status};
use crate::billing::{PayerKind, ServiceStatus};

fn at(d: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(d, "%Y-%m-%d %H:%M:%S").unwrap()
}

#[test]
fn dates_in_every_accepted_form() {
    assert_eq!(
        datetime("2025-03-01 08:10:05"),
        Some(at("2025-03-01 08:10:05"))
    );
    assert_eq!(
        datetime("2025-03-01 08:10"),
        Some(at("2025-03-01 08:10:00"))
    );
    assert_eq!(datetime(" 2025-03-01 "), Some(at("2025-03-01 00:00:00")));
    assert_eq!(datetime("01.03.2025"), Some(at("2025-03-01 00:00:00")));
    for bad in [
        "",
        "0000-00-00",
        "0000-00-00 00:00:00",
        "yesterday",
        "2025-13-01",
    ] {
        assert_eq!(datetime(bad), None, "{bad}");
    }
    assert_eq!(
        datetime("2025-03-01").map(|t| t.date()),
        NaiveDate::from_ymd_opt(2025, 3, 1)
    );
}

#[test]
fn money_with_spaces_commas_and_currency() {
    assert_eq!(money("1200.00"), Some(1200.0));
    assert_eq!(money("1 200.00 RUB"), Some(1200.0));
    assert_eq!(money("1\u{a0}200,50 руб."), Some(1200.5));
    assert_eq!(money("1,200.50 USD"), Some(1200.5));
    assert_eq!(money("1.200,50 EUR"), Some(1200.5));
    assert_eq!(money("-590.00 RUB"), Some(-590.0));
    assert_eq!(money("15"), Some(15.0));
    assert_eq!(money(""), None);
    assert_eq!(money("free"), None);
}

#[test]
fn flags() {
    for yes in ["on", "ON", "yes", "true", "1"] {
        assert_eq!(flag(yes), Some(true), "{yes}");
    }
    for no in ["off", "no", "false", "0"] {
        assert_eq!(flag(no), Some(false), "{no}");
    }
    assert_eq!(flag("maybe"), None);
}

#[test]
fn status_codes_and_words() {
    assert_eq!(status("1"), ServiceStatus::Ordered);
    assert_eq!(status("2"), ServiceStatus::Active);
    assert_eq!(status("Active"), ServiceStatus::Active);
    assert_eq!(status("3"), ServiceStatus::Suspended);
    assert_eq!(status("4"), ServiceStatus::Deleted);
    assert_eq!(status("closed"), ServiceStatus::Deleted);
    assert_eq!(status("5"), ServiceStatus::Processing);
    assert_eq!(status("7"), ServiceStatus::Unknown);
    assert_eq!(status(""), ServiceStatus::Unknown);
}

#[test]
fn payer_kinds() {
    assert_eq!(payer_kind(Some("1")), Some(PayerKind::Individual));
    assert_eq!(payer_kind(Some("2")), Some(PayerKind::Company));
    assert_eq!(payer_kind(Some("3")), Some(PayerKind::SoleProprietor));
    assert_eq!(payer_kind(None), Some(PayerKind::Company));
    assert_eq!(payer_kind(Some("9")), None);
}

#[test]
fn ids_order_numerically() {
    let mut ids = vec!["10", "9", "abc", "101"];
    ids.sort_by(|a, b| id_order(a, b));
    assert_eq!(ids, ["9", "10", "101", "abc"]);
}
