//! Issue 22, parts 1 and 2: clients that share a phone or an e-mail are never merged into
//! one contact, and an entity adopted under `adopt = "fill"` keeps what people typed for
//! good. The panel is the fake `mgrctl` on a copy of the real-shape fixtures, as a hosting
//! provider's panel feeds the hook and `drain` one entity at a time.

use std::path::{Path, PathBuf};

use sandbox::SandboxConfig;
use serde_json::Value;

use crate::support::{edit_rows, root, run, World};
use crate::sync::copy_dir;

/// `fake-mgrctl`, built next to this test binary by `cargo build --workspace`.
fn fake_mgrctl() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join(format!("fake-mgrctl{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is not built; .ci/run builds the workspace before testing",
        bin.display()
    );
    bin
}

/// Sets `field` of the row with id `id` to the panel's `{"$": value}`.
fn set(rows: &mut [Value], id: &str, field: &str, value: &str) {
    let row = rows
        .iter_mut()
        .find(|r| r["id"]["$"] == id)
        .unwrap_or_else(|| panic!("no row {id}"));
    row[field] = serde_json::json!({ "$": value });
}

/// A world reading the panel through the fake `mgrctl` from `data`.
struct Panel {
    w: World,
    data: tempfile::TempDir,
}

impl Panel {
    fn new(edit: impl FnOnce(&Path)) -> Panel {
        Self::with_rules(edit, |r| r)
    }

    fn with_rules(edit: impl FnOnce(&Path), rules: impl FnOnce(String) -> String) -> Panel {
        let data = tempfile::tempdir().unwrap();
        copy_dir(&root().join("examples/billmanager"), data.path());
        edit(data.path());
        let mgrctl = fake_mgrctl();
        let w = World::with(SandboxConfig::default(), |r| {
            rules(
                r.replace("source = \"files\"", "source = \"mgrctl\"")
                    .replace(
                        "mgrctl = \"/usr/local/mgr5/sbin/mgrctl\"",
                        &format!("mgrctl = {:?}", mgrctl.display().to_string()),
                    ),
            )
        });
        w.authorize();
        Panel { w, data }
    }

    fn cmd(&self) -> assert_cmd::Command {
        let mut c = self.w.cmd();
        c.env("FAKEBILL_DIR", self.data.path());
        c
    }

    /// The amoCRM id bound to one user's contact.
    fn contact_of(&self, user: &str) -> i64 {
        let (rc, out, err) = run(self.cmd().args([
            "bindings", "show", "--entity", "user", "--elid", user, "--json",
        ]));
        assert_eq!(rc, 0, "{out}{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        first_amo_id(&v).unwrap_or_else(|| panic!("user {user} has no contact: {v}"))
    }

    fn entity(&self, kind: &str, id: i64) -> Value {
        self.w
            .sandbox
            .entities(kind)
            .into_iter()
            .find(|e| e["id"] == id)
            .unwrap_or_else(|| panic!("no {kind} {id}"))
    }
}

/// The first `amo_id` anywhere in a `bindings show --json` answer.
fn first_amo_id(v: &Value) -> Option<i64> {
    match v {
        Value::Object(m) => m
            .get("amo_id")
            .and_then(Value::as_i64)
            .or_else(|| m.values().find_map(first_amo_id)),
        Value::Array(a) => a.iter().find_map(first_amo_id),
        _ => None,
    }
}

/// The values of a contact's PHONE or EMAIL field.
fn values(contact: &Value, code: &str) -> Vec<String> {
    contact["custom_fields_values"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["field_code"] == code)
        .flat_map(|f| f["values"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v["value"].as_str().map(String::from))
        .collect()
}

const IVAN_PHONE: &str = "+7 916 000-11-22";
const IVAN_MAIL: &str = "ivan@romashka.example";

/// Client 102's user 203 has client 101's phone, client 103's user 204 and client 104's
/// user 205 its e-mail; a website contact (nobody's yet) has 204's phone.
fn shared_panel() -> Panel {
    let p = Panel::new(|data| {
        edit_rows(data, "user.json", |rows| {
            set(rows, "203", "phone", IVAN_PHONE);
            set(rows, "204", "email", IVAN_MAIL);
            set(rows, "205", "email", IVAN_MAIL);
        })
    });
    p.w.sandbox.insert(
        "contacts",
        serde_json::json!({"name": "Анна с сайта", "custom_fields_values": [
            {"field_code": "PHONE", "values": [{"value": "+78123002010", "enum_code": "WORK"}]}]}),
    );
    p
}

/// The three clients' contacts are three, each with only its own user's data; the website
/// contact became 204's; a backfill afterwards links everything and exits 0.
fn assert_kept_apart(p: &Panel) {
    let ids: Vec<i64> = ["201", "203", "204", "205"]
        .iter()
        .map(|u| p.contact_of(u))
        .collect();
    let distinct: std::collections::BTreeSet<&i64> = ids.iter().collect();
    assert_eq!(distinct.len(), 4, "four clients, four contacts: {ids:?}");
    let (ivan, oleg, anna, petr) = (ids[0], ids[1], ids[2], ids[3]);
    let ivan_card = p.entity("contacts", ivan);
    assert_eq!(values(&ivan_card, "PHONE").len(), 1, "{ivan_card}");
    assert_eq!(values(&ivan_card, "EMAIL"), [IVAN_MAIL], "{ivan_card}");
    let oleg_card = p.entity("contacts", oleg);
    assert_eq!(values(&oleg_card, "EMAIL"), ["oleg@alfa-trade.example"]);
    let anna_card = p.entity("contacts", anna);
    assert_eq!(
        anna_card["name"], "Анна с сайта",
        "the free website contact"
    );
    assert_eq!(values(&anna_card, "EMAIL"), [IVAN_MAIL]);
    let petr_card = p.entity("contacts", petr);
    assert_eq!(values(&petr_card, "PHONE").len(), 1, "{petr_card}");
    assert_eq!(values(&petr_card, "EMAIL"), [IVAN_MAIL]);
    let (rc, out, err) = run(p
        .cmd()
        .args(["backfill", "--since", "2024-01-01", "--json"]));
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out}{err}"));
    assert_eq!(rc, 0, "{v}\n{err}");
    assert_eq!(v["unlinked"], serde_json::json!([]), "{v}");
    assert_eq!(
        p.w.sandbox.entities("contacts").len(),
        9,
        "one contact per user, the website's adopted"
    );
}

#[test]
fn clients_sharing_a_phone_and_an_email_synced_one_by_one_get_their_own_contacts() {
    let p = shared_panel();
    let (rc, out, err) = run(p.cmd().args(["sync", "--entity", "lead", "--elid", "401"]));
    assert_eq!(rc, 0, "{out}{err}");
    let (rc, out, err) = run(p.cmd().args(["sync", "--entity", "lead", "--elid", "403"]));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(!out.contains("adopted existing"), "{out}");
    assert!(
        out.contains(&format!(
            "phone +79160001122 is shared with contact {}, which stands for user:201",
            p.contact_of("201")
        )),
        "the shared phone is named: {out}"
    );
    let (rc, out, err) = run(p.cmd().args(["sync", "--entity", "lead", "--elid", "404"]));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(
        out.contains("adopted existing: same phone +78123002010"),
        "{out}"
    );
    let (rc, out, err) = run(p.cmd().args(["sync", "--entity", "lead", "--elid", "406"]));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(!out.contains("adopted existing"), "{out}");
    assert!(
        out.contains(&format!("e-mail {IVAN_MAIL} is shared with contact")),
        "{out}"
    );
    assert_kept_apart(&p);
}

#[test]
fn clients_sharing_a_phone_and_an_email_through_the_hook_and_drain_get_their_own_contacts() {
    let p = shared_panel();
    for service in ["401", "403", "404", "406"] {
        let out = p
            .cmd()
            .env("AUTH_USER", "admin")
            .env("EVENT_TYPE", "after")
            .env("AMOCRM_BIN_HOOK_NO_DRAIN", "1")
            .env("PARAM_func", "service.postopen")
            .env("PARAM_elid", service)
            .write_stdin("<doc/>")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let (rc, out, err) = run(p.cmd().arg("drain"));
        assert_eq!(rc, 0, "{service}: {out}{err}");
    }
    assert_kept_apart(&p);
}

#[test]
fn a_dry_run_plans_no_adoption_of_a_contact_another_client_holds() {
    let p = shared_panel();
    let (rc, out, err) = run(p.cmd().args(["sync", "--entity", "lead", "--elid", "401"]));
    assert_eq!(rc, 0, "{out}{err}");
    let (rc, out, err) =
        run(p
            .cmd()
            .args(["sync", "--entity", "contact", "--elid", "102", "--dry-run"]));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(out.contains("would create"), "{out}");
    assert!(!out.contains("would adopt"), "{out}");
}

/// A website contact and a manager's lead are adopted under `fill`; then the panel changes
/// only the user's phone and the service's cost.
#[test]
fn a_filled_contact_and_lead_keep_their_names_through_a_phone_and_a_cost_change() {
    let p = Panel::new(|_| {});
    let contact = p.w.sandbox.insert(
        "contacts",
        serde_json::json!({"name": "Иван с сайта", "custom_fields_values": [
            {"field_code": "PHONE", "values": [{"value": IVAN_PHONE, "enum_code": "MOB"}]}]}),
    );
    let lead = p.w.sandbox.insert(
        "leads",
        serde_json::json!({"name": "Заявка с сайта", "price": 999, "custom_fields_values": [
            {"field_code": "BM_SERVICE_ID", "values": [{"value": "401"}]}]}),
    );
    let (rc, out, err) = run(p.cmd().args(["sync", "--entity", "lead", "--elid", "401"]));
    assert_eq!(rc, 0, "{out}{err}");
    assert!(out.contains("adopted existing"), "{out}");
    assert_eq!(p.entity("leads", lead)["price"], 999);

    edit_rows(p.data.path(), "user.json", |rows| {
        set(rows, "201", "phone", "+7 916 777-88-99")
    });
    edit_rows(p.data.path(), "item.json", |rows| {
        let row = rows.iter_mut().find(|r| r["id"]["$"] == "401").unwrap();
        row["cost"] = serde_json::json!({"$": "250.00 RUB", "$orig": "250.00"});
    });
    let (rc, out, err) = run(p.cmd().args(["sync", "--entity", "lead", "--elid", "401"]));
    assert_eq!(rc, 0, "{out}{err}");
    let c = p.entity("contacts", contact);
    assert_eq!(c["name"], "Иван с сайта", "not renamed: {c}");
    let phones = values(&c, "PHONE");
    assert_eq!(phones.len(), 2, "the new phone added, the old kept: {c}");
    assert!(
        phones.iter().any(|x| x.contains("9167778899")),
        "{phones:?}"
    );
    let l = p.entity("leads", lead);
    assert_eq!(l["name"], "Заявка с сайта", "not renamed: {l}");
    assert_eq!(l["price"], 250, "the panel's new cost: {l}");

    // Nothing changed since: nothing is sent, and the names stay.
    let writes = p.w.sandbox.stats().writes;
    let (rc, out, err) = run(p.cmd().args(["sync", "--entity", "lead", "--elid", "401"]));
    assert_eq!(rc, 0, "{out}{err}");
    assert_eq!(p.w.sandbox.stats().writes, writes, "{out}");
    assert_eq!(p.entity("contacts", contact)["name"], "Иван с сайта");
}

/// Client 102's user 203 shares both the phone and the e-mail of client 101's user 201 (a
/// family). A backfill dies after amoCRM created the contacts but before any was bound; the
/// re-run adopts each orphan for its own user and creates none twice.
#[test]
fn a_crash_before_the_bindings_of_two_clients_sharing_phone_and_email_leaves_no_duplicate() {
    // No re-order joining: joined services take turns updating their lead (issue 13).
    let p = Panel::with_rules(
        |data| {
            edit_rows(data, "user.json", |rows| {
                set(rows, "203", "phone", IVAN_PHONE);
                set(rows, "203", "email", IVAN_MAIL);
            })
        },
        |r| {
            r.replace(
                "new_purchase_timeout_days = 90",
                "new_purchase_timeout_days = 0",
            )
        },
    );
    let out = p
        .cmd()
        .env("AMOCRM_BIN_CRASH_AT", "created-before-binding@user:201")
        .args(["backfill", "--since", "2024-01-01"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), None, "aborted at the crash point");
    // Both contacts exist in amoCRM, neither is bound.
    let created = p.w.sandbox.entities("contacts");
    let with_ivans_mail = created
        .iter()
        .filter(|c| values(c, "EMAIL") == [IVAN_MAIL])
        .count();
    assert_eq!(with_ivans_mail, 2, "{created:?}");
    let (rc, out, err) = run(p.cmd().args(["backfill", "--since", "2024-01-01"]));
    assert_eq!(rc, 0, "{out}{err}");
    assert_eq!(
        p.w.sandbox.entities("contacts").len(),
        9,
        "one contact per user, none twice: {out}"
    );
    let (ivan, family) = (p.contact_of("201"), p.contact_of("203"));
    assert_ne!(ivan, family, "each adopted its own orphan");
    let writes = p.w.sandbox.stats().writes;
    let (rc, out, err) = run(p.cmd().args(["-v", "backfill", "--since", "2024-01-01"]));
    assert_eq!(rc, 0, "{out}{err}");
    assert_eq!(
        p.w.sandbox.stats().writes,
        writes,
        "nothing left to send: {out}{err}"
    );
}
