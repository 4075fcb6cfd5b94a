//! The three CRM entity kinds the sandbox stores, with their plural (URL, link
//! types) and singular (events, calls) spellings.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Lead,
    Contact,
    Company,
}

/// An entity reference used by links and indexes.
pub type Node = (Kind, i64);

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Lead, Kind::Contact, Kind::Company];

    pub fn idx(self) -> usize {
        self as usize
    }

    pub fn plural(self) -> &'static str {
        match self {
            Kind::Lead => "leads",
            Kind::Contact => "contacts",
            Kind::Company => "companies",
        }
    }

    pub fn singular(self) -> &'static str {
        match self {
            Kind::Lead => "lead",
            Kind::Contact => "contact",
            Kind::Company => "company",
        }
    }

    pub fn from_plural(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.plural() == s)
    }
}
