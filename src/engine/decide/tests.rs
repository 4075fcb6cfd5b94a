//! The planner's table: one row per branch of [`admit`] and [`decide`], each named, with
//! the decision written out as one line (operation, warnings, status verdict, and what a
//! dry run would print). No store, no amoCRM: the inputs are what a gather would hand over.

use serde_json::{json, Value};

use super::*;
use crate::store::Binding;

/// Display names as a resolved account would give them.
struct Account;

impl Names for Account {
    fn field(&self, _kind: EntityKind, id: i64) -> String {
        match id {
            10 => "Phone".into(),
            11 => "Email".into(),
            other => format!("field {other}"),
        }
    }

    fn stage(&self, stage: Stage) -> String {
        format!("stage {}/{}", stage.0, stage.1)
    }
}

/// What a row hands to the planner.
enum Input {
    /// The rules' gate alone.
    Gate(Gate),
    /// An entity the rules let through: desired state, binding, what amoCRM holds, and
    /// whether `adopt = "fill"` and plans with changes are on.
    Upsert(Box<(Desired, Option<Binding>, Remote, Settings)>),
    /// A returning client's lost lead and the account's users: who gets the new lead.
    Returning(Value, Vec<UserDef>),
}

#[derive(Clone, Copy)]
struct Settings {
    fill: bool,
    changes: bool,
}

const OVERWRITE: Settings = Settings {
    fill: false,
    changes: true,
};
const FILL: Settings = Settings {
    fill: true,
    changes: true,
};
const SUMMARY: Settings = Settings {
    fill: false,
    changes: false,
};

struct Case {
    name: &'static str,
    input: Input,
    want: &'static str,
}

fn contact() -> Desired {
    Desired {
        kind: EntityKind::Contact,
        key: "user:1".into(),
        payload: json!({
            "name": "Ivan Petrov",
            "custom_fields_values": [
                {"field_id": 10, "values": [{"value": "+79160001122", "enum_code": "WORK"}]},
                {"field_id": 20, "values": [{"value": "gold"}]},
            ],
            "tags_to_add": [],
            "request_id": "user:1",
            "responsible_user_id": 5,
        }),
        hash: "new".into(),
        links: vec![(EntityKind::Company, 900, false)],
        warnings: vec!["mapping warning".into()],
        multitext: vec![(10, true)],
        create_only: vec!["responsible_user_id", "request_id"],
        links_on_create: true,
        origin: (EntityKind::Contact, "c1".into()),
    }
}

fn lead() -> Desired {
    Desired {
        kind: EntityKind::Lead,
        key: "service:42".into(),
        payload: json!({
            "name": "VPS #42",
            "price": 500,
            "custom_fields_values": [],
            "tags_to_add": [],
            "request_id": "service:42",
            "pipeline_id": 1,
            "status_id": 20,
            "_embedded": {"contacts": [{"id": 100, "is_main": true}]},
        }),
        hash: "new".into(),
        links: vec![(EntityKind::Contact, 100, true)],
        warnings: vec![],
        multitext: vec![],
        create_only: crate::engine::leads::CREATE_ONLY.to_vec(),
        links_on_create: false,
        origin: (EntityKind::Lead, "42".into()),
    }
}

/// A contact as amoCRM holds it, linked to company 900.
fn held_contact(id: i64, name: &str, phone: &str) -> Value {
    json!({
        "id": id,
        "name": name,
        "responsible_user_id": 8,
        "custom_fields_values": [
            {"field_id": 10, "values": [{"value": phone, "enum_code": "WORK"}]},
            {"field_id": 20, "values": [{"value": "gold"}]},
        ],
        "_embedded": {"companies": [{"id": 900}]},
    })
}

/// The lead as amoCRM holds it, in stage `status` of pipeline 1.
fn held_lead(status: i64) -> Value {
    json!({
        "id": 300,
        "name": "VPS #42",
        "price": 500,
        "pipeline_id": 1,
        "status_id": status,
        "_embedded": {"contacts": [{"id": 100}]},
    })
}

fn bound(id: i64, hash: &str) -> Option<Binding> {
    Some(Binding {
        kind: "contact".into(),
        bm_id: "user:1".into(),
        amo_id: id,
        payload_hash: hash.into(),
        synced_at: 0,
    })
}

/// What amoCRM holds of a bound entity.
fn read(entity: Value) -> Remote {
    Remote {
        bound: Some(entity),
        ..Remote::default()
    }
}

/// A lookup's result: a free match (with what matched) and the matches passed over.
fn looked_up(hit: Option<(Value, &str)>, passed: &[&str]) -> Remote {
    Remote {
        found: Found {
            hit: hit.map(|(e, why)| (e, why.to_string())),
            passed: passed.iter().map(|p| p.to_string()).collect(),
        },
        ..Remote::default()
    }
}

/// A bound lead read in stage `status`, with the status rule `target` pending.
fn staged(status: i64, target: (i64, i64), known: LeadState) -> Remote {
    Remote {
        bound: Some(held_lead(status)),
        stage: Some((
            RuleTarget {
                label: "lifecycle.status[0]".into(),
                stage: target,
                override_closed: false,
            },
            known,
        )),
        ..Remote::default()
    }
}

fn gate(kind: EntityKind, edit: impl FnOnce(&mut Gate)) -> Input {
    let mut g = Gate::new(kind);
    edit(&mut g);
    Input::Gate(g)
}

fn reorder(id: i64, lost: bool) -> Reorder {
    Reorder {
        id,
        target: format!("service:{id}"),
        lost,
        reason: format!("re-order of VPS: joined lead {id}"),
    }
}

fn user(id: i64, active: bool) -> UserDef {
    UserDef {
        id,
        name: format!("user {id}"),
        email: None,
        active,
    }
}

fn date(s: &str) -> NaiveDate {
    s.parse().expect("a date")
}

fn cases() -> Vec<Case> {
    use EntityKind::{Company, Contact, Lead};
    let c = |name, input, want| Case { name, input, want };
    let up = |d, b, r, s| Input::Upsert(Box::new((d, b, r, s)));
    let passed = |n: usize| {
        (1..=n)
            .map(|i| format!("phone +79160001122 is shared with contact {i}"))
            .collect::<Vec<_>>()
    };
    let five = passed(5);
    let five: Vec<&str> = five.iter().map(String::as_str).collect();
    let two = passed(2);
    let two: Vec<&str> = two.iter().map(String::as_str).collect();
    vec![
        // --- the rules' gate ---
        c(
            "skip rule on an unbound contact",
            gate(Contact, |g| g.skip_rule = Some("test account".into())),
            "skip: test account",
        ),
        c(
            "skip rule on a bound contact keeps it for its leads",
            gate(Contact, |g| {
                g.skip_rule = Some("test account".into());
                g.bound = Some(7);
            }),
            "keep 7",
        ),
        c(
            "since keeps out a client registered before it",
            gate(Contact, |g| {
                g.since = before_since(
                    Some(date("2024-01-01")),
                    date("2023-12-31"),
                    "client registered",
                )
            }),
            "skip: client registered 2023-12-31 before [sync] since = 2024-01-01",
        ),
        c(
            "since lets through a client registered on its day",
            gate(Contact, |g| {
                g.since = before_since(
                    Some(date("2024-01-01")),
                    date("2024-01-01"),
                    "client registered",
                )
            }),
            "through",
        ),
        c(
            "no since in the rules lets everything through",
            gate(Company, |g| {
                g.since = before_since(None, date("2001-01-01"), "client registered")
            }),
            "through",
        ),
        c(
            "a skip rule is named before since",
            gate(Company, |g| {
                g.skip_rule = Some("reseller".into());
                g.since = Some("client registered 2020-01-01 before …".into());
            }),
            "skip: reseller",
        ),
        c(
            "a company another payer of its INN drives is kept",
            gate(Company, |g| {
                g.bound = Some(9);
                g.driven_by_other = true;
            }),
            "keep 9",
        ),
        c(
            "a bound company with no rule against it goes through",
            gate(Company, |g| g.bound = Some(9)),
            "through",
        ),
        c(
            "a service that joined a lead stays joined",
            gate(Lead, |g| {
                g.joined = Some((300, "service:41".into(), "re-order".into()))
            }),
            "join 300 (service:41): re-order",
        ),
        c(
            "a bound lead is updated whatever the skip rules say",
            gate(Lead, |g| {
                g.bound = Some(300);
                g.skip_rule = Some("free plan".into());
            }),
            "through",
        ),
        c(
            "skip rule on a new lead",
            gate(Lead, |g| g.skip_rule = Some("free plan".into())),
            "skip: free plan",
        ),
        c(
            "since keeps out a service created before it",
            gate(Lead, |g| {
                g.since = before_since(
                    Some(date("2024-01-01")),
                    date("2022-05-01"),
                    "service created",
                )
            }),
            "skip: service created 2022-05-01 before [sync] since = 2024-01-01",
        ),
        c(
            "a re-order joins the newest earlier lead",
            gate(Lead, |g| g.reorders = vec![reorder(301, false)]),
            "join 301 (service:301): re-order of VPS: joined lead 301",
        ),
        c(
            "a lost earlier lead does not swallow a re-order: the next one does",
            gate(Lead, |g| g.reorders = vec![reorder(301, true), reorder(302, false)]),
            "join 302 (service:302): re-order of VPS: joined lead 302",
        ),
        c(
            "lost return: every earlier lead lost, a new lead is planned",
            gate(Lead, |g| g.reorders = vec![reorder(301, true)]),
            "through",
        ),
        c(
            "a new lead with no rule against it goes through",
            gate(Lead, |_| {}),
            "through",
        ),
        // --- a returning client's new lead ---
        c(
            "lost return: the new lead goes to the lost lead's manager",
            Input::Returning(
                json!({"id": 77, "responsible_user_id": 8}),
                vec![user(8, true)],
            ),
            "manager 8: manager of the lost lead #77",
        ),
        c(
            "lost return: a deactivated manager does not get it",
            Input::Returning(
                json!({"id": 77, "responsible_user_id": 8}),
                vec![user(8, false), user(9, true)],
            ),
            "no manager",
        ),
        c(
            "lost return: the account's users unknown, the lost lead's manager is trusted",
            Input::Returning(json!({"id": 77, "responsible_user_id": 8}), vec![]),
            "manager 8: manager of the lost lead #77",
        ),
        // --- create ---
        c(
            "create an unbound contact nobody holds, links after",
            up(contact(), None, Remote::default(), OVERWRITE),
            "create changes=[name=Ivan Petrov, responsible_user_id=5, Phone=+79160001122, field 20=gold, tags=] \
             links=[company 900] | warn: mapping warning | dry: would create",
        ),
        c(
            "create a lead: its links ride in the payload",
            up(lead(), None, Remote::default(), SUMMARY),
            "create changes=[] links=[] | dry: would create",
        ),
        c(
            "matches standing for other keys are passed over and named",
            up(contact(), None, looked_up(None, &two), SUMMARY),
            "create changes=[] links=[company 900] | warn: mapping warning; \
             phone +79160001122 is shared with contact 1; phone +79160001122 is shared with contact 2 \
             | dry: would create",
        ),
        c(
            "more than three passed matches: three named, the rest counted",
            up(contact(), None, looked_up(None, &five), SUMMARY),
            "create changes=[] links=[company 900] | warn: mapping warning; \
             phone +79160001122 is shared with contact 1; phone +79160001122 is shared with contact 2; \
             phone +79160001122 is shared with contact 3; \
             … and 2 more matches that stand for other BILLmanager keys | dry: would create",
        ),
        c(
            "deleted in amoCRM and no match: created again",
            up(contact(), bound(7, "old"), Remote::default(), SUMMARY),
            "create changes=[] links=[company 900] | warn: mapping warning | dry: would create",
        ),
        // --- bound ---
        c(
            "bound and unchanged: nothing read, nothing sent",
            up(contact(), bound(7, "new"), Remote::default(), OVERWRITE),
            "unchanged 7 | warn: mapping warning | dry: no change since last push",
        ),
        c(
            "bound and changed: only what differs is sent",
            up(
                contact(),
                bound(7, "old"),
                read(held_contact(7, "Ivan", "+79160001122")),
                OVERWRITE,
            ),
            "update 7 body={\"id\":7,\"name\":\"Ivan Petrov\",\"request_id\":\"user:1\"} \
             changes=[name=Ivan Petrov] links=[] | warn: mapping warning | dry: would update",
        ),
        c(
            "bound and changed, a phone amoCRM lacks is merged, not replaced",
            up(
                contact(),
                bound(7, "old"),
                read(held_contact(7, "Ivan Petrov", "+74950000000")),
                OVERWRITE,
            ),
            "update 7 body={\"custom_fields_values\":[{\"field_id\":10,\"values\":[\
             {\"enum_code\":\"WORK\",\"value\":\"+74950000000\"},\
             {\"enum_code\":\"WORK\",\"value\":\"+79160001122\"}]}],\"id\":7,\"request_id\":\"user:1\"} \
             changes=[Phone=+ +79160001122] links=[] | warn: mapping warning | dry: would update",
        ),
        c(
            "bound, only a link missing: a links-only update",
            up(
                contact(),
                bound(7, "old"),
                read(json!({"id": 7, "name": "Ivan Petrov", "custom_fields_values": [
                    {"field_id": 10, "values": [{"value": "+79160001122"}]},
                    {"field_id": 20, "values": [{"value": "gold"}]},
                ]})),
                OVERWRITE,
            ),
            "update 7 body={\"id\":7,\"request_id\":\"user:1\"} changes=[] links=[company 900] \
             | warn: mapping warning | dry: would update",
        ),
        c(
            "bound, hash changed, amoCRM already holds it all: bound again, no write",
            up(
                contact(),
                bound(7, "old"),
                read(held_contact(7, "Ivan Petrov", "+7 916 000-11-22")),
                OVERWRITE,
            ),
            "held 7 | warn: mapping warning | dry: no change since last push",
        ),
        // --- adopt ---
        c(
            "adopt a free match, overwriting what differs",
            up(
                contact(),
                None,
                looked_up(
                    Some((held_contact(50, "Website lead", "+79160001122"), "same phone +79160001122")),
                    &[],
                ),
                OVERWRITE,
            ),
            "adopt 50 (same phone +79160001122) body={\"id\":50,\"name\":\"Ivan Petrov\",\"request_id\":\"user:1\"} \
             changes=[name=Ivan Petrov] links=[] | warn: mapping warning \
             | dry: would adopt existing: same phone +79160001122",
        ),
        c(
            "adopt a free match that holds it all: bound, no write",
            up(
                contact(),
                None,
                looked_up(
                    Some((held_contact(50, "Ivan Petrov", "+79160001122"), "same phone +79160001122")),
                    &[],
                ),
                OVERWRITE,
            ),
            "held 50 | warn: mapping warning | dry: no change since last push",
        ),
        c(
            "adopt the free match after passing over a bound one",
            up(
                contact(),
                None,
                looked_up(
                    Some((held_contact(50, "Ivan Petrov", "+79160001122"), "same e-mail")),
                    &two[..1],
                ),
                OVERWRITE,
            ),
            "held 50 | warn: mapping warning; phone +79160001122 is shared with contact 1 \
             | dry: no change since last push",
        ),
        c(
            "deleted in amoCRM, a free match adopted instead",
            up(
                contact(),
                bound(7, "old"),
                looked_up(
                    Some((held_contact(51, "Ivan", "+79160001122"), "same phone +79160001122")),
                    &[],
                ),
                SUMMARY,
            ),
            "adopt 51 (same phone +79160001122) body={\"id\":51,\"name\":\"Ivan Petrov\",\"request_id\":\"user:1\"} \
             changes=[] links=[] | warn: mapping warning \
             | dry: would adopt existing: same phone +79160001122",
        ),
        c(
            "adopt under fill: a typed name stays, only an empty field is filled",
            up(
                contact(),
                None,
                looked_up(
                    Some((
                        json!({"id": 52, "name": "Website lead", "_embedded": {"companies": [{"id": 900}]}}),
                        "same phone +79160001122",
                    )),
                    &[],
                ),
                FILL,
            ),
            "adopt 52 (same phone +79160001122) body={\"custom_fields_values\":[\
             {\"field_id\":10,\"values\":[{\"enum_code\":\"WORK\",\"value\":\"+79160001122\"}]},\
             {\"field_id\":20,\"values\":[{\"value\":\"gold\"}]}],\"id\":52,\"request_id\":\"user:1\"} \
             changes=[Phone=+ +79160001122, field 20=gold] links=[] filled | warn: mapping warning \
             | dry: would adopt existing: same phone +79160001122",
        ),
        c(
            "adopt under fill, nothing empty: bound and the panel remembered",
            up(
                contact(),
                None,
                looked_up(
                    Some((held_contact(53, "Website lead", "+79160001122"), "same phone +79160001122")),
                    &[],
                ),
                FILL,
            ),
            "held 53 filled | warn: mapping warning | dry: no change since last push",
        ),
        c(
            "filled earlier: only what the panel changed since is compared",
            up(
                contact(),
                bound(53, "old"),
                Remote {
                    filled_before: Some(
                        json!({"name": "Ivan Petrov", "custom_fields_values": [
                            {"field_id": 20, "values": [{"value": "silver"}]},
                        ]})
                        .to_string(),
                    ),
                    ..read(held_contact(53, "Website lead", "+79160001122"))
                },
                FILL,
            ),
            "held 53 filled | warn: mapping warning | dry: no change since last push",
        ),
        c(
            "filled earlier, the panel's name changed since: it is sent",
            up(
                contact(),
                bound(53, "old"),
                Remote {
                    filled_before: Some(json!({"name": "Ivan"}).to_string()),
                    ..read(held_contact(53, "Website lead", "+79160001122"))
                },
                FILL,
            ),
            "update 53 body={\"id\":53,\"name\":\"Ivan Petrov\",\"request_id\":\"user:1\"} \
             changes=[name=Ivan Petrov] links=[] filled | warn: mapping warning | dry: would update",
        ),
        // --- a lead's status rule ---
        c(
            "status rule moves a bound lead, as a robot",
            up(
                lead(),
                bound(300, "old"),
                staged(20, (1, 30), LeadState::default()),
                OVERWRITE,
            ),
            "update 300 body={\"id\":300,\"pipeline_id\":1,\"request_id\":\"service:42\",\"status_id\":30,\"updated_by\":0} \
             changes=[status=stage 1/20 → stage 1/30 (lifecycle.status[0])] links=[] \
             | stage Move | dry: would update",
        ),
        c(
            "status rule: already there",
            up(
                lead(),
                bound(300, "old"),
                staged(30, (1, 30), LeadState::default()),
                OVERWRITE,
            ),
            "held 300 | stage AlreadyThere | dry: no change since last push",
        ),
        c(
            "status rule: a manager moved the lead since the rule did, it stays",
            up(
                lead(),
                bound(300, "old"),
                staged(
                    40,
                    (1, 30),
                    LeadState {
                        rule: Some((1, 30)),
                        ..LeadState::default()
                    },
                ),
                OVERWRITE,
            ),
            "held 300 | stage ManagerMoved | dry: no change since last push",
        ),
        c(
            "status rule: a lead closed by hand stays closed, and that is said",
            up(
                lead(),
                bound(300, "old"),
                staged(
                    143,
                    (1, 30),
                    LeadState {
                        seen: Some((1, 143)),
                        seen_by: Some(42),
                        seen_at: Some(10),
                        ..LeadState::default()
                    },
                ),
                OVERWRITE,
            ),
            "held 300 | warn: status left at `stage 1/143`: an operator closed the lead by hand \
             (lifecycle.status[0] would move it to `stage 1/30`; `override_closed = true` allows that) \
             | stage ClosedByHand | dry: no change since last push",
        ),
    ]
}

/// One decision written out.
fn render(input: Input) -> String {
    let (d, binding, remote, s) = match input {
        Input::Gate(g) => {
            return match admit(&g) {
                None => "through".into(),
                Some(Verdict::Skip(r)) => format!("skip: {r}"),
                Some(Verdict::Keep(id)) => format!("keep {id}"),
                Some(Verdict::Join { id, target, reason }) => {
                    format!("join {id} ({target}): {reason}")
                }
            }
        }
        Input::Upsert(upsert) => *upsert,
        Input::Returning(lost, users) => {
            return match returning_manager(&lost, &users) {
                Some((id, why)) => format!("manager {id}: {why}"),
                None => "no manager".into(),
            }
        }
    };
    let policy = Policy {
        fill: s.fill,
        changes: s.changes,
        names: &Account,
    };
    let decision = decide(&d, binding.as_ref(), &remote, &policy);
    let list = |xs: &[(String, String)]| {
        xs.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let links = |xs: &[(EntityKind, i64, bool)]| {
        xs.iter()
            .map(|(k, id, _)| format!("{} {id}", k.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let filled = |f: &Option<String>| if f.is_some() { " filled" } else { "" };
    let patch = |p: &Patch| {
        format!(
            "body={} changes=[{}] links=[{}]",
            Value::Object(p.body.clone()),
            list(&p.changes),
            links(&p.links)
        )
    };
    let mut out = match &decision.op {
        Operation::Unchanged(id) => format!("unchanged {id}"),
        Operation::AlreadyHeld { id, filled: f } => format!("held {id}{}", filled(f)),
        Operation::Create { changes, links: l } => {
            format!("create changes=[{}] links=[{}]", list(changes), links(l))
        }
        Operation::Update {
            id,
            patch: p,
            filled: f,
        } => {
            format!("update {id} {}{}", patch(p), filled(f))
        }
        Operation::Adopt {
            id,
            reason,
            patch: p,
            filled: f,
        } => format!("adopt {id} ({reason}) {}{}", patch(p), filled(f)),
    };
    let stage = decision.stage.clone();
    let plan = decision.into_plan(d);
    if !plan.warnings.is_empty() {
        out += &format!(" | warn: {}", plan.warnings.join("; "));
    }
    if let Some(st) = stage {
        out += &format!(" | stage {st:?}");
    }
    out + &format!(" | dry: {}", plan.dry_outcome().detail)
}

#[test]
fn the_planner_decides_every_branch_as_the_table_says() {
    let cases = cases();
    assert!(cases.len() >= 25, "{} cases", cases.len());
    let mut failed = Vec::new();
    for case in cases {
        let got = render(case.input);
        let want = case.want.split_whitespace().collect::<Vec<_>>().join(" ");
        let got_flat = got.split_whitespace().collect::<Vec<_>>().join(" ");
        if got_flat != want {
            failed.push(format!("{}\n  want: {want}\n  got:  {got_flat}", case.name));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
