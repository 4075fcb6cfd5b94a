//! Custom-field definitions indexed for O(1) lookup by id and by code.

use std::collections::HashMap;

use super::kind::Kind;
use crate::seed::{SeedCustomFields, SeedField};

pub struct FieldIndex {
    defs: HashMap<i64, (Kind, SeedField)>,
    by_code: HashMap<(Kind, String), i64>,
    /// Field ids per kind in display order (sort, then id).
    ordered: [Vec<i64>; 3],
}

impl FieldIndex {
    pub fn new(seed: &SeedCustomFields) -> FieldIndex {
        let mut idx = FieldIndex {
            defs: HashMap::new(),
            by_code: HashMap::new(),
            ordered: Default::default(),
        };
        for (kind, list) in [
            (Kind::Lead, &seed.leads),
            (Kind::Contact, &seed.contacts),
            (Kind::Company, &seed.companies),
        ] {
            let mut sorted: Vec<&SeedField> = list.iter().collect();
            sorted.sort_by_key(|f| (f.sort, f.id));
            for f in sorted {
                if let Some(code) = &f.code {
                    idx.by_code.insert((kind, code.clone()), f.id);
                }
                idx.ordered[kind.idx()].push(f.id);
                idx.defs.insert(f.id, (kind, f.clone()));
            }
        }
        idx
    }

    /// The definition of field `id` if it belongs to `kind`.
    pub fn get(&self, kind: Kind, id: i64) -> Option<&SeedField> {
        self.defs
            .get(&id)
            .filter(|(k, _)| *k == kind)
            .map(|(_, f)| f)
    }

    pub fn by_code(&self, kind: Kind, code: &str) -> Option<&SeedField> {
        let id = self.by_code.get(&(kind, code.to_string()))?;
        self.get(kind, *id)
    }

    pub fn ordered(&self, kind: Kind) -> impl Iterator<Item = &SeedField> {
        self.ordered[kind.idx()]
            .iter()
            .filter_map(move |id| self.get(kind, *id))
    }
}
