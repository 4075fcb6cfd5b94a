//! What one side of a call is: a phone number (normalised to E.164), a SIP login, or a short
//! internal extension. Providers put all three in the same fields (`"mgr" <mgr>` as the
//! caller of an outgoing Ringostat call, `101` for an extension), and only a phone can be
//! looked up in amoCRM.

use crate::phone;

/// One side of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Party {
    /// A phone number in E.164.
    Phone(String),
    /// A SIP login or other non-numeric id.
    Login(String),
    /// A short number (fewer than 7 digits): an internal extension.
    Extension(String),
    /// Nothing was reported.
    Empty,
}

impl Party {
    /// The E.164 number, if it is a phone.
    pub fn phone(&self) -> Option<&str> {
        match self {
            Party::Phone(p) => Some(p),
            _ => None,
        }
    }

    /// The display form: E.164, login or extension.
    pub fn text(&self) -> String {
        match self {
            Party::Phone(s) | Party::Login(s) | Party::Extension(s) => s.clone(),
            Party::Empty => String::new(),
        }
    }
}

/// Classifies a raw value such as `380671112233`, `+7 916 123-45-67`, `"mgr" <mgr>`,
/// `sip:101@pbx`, `101`.
pub fn classify(raw: &str, default_country: &str) -> Party {
    let mut t = raw.trim();
    if t.is_empty() {
        return Party::Empty;
    }
    // `"Display" <login>`: the login is what identifies the party.
    if let (Some(a), Some(b)) = (t.rfind('<'), t.rfind('>')) {
        if a < b {
            t = t[a + 1..b].trim();
        }
    }
    let t = t.strip_prefix("sip:").unwrap_or(t);
    let t = t.split('@').next().unwrap_or(t).trim();
    if t.is_empty() {
        return Party::Empty;
    }
    let phone_like = t
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if !phone_like {
        return Party::Login(t.to_string());
    }
    let digits: String = t.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return Party::Login(t.to_string());
    }
    if digits.len() < 7 {
        return Party::Extension(digits);
    }
    // Providers send international numbers without `+` (`380…`); a plain digit string
    // longer than a national number is taken as international, except the 11-digit
    // `8…` trunk form of Russia, Kazakhstan and Belarus.
    let trunk_eight = digits.len() == 11 && digits.starts_with('8');
    let international =
        !t.starts_with('+') && !t.starts_with('0') && digits.len() > 10 && !trunk_eight;
    let input = if international {
        format!("+{digits}")
    } else {
        t.to_string()
    };
    match phone::normalize(&input, default_country) {
        Some(p) => Party::Phone(p),
        None => Party::Extension(digits),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_logins_and_extensions() {
        let cases = [
            ("380671112233", Party::Phone("+380671112233".into())),
            ("79161234567", Party::Phone("+79161234567".into())),
            ("8 (916) 123-45-67", Party::Phone("+79161234567".into())),
            ("9161234567", Party::Phone("+79161234567".into())),
            ("89161234567", Party::Phone("+79161234567".into())),
            ("\"manager1\" <manager1>", Party::Login("manager1".into())),
            ("sip:boris@pbx.example", Party::Login("boris".into())),
            ("101", Party::Extension("101".into())),
            ("", Party::Empty),
        ];
        for (raw, want) in cases {
            assert_eq!(classify(raw, "RU"), want, "{raw}");
        }
    }
}
