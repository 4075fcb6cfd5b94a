//! Services purged from the panel's list while bound to a lead.
//!
//! BILLmanager keeps a deleted service in its list (status `deleted`) for a while, then
//! purges it. A run that saw it deleted gave the `[[lifecycle.status]]` rules for deleted
//! services their turn, so its disappearance later is expected and says nothing. A service
//! purged before any run saw it deleted left its lead where it was (say, "Active"): nothing
//! is left to read its facts from, so the lead is not moved by guess; it is reported by name,
//! counted, and the run ends "partial" until the operator closes the lead and forgets the
//! binding.

use super::Engine;
use crate::billing::BillingError;
use crate::rules::EntityKind;

/// Lead bindings read per page while looking for purged services.
const PAGE: usize = 500;

impl Engine<'_> {
    /// Reports every bound lead whose service BILLmanager no longer lists (see the module
    /// documentation); a service the panel cannot be asked about is left alone.
    pub(super) fn report_purged_services(&self) -> anyhow::Result<()> {
        let mut after = String::new();
        loop {
            let page = self.store.bindings_after("lead", &after, PAGE)?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            after = last.bm_id.clone();
            for b in &page {
                if let Some(id) = b.bm_id.strip_prefix("service:") {
                    if let Some(reason) = self.purged(id, b.amo_id)? {
                        self.gap(EntityKind::Lead, &b.bm_id, reason);
                    }
                }
            }
        }
    }

    /// Why service `id`, bound to lead `lead`, needs a person: `None` while the panel lists
    /// it (or cannot say), or when a run saw it deleted before it was purged.
    pub(super) fn purged(&self, id: &str, lead: i64) -> anyhow::Result<Option<String>> {
        match self.billing.service(id) {
            Err(BillingError::NotFound { .. }) => {}
            _ => return Ok(None),
        }
        let last = self.store.life_service(id)?;
        if last.as_ref().is_some_and(|s| s.status == "deleted") {
            return Ok(None);
        }
        let seen = match last {
            Some(s) => format!("last seen `{}`", s.status),
            None => "never seen deleted".to_string(),
        };
        Ok(Some(format!(
            "BILLmanager no longer lists service {id} ({seen}): it was purged before a run saw \
             it deleted, so no `[[lifecycle.status]]` rule for deleted services moved lead {lead}, \
             which was left as it is; close the lead in amoCRM, then run \
             `amocrm-bin bindings forget --entity lead --elid {id}`"
        )))
    }
}
