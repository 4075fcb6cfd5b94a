//! BILLmanager entities as the sync engine sees them.
//!
//! Each entity keeps its well-known fields typed and **every** raw BILLmanager field in
//! `attrs` (text values, keyed by BILLmanager's own field name), because rule-file
//! conditions and custom-field mappings may name any attribute an installation has.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use serde::Serialize;

/// Raw BILLmanager fields of one entity: field name → text value.
pub type Attrs = BTreeMap<String, String>;

/// A BILLmanager client (`account`): the customer, with its users.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Client {
    /// Client id (`account` elid).
    pub id: String,
    /// Client name (company or person name as BILLmanager shows it).
    pub name: String,
    /// Country (name or directory id, as BILLmanager gives it).
    pub country: Option<String>,
    /// Registration time.
    pub registered_at: Option<NaiveDateTime>,
    /// The client's users; the first is the owner (superuser).
    pub users: Vec<User>,
    /// Every raw field.
    pub attrs: Attrs,
}

/// A user of a client (`user`): a person who becomes an amoCRM contact.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    /// User id.
    pub id: String,
    /// The client it belongs to.
    pub client_id: String,
    /// Full name (`realname`), may be empty.
    pub realname: String,
    /// E-mail.
    pub email: Option<String>,
    /// Phone as typed (normalised later).
    pub phone: Option<String>,
    /// Agreed to marketing e-mails.
    pub marketing_consent: Option<bool>,
    /// Every raw field.
    pub attrs: Attrs,
}

/// Payer kind (`profiletype`: 1 individual, 2 legal entity, 3 sole proprietor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PayerKind {
    /// `profiletype = 1`.
    Individual,
    /// `profiletype = 2`.
    Company,
    /// `profiletype = 3` (ИП).
    SoleProprietor,
}

/// A payer (`profile`): becomes an amoCRM company.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Payer {
    /// Payer id.
    pub id: String,
    /// Owning client.
    pub client_id: String,
    /// Payer name (organisation or person).
    pub name: String,
    /// Kind.
    pub kind: PayerKind,
    /// Taxpayer id (INN); payers with the same INN share one company.
    pub inn: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Contact person (`profile.edit` `person`).
    pub person: Option<String>,
    /// Every raw field.
    pub attrs: Attrs,
}

/// Service life-cycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceStatus {
    /// Ordered, not yet active (unpaid or being processed).
    Ordered,
    /// Active.
    Active,
    /// Suspended.
    Suspended,
    /// Deleted/closed.
    Deleted,
    /// Being processed (opening, changing).
    Processing,
    /// A state this build does not know.
    Unknown,
}

/// A service/order (`item`, or a per-type list such as `vds`): becomes an amoCRM lead.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Service {
    /// Service id.
    pub id: String,
    /// Owning client.
    pub client_id: String,
    /// Product (tariff/pricelist) name.
    pub product: String,
    /// Product type internal name (`vds`, `vhost`, `domain`, …).
    pub item_type: Option<String>,
    /// Price per period.
    pub cost: Option<f64>,
    /// State.
    pub status: ServiceStatus,
    /// Trial (`period = -100`).
    pub trial: bool,
    /// When it was ordered/opened.
    pub created_at: Option<NaiveDateTime>,
    /// When it expires.
    pub expires_at: Option<NaiveDateTime>,
    /// The payer, if BILLmanager records one for this service.
    pub payer_id: Option<String>,
    /// The user who ordered it, if known; otherwise the client's owner.
    pub user_id: Option<String>,
    /// Every raw field.
    pub attrs: Attrs,
}

/// A row the reader could not tie to its client (or date), so the engine can report it
/// instead of dropping it: the run names the entity and the reason and ends "partial".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unlinked {
    /// `user`, `payer`, `service` or `client`.
    pub entity: &'static str,
    /// The row's id.
    pub id: String,
    /// Why, naming the field and the clients involved.
    pub reason: String,
    /// Clients the row may belong to (two or more for a shared name; empty when none).
    pub candidates: Vec<String>,
}

/// What reading the panel cost in this run: for the summary, `--json` and the benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PanelStats {
    /// Calls that reached mgrctl, the API or the fixture directory.
    pub calls: u64,
    /// Wall time spent in those calls, in milliseconds (summed over parallel calls).
    pub millis: u64,
    /// Edit forms read (a subset of `calls`).
    pub forms: u64,
}
