//! Secrets at rest: passwords and one-time codes (activation letter, code de
//! présence) are kept as argon2id PHC strings only, and one-time codes are
//! drawn from the OS generator.

use std::fmt;

use argon2::password_hash::SaltString;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use super::{Result, StoreError};

/// Crockford's base 32: no I, L, O or U, so a code read aloud or typed from
/// a letter is not misread. 32 symbols: 5 random bits each, no modulo bias.
const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A one-time code in clear, as handed to a person once. Zeroized on drop;
/// never shown by `Debug`.
pub struct OneTimeCode(Zeroizing<String>);

impl OneTimeCode {
    /// `groups` groups of 4 symbols joined by '-', e.g. `7QK2-M9XD`
    /// (20 random bits per group).
    pub(crate) fn generate(groups: usize) -> Self {
        let mut text = Zeroizing::new(String::with_capacity(groups * 5));
        for group in 0..groups {
            if group > 0 {
                text.push('-');
            }
            for _ in 0..4 {
                let symbol = CODE_ALPHABET[(OsRng.next_u32() & 31) as usize];
                text.push(char::from(symbol));
            }
        }
        Self(text)
    }

    /// The code, to print or send.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimeCode(<redacted>)")
    }
}

/// A code as typed by a person, in the form it was hashed in: upper case,
/// separators and spaces dropped, and the letters Crockford's alphabet
/// leaves out read as the digits they look like.
pub(crate) fn normalise_code(typed: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(typed.len()));
    for c in typed.chars() {
        match c.to_ascii_uppercase() {
            '-' | ' ' | '\t' => {}
            'I' | 'L' => out.push('1'),
            'O' => out.push('0'),
            other => out.push(other),
        }
    }
    out
}

/// The argon2id hash (PHC string, salt and parameters included) of `secret`.
pub fn hash_secret(secret: &[u8]) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(secret, &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| StoreError::Hash(e.to_string()))
}

/// Whether `secret` matches `stored` (a PHC string made by [`hash_secret`]).
pub fn verify_secret(stored: &str, secret: &[u8]) -> Result<bool> {
    let parsed = PasswordHash::new(stored).map_err(|_| StoreError::Corrupt {
        what: "secret hash",
        value: "<not a PHC string>".into(),
    })?;
    Ok(Argon2::default().verify_password(secret, &parsed).is_ok())
}

/// The hash of a one-time code, normalised first.
pub(crate) fn hash_code(code: &str) -> Result<String> {
    hash_secret(normalise_code(code).as_bytes())
}

/// Whether a typed code matches a stored code hash.
pub(crate) fn verify_code(stored: &str, typed: &str) -> Result<bool> {
    verify_secret(stored, normalise_code(typed).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_secret_only_and_never_contains_it() {
        let hash = hash_secret(b"correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains("correct horse"));
        assert!(verify_secret(&hash, b"correct horse").unwrap());
        assert!(!verify_secret(&hash, b"correct horsf").unwrap());
        // Salted: the same secret hashes differently.
        assert_ne!(hash, hash_secret(b"correct horse").unwrap());
        assert!(verify_secret("plain text", b"x").is_err());
    }

    #[test]
    fn codes_are_random_in_the_alphabet_and_forgive_typing() {
        let code = OneTimeCode::generate(3);
        let text = code.expose();
        assert_eq!(text.len(), 14);
        assert!(
            text.split('-')
                .all(|g| g.len() == 4 && g.bytes().all(|b| CODE_ALPHABET.contains(&b))),
            "{text}"
        );
        assert_ne!(text, OneTimeCode::generate(3).expose());
        assert_eq!(format!("{code:?}"), "OneTimeCode(<redacted>)");

        let hash = hash_code(text).unwrap();
        let typed = text.to_lowercase().replace('-', " ");
        assert!(verify_code(&hash, &typed).unwrap());
        assert_eq!(normalise_code("ab-cI o l").as_str(), "ABC101");
    }
}
