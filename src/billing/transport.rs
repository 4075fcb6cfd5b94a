//! How one BILLmanager function call travels: the only part that differs between sources.
//!
//! mgrctl, the HTTP API and a fixture directory all answer the same call (`func` plus
//! `key=value` parameters) with the same JSON document, so [`super::reader::PanelReader`]
//! does the parsing, caching and conversion once and a source only moves bytes.

use super::error::BillingError;

/// One call's parameters, in the order they are sent (without `out=json`, which every
/// transport adds itself).
pub type Params<'a> = [(&'a str, &'a str)];

/// Moves one call to BILLmanager and back. `Sync`: forms are read on several threads.
pub trait Transport: Send + Sync {
    /// The raw answer of `func` with `params` (a JSON document, maybe an error document).
    ///
    /// Errors here are about the way there (cannot run, cannot connect, timed out); an
    /// error *document* is returned as bytes and classified by the envelope parser.
    fn fetch(&self, func: &str, params: &Params<'_>) -> Result<Vec<u8>, BillingError>;

    /// The same answer as a reader, so a long list is parsed as it arrives and never held
    /// whole; every transport streams (mgrctl's stdout pipe, the HTTP body, a fixture file).
    /// A failure of the way there met mid-answer is an I/O error that carries the
    /// [`BillingError`] to report.
    fn open(
        &self,
        func: &str,
        params: &Params<'_>,
    ) -> Result<Box<dyn std::io::Read + Send + '_>, BillingError> {
        Ok(Box::new(std::io::Cursor::new(self.fetch(func, params)?)))
    }
}

/// Wraps a failure of the way there (a killed or failed mgrctl, a broken HTTP answer)
/// met while a list is being parsed, so it crosses the parser as an I/O error and comes
/// out as itself ([`carried`]) instead of as a malformed answer.
pub fn carry(e: BillingError) -> std::io::Error {
    std::io::Error::other(e)
}

/// The [`BillingError`] an I/O error carries (see [`carry`]), or the error itself.
pub fn carried(e: std::io::Error) -> Result<BillingError, std::io::Error> {
    let kind = e.kind();
    match e.into_inner() {
        Some(inner) => inner
            .downcast::<BillingError>()
            .map(|b| *b)
            .map_err(|other| std::io::Error::new(kind, other)),
        None => Err(kind.into()),
    }
}
