//! Flattening BILLmanager entities into the facts rules talk about.
//!
//! Every raw BILLmanager field is available as `<prefix>.<field>`; the typed fields are
//! added under stable names (`service.product`, `service.trial`, `user.phone`, …) and win
//! over raw fields of the same name, so rules keep working across BILLmanager versions.

use crate::billing::{Client, Payer, PayerKind, Service, ServiceStatus, User};
use crate::rules::condition::Facts;

fn put_raw(f: &mut Facts, prefix: &str, attrs: &crate::billing::Attrs) {
    for (k, v) in attrs {
        f.insert(format!("{prefix}.{k}"), v.clone());
    }
}

fn put(f: &mut Facts, key: &str, v: Option<String>) {
    if let Some(v) = v {
        f.insert(key.to_string(), v);
    }
}

fn date(d: &Option<chrono::NaiveDateTime>) -> Option<String> {
    d.map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// Adds `client.*`.
pub fn client(f: &mut Facts, c: &Client) {
    put_raw(f, "client", &c.attrs);
    put(f, "client.id", Some(c.id.clone()));
    put(f, "client.name", Some(c.name.clone()));
    put(f, "client.country", c.country.clone());
    put(f, "client.registered_at", date(&c.registered_at));
}

/// Adds `user.*`.
pub fn user(f: &mut Facts, u: &User) {
    put_raw(f, "user", &u.attrs);
    put(f, "user.id", Some(u.id.clone()));
    put(f, "user.realname", Some(u.realname.clone()));
    put(f, "user.email", u.email.clone());
    put(f, "user.phone", u.phone.clone());
    put(
        f,
        "user.marketing_consent",
        u.marketing_consent.map(|b| b.to_string()),
    );
}

/// Adds `payer.*`.
pub fn payer(f: &mut Facts, p: &Payer) {
    put_raw(f, "payer", &p.attrs);
    put(f, "payer.id", Some(p.id.clone()));
    put(f, "payer.name", Some(p.name.clone()));
    let kind = match p.kind {
        PayerKind::Individual => "individual",
        PayerKind::Company => "company",
        PayerKind::SoleProprietor => "sole_proprietor",
    };
    put(f, "payer.kind", Some(kind.into()));
    put(f, "payer.inn", p.inn.clone());
    put(f, "payer.email", p.email.clone());
    put(f, "payer.phone", p.phone.clone());
    put(f, "payer.person", p.person.clone());
}

/// Adds `service.*`.
pub fn service(f: &mut Facts, s: &Service) {
    put_raw(f, "service", &s.attrs);
    put(f, "service.id", Some(s.id.clone()));
    put(f, "service.product", Some(s.product.clone()));
    put(f, "service.item_type", s.item_type.clone());
    put(f, "service.cost", s.cost.map(|c| format!("{c:.2}")));
    let status = match s.status {
        ServiceStatus::Ordered => "ordered",
        ServiceStatus::Active => "active",
        ServiceStatus::Suspended => "suspended",
        ServiceStatus::Deleted => "deleted",
        ServiceStatus::Processing => "processing",
        ServiceStatus::Unknown => "unknown",
    };
    put(f, "service.status", Some(status.into()));
    put(f, "service.trial", Some(s.trial.to_string()));
    put(f, "service.created_at", date(&s.created_at));
    put(f, "service.expires_at", date(&s.expires_at));
}

/// Fills `{prefix.attr}` placeholders; unknown ones become empty.
pub fn render(template: &str, f: &Facts) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        match rest[start..].find('}') {
            Some(end) => {
                let key = &rest[start + 1..start + end];
                out.push_str(f.get(key).map(String::as_str).unwrap_or(""));
                rest = &rest[start + end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.trim().to_string()
}
