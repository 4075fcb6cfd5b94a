//! What every command builds from the global flags, once: the rule set (with the `[calls]`
//! checks and the log file), the store, the amoCRM client and the panel.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;

use crate::billing::BillingSource;
use crate::crm::amo::{AmoClient, AmoCrm, ClientConfig, Credentials, TokenSource};
use crate::rules::RuleSet;
use crate::store::Store;

/// The rule set and the store a command works with; the client and the panel are built from
/// them on demand (the client borrows the store, and a command that never talks to amoCRM
/// must not need the client secret).
pub struct Context {
    /// The loaded rule file.
    pub rules: RuleSet,
    /// The store the rule file names.
    pub store: Store,
}

/// Loads the rule file at `config` (with the `[calls]` checks) and opens its log file: for
/// the commands that need no store (`capture`, `calls ingest --explain`).
pub fn load_rules(config: &Path) -> anyhow::Result<RuleSet> {
    let rules = RuleSet::load_with(config, &[crate::calls::validate::check])?;
    if let Some(path) = &rules.file.log.path {
        crate::log::open_file(path, rules.file.log.max_bytes)
            .with_context(|| format!("cannot open log file `{}` (`[log] path`)", path.display()))?;
    }
    Ok(rules)
}

impl Context {
    /// Loads the rule file at `config` and opens its store.
    pub fn open(config: &Path) -> anyhow::Result<Context> {
        Context::with_rules(load_rules(config)?)
    }

    /// Opens the store of rules already loaded, waiting `[store] busy_timeout_secs` for a
    /// writer.
    pub fn with_rules(rules: RuleSet) -> anyhow::Result<Context> {
        let store = Store::open(&rules.file.store.path)?;
        store.set_busy_timeout(Duration::from_secs(rules.file.store.busy_timeout_secs))?;
        Ok(Context { rules, store })
    }

    /// The amoCRM client. The client secret is resolved only when `need_secret` (reading
    /// the status must work on a host where the secret's variable is not set).
    pub fn client(&self, need_secret: bool) -> anyhow::Result<AmoClient<'_>> {
        let rules = &self.rules;
        let a = &rules.file.amocrm;
        let source = match rules.long_lived_token()? {
            Some(t) => TokenSource::LongLived(t),
            None => TokenSource::OAuth(Credentials {
                client_id: a.client_id.clone(),
                client_secret: if need_secret {
                    Some(rules.client_secret()?)
                } else {
                    rules.client_secret().ok()
                },
                redirect_uri: a.redirect_uri.clone(),
            }),
        };
        let mut pace = self.store.path().as_os_str().to_owned();
        pace.push(".pace");
        AmoClient::new(
            ClientConfig {
                base_url: a.base_url.clone(),
                timeout: Duration::from_secs(a.timeout_secs),
                rps: a.rate_limit_rps,
                pace_file: Some(pace.into()),
            },
            &self.store,
            source,
        )
    }

    /// The typed amoCRM API over [`Context::client`], with the secret.
    pub fn crm(&self) -> anyhow::Result<AmoCrm<'_>> {
        Ok(AmoCrm::new(self.client(true)?))
    }

    /// The typed amoCRM API writing in batches of the rule file's `batch_size`.
    pub fn batched_crm(&self) -> anyhow::Result<AmoCrm<'_>> {
        Ok(self
            .crm()?
            .with_batch_size(self.rules.file.amocrm.batch_size))
    }

    /// The BILLmanager panel the rule file names.
    pub fn billing(&self) -> anyhow::Result<Box<dyn BillingSource>> {
        Ok(crate::billing::open(&self.rules.file.billmanager)?)
    }
}
