//! Scalar values as BILLmanager writes them: dates, money, flags, status codes.
//!
//! The panel formats values for people (`1 200.00 RUB`, `Active`) unless a raw `$orig` is
//! given, and installations differ in locale, so each reader accepts every spelling listed
//! in `docs/billmanager.md` §13 and returns `None` rather than guessing.

use chrono::{NaiveDate, NaiveDateTime};

use super::model::{Attrs, PayerKind, ServiceStatus};

/// The first non-empty value among `names` (BILLmanager versions differ in field names).
pub fn first<'a>(attrs: &'a Attrs, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .filter_map(|n| attrs.get(*n))
        .map(|v| v.trim())
        .find(|v| !v.is_empty())
}

/// A date or time: `YYYY-MM-DD HH:MM:SS`, `YYYY-MM-DD HH:MM`, `YYYY-MM-DD` (midnight), or
/// the Russian display form `DD.MM.YYYY`. `0000-00-00` (BILLmanager's "never") is `None`.
pub fn datetime(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t);
        }
    }
    ["%Y-%m-%d", "%d.%m.%Y"]
        .iter()
        .find_map(|fmt| NaiveDate::parse_from_str(s, fmt).ok())
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

/// An amount: `1200.00` (`$orig`), `1 200.00 RUB`, `1 200,50 руб.`, `1,200.50 USD`; the
/// first number in the text counts and the currency is dropped.
pub fn money(s: &str) -> Option<f64> {
    let start = s.find(|c: char| c.is_ascii_digit() || c == '-')?;
    let run: String = s[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | ',' | '-') || c.is_whitespace())
        .filter(|c| !c.is_whitespace())
        .collect();
    let run = run.trim_end_matches(['.', ',']);
    let normal = match (run.rfind('.'), run.rfind(',')) {
        (Some(d), Some(c)) if c > d => run.replace('.', "").replace(',', "."),
        (Some(_), Some(_)) => run.replace(',', ""),
        (None, Some(_)) => run.replace(',', "."),
        _ => run.to_string(),
    };
    normal.parse().ok().filter(|v: &f64| v.is_finite())
}

/// A yes/no flag: `on|off`, `yes|no`, `true|false`, `1|0` (BILLmanager checkboxes are
/// `on`/`off`); anything else is unknown.
pub fn flag(s: &str) -> Option<bool> {
    match s.trim().to_lowercase().as_str() {
        "on" | "yes" | "true" | "1" | "да" => Some(true),
        "off" | "no" | "false" | "0" | "нет" => Some(false),
        _ => None,
    }
}

/// `item.status`: codes 1 ordered, 2 active, 3 suspended, 4 deleted, 5 processing
/// (UNCONFIRMED, `docs/billmanager.md` §4.4), or the state's English/Russian word.
pub fn status(s: &str) -> ServiceStatus {
    let s = s.trim().to_lowercase();
    match s.as_str() {
        "1" | "ordered" | "order" | "заказана" | "заказан" => ServiceStatus::Ordered,
        "2" | "active" | "активна" | "активен" => ServiceStatus::Active,
        "3" | "suspended" | "stopped" | "остановлена" | "приостановлена" => {
            ServiceStatus::Suspended
        }
        "4" | "deleted" | "closed" | "удалена" | "закрыта" => ServiceStatus::Deleted,
        "5" | "processing" | "in progress" | "обрабатывается" | "в обработке" => {
            ServiceStatus::Processing
        }
        _ => ServiceStatus::Unknown,
    }
}

/// `profiletype`: 1 individual, 2 legal entity, 3 sole proprietor (§4.3, confirmed), or
/// the words. A missing value means 2, `profile.edit`'s documented default; an
/// unrecognised one is `None`.
pub fn payer_kind(s: Option<&str>) -> Option<PayerKind> {
    let Some(s) = s else {
        return Some(PayerKind::Company);
    };
    match s.trim().to_lowercase().as_str() {
        "1" | "individual" | "person" | "физическое лицо" => {
            Some(PayerKind::Individual)
        }
        "2" | "company" | "legal" | "юридическое лицо" => Some(PayerKind::Company),
        "3" | "sole_proprietor" | "entrepreneur" | "индивидуальный предприниматель" => {
            Some(PayerKind::SoleProprietor)
        }
        _ => None,
    }
}

/// Numeric-aware id order: `9 < 10`, non-numeric ids after numeric ones, by text.
pub fn id_order(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Ok(_), Err(_)) => std::cmp::Ordering::Less,
        (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}
