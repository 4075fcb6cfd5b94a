//! A string that never prints itself.
//!
//! Tokens and the client secret are wrapped in [`Secret`] from the moment they are read, so
//! a stray `{:?}` in a log line or an error shows `(redacted)` instead of the value. Every
//! secret is also registered with the logger's redactor, which scrubs it from any text that
//! reaches stderr or the log file.

use std::fmt;

/// A secret value; `Debug` is redacted and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value and registers it with the redactor.
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        crate::log::register_secret(&value);
        Secret(value)
    }

    /// The raw value; only for the place that builds an HTTP header or body.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("abc-very-secret");
        assert_eq!(format!("{s:?}"), "(redacted)");
        assert_eq!(s.expose(), "abc-very-secret");
    }
}
