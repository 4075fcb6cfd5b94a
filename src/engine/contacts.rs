//! Client users → amoCRM contacts.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::decide::{self, Desired, Gate};
use super::payload::{custom_fields, hash, tags, tags_to_add};
use super::plan::Plan;
use super::upsert::Wanted;
use super::{facts, Engine};
use crate::billing::{Client, Payer, User};
use crate::phone;
use crate::rules::condition::Facts;
use crate::rules::EntityKind;

impl Engine<'_> {
    /// Facts for a contact: the client, the user and the client's payer.
    pub(super) fn contact_facts(
        &self,
        client: &Client,
        user: &User,
        payer: Option<&Payer>,
    ) -> Facts {
        let mut f = Facts::new();
        facts::client(&mut f, client);
        if let Some(p) = payer {
            facts::payer(&mut f, p);
        }
        facts::user(&mut f, user);
        self.link_facts(&mut f);
        f
    }

    /// Why `[sync] since` keeps a client's contacts and company out, when it does: the
    /// client registered before it, or has no registration date anywhere (`account.edit`
    /// or the `account` list's `tz_registration_date`), which is reported, not guessed.
    /// Applies only to entities synced for their own sake (`root`).
    pub(super) fn before_since(&self, client: &Client, root: bool) -> Option<String> {
        let since = self.rules.file.sync.since.filter(|_| root)?;
        match client.registered_at {
            Some(reg) => decide::before_since(Some(since), reg.date(), "client registered"),
            None => {
                let reason = format!(
                    "client {} has no registration date (neither `account.edit` nor the `account` list's `tz_registration_date`), so [sync] since = {since} cannot be applied; not sent",
                    client.id
                );
                self.gap(
                    EntityKind::Contact,
                    &format!("client:{}", client.id),
                    reason.clone(),
                );
                Some(reason)
            }
        }
    }

    /// Syncs every user of a client as a contact linked to `company`; returns user id → contact id.
    pub(super) fn sync_contacts(
        &self,
        client: &Client,
        payer: Option<&Payer>,
        company: Option<i64>,
        root: bool,
    ) -> anyhow::Result<BTreeMap<String, i64>> {
        let mut plans = Vec::new();
        for user in &client.users {
            plans.push(self.plan_contact(client, user, payer, company, root)?);
        }
        let ids = self.run_plans(EntityKind::Contact, plans)?;
        Ok(ids
            .into_iter()
            .filter_map(|(k, v)| k.strip_prefix("user:").map(|u| (u.to_string(), v)))
            .collect())
    }

    pub(super) fn plan_contact(
        &self,
        client: &Client,
        user: &User,
        payer: Option<&Payer>,
        company: Option<i64>,
        root: bool,
    ) -> anyhow::Result<Plan> {
        let (desired, f, (p, e)) = match self.contact_desired(client, user, payer, company, root)? {
            Wanted::Decided(plan) => return Ok(plan),
            Wanted::Upsert(d, f, found_by) => (d, f, found_by),
        };
        let plan = self.upsert(desired, &|me| {
            self.find_contact(me, p.as_deref(), e.as_deref())
        })?;
        self.entity_planned(client, &plan, &f)?;
        Ok(plan)
    }

    /// What a user's contact should hold in amoCRM, or the plan decided without amoCRM.
    /// Reads nothing from amoCRM and changes nothing for a bound contact, so a batch can
    /// compute it ahead to read the changed ones in pages ([`Engine::prefetch_contacts`]).
    pub(super) fn contact_desired(
        &self,
        client: &Client,
        user: &User,
        payer: Option<&Payer>,
        company: Option<i64>,
        root: bool,
    ) -> anyhow::Result<Wanted<(Option<String>, Option<String>)>> {
        let key = format!("user:{}", user.id);
        let f = self.contact_facts(client, user, payer);
        let sync = &self.rules.file.sync;
        let gate = self.excluded(Gate::new(EntityKind::Contact), &key, &f, || {
            Ok(self.before_since(client, root))
        })?;
        if let Some(plan) =
            decide::admitted(&gate, &key, || (EntityKind::Contact, client.id.clone()))
        {
            return Ok(Wanted::Decided(plan));
        }
        let mut phone_warnings = Vec::new();
        let phone = phone_to_send(
            user.phone.as_deref(),
            &sync.default_country,
            &mut phone_warnings,
        );
        let email = user
            .email
            .as_deref()
            .map(|e| e.trim().to_lowercase())
            .filter(|e| e.contains('@'));
        if phone.is_none() && email.is_none() {
            self.gap(
                EntityKind::Contact,
                &key,
                format!(
                    "user {} of client {} has no usable phone and no e-mail in the `user` list; amoCRM can neither match nor reach this contact",
                    user.id, client.id
                ),
            );
        }
        let name = [
            user.realname.trim(),
            email.as_deref().unwrap_or(""),
            phone.as_deref().unwrap_or(""),
        ]
        .into_iter()
        .find(|s| !s.is_empty())
        .map(String::from)
        .unwrap_or_else(|| format!("Client {}", client.id));
        let (mut fields, mut warnings) = custom_fields(&self.resolved, EntityKind::Contact, &f);
        warnings.extend(phone_warnings);
        let mut multitext = Vec::new();
        if let (Some(p), Some(def)) = (&phone, self.resolved.standard(EntityKind::Contact, "PHONE"))
        {
            fields.insert(
                0,
                json!({"field_id": def.id, "values": [{"value": p, "enum_code": "WORK"}]}),
            );
            multitext.push((def.id, true));
        }
        if let (Some(e), Some(def)) = (&email, self.resolved.standard(EntityKind::Contact, "EMAIL"))
        {
            fields.insert(
                0,
                json!({"field_id": def.id, "values": [{"value": e, "enum_code": "WORK"}]}),
            );
            multitext.push((def.id, false));
        }
        let mut payload = json!({
            "name": name,
            "custom_fields_values": fields,
            "tags_to_add": tags_to_add(&tags(self.rules, EntityKind::Contact, &f)),
            "request_id": key,
        });
        let mut words = user.realname.split_whitespace();
        if let (Some(first), Some(_)) = (words.next(), user.realname.split_whitespace().nth(1)) {
            payload["first_name"] = Value::from(first);
            payload["last_name"] = Value::from(words.collect::<Vec<_>>().join(" "));
        }
        if let Some(r) = self
            .new_entity_responsible(client, EntityKind::Contact, &key)?
            .or(self.resolved.responsible)
        {
            payload["responsible_user_id"] = Value::from(r);
        }
        let links: Vec<(EntityKind, i64, bool)> = company
            .map(|c| vec![(EntityKind::Company, c, false)])
            .unwrap_or_default();
        let h = hash(&json!([self.hash_view(&payload), company]));
        let desired = Desired {
            kind: EntityKind::Contact,
            key: key.clone(),
            payload,
            hash: h,
            links,
            warnings,
            multitext,
            links_on_create: true,
            origin: (EntityKind::Contact, client.id.clone()),
            create_only: vec!["responsible_user_id", "request_id"],
        };
        Ok(Wanted::Upsert(desired, f, (phone, email)))
    }
}

/// The E.164 form of a typed phone, or `None` with a warning on the entity: an invalid
/// number is reported and left out, never sent as typed; a dropped extension is said too.
pub(super) fn phone_to_send(
    raw: Option<&str>,
    default_country: &str,
    warnings: &mut Vec<String>,
) -> Option<String> {
    let raw = raw.filter(|p| !p.trim().is_empty())?;
    match phone::parse(raw, default_country) {
        Ok(p) => {
            if let Some(ext) = &p.extension {
                warnings.push(format!(
                    "PHONE sent as {} without its extension {ext} (amoCRM keeps numbers only)",
                    p.e164
                ));
            }
            Some(p.e164)
        }
        Err(e) => {
            warnings.push(format!("{}{e}", super::report::PHONE_NOT_SENT));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::phone_to_send;

    #[test]
    fn an_invalid_phone_is_left_out_with_a_warning_and_an_extension_is_said() {
        let mut warnings = Vec::new();
        assert_eq!(phone_to_send(Some("12-34"), "RU", &mut warnings), None);
        assert_eq!(
            warnings,
            ["PHONE not sent: `12-34` is not a valid phone number (read with default country RU)"]
        );
        warnings.clear();
        assert_eq!(
            phone_to_send(Some("+7 495 123-45-67 доб. 123"), "RU", &mut warnings).as_deref(),
            Some("+74951234567")
        );
        assert_eq!(
            warnings,
            ["PHONE sent as +74951234567 without its extension 123 (amoCRM keeps numbers only)"]
        );
        warnings.clear();
        assert_eq!(
            phone_to_send(Some("067 111 22 33"), "UA", &mut warnings).as_deref(),
            Some("+380671112233")
        );
        assert_eq!(phone_to_send(Some("  "), "RU", &mut warnings), None);
        assert!(warnings.is_empty(), "{warnings:?}");
    }
}
