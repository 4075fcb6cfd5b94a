//! Reading BILLmanager: the [`BillingSource`] trait and its implementations.
//!
//! The engine never knows how BILLmanager is read; it asks a `BillingSource`. Three
//! implementations exist, chosen by `[billmanager] source`: `mgrctl` (a subprocess on the
//! panel host), `api` (the HTTP API) and `files` (a directory of JSON documents in
//! BILLmanager's own shapes, for the demo, dry runs and tests). All three parse the same
//! envelope (`docs/billmanager.md` §3).
//!
//! They share one reader: [`PanelReader`] decides which BILLmanager functions to call,
//! parses ([`envelope`]), converts ([`convert`], [`values`]) and caches, while a
//! [`Transport`] (mgrctl, HTTP, files) only moves one call's bytes. [`open`] builds the
//! source the rule file names. The reading contract (functions, field names, UNCONFIRMED
//! choices) is `docs/billmanager.md` §13.

mod api;
mod clock;
pub mod convert;
pub mod envelope;
mod error;
mod files;
mod forms;
mod ids;
mod list;
pub mod mask;
mod mgrctl;
pub mod model;
mod open;
mod reader;
mod scratch;
pub mod stream;
mod transport;
pub mod values;

#[cfg(test)]
mod tests;

pub use crate::store::CachedForm;
pub use api::{ApiSource, ApiTransport};
pub use clock::{panel_now, panel_time};
pub use error::BillingError;
pub use files::{FilesSource, FilesTransport};
pub use ids::IdList;
pub use mgrctl::{MgrctlSource, MgrctlTransport};
pub use model::{
    Attrs, Client, PanelStats, Payer, PayerKind, Service, ServiceStatus, Unlinked, User,
};
pub use open::open;
pub use reader::PanelReader;
pub use transport::{Params, Transport};

/// One panel function's answer as `check` and `capture` see it.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The function called (`account`, `account.edit`, …).
    pub func: String,
    /// The `elid` asked for (forms).
    pub elid: Option<String>,
    /// Field names that carry text in at least one row (or in the form).
    pub fields: std::collections::BTreeSet<String>,
    /// The raw answer as the panel printed it.
    pub raw: Vec<u8>,
    /// Why the answer could not be read.
    pub error: Option<String>,
}

/// Where BILLmanager data comes from. `Sync`: a backfill reads the next chunk's forms on
/// other threads while the current chunk is written to amoCRM.
pub trait BillingSource: Sync {
    /// A client with its users; `BillingError::NotFound` when there is no such client.
    fn client(&self, id: &str) -> Result<Client, BillingError>;
    /// A payer.
    fn payer(&self, id: &str) -> Result<Payer, BillingError>;
    /// The payers of a client (may be empty).
    fn payers_of(&self, client_id: &str) -> Result<Vec<Payer>, BillingError>;
    /// A service.
    fn service(&self, id: &str) -> Result<Service, BillingError>;
    /// The services of a client (to find re-orders of the same product).
    fn services_of(&self, client_id: &str) -> Result<Vec<Service>, BillingError>;
    /// Ids of clients registered on or after `since` (backfill), in ascending id order.
    fn client_ids_since(&self, since: chrono::NaiveDate) -> Result<Vec<String>, BillingError>;
    /// Ids of services created on or after `since` (backfill), in ascending id order.
    fn service_ids_since(&self, since: chrono::NaiveDate) -> Result<Vec<String>, BillingError>;
    /// [`Self::client_ids_since`] packed in one buffer: a backfill keeps every id of a
    /// large panel for the whole run.
    fn client_id_list(&self, since: chrono::NaiveDate) -> Result<IdList, BillingError>;
    /// [`Self::service_ids_since`] packed in one buffer: a backfill keeps every id of a
    /// large panel for the whole run.
    fn service_id_list(&self, since: chrono::NaiveDate) -> Result<IdList, BillingError>;
    /// The client user `user_id` belongs to, from the `user` list (`account_id`, or the
    /// client's name); `NotFound` when no user has it.
    fn user_client(&self, user_id: &str) -> Result<String, BillingError>;
    /// Rows read so far that could not be tied to a client or dated (shared or unknown
    /// client names, no registration date): the engine reports each one.
    fn unlinked(&self) -> Vec<Unlinked>;
    /// Panel calls made so far and the time spent in them.
    fn stats(&self) -> PanelStats;
    /// The client attributes the rules use (each a list of alternative raw field names):
    /// `account.edit` is then read only for a client whose list row lacks one of them.
    /// Until this is called, every client's form is read.
    fn need_client_fields(&self, needs: Vec<Vec<String>>);
    /// Reads, on up to `[billmanager] parallel` threads, the forms these clients' sync
    /// will need; errors are left for the sync itself to meet and report.
    fn prefetch(&self, client_ids: &[String]);
    /// Reads each function the sync uses once (the four lists, and the forms of the first
    /// client and first payer) for `check` and `capture`.
    fn survey(&self) -> Vec<Sample>;
    /// Forms kept from earlier runs (see [`CachedForm`]).
    fn preload_forms(&self, forms: Vec<CachedForm>) {
        forms.into_iter().for_each(|f| self.keep_form(f));
    }
    /// One form kept from an earlier run; a backfill hands them over one by one, so they
    /// are never all in memory at once.
    fn keep_form(&self, form: CachedForm);
    /// Forms read from the panel in this run, to keep for the next one.
    fn fresh_forms(&self) -> Vec<CachedForm> {
        let mut all = Vec::new();
        self.each_fresh_form(&mut |f| all.push(f));
        all
    }
    /// Hands over, once, each form read from the panel in this run, one at a time.
    fn each_fresh_form(&self, f: &mut dyn FnMut(CachedForm));
}
