//! The one order of dependencies, for `sync`, `backfill` and the hook's `drain` (which
//! syncs): an entity links to the ones it depends on, so they are written first. A company
//! comes first, then the client's contacts (linked to it), then a service's lead (linked
//! to both).
//!
//! `sync` walks the order depth-first for one entity ([`Engine::sync`]); `backfill`
//! pipelines it, holding back what waits for something still queued or on its way, and
//! handing out each kind's requests in [`ORDER`].

use super::companies::company_key;
use super::Engine;
use crate::billing::{Client, Payer, User};
use crate::rules::EntityKind;

/// The kinds in the order they are written.
pub const ORDER: [EntityKind; 3] = [EntityKind::Company, EntityKind::Contact, EntityKind::Lead];

/// The kinds an entity of `kind` links to: they exist before it.
pub fn depends_on(kind: EntityKind) -> &'static [EntityKind] {
    match kind {
        EntityKind::Company => &[],
        EntityKind::Contact => &[EntityKind::Company],
        EntityKind::Lead => &[EntityKind::Company, EntityKind::Contact],
    }
}

/// What a client's entities of one kind link to, and so wait for.
pub struct Prerequisites<'c> {
    /// The payer whose company they link to.
    pub company: Option<&'c Payer>,
    /// The users whose contacts they link to.
    pub contacts: &'c [User],
}

impl Prerequisites<'_> {
    /// The keys of the entities needed, as bindings name them.
    pub fn keys(&self) -> impl Iterator<Item = (EntityKind, String)> + '_ {
        let company = self.company.map(|p| (EntityKind::Company, company_key(p)));
        let contacts = self
            .contacts
            .iter()
            .map(|u| (EntityKind::Contact, format!("user:{}", u.id)));
        company.into_iter().chain(contacts)
    }
}

impl Engine<'_> {
    /// What a client's entities of `kind` wait for: the company of the client's company
    /// payer, and for a lead the contacts of all its users. (A single service's `sync`
    /// links its lead to the company of the payer the service names, when it names one.)
    pub(super) fn prerequisites<'c>(
        &self,
        kind: EntityKind,
        client: &'c Client,
        payers: &'c [Payer],
    ) -> Prerequisites<'c> {
        let deps = depends_on(kind);
        Prerequisites {
            company: deps
                .contains(&EntityKind::Company)
                .then(|| self.company_payer(payers))
                .flatten(),
            contacts: match deps.contains(&EntityKind::Contact) {
                true => &client.users,
                false => &[],
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_comes_after_what_it_depends_on() {
        for (at, kind) in ORDER.iter().enumerate() {
            for dep in depends_on(*kind) {
                let before = ORDER.iter().position(|k| k == dep);
                assert!(before.is_some_and(|b| b < at), "{kind:?} needs {dep:?}");
            }
        }
    }
}
