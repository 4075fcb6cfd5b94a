//! `init`: a minimal, commented rule set written from the live account.
//!
//! It names only what the account has (its pipelines, stages and users) plus the fields the
//! sync needs to find its entities again, which `setup-fields` creates. Everything optional
//! (`[lifecycle]`, `[calls]`, skip and tag rules) is written commented out, with the account's
//! own names filled in, so uncommenting a part gives a rule `check` accepts.

use chrono::NaiveDate;
use std::fmt::Write as _;

use crate::crm::{Dictionaries, PipelineDef, UserDef};

/// Top-level tables a connection-only rule file may hold before `init` adds the rules.
pub const CONNECTION_TABLES: &[&str] = &["amocrm", "billmanager", "store", "log", "hook"];

/// The rule part `init` appends, for `account` (its name, for the header).
pub fn render_rules(dict: &Dictionaries, account: &str, since: Option<NaiveDate>) -> String {
    let mut out = String::new();
    let main = main_pipeline(dict);
    let responsible = dict
        .current_user_id
        .and_then(|id| dict.users.iter().find(|u| u.id == id && u.active))
        .or_else(|| dict.users.iter().find(|u| u.active));
    let _ = writeln!(
        out,
        "\n# ---- Written by `amocrm-bin init` from amoCRM account {account}. ----\n\
         # Next: `amocrm-bin setup-fields` creates the custom fields below, then `amocrm-bin check`.\n\
         # Every key is documented in examples/rules.toml of the source tree (the .deb package\n\
         # installs it as /usr/share/doc/amocrm-bin/examples/rules.toml) and in README.md."
    );
    out.push_str("\n[sync]\n");
    // The one go-live date: cron's `backfill` reads it, no command line repeats it.
    out.push_str(
        "# Entities created before this date are never sent: your go-live date. The periodic\n\
         # `amocrm-bin backfill` (cron) reads it from here.\n",
    );
    match since {
        Some(d) => {
            let _ = writeln!(out, "since = \"{d}\"");
        }
        None => out.push_str("# since = \"2024-01-01\"\n"),
    }
    out.push_str(
        "# Tags every synced contact, company and lead gets.\ndefault_tags = [\"BILL\"]\n",
    );
    out.push_str(
        "# Responsible user for new entities (name, e-mail or id). The account's users:\n",
    );
    for u in &dict.users {
        let _ = writeln!(out, "#   {}", describe_user(u));
    }
    match responsible {
        Some(u) => {
            let _ = writeln!(out, "responsible = {}", quote(&user_key(u)));
        }
        None => out.push_str(
            "# (the integration may not read the user list: name users by their numeric id)\n\
             # responsible = \"12345\"\n",
        ),
    }
    out.push_str(
        "# Lead name; {prefix.attribute} placeholders name BILLmanager attributes.\n\
         lead_name = \"{service.product} #{service.id}\"\n",
    );

    out.push_str(
        "\n# Custom fields: amoCRM field (id, code or name) = BILLmanager attribute.\n\
         # The BM_* ids let every run find its contacts, companies and leads again (also after a\n\
         # crash); amoCRM's interface cannot give a field a code, so `amocrm-bin setup-fields`\n\
         # creates them through the API, read-only for people.\n",
    );
    for (kind, pairs) in [
        (
            "contact",
            &[
                ("BM_CLIENT_ID", "client.id"),
                ("Registered", "client.registered_at"),
            ][..],
        ),
        (
            "company",
            &[("BM_PAYER_ID", "payer.id"), ("INN", "payer.inn")][..],
        ),
        (
            "lead",
            &[
                ("BM_SERVICE_ID", "service.id"),
                ("Product", "service.product"),
                ("Expires", "service.expires_at"),
            ][..],
        ),
    ] {
        let _ = writeln!(out, "[fields.{kind}]");
        for (field, attr) in pairs {
            let _ = writeln!(out, "{} = {}", quote(field), quote(attr));
        }
        existing_fields_comment(&mut out, dict, kind);
        out.push('\n');
    }

    out.push_str(
        "# Pipelines: the first rule whose `when` holds places a new lead; the last one, without\n\
         # `when`, is the default. The account's pipelines and stages:\n",
    );
    for p in &dict.pipelines {
        let stages: Vec<&str> = p.statuses.iter().map(|s| s.name.as_str()).collect();
        let _ = writeln!(
            out,
            "#   {}{}: {}",
            p.name,
            if p.is_main { " (main)" } else { "" },
            stages.join(", ")
        );
    }
    let (pipeline, first, second) = match main {
        Some(p) => {
            let open = open_stages(p);
            (
                p.name.clone(),
                open.first().cloned().unwrap_or_else(|| "142".into()),
                open.get(1)
                    .or(open.first())
                    .cloned()
                    .unwrap_or_else(|| "142".into()),
            )
        }
        None => ("Sales".into(), "New".into(), "New".into()),
    };
    let _ = writeln!(
        out,
        "# [[pipelines]]\n# when = {{ \"service.trial\" = true }}\n# pipeline = {}\n# status = {}\n",
        quote(&pipeline),
        quote(&second)
    );
    let _ = writeln!(
        out,
        "[[pipelines]]\npipeline = {}\nstatus = {}\n",
        quote(&pipeline),
        quote(&first)
    );

    out.push_str(
        "# Skip and tag rules (optional):\n\
         # [[skip]]\n# entity = \"lead\"\n# reason = \"ordered on the website, which creates its own lead\"\n\
         # when = { \"service.source\" = \"site\" }\n\
         # [[tags]]\n# entity = \"lead\"\n# tag = \"trial\"\n# when = { \"service.trial\" = true }\n\n",
    );

    let user = responsible.map(user_key).unwrap_or_else(|| "12345".into());
    let _ = writeln!(
        out,
        "# ---- Optional parts: off until you uncomment them. ----\n\
         # Lifecycle (docs/lifecycle.md): stages that follow billing, managers' changes read back.\n\
         # [[lifecycle.status]]\n# when = {{ \"service.status\" = \"suspended\" }}\n\
         # pipeline = {}\n# status = \"143\"                       # closed and lost\n\
         # [lifecycle.pullback]\n# enabled = true\n# first_days = 7\n#\n\
         # Call tracking (docs/calls-guide.md): Ringostat webhooks → calls, contacts, tasks.\n\
         # [calls]\n# senior = {}\n# [[calls.employees]]\n# user = {}\n# extensions = [\"101\"]",
        quote(&pipeline),
        quote(&user),
        quote(&user)
    );
    out
}

fn main_pipeline(dict: &Dictionaries) -> Option<&PipelineDef> {
    dict.pipelines
        .iter()
        .find(|p| p.is_main)
        .or(dict.pipelines.first())
}

/// Stage names a rule may place a lead in: not won (142) or lost (143). (The dictionaries
/// hold no unsorted stage: leads cannot be written there.)
fn open_stages(p: &PipelineDef) -> Vec<String> {
    p.statuses
        .iter()
        .filter(|s| s.id != 142 && s.id != 143)
        .map(|s| s.name.clone())
        .collect()
}

fn user_key(u: &UserDef) -> String {
    u.email.clone().unwrap_or_else(|| u.id.to_string())
}

fn describe_user(u: &UserDef) -> String {
    format!(
        "{} <{}> (id {}){}",
        u.name,
        u.email.as_deref().unwrap_or("no e-mail"),
        u.id,
        if u.active { "" } else { ", deactivated" }
    )
}

fn existing_fields_comment(out: &mut String, dict: &Dictionaries, kind: &str) {
    let fields = dict.fields.get(kind).map(Vec::as_slice).unwrap_or_default();
    if fields.is_empty() {
        let _ = writeln!(out, "# (the account has no {kind} fields yet)");
        return;
    }
    let names: Vec<String> = fields
        .iter()
        .map(|f| match &f.code {
            Some(c) => format!("{} ({}, {c})", f.name, f.field_type),
            None => format!("{} ({})", f.name, f.field_type),
        })
        .collect();
    let _ = writeln!(out, "# The account's {kind} fields: {}", names.join(", "));
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crm::StatusDef;

    #[test]
    fn the_rules_name_the_accounts_pipeline_stage_and_user_and_parse() {
        let dict = Dictionaries {
            fields: Default::default(),
            pipelines: vec![PipelineDef {
                id: 1,
                name: "Воронка".into(),
                is_main: true,
                statuses: ["Первичный контакт", "Переговоры"]
                    .iter()
                    .enumerate()
                    .map(|(i, n)| StatusDef {
                        id: 10 + i as i64,
                        name: n.to_string(),
                    })
                    .chain([StatusDef {
                        id: 142,
                        name: "Успешно реализовано".into(),
                    }])
                    .collect(),
            }],
            users: vec![UserDef {
                id: 7,
                name: "Ольга".into(),
                email: Some("olga@example.ru".into()),
                active: true,
            }],
            current_user_id: Some(7),
        };
        let text = render_rules(&dict, "ООО Ромашка", None);
        assert!(text.contains("pipeline = \"Воронка\"\nstatus = \"Первичный контакт\""));
        assert!(text.contains("responsible = \"olga@example.ru\""));
        assert!(text.contains("# [calls]") && text.contains("# [lifecycle.pullback]"));
        let rules = crate::setup::new_fields::tests::rules(&text);
        assert_eq!(rules.file.pipelines.len(), 1);
        assert_eq!(rules.file.fields.lead.len(), 3);
        assert!(rules.file.calls.employees.is_empty());
    }
}
