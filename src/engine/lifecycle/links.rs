//! Card links: the client's and the service's BILLmanager pages, built from
//! `[billmanager] panel_url` and `[lifecycle.links]` templates.
//!
//! They are facts (`client.page_url`, `service.page_url`), so `[fields.contact]`,
//! `[fields.lead]` and `[fields.company]` put them into url fields like any attribute; with
//! `note = true` a new contact or lead also gets a note with them.

use super::{Engine, NoteSpec, Target};
use crate::rules::condition::Facts;
use crate::rules::EntityKind;

/// Renders a link template; `None` when a placeholder it names is missing or empty.
pub fn page_url(template: &str, panel_url: &str, f: &Facts) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}')? + start;
        let key = &rest[start + 1..end];
        let value = if key == "panel_url" {
            panel_url.trim_end_matches('/').to_string()
        } else {
            f.get(key)?.trim().to_string()
        };
        if value.is_empty() {
            return None;
        }
        out.push_str(&value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

impl Engine<'_> {
    /// Adds `client.page_url` / `service.page_url` when `panel_url` is set.
    pub(in crate::engine) fn link_facts(&self, f: &mut Facts) {
        let Some(panel) = self.rules.file.billmanager.panel_url.as_deref() else {
            return;
        };
        let links = &self.rules.file.lifecycle.links;
        if f.contains_key("client.id") {
            if let Some(u) = page_url(&links.client_url, panel, f) {
                f.insert("client.page_url".into(), u);
            }
        }
        if f.contains_key("service.id") {
            if let Some(u) = page_url(&links.service_url, panel, f) {
                f.insert("service.page_url".into(), u);
            }
        }
    }

    /// With `note = true`: a note with the page links for a new contact or lead.
    pub(in crate::engine) fn link_note(&self, kind: EntityKind, key: &str, f: &Facts) {
        if !self.rules.file.lifecycle.links.note {
            return;
        }
        let mut lines = Vec::new();
        if let Some(u) = f.get("service.page_url") {
            lines.push(format!("BILLmanager service: {u}"));
        }
        if let Some(u) = f.get("client.page_url") {
            lines.push(format!("BILLmanager client: {u}"));
        }
        if lines.is_empty() {
            return;
        }
        self.pending_mut(kind, key, |p| {
            p.notes.push(NoteSpec {
                on: Target::New,
                text: lines.join("\n"),
            })
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_need_every_placeholder() {
        let f: Facts = [
            ("client.id".to_string(), "101".to_string()),
            ("service.id".to_string(), "401".to_string()),
            ("service.item_type".to_string(), "vds".to_string()),
        ]
        .into();
        assert_eq!(
            page_url(
                "{panel_url}?startform={service.item_type}.edit&elid={service.id}",
                "https://b.example/billmgr/",
                &f
            )
            .as_deref(),
            Some("https://b.example/billmgr?startform=vds.edit&elid=401")
        );
        assert_eq!(
            page_url("{panel_url}?elid={client.name}", "https://b.example", &f),
            None
        );
    }
}
