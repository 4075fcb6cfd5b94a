//! The event map: which BILLmanager function names which entity through its `elid`.
//!
//! Built-in entries cover the functions the panel runs when a client, user, payer or
//! service changes (`docs/billmanager.md` §8). Only functions whose `elid` *is* the
//! entity's id are mapped: a `payment.*` function's elid is a payment, and the hook does
//! not look payments up, so it is left out. Most names are UNCONFIRMED as hookable events
//! (see `docs/hook.md`); the rule file's `[hook.events]` adds or overrides entries and
//! `[hook] ignore` switches any off, so an installation can follow its panel without a new
//! release.

use std::collections::{BTreeMap, BTreeSet};

use crate::rules::{EventRule, EventTarget, HookSection};

/// Whether a built-in event name is documented as a hookable event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confidence {
    /// Seen as an event in ISPsystem's own examples.
    Confirmed,
    /// The function exists; that a handler can hook it is inferred.
    Unconfirmed,
}

/// The built-in map: function, what its elid names, confidence.
pub const DEFAULTS: &[(&str, EventTarget, Confidence)] = {
    use Confidence::*;
    use EventTarget::*;
    &[
        // Clients: the client id is the elid (or the created id in the answer).
        ("register", Contact, Unconfirmed),
        ("account.add", Contact, Unconfirmed),
        ("account.edit", Contact, Unconfirmed),
        // Users: a user id; the drain finds the user's client.
        ("user.add", User, Confirmed),
        ("user.edit", User, Unconfirmed),
        // Payers.
        ("profile.add", Company, Unconfirmed),
        ("profile.edit", Company, Unconfirmed),
        // Service life cycle, as processing modules report it back to the panel.
        ("service.postopen", Lead, Unconfirmed),
        ("service.postsuspend", Lead, Unconfirmed),
        ("service.postresume", Lead, Unconfirmed),
        ("service.postclose", Lead, Unconfirmed),
        ("service.postprolong", Lead, Unconfirmed),
        ("service.postsetparam", Lead, Unconfirmed),
        ("vds.open", Lead, Unconfirmed),
        // Orders (the wizard's parameter step) and per-type edit forms.
        ("vds.order.param", Lead, Unconfirmed),
        ("v2.vds.order.param", Lead, Unconfirmed),
        ("vhost.order.param", Lead, Unconfirmed),
        ("v2.vhost.order.param", Lead, Unconfirmed),
        ("domain.order.param", Lead, Unconfirmed),
        ("v2.domain.order.param", Lead, Unconfirmed),
        ("dedic.order.param", Lead, Unconfirmed),
        ("v2.dedic.order.param", Lead, Unconfirmed),
        ("vds.edit", Lead, Unconfirmed),
        ("vhost.edit", Lead, Unconfirmed),
        ("domain.edit", Lead, Unconfirmed),
        ("dedic.edit", Lead, Unconfirmed),
    ]
};

/// What the hook does with one function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    /// What the elid names.
    pub target: EventTarget,
    /// Act only on submit (`sok` set), not when the form is opened.
    pub submit_only: bool,
    /// Where the entry came from.
    pub source: MapSource,
}

/// Where a mapping came from (for the log line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapSource {
    /// The built-in table.
    BuiltIn,
    /// `[hook.events]` in the rule file.
    RuleFile,
}

/// How a function is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Queue a sync.
    Mapped(Mapping),
    /// Listed in `[hook] ignore`.
    Ignored,
    /// Neither built in nor in the rule file.
    Unknown,
}

/// The built-in map with the rule file's additions, overrides and ignores applied.
#[derive(Debug, Clone)]
pub struct EventMap {
    entries: BTreeMap<String, Mapping>,
    ignore: BTreeSet<String>,
}

impl EventMap {
    /// The built-in map only.
    pub fn builtin() -> EventMap {
        Self::new(&HookSection::default())
    }

    /// The built-in map overlaid with `[hook]`.
    pub fn new(section: &HookSection) -> EventMap {
        let mut entries: BTreeMap<String, Mapping> = DEFAULTS
            .iter()
            .map(|&(func, target, _)| {
                let m = Mapping {
                    target,
                    submit_only: is_form(func),
                    source: MapSource::BuiltIn,
                };
                (func.to_string(), m)
            })
            .collect();
        for (func, rule) in &section.events {
            let (target, submit_only) = match rule {
                EventRule::Target(t) => (*t, None),
                EventRule::Detailed(d) => (d.entity, d.submit_only),
            };
            let m = Mapping {
                target,
                submit_only: submit_only.unwrap_or_else(|| is_form(func)),
                source: MapSource::RuleFile,
            };
            entries.insert(func.clone(), m);
        }
        EventMap {
            entries,
            ignore: section.ignore.iter().cloned().collect(),
        }
    }

    /// How `func` is handled.
    pub fn lookup(&self, func: &str) -> Lookup {
        if self.ignore.contains(func) {
            return Lookup::Ignored;
        }
        match self.entries.get(func) {
            Some(m) => Lookup::Mapped(*m),
            None => Lookup::Unknown,
        }
    }

    /// Every mapped function (for `docs/hook.md` and the plugin XML test).
    pub fn functions(&self) -> impl Iterator<Item = (&str, &Mapping)> {
        self.entries.iter().map(|(f, m)| (f.as_str(), m))
    }
}

/// Forms run their `after` handlers both when opened and when submitted (§6.2): only the
/// submit changes anything.
pub fn is_form(func: &str) -> bool {
    func.ends_with(".edit") || func == "register" || func.ends_with(".order.param")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::rules::RuleSet;

    #[test]
    fn builtin_entries_know_their_target_and_form_flag() {
        let map = EventMap::builtin();
        let Lookup::Mapped(m) = map.lookup("profile.edit") else {
            panic!("profile.edit is built in");
        };
        assert_eq!((m.target, m.submit_only), (EventTarget::Company, true));
        let Lookup::Mapped(m) = map.lookup("service.postopen") else {
            panic!("service.postopen is built in");
        };
        assert_eq!((m.target, m.submit_only), (EventTarget::Lead, false));
        assert_eq!(map.lookup("payment.add"), Lookup::Unknown);
    }

    #[test]
    fn rule_file_adds_overrides_and_ignores() {
        let text = r#"
[amocrm]
base_url = "https://acme.amocrm.ru"
client_id = "abc"
client_secret_env = "AMO_SECRET"
redirect_uri = "https://example.com/cb"

[billmanager]
source = "mgrctl"

[hook]
ignore = ["service.postclose"]
spawn_drain = false

[hook.events]
"myplugin.sync" = "lead"
"user.edit" = { entity = "user", submit_only = false }
"#;
        let rules = RuleSet::parse(text, Path::new("r.toml")).unwrap();
        assert!(!rules.file.hook.spawn_drain);
        let map = EventMap::new(&rules.file.hook);
        assert_eq!(map.lookup("service.postclose"), Lookup::Ignored);
        assert_eq!(
            map.lookup("myplugin.sync"),
            Lookup::Mapped(Mapping {
                target: EventTarget::Lead,
                submit_only: false,
                source: MapSource::RuleFile
            })
        );
        let Lookup::Mapped(m) = map.lookup("user.edit") else {
            panic!("user.edit is mapped");
        };
        assert!(!m.submit_only && m.source == MapSource::RuleFile);
    }

    #[test]
    fn rule_file_hook_mistakes_name_their_key() {
        let base = r#"
[amocrm]
base_url = "https://acme.amocrm.ru"
client_id = "abc"
client_secret_env = "AMO_SECRET"
redirect_uri = "https://example.com/cb"

[billmanager]
source = "mgrctl"
"#;
        let bad_target = format!("{base}\n[hook.events]\n\"x.edit\" = \"payment\"\n");
        let msg = RuleSet::parse(&bad_target, Path::new("r.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("hook.events"), "{msg}");
        let both = format!(
            "{base}\n[hook]\nignore = [\"x.edit\"]\n[hook.events]\n\"x.edit\" = \"lead\"\n"
        );
        let msg = RuleSet::parse(&both, Path::new("r.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("hook.ignore[0]"), "{msg}");
        let typo = format!("{base}\n[hook]\nspawn_drian = false\n");
        let msg = RuleSet::parse(&typo, Path::new("r.toml"))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("spawn_drian"), "{msg}");
    }
}
