//! Raw BILLmanager fields ([`Attrs`]) → the typed entities of [`super::model`].
//!
//! The field names below are the reading contract documented in `docs/billmanager.md` §13.
//! Where BILLmanager versions (or the list vs. the edit form) name a field differently, each
//! constant lists every accepted spelling, first match wins; change them here, in one place,
//! when a real panel disagrees. Every raw field is kept in `attrs` either way, so rule
//! conditions can still name whatever an installation has.

use super::model::{Attrs, Client, Payer, Service, User};
use super::values::{datetime, first, flag, money, payer_kind, status};

/// The owning client's id in a user, payer or service row: `account_id` (the `user` list,
/// facts D6), then `account` when it is numeric (its `$orig` wins when given; the DB
/// column and the `item` list, UNCONFIRMED), then `client` (UNCONFIRMED). A non-numeric
/// `account` is the client's NAME (the `profile` list, facts D4): see [`owner`].
pub const OWNER_ID: &[&str] = &["account_id", "account", "client"];
/// Client registration time: `tz_registration_date` in the `account` list (confirmed,
/// facts D1); `registration_date` in `account.edit` and `regdate` are UNCONFIRMED names.
pub const REGISTERED: &[&str] = &["registration_date", "tz_registration_date", "regdate"];
/// The payer's tax number: `vatnum` in `profile.edit` (confirmed, facts D5); `inn` is the
/// project's earlier assumed name (UNCONFIRMED), still accepted.
pub const INN: &[&str] = &["vatnum", "inn"];
/// Payer fields that live in `profile.edit` rather than in the `profile` list on real
/// panels (facts D5): when a list row has none of them, the form is read.
pub const PAYER_DETAILS: &[&str] = &["vatnum", "inn", "email", "phone"];
/// The payer's contact person (`profile.edit`).
pub const PERSON: &[&str] = &["person", "contact_person"];
/// Marketing consent on a user (UNCONFIRMED names).
pub const CONSENT: &[&str] = &["sendnews", "newsletter", "marketing_consent"];
/// When a service was ordered; `opendate` is empty until it is opened.
pub const CREATED: &[&str] = &["createdate", "create_date", "opendate"];
/// When a service expires.
pub const EXPIRES: &[&str] = &["expiredate", "expire_date"];
/// Price per period (`item_cost` in per-type lists such as `vds`).
pub const COST: &[&str] = &["cost", "item_cost"];
/// The payer recorded on a service (UNCONFIRMED names).
pub const SERVICE_PAYER: &[&str] = &["payer", "profile"];
/// The user who ordered a service (UNCONFIRMED name).
pub const SERVICE_USER: &[&str] = &["user"];
/// A trial service has this `period` (confirmed for the DB, §4.4).
pub const TRIAL_PERIOD: &str = "-100";

/// The id of a row: `id`, or `elid` in some versions.
pub fn row_id(attrs: &Attrs) -> Option<&str> {
    first(attrs, &["id", "elid"])
}

/// Who owns a row, as far as the row itself says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner<'a> {
    /// The client's id.
    Id(&'a str),
    /// Only the client's name (to be matched against the `account` list).
    Name(&'a str),
    /// No owner field at all.
    Missing,
}

/// The owner of a user, payer or service row: the first numeric value of [`OWNER_ID`],
/// else a non-numeric `account` as the client's name.
pub fn owner(attrs: &Attrs) -> Owner<'_> {
    let numeric = |v: &&str| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
    if let Some(id) = OWNER_ID
        .iter()
        .filter_map(|n| first(attrs, &[n]))
        .find(numeric)
    {
        return Owner::Id(id);
    }
    match first(attrs, &["account"]) {
        Some(name) => Owner::Name(name),
        None => Owner::Missing,
    }
}

/// A client from its `account.edit` form (or `account` list row); `id` is the id asked
/// for, used when the form does not repeat it. Users are attached by the caller.
pub fn client(id: &str, attrs: Attrs) -> Result<Client, String> {
    let name = first(&attrs, &["name"])
        .ok_or("the client has no `name`")?
        .to_string();
    Ok(Client {
        id: row_id(&attrs).unwrap_or(id).to_string(),
        name,
        country: first(&attrs, &["country"]).map(str::to_string),
        registered_at: first(&attrs, REGISTERED).and_then(datetime),
        users: Vec::new(),
        attrs,
    })
}

/// A user from a `user` list row owned by `client_id` (resolved by the reader). The login
/// (`name`) is the e-mail when `email` is absent.
pub fn user(attrs: Attrs, client_id: &str) -> Result<User, String> {
    let id = row_id(&attrs).ok_or("a user row has no `id`")?.to_string();
    let client_id = client_id.to_string();
    let email = first(&attrs, &["email"])
        .or_else(|| first(&attrs, &["name"]).filter(|n| n.contains('@')))
        .map(str::to_string);
    Ok(User {
        realname: first(&attrs, &["realname"]).unwrap_or_default().to_string(),
        phone: first(&attrs, &["phone"]).map(str::to_string),
        marketing_consent: first(&attrs, CONSENT).and_then(flag),
        id,
        client_id,
        email,
        attrs,
    })
}

/// Whether a user row is the client's owner (`superuser`, the first user registered).
pub fn is_owner(user: &User) -> bool {
    first(&user.attrs, &["superuser", "default"])
        .and_then(flag)
        .unwrap_or(false)
}

/// A payer from a `profile` list row (merged with its `profile.edit` form when the list
/// lacks the details) owned by `client_id`.
pub fn payer(attrs: Attrs, client_id: &str) -> Result<Payer, String> {
    let id = row_id(&attrs).ok_or("a payer row has no `id`")?.to_string();
    let client_id = client_id.to_string();
    let raw_kind = first(&attrs, &["profiletype"]);
    let kind = payer_kind(raw_kind).ok_or_else(|| {
        format!(
            "payer {id} has profiletype `{}`; expected 1, 2 or 3",
            raw_kind.unwrap_or_default()
        )
    })?;
    Ok(Payer {
        name: first(&attrs, &["name"]).unwrap_or_default().to_string(),
        inn: first(&attrs, INN).map(str::to_string),
        email: first(&attrs, &["email"]).map(str::to_string),
        phone: first(&attrs, &["phone"]).map(str::to_string),
        person: first(&attrs, PERSON).map(str::to_string),
        id,
        client_id,
        kind,
        attrs,
    })
}

/// A service from an `item` list row owned by `client_id`.
pub fn service(attrs: Attrs, client_id: &str) -> Result<Service, String> {
    let id = row_id(&attrs)
        .ok_or("a service row has no `id`")?
        .to_string();
    let client_id = client_id.to_string();
    let product = first(&attrs, &["pricelist", "pricelist_name", "name"])
        .ok_or_else(|| format!("service {id} has no `pricelist`"))?
        .to_string();
    Ok(Service {
        item_type: first(&attrs, &["itemtype", "intname"]).map(str::to_string),
        cost: first(&attrs, COST).and_then(money),
        status: status(first(&attrs, &["status"]).unwrap_or_default()),
        trial: first(&attrs, &["period"]) == Some(TRIAL_PERIOD),
        created_at: first(&attrs, CREATED).and_then(datetime),
        expires_at: first(&attrs, EXPIRES).and_then(datetime),
        payer_id: reference(&attrs, SERVICE_PAYER),
        user_id: reference(&attrs, SERVICE_USER),
        id,
        client_id,
        product,
        attrs,
    })
}

/// An optional link to another row; `0` means "none" in BILLmanager's tables.
fn reference(attrs: &Attrs, names: &[&str]) -> Option<String> {
    first(attrs, names)
        .filter(|v| *v != "0")
        .map(str::to_string)
}
