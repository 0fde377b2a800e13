//! The platform password of a password session: zeroized when dropped,
//! never shown by `Debug`, never kept after the login call.

use std::fmt;

use zeroize::Zeroizing;

/// Longest password accepted (the platform's own limit is lower).
pub const PASSWORD_MAX_CHARS: usize = 256;

/// An empty or oversized password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a password is 1 to {PASSWORD_MAX_CHARS} characters")]
pub struct MalformedPassword;

/// A platform password on its way to one login.
pub struct Password(Zeroizing<String>);

impl Password {
    /// Wraps `text`; the caller's string is taken and zeroized whatever the
    /// outcome.
    pub fn new(text: String) -> Result<Self, MalformedPassword> {
        let text = Zeroizing::new(text);
        let chars = text.chars().count();
        if (1..=PASSWORD_MAX_CHARS).contains(&chars) {
            Ok(Password(text))
        } else {
            Err(MalformedPassword)
        }
    }

    /// Copies a password out of a borrowed string (the IPC layer's
    /// `SecretString`, which zeroizes its own copy).
    pub fn from_secret(text: &str) -> Result<Self, MalformedPassword> {
        Self::new(text.to_owned())
    }

    /// The password, for the login request only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_never_shown_and_never_empty() {
        let password = Password::new("correct horse".to_owned()).unwrap();
        assert!(!format!("{password:?}").contains("horse"));
        assert_eq!(Password::new(String::new()).err(), Some(MalformedPassword));
        assert!(Password::new("x".repeat(PASSWORD_MAX_CHARS + 1)).is_err());
    }
}
