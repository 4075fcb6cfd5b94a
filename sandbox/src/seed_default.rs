//! The demo account ("Sandbox Hosting"). The main crate's fixtures rely on these
//! names and ids; sandbox/README.md documents them — change both together.

use crate::seed::{
    FieldType, Seed, SeedAccount, SeedCustomFields, SeedEnum, SeedField, SeedGroup, SeedPipeline,
    SeedStatus, SeedTaskType, SeedUser,
};

impl Default for SeedAccount {
    fn default() -> Self {
        SeedAccount {
            id: 30011223,
            name: "Sandbox Hosting".into(),
            subdomain: "sandbox".into(),
            current_user_id: 504141,
            country: "RU".into(),
            currency: "RUB".into(),
            currency_symbol: "₽".into(),
            timezone: "Europe/Moscow".into(),
            is_api_filter_enabled: true,
            contact_name_display_order: 1,
        }
    }
}

impl Default for Seed {
    fn default() -> Self {
        Seed {
            account: SeedAccount::default(),
            users: vec![
                user(504141, "Anna Admin", "anna@example.com", true, true),
                user(504142, "Boris Seller", "boris@example.com", false, true),
                user(
                    504143,
                    "Svetlana Senior",
                    "svetlana@example.com",
                    false,
                    true,
                ),
                user(504144, "Ivan Inactive", "ivan@example.com", false, false),
            ],
            groups: sales_department(),
            task_types: standard_task_types(),
            pipelines: vec![sales(), partners()],
            custom_fields: SeedCustomFields {
                contacts: contact_fields(),
                companies: company_fields(),
                leads: lead_fields(),
            },
        }
    }
}

pub(crate) fn user(id: i64, name: &str, email: &str, is_admin: bool, is_active: bool) -> SeedUser {
    SeedUser {
        id,
        name: name.into(),
        email: email.into(),
        lang: "ru".into(),
        is_admin,
        is_active,
        group_id: 0,
    }
}

/// The one user group every account starts with.
pub(crate) fn sales_department() -> Vec<SeedGroup> {
    vec![SeedGroup {
        id: 0,
        name: "Отдел продаж".into(),
    }]
}

/// The task types every account has (§12.1: 1 follow-up, 2 meeting).
pub(crate) fn standard_task_types() -> Vec<SeedTaskType> {
    vec![
        task_type(1, "Связаться", "FOLLOW_UP"),
        task_type(2, "Встреча", "MEETING"),
    ]
}

fn task_type(id: i64, name: &str, code: &str) -> SeedTaskType {
    SeedTaskType {
        id,
        name: name.into(),
        code: Some(code.into()),
        color: None,
        icon_id: None,
    }
}

pub(crate) fn status(id: i64, name: &str, sort: i64, status_type: u8, color: &str) -> SeedStatus {
    SeedStatus {
        id,
        name: name.into(),
        sort,
        status_type,
        color: color.into(),
        is_editable: status_type == 0 && id != 142 && id != 143,
    }
}

fn closing() -> [SeedStatus; 2] {
    [
        status(142, "Won", 10000, 0, "#CCFF66"),
        status(143, "Lost", 11000, 0, "#D5D8DB"),
    ]
}

fn sales() -> SeedPipeline {
    let mut statuses = vec![
        status(32392156, "Unsorted", 10, 1, "#c1c1c1"),
        status(32392159, "New order", 20, 0, "#99ccff"),
        status(32392160, "Trial", 30, 0, "#ffff99"),
        status(32392161, "Awaiting payment", 40, 0, "#ffcc66"),
        status(32392162, "Active", 50, 0, "#87f2c0"),
        status(32392163, "Suspended", 60, 0, "#ff8f92"),
    ];
    statuses.extend(closing());
    SeedPipeline {
        id: 3177727,
        name: "Sales".into(),
        sort: 1,
        is_main: true,
        is_unsorted_on: true,
        is_archive: false,
        statuses,
    }
}

fn partners() -> SeedPipeline {
    let mut statuses = vec![
        status(32392170, "Unsorted", 10, 1, "#c1c1c1"),
        status(32392171, "New", 20, 0, "#99ccff"),
        status(32392172, "In work", 30, 0, "#ffcc66"),
    ];
    statuses.extend(closing());
    SeedPipeline {
        id: 3177728,
        name: "Partners".into(),
        sort: 2,
        is_main: false,
        is_unsorted_on: true,
        is_archive: false,
        statuses,
    }
}

pub(crate) fn field(id: i64, name: &str, code: Option<&str>, t: FieldType, sort: i64) -> SeedField {
    SeedField {
        id,
        name: name.into(),
        code: code.map(Into::into),
        field_type: t,
        sort,
        is_api_only: false,
        enums: Vec::new(),
    }
}

/// Enums numbered from `first_id`; `coded` gives each enum its value as code (PHONE/EMAIL).
fn with_enums(mut f: SeedField, first_id: i64, values: &[&str], coded: bool) -> SeedField {
    f.enums = values
        .iter()
        .enumerate()
        .map(|(i, v)| SeedEnum {
            id: first_id + i as i64,
            value: (*v).into(),
            sort: (i as i64 + 1) * 2,
            code: coded.then(|| (*v).to_string()),
        })
        .collect();
    f
}

const PHONE_ENUMS: [&str; 6] = ["WORK", "WORKDD", "MOB", "FAX", "HOME", "OTHER"];
const EMAIL_ENUMS: [&str; 3] = ["WORK", "PRIV", "OTHER"];

/// The standard PHONE and EMAIL fields of contacts or companies (sort 4 and 6): enums of
/// the phone from `first_enum`, of the e-mail from `first_enum + 10`.
pub(crate) fn phone_and_email(
    phone: (i64, &str),
    email: (i64, &str),
    first_enum: i64,
) -> [SeedField; 2] {
    [
        with_enums(
            field(phone.0, phone.1, Some("PHONE"), FieldType::Multitext, 4),
            first_enum,
            &PHONE_ENUMS,
            true,
        ),
        with_enums(
            field(email.0, email.1, Some("EMAIL"), FieldType::Multitext, 6),
            first_enum + 10,
            &EMAIL_ENUMS,
            true,
        ),
    ]
}

fn api_only(mut f: SeedField) -> SeedField {
    f.is_api_only = true;
    f
}

fn contact_fields() -> Vec<SeedField> {
    use FieldType::*;
    let mut fields = phone_and_email((271301, "Phone"), (271303, "Email"), 451001).to_vec();
    fields.extend([
        field(271305, "Position", Some("POSITION"), Text, 8),
        api_only(field(
            271316,
            "BILLmanager client id",
            Some("BM_CLIENT_ID"),
            Numeric,
            510,
        )),
        with_enums(
            field(271317, "Country", None, Select, 520),
            451021,
            &["Russia", "Kazakhstan", "Belarus", "Germany", "Other"],
            false,
        ),
        field(271318, "Marketing consent", None, Checkbox, 530),
        field(271319, "Registered", None, Date, 540),
        field(271320, "Client page", None, Url, 550),
    ]);
    fields
}

fn company_fields() -> Vec<SeedField> {
    use FieldType::*;
    let mut fields = phone_and_email((271401, "Phone"), (271403, "Email"), 451101).to_vec();
    fields.extend([
        field(271410, "INN", Some("INN"), Text, 510),
        field(271411, "KPP", Some("KPP"), Text, 520),
        api_only(field(
            271412,
            "BILLmanager payer id",
            Some("BM_PAYER_ID"),
            Numeric,
            530,
        )),
        field(271413, "Legal address", None, Textarea, 540),
    ]);
    fields
}

fn lead_fields() -> Vec<SeedField> {
    use FieldType::*;
    vec![
        api_only(field(
            294471,
            "BILLmanager service id",
            Some("BM_SERVICE_ID"),
            Numeric,
            510,
        )),
        with_enums(
            field(294472, "Product", None, Select, 520),
            452001,
            &[
                "VPS-1",
                "VPS-2",
                "VPS-3",
                "Dedicated",
                "Hosting-Start",
                "Hosting-Pro",
                "Domain",
                "SSL",
            ],
            false,
        ),
        with_enums(
            field(294473, "Options", None, Multiselect, 530),
            452011,
            &["Backup", "Extra IP", "Panel", "DDoS protection"],
            false,
        ),
        field(294474, "Roistat visit", Some("ROISTAT"), Text, 540),
        field(294475, "Expires", None, Date, 550),
        field(294476, "Service page", None, Url, 560),
        field(294477, "utm_source", Some("UTM_SOURCE"), Text, 570),
        field(294478, "utm_medium", Some("UTM_MEDIUM"), Text, 580),
        field(294479, "utm_campaign", Some("UTM_CAMPAIGN"), Text, 590),
        with_enums(
            field(294480, "Billing period", None, Radiobutton, 600),
            452021,
            &["Monthly", "Quarterly", "Yearly"],
            false,
        ),
    ]
}
