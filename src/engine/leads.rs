//! Services → amoCRM leads, in the pipeline and status the rules pick, linked to the contact
//! that ordered the service and to the payer's company.

use serde_json::{json, Value};

use super::decide::{self, Desired, Gate, Reorder};
use super::payload::{custom_fields, hash, tags, tags_to_add};
use super::plan::{Op, Plan};
use super::{facts, Engine};
use crate::billing::{Client, Payer, Service};
use crate::rules::condition::{holds, Facts};
use crate::rules::EntityKind;

/// What a lead's payload sends only on create: an update leaves the manager and the stage
/// to the lifecycle (status rules decide moves), and adds missing links by link requests.
pub(super) const CREATE_ONLY: [&str; 5] = [
    "responsible_user_id",
    "request_id",
    "pipeline_id",
    "status_id",
    "_embedded",
];

/// The amoCRM id a dry run gives a lead it only planned to create (amoCRM ids are positive).
pub(super) const PLANNED: i64 = 0;

impl Engine<'_> {
    /// Syncs a service's lead, and first the contact and company it links to.
    /// The payer, the ordering user and the facts of a service.
    pub(super) fn lead_context(
        &self,
        service: &Service,
        client: &Client,
        payers: &[Payer],
    ) -> (Option<Payer>, Option<crate::billing::User>, Facts) {
        let payer: Option<Payer> = match &service.payer_id {
            Some(pid) => payers
                .iter()
                .find(|p| &p.id == pid)
                .cloned()
                .or_else(|| self.billing.payer(pid).ok()),
            None => self.company_payer(payers).cloned(),
        };
        let user = service
            .user_id
            .as_ref()
            .and_then(|u| client.users.iter().find(|x| &x.id == u))
            .or(client.users.first())
            .cloned();
        let mut f = Facts::new();
        facts::client(&mut f, client);
        if let Some(p) = &payer {
            facts::payer(&mut f, p);
        }
        if let Some(u) = &user {
            facts::user(&mut f, u);
        }
        facts::service(&mut f, service);
        self.lifecycle_facts(service, &mut f);
        (payer, user, f)
    }

    fn is_company(&self, payer: &Payer) -> bool {
        self.rules.file.sync.individual_payers_as_companies
            || payer.kind != crate::billing::PayerKind::Individual
    }

    /// Plans a service's lead when its client's contacts and company are already bound
    /// (backfill syncs clients first, in batches).
    pub(super) fn plan_service(
        &self,
        service: &Service,
        client: &Client,
        payers: &[Payer],
        root: bool,
    ) -> anyhow::Result<Plan> {
        if let Some(plan) = self.joined(service)? {
            return Ok(plan);
        }
        let (payer, user, f) = self.lead_context(service, client, payers);
        let key = format!("service:{}", service.id);
        if self.store.binding("lead", &key)?.is_none() {
            if let Some(plan) = self.lead_not_created(service, &f, root)? {
                return Ok(plan);
            }
        }
        let (contact, company) = self.lead_links(payer.as_ref(), user.as_ref())?;
        self.lead_contact_gap(service, client, user.as_ref(), contact);
        self.plan_lead(service, &key, &f, contact, company)
    }

    /// The bound contact and company a lead links to.
    fn lead_links(
        &self,
        payer: Option<&Payer>,
        user: Option<&crate::billing::User>,
    ) -> anyhow::Result<(Option<i64>, Option<i64>)> {
        let company = match payer {
            Some(p) if self.is_company(p) => self
                .store
                .binding("company", &super::companies::company_key(p))?
                .map(|b| b.amo_id),
            _ => None,
        };
        let contact = match user {
            Some(u) => self
                .store
                .binding("contact", &format!("user:{}", u.id))?
                .map(|b| b.amo_id),
            None => None,
        };
        Ok((contact, company))
    }

    /// The amoCRM id of a bound service's lead when what it should hold changed, so a batch
    /// reads those leads in pages before planning them ([`Engine::prefetch_leads`]). Reads
    /// nothing from amoCRM and reports nothing.
    pub(super) fn lead_changed(
        &self,
        service: &Service,
        client: &Client,
        payers: &[Payer],
    ) -> anyhow::Result<Option<i64>> {
        let key = format!("service:{}", service.id);
        let Some(bound) = self.store.binding("lead", &key)? else {
            return Ok(None);
        };
        if self.joined(service)?.is_some() {
            return Ok(None);
        }
        let (payer, user, f) = self.lead_context(service, client, payers);
        let (contact, company) = self.lead_links(payer.as_ref(), user.as_ref())?;
        let (desired, _) = self.lead_desired(service, &key, &f, contact, company)?;
        Ok((desired.hash != bound.payload_hash).then_some(bound.amo_id))
    }

    /// Reports a lead that will carry no contact: the client has no user the panel links
    /// to it, or the user's contact was not sent.
    fn lead_contact_gap(
        &self,
        service: &Service,
        client: &Client,
        user: Option<&crate::billing::User>,
        contact: Option<i64>,
    ) {
        let reason = match (user, contact) {
            (_, Some(_)) => return,
            (None, None) => format!(
                "client {} has no user in the `user` list (linked by `account_id` or `account`), so the lead has no contact",
                client.id
            ),
            (Some(_), None) if self.dry_run => return,
            (Some(u), None) => format!(
                "the contact of user {} was not sent (see its line), so the lead has no contact",
                u.id
            ),
        };
        self.gap(EntityKind::Lead, &format!("service:{}", service.id), reason);
    }

    /// Syncs a service's lead, and first the contact and company it links to.
    pub(super) fn sync_service(
        &self,
        service: &Service,
        root: bool,
    ) -> anyhow::Result<Option<i64>> {
        let key = format!("service:{}", service.id);
        if let Some(plan) = self.joined(service)? {
            let ids = self.run_plans(EntityKind::Lead, vec![plan])?;
            return Ok(ids.get(&key).copied());
        }
        let client = self.billing.client(&service.client_id)?;
        let payers = self.billing.payers_of(&client.id)?;
        let (payer, user, f) = self.lead_context(service, &client, &payers);

        // Bound leads are kept up to date whatever the creation rules say.
        let bound = self.store.binding("lead", &key)?;
        if bound.is_none() {
            if let Some(plan) = self.lead_not_created(service, &f, root)? {
                let ids = self.run_plans(EntityKind::Lead, vec![plan])?;
                return Ok(ids.get(&key).copied());
            }
        }
        // `[sync] since` applies to the client's company and contacts here too: a new
        // service of an old client gets its lead, without them (reported as a gap).
        let company = match &payer {
            Some(p) if self.is_company(p) => self.sync_company(&client, p, true)?,
            _ => None,
        };
        let contacts = self.sync_contacts(&client, payer.as_ref(), company, true)?;
        let contact = user.as_ref().and_then(|u| contacts.get(&u.id).copied());
        self.lead_contact_gap(service, &client, user.as_ref(), contact);
        let plan = self.plan_lead(service, &key, &f, contact, company)?;
        let ids = self.run_plans(EntityKind::Lead, vec![plan])?;
        Ok(ids.get(&key).copied())
    }

    /// A service that joined another service's lead (a re-order within
    /// `new_purchase_timeout_days`) stays joined: the lead belongs to the service that created
    /// it, which alone gives its name, fields and stage (see [`Engine::stage_facts`]). The
    /// joined one only reports the join again, with no write and no read of the lead, so
    /// re-runs settle and a deleted re-order never touches a paying client's lead.
    pub(super) fn joined(&self, service: &Service) -> anyhow::Result<Option<Plan>> {
        let key = format!("service:{}", service.id);
        let mut gate = Gate::new(EntityKind::Lead);
        gate.joined = self.joined_lead(&key)?;
        Ok(self.lead_verdict(&gate, service))
    }

    /// The lead of another service that `key` joined earlier: (id, owner key, reason).
    fn joined_lead(&self, key: &str) -> anyhow::Result<Option<(i64, String, String)>> {
        let Some(alias) = self.store.alias("lead", key)? else {
            return Ok(None);
        };
        let Some(owner) = self.store.binding("lead", &alias.target_id)? else {
            return Ok(None);
        };
        if owner.bm_id == key {
            return Ok(None);
        }
        Ok(Some((owner.amo_id, owner.bm_id, alias.reason)))
    }

    /// The plan of a service's lead the rules decided about alone, if they did.
    fn lead_verdict(&self, gate: &Gate, service: &Service) -> Option<Plan> {
        let key = format!("service:{}", service.id);
        decide::admitted(gate, &key, || (EntityKind::Lead, service.id.clone()))
    }

    /// The facts that pick a lead's stage: its owner service's, unless that service is
    /// deleted (or closed) while a service that joined the lead is still live; then the
    /// newest live one's, so a lead never closes as lost while something on it is paid for.
    fn stage_facts(&self, service: &Service, key: &str, f: &Facts) -> anyhow::Result<Facts> {
        if f.get("service.status").map(String::as_str) != Some("deleted") {
            return Ok(f.clone());
        }
        let mut live = Vec::new();
        for joined in self.store.aliases_to("lead", key)? {
            let Some(id) = joined.strip_prefix("service:") else {
                continue;
            };
            let Ok(s) = self.billing.service(id) else {
                continue;
            };
            if s.status != crate::billing::ServiceStatus::Deleted {
                live.push(s);
            }
        }
        live.sort_by_key(|s| s.created_at);
        let Some(newest) = live.pop() else {
            return Ok(f.clone());
        };
        let client = self.billing.client(&service.client_id)?;
        let payers = self.billing.payers_of(&client.id)?;
        let (_, _, mut sf) = self.lead_context(&newest, &client, &payers);
        // The lead's own facts (where it is, who closed it) stay the owner's.
        for (k, v) in f.iter().filter(|(k, _)| k.starts_with("lead.")) {
            sf.insert(k.clone(), v.clone());
        }
        Ok(sf)
    }

    /// Whether an unbound service's lead may be created (no skip rule, since date or
    /// re-order keeps it out); bound ones are only updated.
    pub(super) fn lead_may_be_created(
        &self,
        service: &Service,
        client: &Client,
        payers: &[Payer],
    ) -> anyhow::Result<bool> {
        if self
            .store
            .binding("lead", &format!("service:{}", service.id))?
            .is_some()
        {
            return Ok(false);
        }
        let (_, _, f) = self.lead_context(service, client, payers);
        Ok(self.lead_not_created(service, &f, true)?.is_none())
    }

    /// Why no lead is created for an unbound service (skip rule, since date, re-order).
    fn lead_not_created(
        &self,
        service: &Service,
        f: &Facts,
        root: bool,
    ) -> anyhow::Result<Option<Plan>> {
        let mut gate = Gate::new(EntityKind::Lead);
        gate.skip_rule = self.skip_rule(EntityKind::Lead, f);
        if let (Some(created), true) = (service.created_at, root) {
            let since = self.rules.file.sync.since;
            gate.since = decide::before_since(since, created.date(), "service created");
        }
        if gate.skip_rule.is_none() && gate.since.is_none() {
            gate.reorders = self.reorders(service)?;
        }
        Ok(self.lead_verdict(&gate, service))
    }

    /// The earlier leads a re-order may join, newest first, up to the first one not lost
    /// (each lost check may read the lead).
    fn reorders(&self, service: &Service) -> anyhow::Result<Vec<Reorder>> {
        let days = self.rules.file.sync.new_purchase_timeout_days as i64;
        let mut out = Vec::new();
        for (s, b) in self.reorder_targets(service)? {
            // A lead a dry run only planned is not lost: it does not exist yet.
            let lost = b.amo_id != PLANNED && self.lost_blocks_join(b.amo_id)?;
            let age = service
                .created_at
                .zip(s.created_at)
                .map(|(a, b)| (a - b).num_days())
                .unwrap_or(0);
            out.push(Reorder {
                id: b.amo_id,
                target: b.bm_id,
                lost,
                reason: format!(
                    "re-order of {} {age} days after service {} (within new_purchase_timeout_days = {days}): joined its lead",
                    service.product, s.id
                ),
            });
            if !lost {
                break;
            }
        }
        Ok(out)
    }

    /// The client's bound earlier orders of the same product within
    /// `new_purchase_timeout_days`, newest first: the leads a re-order may join.
    pub(super) fn reorder_targets(
        &self,
        service: &Service,
    ) -> anyhow::Result<Vec<(Service, crate::store::Binding)>> {
        let days = self.rules.file.sync.new_purchase_timeout_days as i64;
        let (true, Some(created)) = (days > 0, service.created_at) else {
            return Ok(Vec::new());
        };
        let mut earlier: Vec<Service> = self
            .billing
            .services_of(&service.client_id)?
            .into_iter()
            .filter(|s| s.id != service.id && s.product == service.product)
            .filter(|s| {
                s.created_at
                    .map(|c| c <= created && (created - c).num_days() <= days)
                    .unwrap_or(false)
            })
            .collect();
        earlier.sort_by_key(|s| s.created_at);
        let mut out = Vec::new();
        for s in earlier.into_iter().rev() {
            let key = format!("service:{}", s.id);
            if let Some(b) = self.store.binding("lead", &key)? {
                out.push((s, b));
            } else if self.dry_leads.borrow().contains(&key) {
                // Only planned in this dry run: the real run creates it first, then joins.
                out.push((
                    s,
                    crate::store::Binding {
                        kind: "lead".into(),
                        bm_id: key,
                        amo_id: PLANNED,
                        payload_hash: String::new(),
                        synced_at: 0,
                    },
                ));
            }
        }
        Ok(out)
    }

    fn plan_lead(
        &self,
        service: &Service,
        key: &str,
        f: &Facts,
        contact: Option<i64>,
        company: Option<i64>,
    ) -> anyhow::Result<Plan> {
        let (desired, life) = self.lead_desired(service, key, f, contact, company)?;
        let id = service.id.clone();
        let mut plan = self.upsert(desired, &|me| {
            self.find_by_marker(EntityKind::Lead, me, "service.id", &id)
        })?;
        if matches!(plan.op, Op::Create(_)) && self.wants_changes() {
            plan.changes.extend(life);
        }
        Ok(plan)
    }

    /// What a service's lead should hold in amoCRM, with the lifecycle's report lines for a
    /// create. For a bound lead it reads nothing from amoCRM.
    fn lead_desired(
        &self,
        service: &Service,
        key: &str,
        f: &Facts,
        contact: Option<i64>,
        company: Option<i64>,
    ) -> anyhow::Result<(Desired, Vec<(String, String)>)> {
        let (fields, warnings) = custom_fields(&self.resolved, EntityKind::Lead, f);
        let name = facts::render(&self.rules.file.sync.lead_name, f);
        let mut payload = json!({
            "name": if name.is_empty() { format!("Service #{}", service.id) } else { name },
            "custom_fields_values": fields,
            "tags_to_add": tags_to_add(&tags(self.rules, EntityKind::Lead, f)),
            "request_id": key,
        });
        if let Some(cost) = service.cost {
            payload["price"] = Value::from(cost.round() as i64);
        }
        let target = self.resolved.pipelines.iter().find(|p| holds(&p.when, f));
        let (pipeline, status) = match target {
            Some(t) => (Some(t.pipeline_id), Some(t.status_id)),
            None => self
                .resolved
                .default_pipeline()
                .map(|(p, s)| (Some(p), Some(s)))
                .unwrap_or((None, None)),
        };
        if let (Some(p), Some(s)) = (pipeline, status) {
            payload["pipeline_id"] = Value::from(p);
            payload["status_id"] = Value::from(s);
        }
        if let Some(r) = target
            .and_then(|t| t.responsible)
            .or(self.resolved.responsible)
        {
            payload["responsible_user_id"] = Value::from(r);
        }
        let stage_facts = self.stage_facts(service, key, f)?;
        let life = self.lifecycle_plan_lead(service, key, &stage_facts, &mut payload)?;
        let mut embedded = serde_json::Map::new();
        let mut links = Vec::new();
        if let Some(c) = contact {
            embedded.insert("contacts".into(), json!([{"id": c, "is_main": true}]));
            links.push((EntityKind::Contact, c, true));
        }
        if let Some(c) = company {
            embedded.insert("companies".into(), json!([{"id": c}]));
            links.push((EntityKind::Company, c, false));
        }
        if !embedded.is_empty() {
            payload["_embedded"] = Value::Object(embedded);
        }
        let h = hash(&json!([self.hash_view(&payload), contact, company]));
        let desired = Desired {
            kind: EntityKind::Lead,
            key: key.to_string(),
            payload,
            hash: h,
            // On create, `_embedded` links them; on update, missing links are added.
            links,
            warnings,
            multitext: vec![],
            links_on_create: false,
            origin: (EntityKind::Lead, service.id.clone()),
            create_only: CREATE_ONLY.to_vec(),
        };
        Ok((desired, life))
    }
}
