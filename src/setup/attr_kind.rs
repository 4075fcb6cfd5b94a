//! What is known about the values of the stable attributes, shared by `check` (does a
//! field's type fit the attribute?) and `setup-fields` (which type to create).

/// What is known about the values of a stable attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AttrKind {
    Number,
    Date,
    YesNo,
    /// One of a fixed set of words.
    OneOf(&'static [&'static str]),
    Phone,
    Email,
    Url,
    Text,
}

impl AttrKind {
    pub(crate) fn describe(self) -> String {
        match self {
            AttrKind::Number => "a number".into(),
            AttrKind::Date => "a date".into(),
            AttrKind::YesNo => "yes/no".into(),
            AttrKind::OneOf(words) => format!("one of {}", words.join(", ")),
            AttrKind::Phone => "a phone number".into(),
            AttrKind::Email => "an e-mail address".into(),
            AttrKind::Url => "a URL".into(),
            AttrKind::Text => "free text".into(),
        }
    }
}

const SERVICE_STATUSES: &[&str] = &["ordered", "active", "suspended", "deleted", "processing"];
const PAYER_KINDS: &[&str] = &["individual", "company", "sole_proprietor"];

/// The stable attributes (`engine::facts`, `lifecycle::links`) and what their values are.
pub(crate) fn attr_kind(attr: &str) -> Option<AttrKind> {
    Some(match attr {
        "client.id" | "user.id" | "payer.id" | "service.id" | "service.cost" => AttrKind::Number,
        "client.registered_at" | "service.created_at" | "service.expires_at" => AttrKind::Date,
        "service.trial" | "user.marketing_consent" => AttrKind::YesNo,
        "service.status" => AttrKind::OneOf(SERVICE_STATUSES),
        "payer.kind" => AttrKind::OneOf(PAYER_KINDS),
        "user.phone" | "payer.phone" => AttrKind::Phone,
        "user.email" | "payer.email" => AttrKind::Email,
        "client.page_url" | "service.page_url" => AttrKind::Url,
        "client.name" | "client.country" | "user.realname" | "payer.name" | "payer.inn"
        | "service.product" | "service.item_type" => AttrKind::Text,
        _ => return None,
    })
}
