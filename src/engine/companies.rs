//! Payers → amoCRM companies. Payers with the same INN (one organisation paying for several
//! clients) share one company: their binding key is the INN.

use serde_json::{json, Value};

use super::decide::{self, Desired, Gate};
use super::payload::{custom_fields, hash, tags, tags_to_add};
use super::plan::Plan;
use super::upsert::Wanted;
use super::{facts, Engine};
use crate::billing::{Client, Payer};
use crate::rules::condition::Facts;
use crate::rules::EntityKind;

/// The binding key of a payer's company.
pub fn company_key(payer: &Payer) -> String {
    match payer
        .inn
        .as_deref()
        .map(str::trim)
        .filter(|i| !i.is_empty())
    {
        Some(inn) => format!("inn:{inn}"),
        None => format!("payer:{}", payer.id),
    }
}

impl Engine<'_> {
    /// Syncs the company of a payer; returns its amoCRM id when it exists (or was created).
    pub(super) fn sync_company(
        &self,
        client: &Client,
        payer: &Payer,
        root: bool,
    ) -> anyhow::Result<Option<i64>> {
        let key = company_key(payer);
        let plan = self.plan_company(client, payer, root)?;
        let ids = self.run_plans(EntityKind::Company, vec![plan])?;
        self.alias_payer(payer)?;
        Ok(ids.get(&key).copied())
    }

    /// Records that a payer is represented by its INN-keyed company, so
    /// `bindings show --entity company --elid <payer>` finds it.
    pub(super) fn alias_payer(&self, payer: &Payer) -> anyhow::Result<()> {
        let key = company_key(payer);
        if !self.dry_run && key != format!("payer:{}", payer.id) {
            self.store
                .put_alias("company", &format!("payer:{}", payer.id), &key, "same INN")?;
        }
        Ok(())
    }

    /// Whether another payer sharing this payer's INN drives the company's data: the payer
    /// with the lowest id does, so two payers never overwrite each other's values in turn.
    fn driven_by_other_payer(&self, payer: &Payer, key: &str) -> anyhow::Result<bool> {
        if !key.starts_with("inn:") {
            return Ok(false);
        }
        let mine = payer.id.parse::<u64>().unwrap_or(u64::MAX);
        Ok(self
            .store
            .aliases_to("company", key)?
            .iter()
            .filter_map(|a| {
                a.strip_prefix("payer:")
                    .and_then(|id| id.parse::<u64>().ok())
            })
            .any(|other| other < mine))
    }

    /// Decides what to do with a payer's company. `root`: the company is synced for its
    /// own sake (sync of a client or payer, backfill), so `[sync] since` applies to it as
    /// to the client's contacts; a lead's company (`root` false) follows the lead.
    pub(super) fn plan_company(
        &self,
        client: &Client,
        payer: &Payer,
        root: bool,
    ) -> anyhow::Result<Plan> {
        let (desired, f) = match self.company_desired(client, payer, root)? {
            Wanted::Decided(plan) => return Ok(plan),
            Wanted::Upsert(d, f, ()) => (d, f),
        };
        let (inn, name) = (payer.inn.clone(), payer.name.clone());
        let plan = self.upsert(desired, &|me| self.find_company(me, inn.as_deref(), &name))?;
        self.entity_planned(client, &plan, &f)?;
        Ok(plan)
    }

    /// What a payer's company should hold in amoCRM, or the plan decided without amoCRM.
    /// Reads nothing from amoCRM and changes nothing for a bound company, so a batch can
    /// compute it ahead to read the changed ones in pages ([`Engine::prefetch_companies`]).
    pub(super) fn company_desired(
        &self,
        client: &Client,
        payer: &Payer,
        root: bool,
    ) -> anyhow::Result<Wanted> {
        let key = company_key(payer);
        let mut gate = Gate::new(EntityKind::Company);
        gate.bound = self.store.binding("company", &key)?.map(|b| b.amo_id);
        gate.driven_by_other = gate.bound.is_some() && self.driven_by_other_payer(payer, &key)?;
        let mut f = Facts::new();
        if !gate.driven_by_other {
            facts::client(&mut f, client);
            facts::payer(&mut f, payer);
            self.link_facts(&mut f);
            gate = self.excluded(gate, &key, &f, || Ok(self.before_since(client, root)))?;
        }
        if let Some(plan) =
            decide::admitted(&gate, &key, || (EntityKind::Company, payer.id.clone()))
        {
            return Ok(Wanted::Decided(plan));
        }
        if payer.inn.is_none() && payer.kind != crate::billing::PayerKind::Individual {
            self.gap(
                EntityKind::Company,
                &key,
                format!(
                    "payer {} is a legal entity with no INN (`vatnum` in profile.edit, or `inn`); the company is matched by name only",
                    payer.id
                ),
            );
        }
        let (mut fields, mut warnings) = custom_fields(&self.resolved, EntityKind::Company, &f);
        let mut multitext = Vec::new();
        let sync = &self.rules.file.sync;
        if let (Some(p), Some(def)) = (
            super::contacts::phone_to_send(
                payer.phone.as_deref(),
                &sync.default_country,
                &mut warnings,
            ),
            self.resolved.standard(EntityKind::Company, "PHONE"),
        ) {
            fields.insert(
                0,
                json!({"field_id": def.id, "values": [{"value": p, "enum_code": "WORK"}]}),
            );
            multitext.push((def.id, true));
        }
        if let (Some(e), Some(def)) = (
            payer
                .email
                .as_deref()
                .map(|e| e.trim().to_lowercase())
                .filter(|e| e.contains('@')),
            self.resolved.standard(EntityKind::Company, "EMAIL"),
        ) {
            fields.insert(
                0,
                json!({"field_id": def.id, "values": [{"value": e, "enum_code": "WORK"}]}),
            );
            multitext.push((def.id, false));
        }
        let mut payload = json!({
            "name": payer.name.trim(),
            "custom_fields_values": fields,
            "tags_to_add": tags_to_add(&tags(self.rules, EntityKind::Company, &f)),
            "request_id": key,
        });
        if let Some(r) = self
            .new_entity_responsible(client, EntityKind::Company, &key)?
            .or(self.resolved.responsible)
        {
            payload["responsible_user_id"] = Value::from(r);
        }
        let h = hash(&self.hash_view(&payload));
        let desired = Desired {
            kind: EntityKind::Company,
            key: key.clone(),
            payload,
            hash: h,
            links: vec![],
            warnings,
            multitext,
            links_on_create: true,
            origin: (EntityKind::Company, payer.id.clone()),
            create_only: vec!["responsible_user_id", "request_id"],
        };
        Ok(Wanted::Upsert(desired, f, ()))
    }
}
