//! `check`, tags: only looked up, as amoCRM creates a missing tag on the first write.

use std::collections::BTreeMap;

use super::finding::{Finding, Severity};
use crate::rules::{EntityKind, RuleSet};

/// A tag the rule file adds, and where it says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagUse {
    /// The entity kind whose tag dictionary it belongs to (amoCRM keeps one per kind).
    pub kind: EntityKind,
    /// The tag name.
    pub name: String,
    /// The rule-file key that adds it.
    pub key: String,
}

/// Every tag the rule file may add: `[sync] default_tags` (to all three kinds), `[[tags]]`
/// and `[calls] tags` (contacts and leads created from calls).
pub fn tag_uses(rules: &RuleSet) -> Vec<TagUse> {
    let f = &rules.file;
    let mut out = Vec::new();
    let mut add = |kind: EntityKind, name: &str, key: String| {
        let name = name.trim();
        if !name.is_empty() {
            out.push(TagUse {
                kind,
                name: name.to_string(),
                key,
            });
        }
    };
    for (i, t) in f.sync.default_tags.iter().enumerate() {
        for kind in [EntityKind::Contact, EntityKind::Company, EntityKind::Lead] {
            add(kind, t, format!("sync.default_tags[{i}]"));
        }
    }
    for (i, t) in f.tags.iter().enumerate() {
        add(t.entity, &t.tag, format!("tags[{i}].tag"));
    }
    for (i, t) in f.calls.tags.iter().enumerate() {
        for kind in [EntityKind::Contact, EntityKind::Lead] {
            add(kind, t, format!("calls.tags[{i}]"));
        }
    }
    out
}

/// Looks every used tag up (`exists(kind, name)`, asked once per kind and name) and warns
/// about those the account does not have yet: one warning per rule-file key, naming the
/// kinds that lack it.
pub fn tag_findings(
    uses: &[TagUse],
    exists: &mut dyn FnMut(EntityKind, &str) -> anyhow::Result<bool>,
) -> anyhow::Result<Vec<Finding>> {
    let mut known: BTreeMap<(EntityKind, String), bool> = BTreeMap::new();
    // (key, name) → kinds lacking it, in the order the rule file uses them.
    let mut missing: Vec<((String, String), Vec<EntityKind>)> = Vec::new();
    for u in uses {
        let id = (u.kind, u.name.to_lowercase());
        let found = match known.get(&id) {
            Some(f) => *f,
            None => {
                let f = exists(u.kind, &u.name)?;
                known.insert(id, f);
                f
            }
        };
        if found {
            continue;
        }
        let at = (u.key.clone(), u.name.clone());
        match missing.iter_mut().find(|(k, _)| *k == at) {
            Some((_, kinds)) => kinds.push(u.kind),
            None => missing.push((at, vec![u.kind])),
        }
    }
    Ok(missing
        .into_iter()
        .map(|((key, name), kinds)| {
            let kinds: Vec<&str> = kinds.iter().map(|k| k.collection()).collect();
            Finding {
                severity: Severity::Warning,
                key,
                message: format!(
                    "amoCRM has no `{name}` tag for {} yet; the first sync creates it (check \
                     the spelling if you meant an existing tag)",
                    kinds.join(", ")
                ),
            }
        })
        .collect())
}
