//! Phone numbers to E.164, and the key amoCRM matches calls and searches on.
//!
//! BILLmanager keeps phones as typed: `8 (916) 123-45-67`, `+7 916 1234567`, `79161234567`.
//! amoCRM's `query` search treats `+7…` and `8…` as different strings and searches every
//! field, so we normalise before writing and search by the last 10 digits, then verify the
//! hit's PHONE values ourselves (reference §3.4, §19.6).

/// Calling code and trunk prefix per default country (ISO 3166 alpha-2).
fn country(code: &str) -> Option<(&'static str, &'static str)> {
    Some(match code.to_ascii_uppercase().as_str() {
        "RU" | "KZ" => ("7", "8"),
        "BY" => ("375", "80"),
        "UA" => ("380", "0"),
        "UZ" => ("998", "8"),
        "DE" => ("49", "0"),
        "GB" => ("44", "0"),
        "US" | "CA" => ("1", "1"),
        _ => return None,
    })
}

/// Normalises to `+<digits>`; `None` when there are too few digits to be a phone.
pub fn normalize(raw: &str, default_country: &str) -> Option<String> {
    let trimmed = raw.trim();
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 7 || digits.len() > 15 {
        return None;
    }
    if trimmed.starts_with('+') || trimmed.starts_with("00") {
        let d = digits
            .strip_prefix("00")
            .filter(|_| trimmed.starts_with("00"))
            .unwrap_or(&digits);
        return Some(format!("+{d}"));
    }
    let Some((cc, trunk)) = country(default_country) else {
        return Some(format!("+{digits}"));
    };
    if cc == "7" {
        // Russia/Kazakhstan: 8XXXXXXXXXX, 7XXXXXXXXXX, XXXXXXXXXX (10 digits).
        return Some(match digits.len() {
            11 if digits.starts_with('8') || digits.starts_with('7') => {
                format!("+7{}", &digits[1..])
            }
            10 => format!("+7{digits}"),
            _ => format!("+{digits}"),
        });
    }
    if digits.starts_with(cc) {
        return Some(format!("+{digits}"));
    }
    if let Some(rest) = digits.strip_prefix(trunk) {
        return Some(format!("+{cc}{rest}"));
    }
    Some(format!("+{cc}{digits}"))
}

/// The last 10 digits: what amoCRM matches calls on and what we search with.
pub fn search_key(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let start = digits.len().saturating_sub(10);
    digits[start..].to_string()
}

/// Whether two phones as stored anywhere are the same number.
pub fn same(a: &str, b: &str) -> bool {
    let (ka, kb) = (search_key(a), search_key(b));
    ka.len() >= 7 && ka == kb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn russian_formats_become_plus_seven() {
        for raw in [
            "8 (916) 123-45-67",
            "+7 916 123 45 67",
            "79161234567",
            "9161234567",
            "8-916-123-45-67",
        ] {
            assert_eq!(
                normalize(raw, "RU").as_deref(),
                Some("+79161234567"),
                "{raw}"
            );
        }
    }

    #[test]
    fn international_and_other_countries() {
        assert_eq!(
            normalize("+49 30 1234567", "RU").as_deref(),
            Some("+49301234567")
        );
        assert_eq!(
            normalize("0049 30 1234567", "RU").as_deref(),
            Some("+49301234567")
        );
        assert_eq!(
            normalize("030 1234567", "DE").as_deref(),
            Some("+49301234567")
        );
        assert_eq!(
            normalize("80291234567", "BY").as_deref(),
            Some("+375291234567")
        );
        assert_eq!(normalize("12-34", "RU"), None);
    }

    #[test]
    fn search_key_and_same() {
        assert_eq!(search_key("+7 (916) 123-45-67"), "9161234567");
        assert!(same("8 916 123 45 67", "+79161234567"));
        assert!(!same("+79161234567", "+79161234568"));
    }
}
