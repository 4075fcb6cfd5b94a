//! Just enough XML for the hook: is the panel's document well-formed, and what do its
//! top-level `<id>`, `<elid>` and `<error>` say?
//!
//! The hook never changes the document (it writes the input back byte for byte), so this
//! reads two facts and nothing else: the id a create function answered with (an `.edit`
//! submitted without `elid` creates an object and BILLmanager answers its new id, as
//! `mgrctl` prints `id=N`), and whether the function reported an error. Tokenising is
//! quick-xml's (a maintained pull parser: nesting, end-tag names, attribute quoting and
//! duplicates, comments, CDATA, processing instructions, unclosed references). This adapter
//! adds what a pull parser leaves to its caller and "malformed" means in the log: one root,
//! no text outside it, element names, and entity syntax inside attribute values.

use quick_xml::errors::{Error, IllFormedError};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// Deeper nesting is refused as malformed: BILLmanager's documents are a few levels deep,
/// and a hostile 100 000-deep one would otherwise cost the panel milliseconds for nothing.
const MAX_DEPTH: usize = 1000;

/// What the hook reads from the panel's document.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DocInfo {
    /// The root element's name (`doc` for BILLmanager).
    pub root: String,
    /// Text of the root's `<id>` child, if any.
    pub id: Option<String>,
    /// Text of the root's `<elid>` child, if any.
    pub elid: Option<String>,
    /// The root has an `<error>` child: the function failed, nothing changed.
    pub error: bool,
}

/// Checks `bytes` and returns what the hook needs, or why the document is malformed.
pub fn inspect(bytes: &[u8]) -> Result<DocInfo, String> {
    let mut reader = Reader::from_reader(bytes);
    let mut info = DocInfo::default();
    // Names of the open elements, borrowed from the input (quick-xml checks that each end
    // tag closes the innermost one); text of the current depth-1 child.
    let mut open: Vec<&[u8]> = Vec::new();
    let mut child_text: Option<String> = None;
    loop {
        let start = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| at(bytes, reader.error_position(), &describe(&e)))?;
        let outside = open.is_empty();
        let (element, empty) = match &event {
            Event::Start(e) => (Some(e), false),
            Event::Empty(e) => (Some(e), true),
            _ => (None, false),
        };
        if let Some(e) = element {
            check_element(e).map_err(|w| at(bytes, start, &w))?;
            // The name as a slice of the input: right after the tag's `<` (a BOM before the
            // root is skipped by the reader but counted in `start`).
            let from = usize::try_from(start).unwrap_or(usize::MAX);
            let lt = bytes
                .get(from..)
                .and_then(|b| b.iter().position(|&c| c == b'<'))
                .map_or(from, |p| from + p + 1);
            let name = bytes
                .get(lt..lt.saturating_add(e.name().as_ref().len()))
                .unwrap_or_default();
            if outside {
                if !info.root.is_empty() {
                    return Err(at(bytes, start, "a second root element"));
                }
                info.root = String::from_utf8_lossy(name).into_owned();
            }
            if open.len() == 1 {
                info.error |= name == b"error";
                match empty {
                    true => info.set(name, String::new()),
                    false => child_text = Some(String::new()),
                }
            }
            if !empty {
                if open.len() == MAX_DEPTH {
                    return Err(at(
                        bytes,
                        start,
                        &format!("nesting deeper than {MAX_DEPTH} elements"),
                    ));
                }
                open.push(name);
            }
            continue;
        }
        match event {
            Event::Start(_) | Event::Empty(_) => {}
            Event::Eof => break,
            Event::End(_) => {
                let name = open.pop().unwrap_or_default();
                if open.len() == 1 {
                    if let Some(text) = child_text.take() {
                        info.set(name, text);
                    }
                }
            }
            Event::Text(t) if outside => {
                if !t.iter().all(u8::is_ascii_whitespace) {
                    return Err(at(bytes, start, "text outside the root element"));
                }
            }
            Event::Text(t) => {
                if let Some(text) = child_text.as_mut() {
                    text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::GeneralRef(r) => {
                if outside {
                    return Err(at(bytes, start, "text outside the root element"));
                }
                check_reference(&r).map_err(|w| at(bytes, start, &w))?;
                if let Some(text) = child_text.as_mut() {
                    let body = String::from_utf8_lossy(&r);
                    match resolve(&body) {
                        Some(c) => text.push(c),
                        // An HTML entity the panel's DTD defines (`&laquo;`): kept as written.
                        None => text.push_str(&format!("&{body};")),
                    }
                }
            }
            Event::CData(c) => {
                if outside {
                    return Err(at(bytes, start, "CDATA outside the root element"));
                }
                if let Some(text) = child_text.as_mut() {
                    text.push_str(&String::from_utf8_lossy(&c));
                }
            }
            Event::DocType(_) if !info.root.is_empty() => {
                return Err(at(bytes, start, "DOCTYPE after the root element"));
            }
            Event::DocType(_) | Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if let Some(name) = open.last() {
        return Err(format!(
            "ends inside `<{}>` (truncated?)",
            String::from_utf8_lossy(name)
        ));
    }
    if info.root.is_empty() {
        return Err("no root element".into());
    }
    Ok(info)
}

/// Checks the element's name and its attributes (quoting, duplicates, entities).
fn check_element(e: &BytesStart<'_>) -> Result<(), String> {
    check_name(e.name().as_ref())?;
    for attr in e.attributes().with_checks(true) {
        let attr = attr.map_err(|e| e.to_string())?;
        check_name(attr.key.as_ref())?;
        check_entities(&attr.value)?;
    }
    Ok(())
}

/// Our wording for the errors the log most often shows; quick-xml's own text otherwise.
fn describe(e: &Error) -> String {
    match e {
        Error::IllFormed(IllFormedError::UnclosedReference) => {
            "`&` without `;` (an unescaped ampersand)".into()
        }
        Error::IllFormed(IllFormedError::MismatchedEndTag { expected, found }) => {
            format!("`</{found}>` closes `<{expected}>`")
        }
        Error::IllFormed(IllFormedError::UnmatchedEndTag(name)) => {
            format!("closing tag `</{name}>` without an open element")
        }
        Error::Syntax(s) => format!("{s} (truncated or unterminated)"),
        other => other.to_string(),
    }
}

/// "what at line L, byte N".
fn at(bytes: &[u8], offset: u64, what: &str) -> String {
    let offset = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    let line = bytes[..offset].iter().filter(|&&c| c == b'\n').count() + 1;
    format!("{what} at line {line}, byte {offset}")
}

/// XML names: no leading digit, `-` or `.`; letters, digits, `_:-.` or non-ASCII after.
fn check_name(name: &[u8]) -> Result<(), String> {
    let ok_char = |c: &u8| c.is_ascii_alphanumeric() || b"_:-.".contains(c) || *c >= 0x80;
    match name.first() {
        Some(c) if !c.is_ascii_digit() && !b"-.".contains(c) && name.iter().all(ok_char) => Ok(()),
        _ => Err(format!(
            "`{}` is not an element or attribute name",
            String::from_utf8_lossy(name)
        )),
    }
}

/// The body of `&…;`: a name, `#digits` or `#xhex`.
fn check_reference(body: &[u8]) -> Result<(), String> {
    let ok = match body {
        [b'#', b'x', hex @ ..] => !hex.is_empty() && hex.iter().all(u8::is_ascii_hexdigit),
        [b'#', dec @ ..] => !dec.is_empty() && dec.iter().all(u8::is_ascii_digit),
        name => {
            !name.is_empty()
                && name
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || b"_-.".contains(c))
        }
    };
    match ok {
        true => Ok(()),
        false => Err("`&` without a valid entity (an unescaped ampersand)".into()),
    }
}

/// Every `&` in an attribute value starts a valid reference (quick-xml leaves attribute
/// values raw until asked to unescape them).
fn check_entities(value: &[u8]) -> Result<(), String> {
    let mut rest = value;
    while let Some(amp) = rest.iter().position(|&c| c == b'&') {
        let tail = &rest[amp + 1..];
        let end = tail
            .iter()
            .position(|&c| c == b';')
            .ok_or("`&` without `;` (an unescaped ampersand)")?;
        check_reference(&tail[..end])?;
        rest = &tail[end + 1..];
    }
    Ok(())
}

/// The five predefined entities and numeric references (ids are plain digits anyway).
fn resolve(body: &str) -> Option<char> {
    match body {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => body
            .strip_prefix("#x")
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .or_else(|| body.strip_prefix('#').and_then(|d| d.parse().ok()))
            .and_then(char::from_u32),
    }
}

impl DocInfo {
    fn set(&mut self, name: &[u8], text: String) {
        let text = text.trim().to_string();
        match name {
            b"id" if self.id.is_none() => self.id = Some(text),
            b"elid" if self.elid.is_none() => self.elid = Some(text),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_id_elid_and_error_of_a_panel_document() {
        let doc = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<!-- c -->\n\
                   <doc lang='ru' func=\"profile.edit\"><elid>301</elid><id> 7 </id>\
                   <name>ООО &laquo;Ромашка&raquo; &amp; Co</name><ok/>\
                   <list><id>99</id></list><x><![CDATA[a < b]]></x></doc>\n";
        let info = inspect(doc.as_bytes()).unwrap();
        assert_eq!(info.root, "doc");
        assert_eq!(info.elid.as_deref(), Some("301"));
        assert_eq!(
            info.id.as_deref(),
            Some("7"),
            "only top-level children count"
        );
        assert!(!info.error);
        let err = inspect(b"<doc><error type=\"value\"><msg>bad</msg></error></doc>").unwrap();
        assert!(err.error);
        assert_eq!(
            inspect(b"<doc/>").unwrap(),
            DocInfo {
                root: "doc".into(),
                ..Default::default()
            }
        );
    }

    #[test]
    fn bom_cdata_and_entities_in_the_values_read() {
        let doc = b"\xEF\xBB\xBF<doc><id><![CDATA[ 42 ]]></id><elid>&#51;&#x30;1</elid></doc>";
        let info = inspect(doc).unwrap();
        assert_eq!(info.id.as_deref(), Some("42"));
        assert_eq!(info.elid.as_deref(), Some("301"));
    }

    #[test]
    fn malformed_documents_say_where() {
        for (bad, why) in [
            (&b"<doc><elid>301</doc>"[..], "closes"),
            (b"<doc><elid>301</elid>", "truncated"),
            (b"not xml", "outside the root"),
            (b"", "no root"),
            (b"<doc a=1/>", "enclosed in"),
            (b"<doc>a & b</doc>", "ampersand"),
            (b"<doc a='&b'/>", "ampersand"),
            (b"<doc/><doc/>", "second root"),
            (b"<doc><!-- x </doc>", "unterminated"),
            (b"<doc a='1' a='2'/>", "duplicate"),
            (b"<1doc/>", "name"),
            (b"<doc></doc></x>", "without an open element"),
            (b"<doc><![CDATA[x</doc>", "unterminated"),
        ] {
            let e = inspect(bad).unwrap_err();
            assert!(e.contains(why), "{:?}: {e}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn huge_and_hostile_inputs_are_read_or_refused_without_recursion() {
        let deep = format!(
            "<doc><id>5</id>{}{}</doc>",
            "<a>".repeat(100_000),
            "</a>".repeat(100_000)
        );
        let e = inspect(deep.as_bytes()).unwrap_err();
        assert!(e.contains("deeper than 1000"), "{e}");
        let deep_enough = format!("<doc>{}{}</doc>", "<a>".repeat(998), "</a>".repeat(998));
        assert!(inspect(deep_enough.as_bytes()).is_ok());
        let text = format!("<doc><elid>{}</elid></doc>", "7".repeat(1 << 20));
        assert_eq!(
            inspect(text.as_bytes()).unwrap().elid.map(|e| e.len()),
            Some(1 << 20)
        );
        // Entities are never expanded: a "billion laughs" DOCTYPE is read as written.
        let bomb = "<!DOCTYPE d [<!ENTITY a \"&b;&b;&b;\"><!ENTITY b \"xxxxxxxx\">]><doc><id>&a;</id></doc>";
        assert_eq!(inspect(bomb.as_bytes()).unwrap().id.as_deref(), Some("&a;"));
        assert!(inspect("<".repeat(1 << 20).as_bytes()).is_err());
        assert!(inspect(&[0xFF, 0xFE, 0x00, 0x3C]).is_err());
    }

    #[test]
    fn resolve_handles_predefined_and_numeric_entities() {
        let got: String = ["lt", "#65", "#x42", "gt", "amp"]
            .iter()
            .filter_map(|b| resolve(b))
            .collect();
        assert_eq!(got, "<AB>&");
        assert_eq!(resolve("laquo"), None);
    }
}
