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

    /// Adds a field created through the API (ids are allocated by the caller).
    pub fn insert(&mut self, kind: Kind, f: SeedField) {
        if let Some(code) = &f.code {
            self.by_code.insert((kind, code.clone()), f.id);
        }
        let list = &mut self.ordered[kind.idx()];
        list.push(f.id);
        self.defs.insert(f.id, (kind, f));
        let defs = &self.defs;
        list.sort_by_key(|id| (defs[id].1.sort, *id));
    }

    /// The highest field and enum ids in use, so new ones never collide.
    pub fn max_ids(&self) -> (i64, i64) {
        let field = self.defs.keys().copied().max().unwrap_or(0);
        let enm = self
            .defs
            .values()
            .flat_map(|(_, f)| f.enums.iter().map(|e| e.id))
            .max()
            .unwrap_or(0);
        (field, enm)
    }

    /// Whether a field of `kind` already has this name (amoCRM compares it exactly).
    pub fn has_name(&self, kind: Kind, name: &str) -> bool {
        self.ordered(kind).any(|f| f.name == name)
    }
}
