//! Phone numbers to E.164, and the key amoCRM matches calls and searches on.
//!
//! BILLmanager keeps phones as typed: `8 (916) 123-45-67`, `+7 916 1234567`, `79161234567`,
//! `0671112233` from a Ukrainian client, `+49 151 23456789 доб. 12`. Parsing and validation
//! are libphonenumber's (the `phonenumber` crate carries its metadata for every country),
//! with the rule file's `default_country` for numbers written without a country code. A
//! number the metadata rejects is an error the caller reports on the entity; it is never
//! sent to amoCRM as typed.
//!
//! Searching and call matching keep a cruder key on purpose: the last 10 digits
//! ([`search_key`]). amoCRM's `query` search treats `+7…` and `8…` as different strings and
//! searches every field, and `POST /api/v4/calls` itself matches a contact by the last 10
//! digits (reference §3.4, §19.6). A contact whose PHONE a manager typed by hand in another
//! format (`8 (916) 123-45-67`) shares those digits with our E.164 form, so the key finds it
//! where an exact E.164 comparison would not; the hit is then verified with [`same`].
//!
//! This module is a leaf: rules, calls and the engine all use it and it uses none of them.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use phonenumber::country::Id;
use phonenumber::Mode;

/// A number the phone metadata accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// `+<country code><national number>`, what amoCRM gets in PHONE.
    pub e164: String,
    /// An extension written after the number (`доб. 123`, `ext. 5`); E.164 has no place for
    /// it and amoCRM's call matching compares numbers only, so it is returned apart.
    pub extension: Option<String>,
}

/// Why a value was not taken as a phone number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The value as typed.
    pub raw: String,
    /// The default country it was read with.
    pub country: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a valid phone number (read with default country {})",
            self.raw.trim(),
            self.country
        )
    }
}

impl std::error::Error for Invalid {}

/// Whether `code` is a region the phone metadata knows (ISO 3166 alpha-2, e.g. `RU`).
pub fn known_country(code: &str) -> bool {
    region(code).is_some()
}

fn region(code: &str) -> Option<Id> {
    Id::from_str(&code.trim().to_ascii_uppercase()).ok()
}

/// A trailing extension: `доб. 123`, `доб 123`, `вн. 12`, `ext. 5`, `x5`, `#5`.
fn extension_pattern() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(
            r"(?i)[\s,;]*(?:доб(?:авочный)?|вн(?:утр(?:енний)?)?|ext(?:ension)?|x|#)\.?\s*:?\s*(\d{1,7})\s*$",
        )
        .expect("the extension pattern is valid")
    })
}

/// Parses `raw` as typed, with `default_country` for numbers without a country code.
///
/// Tries, in order: the number as written for the default country (`8…`, `0…`, national
/// digits, `+…`); `00…` as the international prefix (many countries dial `00`, Russia
/// `810`); and a long bare digit string as international without the `+`, which is how
/// telephony providers send numbers (`380671112233`).
pub fn parse(raw: &str, default_country: &str) -> Result<Parsed, Invalid> {
    let invalid = || Invalid {
        raw: raw.to_string(),
        country: default_country.trim().to_ascii_uppercase(),
    };
    let text = raw.trim();
    let (number, extension) = match extension_pattern().captures(text) {
        Some(c) if c.get(0).is_some_and(|m| m.start() > 0) => {
            let whole = c.get(0).expect("group 0 exists");
            (&text[..whole.start()], Some(c[1].to_string()))
        }
        _ => (text, None),
    };
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    // Letters other than an extension marker mean this is not a number (`call me`, `n/a`).
    if digits.len() < 4 || number.chars().any(char::is_alphabetic) {
        return Err(invalid());
    }
    let home = region(default_country);
    let mut candidates = vec![(home, number.to_string())];
    if let Some(rest) = digits
        .strip_prefix("00")
        .filter(|_| number.starts_with("00"))
    {
        candidates.push((None, format!("+{rest}")));
    }
    if !number.starts_with(['+', '0']) && digits.len() > 10 {
        candidates.push((None, format!("+{digits}")));
    }
    for (country, text) in candidates {
        if let Ok(n) = phonenumber::parse(country, &text) {
            let code = n.code().value();
            // Written with its country code, the national number is every digit after the
            // code. phonenumber 0.3.10 also strips a national prefix there: `+7 812 …`
            // (St Petersburg) came back as `12…`, one digit short, and was refused.
            let written: Option<String> = text
                .trim_start()
                .starts_with('+')
                .then(|| {
                    let all: String = text.chars().filter(char::is_ascii_digit).collect();
                    all.strip_prefix(&code.to_string()).map(str::to_string)
                })
                .flatten();
            match written {
                Some(national) if national != n.national().to_string() => {
                    if matches_a_region(code, &national) {
                        return Ok(Parsed {
                            e164: format!("+{code}{national}"),
                            extension,
                        });
                    }
                    continue;
                }
                _ if phonenumber::is_valid(&n) => {
                    return Ok(Parsed {
                        e164: n.format().mode(Mode::E164).to_string(),
                        extension,
                    });
                }
                _ => {}
            }
        }
    }
    // Written nationally (`8 (812) …`): the home region's trunk prefix comes off once and
    // the rest is checked against its patterns (the crate strips St Petersburg's 8 twice).
    if !number.trim_start().starts_with('+') {
        let home = default_country.trim().to_ascii_uppercase();
        if let Some(meta) = phonenumber::metadata::DATABASE.by_id(home.as_str()) {
            let national = meta
                .national_prefix()
                .and_then(|p| digits.strip_prefix(p))
                .unwrap_or(&digits);
            if matches_a_region(meta.country_code(), national) {
                return Ok(Parsed {
                    e164: format!("+{}{national}", meta.country_code()),
                    extension,
                });
            }
        }
    }
    Err(invalid())
}

/// Whether `national` fits a fixed-line, mobile or other dialable pattern of a region with
/// country code `code`: the metadata's own validity test, used where the crate's parse lost
/// digits (see [`parse`]).
fn matches_a_region(code: u16, national: &str) -> bool {
    let Some(regions) = phonenumber::metadata::DATABASE.by_code(&code) else {
        return false;
    };
    regions.iter().any(|meta| {
        let d = meta.descriptors();
        [
            d.fixed_line(),
            d.mobile(),
            d.toll_free(),
            d.voip(),
            d.uan(),
            d.personal_number(),
        ]
        .into_iter()
        .flatten()
        .any(|desc| desc.is_match(national))
    })
}

/// The E.164 form, or `None` when the value is not a valid number (see [`parse`]).
pub fn normalize(raw: &str, default_country: &str) -> Option<String> {
    parse(raw, default_country).ok().map(|p| p.e164)
}

/// The last 10 digits: what amoCRM matches calls on and what we search with (module doc).
pub fn search_key(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let start = digits.len().saturating_sub(10);
    digits[start..].to_string()
}

/// Whether two phones as stored anywhere are the same number (by [`search_key`]).
pub fn same(a: &str, b: &str) -> bool {
    let (ka, kb) = (search_key(a), search_key(b));
    ka.len() >= 7 && ka == kb
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (typed, default country, E.164 or None when it must be reported invalid).
    const TABLE: &[(&str, &str, Option<&str>)] = &[
        // Russia: trunk 8, +7, bare 7…, national 10 digits.
        ("8 (916) 123-45-67", "RU", Some("+79161234567")),
        ("+7 916 123 45 67", "RU", Some("+79161234567")),
        ("79161234567", "RU", Some("+79161234567")),
        ("9161234567", "RU", Some("+79161234567")),
        ("8-495-123-45-67", "RU", Some("+74951234567")),
        // The example rule file's office numbers.
        ("+7 495 000-00-99", "RU", Some("+74950000099")),
        ("+7 916 000-01-01", "RU", Some("+79160000101")),
        // Kazakhstan shares +7 with Russia; its own ranges (7xx) are recognised.
        ("8 701 123 45 67", "KZ", Some("+77011234567")),
        ("+7 727 258 01 23", "RU", Some("+77272580123")),
        // Ukraine: trunk 0, and a provider's bare international form.
        ("067 111 22 33", "UA", Some("+380671112233")),
        ("380671112233", "RU", Some("+380671112233")),
        // Belarus: trunk 8 0…, and +375.
        ("8 029 123-45-67", "BY", Some("+375291234567")),
        ("+375 29 123 45 67", "RU", Some("+375291234567")),
        // Uzbekistan: national 9 digits, +998.
        ("90 123 45 67", "UZ", Some("+998901234567")),
        ("+998 90 123 45 67", "RU", Some("+998901234567")),
        // Germany: a mobile and a landline with trunk 0; 00 as the international prefix.
        ("0151 23456789", "DE", Some("+4915123456789")),
        ("030 1234567", "DE", Some("+49301234567")),
        ("0049 30 1234567", "RU", Some("+49301234567")),
        // United States and the United Kingdom.
        ("(201) 555-0123", "US", Some("+12015550123")),
        // St Petersburg: the area code starts with RU's trunk prefix 8, which the crate
        // strips from `+7 812 …` too; the number must survive either way it is written.
        ("+7 (812) 300-20-10", "RU", Some("+78123002010")),
        ("8 (812) 300-20-10", "RU", Some("+78123002010")),
        ("+7 812 12", "RU", None),
        ("+7 800 555-35-35", "RU", Some("+78005553535")),
        ("+1 201 555 0123", "RU", Some("+12015550123")),
        ("020 7946 0018", "GB", Some("+442079460018")),
        ("07400 123456", "GB", Some("+447400123456")),
        // An extension: the number is kept, the extension set apart.
        ("+7 495 123-45-67 доб. 123", "RU", Some("+74951234567")),
        // Short numbers, a wrong length, garbage.
        ("112", "RU", None),
        ("12-34", "RU", None),
        ("8 916 123 45", "RU", None),
        ("+7 000 000 00 00", "RU", None),
        ("не указан", "RU", None),
        ("call me", "US", None),
        ("", "RU", None),
    ];

    #[test]
    fn the_phone_table() {
        for (raw, country, want) in TABLE {
            assert_eq!(
                normalize(raw, country).as_deref(),
                *want,
                "{raw:?} with default country {country}"
            );
        }
    }

    #[test]
    fn extensions_are_kept_apart() {
        for raw in [
            "+7 495 123-45-67 доб. 123",
            "8 (495) 123-45-67, доб 123",
            "+74951234567 ext. 123",
            "+7 495 123 45 67 x123",
        ] {
            assert_eq!(
                parse(raw, "RU"),
                Ok(Parsed {
                    e164: "+74951234567".into(),
                    extension: Some("123".into())
                }),
                "{raw}"
            );
        }
    }

    #[test]
    fn an_invalid_number_says_what_and_how_it_was_read() {
        let e = parse("12-34", "ru").unwrap_err();
        assert_eq!(
            e.to_string(),
            "`12-34` is not a valid phone number (read with default country RU)"
        );
        assert!(known_country("kz") && known_country("DE") && !known_country("XX"));
    }

    #[test]
    fn search_key_and_same() {
        assert_eq!(search_key("+7 (916) 123-45-67"), "9161234567");
        assert!(same("8 916 123 45 67", "+79161234567"));
        assert!(!same("+79161234567", "+79161234568"));
    }
}
