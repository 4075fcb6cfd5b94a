//! Tag dictionaries, one per entity type (the same name has different ids in
//! leads and contacts, §10). Names are matched case-insensitively (UNCONFIRMED).

use std::collections::{BTreeMap, HashMap};

use super::kind::Kind;

#[derive(Clone, Debug)]
pub struct Tag {
    pub id: i64,
    pub name: String,
    pub color: Option<String>,
}

#[derive(Default)]
pub struct TagDict {
    pub by_id: BTreeMap<i64, Tag>,
    by_name: HashMap<String, i64>,
}

pub struct Tags {
    dicts: [TagDict; 3],
    next_id: i64,
}

impl Tags {
    pub fn new() -> Tags {
        Tags {
            dicts: Default::default(),
            next_id: 217_001,
        }
    }

    pub fn dict(&self, kind: Kind) -> &TagDict {
        &self.dicts[kind.idx()]
    }

    pub fn get(&self, kind: Kind, id: i64) -> Option<&Tag> {
        self.dicts[kind.idx()].by_id.get(&id)
    }

    pub fn find(&self, kind: Kind, name: &str) -> Option<i64> {
        self.dicts[kind.idx()]
            .by_name
            .get(&name.to_lowercase())
            .copied()
    }

    /// The id of tag `name`, creating it when missing. Colour exists only for leads.
    pub fn ensure(&mut self, kind: Kind, name: &str, color: Option<&str>) -> i64 {
        if let Some(id) = self.find(kind, name) {
            return id;
        }
        let id = self.next_id;
        self.next_id += 1;
        let color = (kind == Kind::Lead)
            .then(|| color.map(str::to_string))
            .flatten();
        let dict = &mut self.dicts[kind.idx()];
        dict.by_name.insert(name.to_lowercase(), id);
        dict.by_id.insert(
            id,
            Tag {
                id,
                name: name.to_string(),
                color,
            },
        );
        id
    }
}
