//! Plans as a person reads them: `pipeline = Sales (3177727)` instead of `pipeline_id =
//! 3177727`, a stage and a responsible user by name, and a date field's value as a date
//! instead of Unix seconds. The payloads keep the ids; only the report's words change.

use crate::crm::Dictionaries;
use crate::rules::EntityKind;

/// One change of a plan (`key = value`), in words.
pub fn readable(kind: EntityKind, key: &str, value: &str, dict: &Dictionaries) -> (String, String) {
    let id = value.trim().parse::<i64>().ok();
    let named = |name: Option<&str>, id: i64| match name {
        Some(n) => format!("{n} ({id})"),
        None => id.to_string(),
    };
    match (key, id) {
        ("pipeline_id", Some(id)) => {
            let name = dict
                .pipelines
                .iter()
                .find(|p| p.id == id)
                .map(|p| p.name.as_str());
            ("pipeline".into(), named(name, id))
        }
        ("status_id", Some(id)) => {
            let name = dict
                .pipelines
                .iter()
                .flat_map(|p| &p.statuses)
                .find(|s| s.id == id)
                .map(|s| s.name.as_str());
            ("status".into(), named(name, id))
        }
        ("responsible_user_id", Some(id)) => {
            let name = dict
                .users
                .iter()
                .find(|u| u.id == id)
                .map(|u| u.name.as_str());
            ("responsible".into(), named(name, id))
        }
        (field, Some(secs)) => {
            let kind_of = dict
                .fields
                .get(kind.as_str())
                .and_then(|fs| fs.iter().find(|f| f.name == field))
                .map(|f| f.field_type.as_str());
            let format = match kind_of {
                Some("date" | "birthday") => Some("%Y-%m-%d"),
                Some("date_time") => Some("%Y-%m-%d %H:%M UTC"),
                _ => None,
            };
            let date = format.and_then(|f| {
                chrono::DateTime::from_timestamp(secs, 0).map(|d| d.format(f).to_string())
            });
            (field.to_string(), date.unwrap_or_else(|| value.to_string()))
        }
        (field, None) => (field.to_string(), value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::readable;
    use crate::crm::{Dictionaries, FieldDef, PipelineDef, StatusDef, UserDef};
    use crate::rules::EntityKind;

    #[test]
    fn ids_become_names_and_seconds_become_dates() {
        let mut dict = Dictionaries {
            pipelines: vec![PipelineDef {
                id: 7700001,
                name: "Воронка".into(),
                is_main: true,
                statuses: vec![StatusDef {
                    id: 7700011,
                    name: "Первичный контакт".into(),
                }],
            }],
            users: vec![UserDef {
                id: 501,
                name: "Anna Admin".into(),
                email: None,
                active: true,
            }],
            ..Default::default()
        };
        let field = |id, name: &str, t: &str| FieldDef {
            id,
            name: name.into(),
            code: None,
            field_type: t.into(),
            enums: vec![],
        };
        dict.fields.insert(
            "lead".into(),
            vec![
                field(1, "Expires", "date"),
                field(2, "Cost", "numeric"),
                field(3, "Seen", "date_time"),
            ],
        );
        let lead = |k: &str, v: &str| readable(EntityKind::Lead, k, v, &dict);
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        for (input, want) in [
            (
                lead("pipeline_id", "7700001"),
                pair("pipeline", "Воронка (7700001)"),
            ),
            (
                lead("status_id", "7700011"),
                pair("status", "Первичный контакт (7700011)"),
            ),
            (
                lead("responsible_user_id", "501"),
                pair("responsible", "Anna Admin (501)"),
            ),
            (lead("pipeline_id", "42"), pair("pipeline", "42")),
            (lead("Expires", "1773100800"), pair("Expires", "2026-03-10")),
            (
                lead("Seen", "1773100800"),
                pair("Seen", "2026-03-10 00:00 UTC"),
            ),
            (lead("Cost", "1190"), pair("Cost", "1190")),
            (lead("name", "VPS-1"), pair("name", "VPS-1")),
            (
                lead("status", "Trial → Active"),
                pair("status", "Trial → Active"),
            ),
        ] {
            assert_eq!(input, want);
        }
    }
}
