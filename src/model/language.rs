//! Document language codes.

use std::fmt;
use std::str::FromStr;

/// A document's language (`XDSDocumentEntry.languageCode`), a BCP 47 tag
/// limited to the parts documents use: a 2–3 letter language, then
/// optionally a 4-letter script, a region (2 letters or 3 digits) and
/// variants (5–8 letters/digits, or a digit and 3 letters/digits), e.g.
/// `fr`, `fr-LU`, `lb-LU`, `de-CH-1996`, `sr-Latn-RS`. Extensions and
/// private-use parts are refused.
///
/// Parsing accepts `_` for `-` and any case, then writes the tag in its
/// conventional case (`FR_lu` → `fr-LU`), so that equal tags compare equal.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LanguageCode(String);

/// A text that is not a language tag we accept.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{value}' is not a language code: {reason} (expected e.g. fr, fr-LU, de-LU, lb-LU, en-GB)"
)]
pub struct LanguageCodeError {
    /// The text given.
    pub value: String,
    /// What is wrong.
    pub reason: &'static str,
}

impl LanguageCode {
    /// The tag.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The primary language subtag (`fr` for `fr-LU`).
    pub fn language(&self) -> &str {
        self.0.split('-').next().unwrap_or_default()
    }
}

fn is_alpha(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphabetic())
}

fn is_digit(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_digit())
}

fn is_alnum(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn is_variant(s: &str) -> bool {
    is_alnum(s)
        && ((5..=8).contains(&s.len()) || (s.len() == 4 && s.as_bytes()[0].is_ascii_digit()))
}

impl FromStr for LanguageCode {
    type Err = LanguageCodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = |reason| LanguageCodeError {
            value: s.to_owned(),
            reason,
        };
        let text = s.trim().replace('_', "-");
        let mut subtags = text.split('-').peekable();
        let language = subtags.next().unwrap_or_default();
        if !(2..=3).contains(&language.len()) || !is_alpha(language) {
            return Err(error("it must start with a 2- or 3-letter language"));
        }
        let mut parts = vec![language.to_ascii_lowercase()];
        if let Some(script) = subtags.next_if(|t| t.len() == 4 && is_alpha(t)) {
            let mut script = script.to_ascii_lowercase();
            script[..1].make_ascii_uppercase();
            parts.push(script);
        }
        if let Some(region) =
            subtags.next_if(|t| (t.len() == 2 && is_alpha(t)) || (t.len() == 3 && is_digit(t)))
        {
            parts.push(region.to_ascii_uppercase());
        }
        for subtag in subtags {
            if subtag.is_empty() {
                return Err(error("it has an empty part"));
            }
            if !is_variant(subtag) {
                return Err(error(
                    "after the language come only a script (Latn), a region (LU) and variants",
                ));
            }
            parts.push(subtag.to_ascii_lowercase());
        }
        Ok(LanguageCode(parts.join("-")))
    }
}

impl TryFrom<&str> for LanguageCode {
    type Error = LanguageCodeError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl TryFrom<String> for LanguageCode {
    type Error = LanguageCodeError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<LanguageCode> for String {
    fn from(value: LanguageCode) -> Self {
        value.0
    }
}

impl fmt::Display for LanguageCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for LanguageCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LanguageCode({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalises() {
        for (given, canonical) in [
            ("fr", "fr"),
            ("FR_lu", "fr-LU"),
            ("lb-LU", "lb-LU"),
            ("sr-latn-rs", "sr-Latn-RS"),
            ("de-CH-1996", "de-CH-1996"),
            ("es-419", "es-419"),
            ("sl-rozaj", "sl-rozaj"),
        ] {
            let code: LanguageCode = given.parse().unwrap();
            assert_eq!(code.as_str(), canonical);
        }
        assert_eq!("fr-LU".parse::<LanguageCode>().unwrap().language(), "fr");
    }

    #[test]
    fn refuses_what_is_not_a_tag() {
        for bad in [
            "",
            "f",
            "french",
            "fr-",
            "fr--LU",
            "fr-L",
            "12",
            "fr-LU-x-private",
            "en-a-bbb",
            "fr LU",
        ] {
            assert!(bad.parse::<LanguageCode>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn serde_uses_the_tag() {
        let code: LanguageCode = serde_json::from_str("\"de_lu\"").unwrap();
        assert_eq!(serde_json::to_string(&code).unwrap(), "\"de-LU\"");
    }
}
