//! Builds what commands need from the global flags: the rule set, the store, the client.

use std::time::Duration;

use amocrm_bin::crm::amo::{AmoClient, ClientConfig, Credentials, TokenSource};
use amocrm_bin::rules::RuleSet;
use amocrm_bin::store::Store;
use anyhow::Context as _;

use super::Cli;

/// Loads the rule file named by `--config` (with the `[calls]` checks) and opens its log
/// file.
pub fn rules(cli: &Cli) -> anyhow::Result<RuleSet> {
    let rules = RuleSet::load_with(&cli.config, &[amocrm_bin::calls::validate::check])?;
    if let Some(path) = &rules.file.log.path {
        amocrm_bin::log::open_file(path, rules.file.log.max_bytes)
            .with_context(|| format!("cannot open log file `{}` (`[log] path`)", path.display()))?;
    }
    Ok(rules)
}

/// Opens the store the rule file names, waiting `[store] busy_timeout_secs` for a writer.
pub fn store(rules: &RuleSet) -> anyhow::Result<Store> {
    let store = Store::open(&rules.file.store.path)?;
    store.set_busy_timeout(Duration::from_secs(rules.file.store.busy_timeout_secs))?;
    Ok(store)
}

/// The amoCRM client. The client secret is resolved only when `need_secret` (reading the
/// status must work on a host where the secret's variable is not set).
pub fn client<'a>(
    rules: &RuleSet,
    store: &'a Store,
    need_secret: bool,
) -> anyhow::Result<AmoClient<'a>> {
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
    let mut pace = store.path().as_os_str().to_owned();
    pace.push(".pace");
    AmoClient::new(
        ClientConfig {
            base_url: a.base_url.clone(),
            timeout: Duration::from_secs(a.timeout_secs),
            rps: a.rate_limit_rps,
            pace_file: Some(pace.into()),
        },
        store,
        source,
    )
}
