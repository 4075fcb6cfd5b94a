//! Just enough XML for the hook: is the panel's document well-formed, and what do its
//! top-level `<id>`, `<elid>` and `<error>` say?
//!
//! The hook never changes the document (it writes the input back byte for byte), so this
//! is a reader for two facts, not a parser: the id a create function answered with (an
//! `.edit` submitted without `elid` creates an object and BILLmanager answers its new id,
//! as `mgrctl` prints `id=N`), and whether the function reported an error. A small
//! hand-written scanner avoids an XML dependency for that; it checks nesting, names,
//! attribute quoting, comments, CDATA, processing instructions and entity syntax, which is
//! what "malformed" means in the log.

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
    Scanner { b: bytes, i: 0 }.document()
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    fn document(mut self) -> Result<DocInfo, String> {
        if self.b.starts_with(b"\xEF\xBB\xBF") {
            self.i = 3;
        }
        let mut info = DocInfo::default();
        // Element names open at each depth; text of the current depth-1 child.
        let mut stack: Vec<&[u8]> = Vec::new();
        let mut child_text: Option<String> = None;
        let mut seen_root = false;
        while self.i < self.b.len() {
            if self.b[self.i] != b'<' {
                let start = self.i;
                while self.i < self.b.len() && self.b[self.i] != b'<' {
                    self.i += 1;
                }
                let text = &self.b[start..self.i];
                if stack.is_empty() {
                    if !text.iter().all(u8::is_ascii_whitespace) {
                        return Err(self.at(start, "text outside the root element"));
                    }
                } else {
                    check_entities(text).map_err(|e| self.at(start, &e))?;
                    if let Some(t) = child_text.as_mut() {
                        t.push_str(&unescape(&String::from_utf8_lossy(text)));
                    }
                }
                continue;
            }
            let rest = &self.b[self.i..];
            if rest.starts_with(b"<?") {
                self.skip_past(b"?>", "processing instruction")?;
            } else if rest.starts_with(b"<!--") {
                self.skip_past(b"-->", "comment")?;
            } else if rest.starts_with(b"<![CDATA[") {
                if stack.is_empty() {
                    return Err(self.at(self.i, "CDATA outside the root element"));
                }
                let start = self.i + 9;
                self.skip_past(b"]]>", "CDATA section")?;
                if let Some(t) = child_text.as_mut() {
                    t.push_str(&String::from_utf8_lossy(&self.b[start..self.i - 3]));
                }
            } else if rest.starts_with(b"<!DOCTYPE") {
                if seen_root {
                    return Err(self.at(self.i, "DOCTYPE after the root element"));
                }
                self.skip_past(b">", "DOCTYPE")?;
            } else if rest.starts_with(b"</") {
                let start = self.i;
                self.i += 2;
                let name = self.name()?;
                self.spaces();
                self.expect(b'>')?;
                match stack.pop() {
                    Some(open) if open == name => {}
                    Some(open) => {
                        return Err(self.at(
                            start,
                            &format!(
                                "`</{}>` closes `<{}>`",
                                String::from_utf8_lossy(name),
                                String::from_utf8_lossy(open)
                            ),
                        ))
                    }
                    None => return Err(self.at(start, "closing tag without an open element")),
                }
                if stack.len() == 1 {
                    if let Some(text) = child_text.take() {
                        info.set(name, text);
                    }
                }
            } else {
                let start = self.i;
                self.i += 1;
                let name = self.name()?;
                if stack.is_empty() {
                    if seen_root {
                        return Err(self.at(start, "a second root element"));
                    }
                    seen_root = true;
                    info.root = String::from_utf8_lossy(name).into_owned();
                }
                let empty = self.attributes()?;
                if stack.len() == 1 {
                    if name == b"error" {
                        info.error = true;
                    }
                    if empty {
                        info.set(name, String::new());
                    } else {
                        child_text = Some(String::new());
                    }
                }
                if !empty {
                    stack.push(name);
                }
            }
        }
        if let Some(open) = stack.last() {
            return Err(format!(
                "ends inside `<{}>` (truncated?)",
                String::from_utf8_lossy(open)
            ));
        }
        if !seen_root {
            return Err("no root element".into());
        }
        Ok(info)
    }

    /// Reads attributes up to `>` or `/>`; returns whether the element is empty.
    fn attributes(&mut self) -> Result<bool, String> {
        let mut names: Vec<&[u8]> = Vec::new();
        loop {
            let had_space = self.spaces();
            match self.b.get(self.i) {
                Some(b'>') => {
                    self.i += 1;
                    return Ok(false);
                }
                Some(b'/') => {
                    self.i += 1;
                    self.expect(b'>')?;
                    return Ok(true);
                }
                Some(_) if had_space => {
                    let at = self.i;
                    let name = self.name()?;
                    if names.contains(&name) {
                        return Err(self.at(at, "duplicate attribute"));
                    }
                    names.push(name);
                    self.spaces();
                    self.expect(b'=')?;
                    self.spaces();
                    let quote = match self.b.get(self.i) {
                        Some(&q @ (b'"' | b'\'')) => q,
                        _ => return Err(self.at(self.i, "attribute value without quotes")),
                    };
                    self.i += 1;
                    let start = self.i;
                    while self.i < self.b.len() && self.b[self.i] != quote {
                        if self.b[self.i] == b'<' {
                            return Err(self.at(self.i, "`<` inside an attribute value"));
                        }
                        self.i += 1;
                    }
                    if self.i >= self.b.len() {
                        return Err("ends inside an attribute value".into());
                    }
                    check_entities(&self.b[start..self.i]).map_err(|e| self.at(start, &e))?;
                    self.i += 1;
                }
                Some(_) => return Err(self.at(self.i, "expected whitespace, `>` or `/>`")),
                None => return Err("ends inside a tag".into()),
            }
        }
    }

    fn name(&mut self) -> Result<&'a [u8], String> {
        let start = self.i;
        while let Some(&c) = self.b.get(self.i) {
            let ok =
                c.is_ascii_alphanumeric() || matches!(c, b'_' | b':' | b'-' | b'.') || c >= 0x80;
            if !ok {
                break;
            }
            self.i += 1;
        }
        let b: &'a [u8] = self.b;
        let name = &b[start..self.i];
        match name.first() {
            Some(c) if !c.is_ascii_digit() && !matches!(c, b'-' | b'.') => Ok(name),
            _ => Err(self.at(start, "expected an element or attribute name")),
        }
    }

    fn spaces(&mut self) -> bool {
        let start = self.i;
        while self.b.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
        self.i > start
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.at(self.i, &format!("expected `{}`", c as char)))
        }
    }

    fn skip_past(&mut self, end: &[u8], what: &str) -> Result<(), String> {
        let start = self.i;
        match find(&self.b[self.i..], end) {
            Some(pos) => {
                self.i += pos + end.len();
                Ok(())
            }
            None => Err(self.at(start, &format!("unterminated {what}"))),
        }
    }

    /// "byte N (line L): what".
    fn at(&self, offset: usize, what: &str) -> String {
        let line = self.b[..offset.min(self.b.len())]
            .iter()
            .filter(|&&c| c == b'\n')
            .count()
            + 1;
        format!("{what} at line {line}, byte {offset}")
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

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Every `&` starts `&name;`, `&#digits;` or `&#xhex;`.
fn check_entities(text: &[u8]) -> Result<(), String> {
    let mut i = 0;
    while let Some(pos) = text[i..].iter().position(|&c| c == b'&') {
        let start = i + pos + 1;
        let end = text[start..]
            .iter()
            .position(|&c| c == b';')
            .map(|p| start + p)
            .ok_or("`&` without `;` (an unescaped ampersand)")?;
        let body = &text[start..end];
        let ok = match body {
            [b'#', b'x', hex @ ..] => !hex.is_empty() && hex.iter().all(u8::is_ascii_hexdigit),
            [b'#', dec @ ..] => !dec.is_empty() && dec.iter().all(u8::is_ascii_digit),
            name => {
                !name.is_empty()
                    && name
                        .iter()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
            }
        };
        if !ok {
            return Err("`&` without a valid entity (an unescaped ampersand)".into());
        }
        i = end + 1;
    }
    Ok(())
}

/// The five predefined entities and numeric references (ids are plain digits anyway).
fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        let Some(end) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let body = &tail[1..end];
        let c = match body {
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
        };
        match c {
            Some(c) => out.push(c),
            None => out.push_str(&tail[..=end]),
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
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
    fn malformed_documents_say_where() {
        for (bad, why) in [
            (&b"<doc><elid>301</doc>"[..], "closes"),
            (b"<doc><elid>301</elid>", "truncated"),
            (b"not xml", "outside the root"),
            (b"", "no root"),
            (b"<doc a=1/>", "without quotes"),
            (b"<doc>a & b</doc>", "ampersand"),
            (b"<doc/><doc/>", "second root"),
            (b"<doc><!-- x </doc>", "unterminated comment"),
            (b"<doc a='1' a='2'/>", "duplicate"),
            (b"<1doc/>", "name"),
        ] {
            let e = inspect(bad).unwrap_err();
            assert!(e.contains(why), "{:?}: {e}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn unescape_handles_predefined_and_numeric_entities() {
        assert_eq!(unescape("a &lt;&#65;&#x42;&gt; &amp;"), "a <AB> &");
        assert_eq!(unescape("&laquo;x"), "&laquo;x");
    }
}
