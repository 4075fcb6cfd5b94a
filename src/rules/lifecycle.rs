//! `[lifecycle]`: what happens to amoCRM entities as a client's services live their lives
//! (docs/lifecycle.md).
//!
//! Every part is optional and off unless written: statuses that follow billing
//! (`[[lifecycle.status]]`), returning clients whose earlier lead was lost
//! (`[lifecycle.lost_returns]`), warm-up tasks for stuck trials (`[lifecycle.nudge]`) and
//! abandoned carts (`[lifecycle.abandoned_cart]`) — both run by `amocrm-bin nudge` —, links
//! to BILLmanager pages (`[lifecycle.links]`), manager assignment (`[lifecycle.assignment]`)
//! and reading managers' status changes back from amoCRM (`[lifecycle.pullback]`).
//!
//! Names of pipelines, statuses and users are resolved against the account when a run
//! starts (`engine::lifecycle::resolve`); here only the shape and what can be checked
//! offline.

use serde::Deserialize;

use super::when::When;

/// `[lifecycle]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleSection {
    /// Status rules: the first whose `when` holds gives the lead's status.
    #[serde(default)]
    pub status: Vec<StatusRule>,
    /// A client whose earlier lead was lost buys again.
    pub lost_returns: Option<LostReturns>,
    /// Warm-up tasks for trials without a paid order (`amocrm-bin nudge`).
    pub nudge: Option<Nudge>,
    /// Orders not paid within N hours (`amocrm-bin nudge`).
    pub abandoned_cart: Option<AbandonedCart>,
    /// Links to the client's and the service's BILLmanager pages.
    #[serde(default)]
    pub links: Links,
    /// Who becomes responsible for new entities.
    pub assignment: Option<Assignment>,
    /// Reading lead status changes back from amoCRM (events API).
    pub pullback: Option<Pullback>,
}

/// `[[lifecycle.status]]`: while `when` holds, the service's lead belongs in this status.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusRule {
    /// The condition (service facts, `service.event`, `lead.*`); empty: always.
    #[serde(default)]
    pub when: When,
    /// Pipeline name or id.
    pub pipeline: String,
    /// Status name or id within the pipeline (`142` won and `143` lost included).
    pub status: String,
    /// Also move a lead an operator closed by hand (won or lost). Off by default.
    #[serde(default)]
    pub override_closed: bool,
}

/// `[lifecycle.lost_returns]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LostReturns {
    /// Off: returning clients are treated like anyone else.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The task for the responsible manager; placeholders: facts plus `{lost.id}`,
    /// `{lost.name}`.
    #[serde(default = "default_lost_text")]
    pub task_text: String,
    /// The task is due this many hours after the new lead was created.
    #[serde(default = "default_task_hours")]
    pub task_hours: u32,
    /// amoCRM task type (1 = "Call" / FOLLOW_UP).
    #[serde(default = "default_task_type")]
    pub task_type: i64,
}

/// `[lifecycle.nudge]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nudge {
    /// A trial this many days old whose client has no paid order gets a task.
    #[serde(default = "default_trial_days")]
    pub trial_age_days: u32,
    /// The task text; placeholders: facts plus `{trial.days}`.
    #[serde(default = "default_nudge_text")]
    pub task_text: String,
    /// Due this many hours after `nudge` ran.
    #[serde(default = "default_task_hours")]
    pub task_hours: u32,
    /// amoCRM task type.
    #[serde(default = "default_task_type")]
    pub task_type: i64,
    /// Another task for the same client only after the last one is done and this many
    /// days have passed since it was created.
    #[serde(default = "default_again_days")]
    pub again_after_days: u32,
    /// Extra condition on the trial's facts (e.g. `"lead.closed" = { exists = false }`).
    #[serde(default)]
    pub when: When,
}

/// `[lifecycle.abandoned_cart]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbandonedCart {
    /// An order still unpaid (`service.status = ordered`) this many hours after it was
    /// created is abandoned.
    #[serde(default = "default_cart_hours")]
    pub hours: u32,
    /// Pipeline name or id of the status below.
    pub pipeline: String,
    /// The status the lead moves to.
    pub status: String,
    /// The task text; placeholders: facts plus `{cart.hours}`.
    #[serde(default = "default_cart_text")]
    pub task_text: String,
    /// Due this many hours after `nudge` ran.
    #[serde(default = "default_cart_task_hours")]
    pub task_hours: u32,
    /// amoCRM task type.
    #[serde(default = "default_task_type")]
    pub task_type: i64,
    /// Extra condition on the order's facts.
    #[serde(default)]
    pub when: When,
}

/// `[lifecycle.links]`: page addresses offered as facts (`client.page_url`,
/// `service.page_url`, for `[fields.*]`) and, optionally, as a note on new entities.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Links {
    /// The client's page; `{panel_url}` is `[billmanager] panel_url`.
    #[serde(default = "default_client_url")]
    pub client_url: String,
    /// The service's page.
    #[serde(default = "default_service_url")]
    pub service_url: String,
    /// Also add a note with the link(s) to every new contact and lead.
    #[serde(default)]
    pub note: bool,
}

impl Default for Links {
    fn default() -> Self {
        Links {
            client_url: default_client_url(),
            service_url: default_service_url(),
            note: false,
        }
    }
}

/// `[lifecycle.assignment]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    /// New clients are handed out in turn to these users (name, e-mail or id).
    #[serde(default)]
    pub round_robin: Vec<String>,
    /// A client who already has a responsible manager in amoCRM keeps them.
    #[serde(default = "yes")]
    pub keep_client_manager: bool,
    /// For leads: the first rule whose `when` holds names the responsible user.
    #[serde(default)]
    pub rules: Vec<AssignmentRule>,
}

/// `[[lifecycle.assignment.rules]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignmentRule {
    /// The condition.
    pub when: When,
    /// Name, e-mail or id.
    pub responsible: String,
}

/// `[lifecycle.pullback]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pullback {
    /// `nudge` and `backfill` pull first; `amocrm-bin pull` works either way.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// How far back the very first pull reads.
    #[serde(default = "default_first_days")]
    pub first_days: u32,
}

fn yes() -> bool {
    true
}
fn default_task_hours() -> u32 {
    24
}
fn default_task_type() -> i64 {
    1
}
fn default_trial_days() -> u32 {
    7
}
fn default_again_days() -> u32 {
    30
}
fn default_cart_hours() -> u32 {
    24
}
fn default_cart_task_hours() -> u32 {
    4
}
fn default_first_days() -> u32 {
    7
}
fn default_lost_text() -> String {
    "Returning client {client.name}: ordered {service.product} #{service.id}; their earlier lead #{lost.id} was lost".into()
}
fn default_nudge_text() -> String {
    "Trial of {service.product} is {trial.days} days old and {client.name} has not paid yet: call them".into()
}
fn default_cart_text() -> String {
    "Order {service.product} #{service.id} is unpaid after {cart.hours} hours: call {client.name}"
        .into()
}
fn default_client_url() -> String {
    "{panel_url}?startform=account.edit&elid={client.id}".into()
}
fn default_service_url() -> String {
    "{panel_url}?startform={service.item_type}.edit&elid={service.id}".into()
}
