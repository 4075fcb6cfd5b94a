//! Links between entities as an undirected graph with the cardinality rules of §9:
//! a lead or a contact has at most one company (linking another replaces it —
//! UNCONFIRMED), and a lead has at most one main contact.

use std::collections::{BTreeMap, HashMap};

use super::kind::{Kind, Node};

#[derive(Default)]
pub struct Links {
    /// node → (other node → main-contact flag).
    edges: HashMap<Node, BTreeMap<Node, bool>>,
}

impl Links {
    fn set(&mut self, a: Node, b: Node, flag: bool) {
        self.edges.entry(a).or_default().insert(b, flag);
        self.edges.entry(b).or_default().insert(a, flag);
    }

    pub fn unlink(&mut self, a: Node, b: Node) {
        if let Some(m) = self.edges.get_mut(&a) {
            m.remove(&b);
        }
        if let Some(m) = self.edges.get_mut(&b) {
            m.remove(&a);
        }
    }

    /// Links `a` and `b`; `main` marks a contact as the lead's main contact. The
    /// first contact of a lead becomes main automatically.
    pub fn link(&mut self, a: Node, b: Node, main: bool) {
        let (a, b) = if a.0 > b.0 { (b, a) } else { (a, b) };
        match (a.0, b.0) {
            (Kind::Lead, Kind::Contact) => {
                let others = self.of(a, Kind::Contact);
                let has_main = others.iter().any(|(id, m)| *m && *id != b.1);
                let flag = main || !has_main;
                if flag {
                    for (id, _) in others {
                        if id != b.1 {
                            self.set(a, (Kind::Contact, id), false);
                        }
                    }
                }
                self.set(a, b, flag);
            }
            (Kind::Lead | Kind::Contact, Kind::Company) => {
                for (id, _) in self.of(a, Kind::Company) {
                    if id != b.1 {
                        self.unlink(a, (Kind::Company, id));
                    }
                }
                self.set(a, b, false);
            }
            _ => {}
        }
    }

    /// Linked entities of `kind`, ordered by id, with the main-contact flag.
    pub fn of(&self, node: Node, kind: Kind) -> Vec<(i64, bool)> {
        self.edges.get(&node).map_or_else(Vec::new, |m| {
            m.iter()
                .filter(|(n, _)| n.0 == kind)
                .map(|(n, f)| (n.1, *f))
                .collect()
        })
    }

    pub fn all_of(&self, node: Node) -> Vec<(Node, bool)> {
        self.edges
            .get(&node)
            .map_or_else(Vec::new, |m| m.iter().map(|(n, f)| (*n, *f)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cardinality_rules() {
        let mut l = Links::default();
        let lead = (Kind::Lead, 1);
        l.link(lead, (Kind::Contact, 10), false);
        l.link(lead, (Kind::Contact, 11), false);
        assert_eq!(l.of(lead, Kind::Contact), vec![(10, true), (11, false)]);
        l.link((Kind::Contact, 11), lead, true);
        assert_eq!(l.of(lead, Kind::Contact), vec![(10, false), (11, true)]);
        l.link(lead, (Kind::Company, 20), false);
        l.link(lead, (Kind::Company, 21), false);
        assert_eq!(l.of(lead, Kind::Company), vec![(21, false)]);
        assert!(l.of((Kind::Company, 20), Kind::Lead).is_empty());
    }
}
