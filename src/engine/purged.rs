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

/// What became of a bound service, as far as the panel's list and the store tell.
pub(super) enum Purged {
    /// The panel lists it (or cannot be asked): nothing to say.
    Listed,
    /// Gone as expected: a run saw it deleted, or a re-order that joined its lead is still
    /// listed and keeps the lead going. Why, for the report.
    Expected(String),
    /// Gone before any run saw it deleted: what the operator must do.
    Unseen(String),
}

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
                    if let Purged::Unseen(reason) = self.purged(id, b.amo_id)? {
                        self.gap(EntityKind::Lead, &b.bm_id, reason);
                    }
                }
            }
        }
    }

    /// Whether service `id`, bound to lead `lead`, is gone from the panel, and if so whether
    /// that needs a person.
    pub(super) fn purged(&self, id: &str, lead: i64) -> anyhow::Result<Purged> {
        if !self.unlisted(id) {
            return Ok(Purged::Listed);
        }
        let key = format!("service:{id}");
        for joined in self.store.aliases_to("lead", &key)? {
            let listed = joined
                .strip_prefix("service:")
                .is_some_and(|j| !self.unlisted(j));
            if listed {
                return Ok(Purged::Expected(format!(
                    "BILLmanager no longer lists service {id}; {joined} joined its lead {lead} \
                     and is still listed, so the lead follows it"
                )));
            }
        }
        let last = self.store.life_service(id)?;
        if last.as_ref().is_some_and(|s| s.status == "deleted") {
            return Ok(Purged::Expected(format!(
                "BILLmanager no longer lists service {id}; a run saw it deleted, so its lead \
                 {lead} had the rules for deleted services"
            )));
        }
        let seen = match last {
            Some(s) => format!("last seen `{}`", s.status),
            None => "never seen deleted".to_string(),
        };
        Ok(Purged::Unseen(format!(
            "BILLmanager no longer lists service {id} ({seen}): it was purged before a run saw \
             it deleted, so no `[[lifecycle.status]]` rule for deleted services moved lead {lead}, \
             which was left as it is; close the lead in amoCRM, then run \
             `amocrm-bin bindings forget --entity lead --elid {id}`"
        )))
    }

    /// True only when the panel answers that it has no service `id`.
    fn unlisted(&self, id: &str) -> bool {
        matches!(self.billing.service(id), Err(BillingError::NotFound { .. }))
    }
}
