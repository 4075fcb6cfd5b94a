//! A freshly registered amoCRM account: one pipeline "Воронка" with the stages amoCRM
//! creates, two users, and only the standard fields (PHONE, EMAIL, POSITION on contacts;
//! PHONE, EMAIL, WEB, ADDRESS on companies; none on leads). Nothing here was made to fit
//! `examples/rules.toml`: tests that run the quick start on it show what a new admin meets.
//!
//! Stage names are those of a Russian-language account; ids follow the real ranges (142 won,
//! 143 lost). The standard company codes WEB and ADDRESS, like POSITION, are UNCONFIRMED
//! (amocrm-api.md §6.3): the rules never rely on them.

use crate::seed::{FieldType, Seed, SeedAccount, SeedCustomFields, SeedPipeline};
use crate::seed_default::{
    field, phone_and_email, sales_department, standard_task_types, status, user,
};

impl Seed {
    /// The fresh account (see the module documentation).
    pub fn fresh() -> Seed {
        use FieldType::*;
        Seed {
            account: SeedAccount {
                id: 31500001,
                name: "ООО Ромашка".into(),
                subdomain: "romashka".into(),
                current_user_id: 8100001,
                ..SeedAccount::default()
            },
            users: vec![
                user(8100001, "Ольга Админова", "olga@romashka.ru", true, true),
                user(8100002, "Пётр Продажин", "petr@romashka.ru", false, true),
            ],
            groups: sales_department(),
            task_types: standard_task_types(),
            pipelines: vec![SeedPipeline {
                id: 7700001,
                name: "Воронка".into(),
                sort: 1,
                is_main: true,
                is_unsorted_on: true,
                is_archive: false,
                statuses: vec![
                    status(61000001, "Неразобранное", 10, 1, "#c1c1c1"),
                    status(61000002, "Первичный контакт", 20, 0, "#99ccff"),
                    status(61000003, "Переговоры", 30, 0, "#ffff99"),
                    status(61000004, "Принимают решение", 40, 0, "#ffcc66"),
                    status(61000005, "Согласование договора", 50, 0, "#ffcccc"),
                    status(142, "Успешно реализовано", 10000, 0, "#CCFF66"),
                    status(143, "Закрыто и не реализовано", 11000, 0, "#D5D8DB"),
                ],
            }],
            custom_fields: SeedCustomFields {
                contacts: {
                    let mut f =
                        phone_and_email((1190001, "Телефон"), (1190003, "Email"), 2210001).to_vec();
                    f.push(field(1190005, "Должность", Some("POSITION"), Text, 8));
                    f
                },
                companies: {
                    let mut f =
                        phone_and_email((1190011, "Телефон"), (1190013, "Email"), 2210101).to_vec();
                    f.push(field(1190015, "Web", Some("WEB"), Url, 8));
                    f.push(field(1190017, "Адрес", Some("ADDRESS"), Textarea, 10));
                    f
                },
                leads: Vec::new(),
            },
        }
    }

    /// A seed by name: `demo` (the example account) or `fresh`; anything else is a path to
    /// a JSON seed file. What the sandbox binary's `--seed` and `SANDBOX_SEED` take.
    pub fn named(name: &str) -> Result<Seed, String> {
        match name {
            "demo" => Ok(Seed::default()),
            "fresh" => Ok(Seed::fresh()),
            path => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
                serde_json::from_str::<Seed>(&text).map_err(|e| format!("{path}: {e}"))
            }
        }
    }
}
