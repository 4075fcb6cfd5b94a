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
pub mod convert;
pub mod envelope;
mod error;
mod files;
mod mgrctl;
pub mod model;
mod open;
mod reader;
mod transport;
pub mod values;

#[cfg(test)]
mod tests;

pub use api::{ApiSource, ApiTransport};
pub use error::BillingError;
pub use files::{FilesSource, FilesTransport};
pub use mgrctl::{MgrctlSource, MgrctlTransport};
pub use model::{
    Attrs, Client, PanelStats, Payer, PayerKind, Service, ServiceStatus, Unlinked, User,
};
pub use open::open;
pub use reader::PanelReader;
pub use transport::{Params, Transport};

/// Where BILLmanager data comes from.
pub trait BillingSource {
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
    /// Rows read so far that could not be tied to a client or dated (shared or unknown
    /// client names, no registration date): the engine reports each one.
    fn unlinked(&self) -> Vec<Unlinked> {
        Vec::new()
    }
    /// Panel calls made so far and the time spent in them.
    fn stats(&self) -> PanelStats {
        PanelStats::default()
    }
}
