//! Secrets the user types: card PIN, code de présence, password, activation
//! and e-mail confirmation codes.
//!
//! Every type here wipes its memory when dropped (`ZeroizeOnDrop`), shows
//! only `****` in `Debug` and `Display`, has no `Clone` (a copy is one more
//! buffer to wipe; no caller needs one), no `PartialEq` (comparison is the
//! platform's job), and no `Serialize`: a secret leaves the process only
//! through [`expose`](Pin::expose), at the one place that sends it.
//! `Deserialize` exists because secrets arrive over IPC; it runs the same
//! validation as the constructors. Constructors take the input `String` by
//! value and wipe it on failure too; normalisation (dropping spaces, upper
//! case) happens in place, so no unwiped copy is left behind. Errors never
//! include the secret or its characters.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Implements the redacted formatting, `expose` and `Deserialize` shared by
/// every secret type.
macro_rules! secret_common {
    ($name:ident, $constructor:path) => {
        impl $name {
            /// The secret itself, for the one place that must send it.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(****)"))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("****")
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(deserializer)?;
                $constructor(raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// Drops ASCII spaces and hyphens (people copy codes in groups such as
/// `AB12-CD34` or `AB12 CD34`) and upper-cases letters, in place.
fn normalise_code(raw: &mut String) {
    raw.retain(|c| c != ' ' && c != '-');
    raw.make_ascii_uppercase();
}

/// The LuxTrust smartcard PIN: 4 to 8 digits (the range LuxTrust cards
/// accept; the card itself decides whether it is right).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Pin(String);

/// Why a PIN is refused (without saying anything about its value).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    /// Fewer than 4 digits.
    #[error("the PIN is too short: a LuxTrust card PIN has 4 to 8 digits")]
    TooShort,
    /// More than 8 digits.
    #[error("the PIN is too long: a LuxTrust card PIN has 4 to 8 digits")]
    TooLong,
    /// A character that is not a digit.
    #[error("character {position} of the PIN is not a digit: a LuxTrust card PIN has digits only")]
    NonDigit {
        /// 1-based position.
        position: usize,
    },
}

impl Pin {
    /// Shortest PIN.
    pub const MIN_LEN: usize = 4;
    /// Longest PIN.
    pub const MAX_LEN: usize = 8;

    /// Validates a PIN; `raw` is wiped whatever the outcome.
    pub fn new(raw: String) -> Result<Pin, PinError> {
        let mut raw = Zeroizing::new(raw);
        if let Some(index) = raw.chars().position(|c| !c.is_ascii_digit()) {
            return Err(PinError::NonDigit {
                position: index + 1,
            });
        }
        if raw.len() < Self::MIN_LEN {
            return Err(PinError::TooShort);
        }
        if raw.len() > Self::MAX_LEN {
            return Err(PinError::TooLong);
        }
        Ok(Pin(std::mem::take(&mut *raw)))
    }
}

secret_common!(Pin, Pin::new);

/// Why a code (presence, activation, e-mail confirmation) is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecretCodeError {
    /// Too few characters.
    #[error(
        "the {what} is too short: it has {min} to {max} {alphabet} (spaces and hyphens are ignored)"
    )]
    TooShort {
        /// Which code.
        what: &'static str,
        /// Shortest length.
        min: usize,
        /// Longest length.
        max: usize,
        /// Allowed characters.
        alphabet: &'static str,
    },
    /// Too many characters.
    #[error(
        "the {what} is too long: it has {min} to {max} {alphabet} (spaces and hyphens are ignored)"
    )]
    TooLong {
        /// Which code.
        what: &'static str,
        /// Shortest length.
        min: usize,
        /// Longest length.
        max: usize,
        /// Allowed characters.
        alphabet: &'static str,
    },
    /// A character outside the code's alphabet.
    #[error("character {position} of the {what} is not allowed: it has only {alphabet}")]
    InvalidCharacter {
        /// Which code.
        what: &'static str,
        /// 1-based position after dropping spaces and hyphens.
        position: usize,
        /// Allowed characters.
        alphabet: &'static str,
    },
}

/// The format of one kind of code.
struct CodeFormat {
    what: &'static str,
    min: usize,
    max: usize,
    digits_only: bool,
}

impl CodeFormat {
    /// Normalises `raw` in place and checks it; `raw` is wiped on failure.
    fn check(&self, raw: String) -> Result<String, SecretCodeError> {
        let mut raw = Zeroizing::new(raw);
        normalise_code(&mut raw);
        let alphabet = if self.digits_only {
            "digits"
        } else {
            "letters A-Z and digits"
        };
        let allowed = |c: char| {
            if self.digits_only {
                c.is_ascii_digit()
            } else {
                c.is_ascii_alphanumeric()
            }
        };
        if let Some(index) = raw.chars().position(|c| !allowed(c)) {
            return Err(SecretCodeError::InvalidCharacter {
                what: self.what,
                position: index + 1,
                alphabet,
            });
        }
        let (what, min, max) = (self.what, self.min, self.max);
        if raw.len() < min {
            return Err(SecretCodeError::TooShort {
                what,
                min,
                max,
                alphabet,
            });
        }
        if raw.len() > max {
            return Err(SecretCodeError::TooLong {
                what,
                min,
                max,
                alphabet,
            });
        }
        Ok(std::mem::take(&mut *raw))
    }
}

/// The patient's code de présence, which opens their DSP to one
/// professional for one consultation. Never stored: it is spent at once
/// for a consultation grant (charter: "sans conserver les éléments de
/// connexion fournis par le patient").
///
/// The real format is not public; the sandbox defines it as 6 to 12 letters
/// and digits, case-insensitive (kept upper case), spaces and hyphens
/// ignored.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct PresenceCode(String);

const PRESENCE_CODE: CodeFormat = CodeFormat {
    what: "code de présence",
    min: 6,
    max: 12,
    digits_only: false,
};

impl PresenceCode {
    /// Shortest code.
    pub const MIN_LEN: usize = PRESENCE_CODE.min;
    /// Longest code.
    pub const MAX_LEN: usize = PRESENCE_CODE.max;

    /// Validates and normalises a code de présence; `raw` is wiped.
    pub fn new(raw: String) -> Result<PresenceCode, SecretCodeError> {
        PRESENCE_CODE.check(raw).map(PresenceCode)
    }
}

secret_common!(PresenceCode, PresenceCode::new);

/// The activation code printed in the Agence eSanté's letter ("le courrier
/// … contenant … votre code d'activation").
///
/// The real format is not public; the sandbox defines it as 8 to 16 letters
/// and digits, case-insensitive (kept upper case), spaces and hyphens
/// ignored.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct ActivationCode(String);

const ACTIVATION_CODE: CodeFormat = CodeFormat {
    what: "activation code",
    min: 8,
    max: 16,
    digits_only: false,
};

impl ActivationCode {
    /// Shortest code.
    pub const MIN_LEN: usize = ACTIVATION_CODE.min;
    /// Longest code.
    pub const MAX_LEN: usize = ACTIVATION_CODE.max;

    /// Validates and normalises an activation code; `raw` is wiped.
    pub fn new(raw: String) -> Result<ActivationCode, SecretCodeError> {
        ACTIVATION_CODE.check(raw).map(ActivationCode)
    }
}

secret_common!(ActivationCode, ActivationCode::new);

/// The code sent to the professional's e-mail address during activation,
/// proving they read that mailbox.
///
/// The sandbox defines it as 6 to 8 digits, spaces and hyphens ignored.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct EmailConfirmationCode(String);

const EMAIL_CONFIRMATION_CODE: CodeFormat = CodeFormat {
    what: "e-mail confirmation code",
    min: 6,
    max: 8,
    digits_only: true,
};

impl EmailConfirmationCode {
    /// Shortest code.
    pub const MIN_LEN: usize = EMAIL_CONFIRMATION_CODE.min;
    /// Longest code.
    pub const MAX_LEN: usize = EMAIL_CONFIRMATION_CODE.max;

    /// Validates and normalises an e-mail confirmation code; `raw` is wiped.
    pub fn new(raw: String) -> Result<EmailConfirmationCode, SecretCodeError> {
        EMAIL_CONFIRMATION_CODE
            .check(raw)
            .map(EmailConfirmationCode)
    }
}

secret_common!(EmailConfirmationCode, EmailConfirmationCode::new);

/// The platform password (charter: "Le mot de passe est défini par le
/// professionnel de santé lors des étapes d'activation"), used with the
/// matricule for limited-access sessions.
///
/// [`Password::new`] applies the policy for choosing one: 10 to 128
/// characters, no control characters, and at least two of the classes
/// lower-case letters, capital letters, digits, other characters.
/// [`Password::existing`] — and `Deserialize`, since a login sends a
/// password that was chosen earlier, perhaps under another policy — checks
/// only that it is non-empty, at most 128 characters and free of control
/// characters; call [`Password::check_policy`] where a password is chosen.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Password(String);

/// A class of characters in a password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CharClass {
    /// Lower-case letters.
    Lowercase,
    /// Capital letters.
    Uppercase,
    /// Digits 0-9.
    Digit,
    /// Anything else: punctuation, spaces, symbols.
    Other,
}

impl CharClass {
    fn of(c: char) -> CharClass {
        if c.is_ascii_digit() {
            CharClass::Digit
        } else if c.is_lowercase() {
            CharClass::Lowercase
        } else if c.is_uppercase() {
            CharClass::Uppercase
        } else {
            CharClass::Other
        }
    }
}

impl fmt::Display for CharClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CharClass::Lowercase => "lower-case letters",
            CharClass::Uppercase => "capital letters",
            CharClass::Digit => "digits",
            CharClass::Other => "symbols",
        })
    }
}

/// Why a password is refused; each says what is missing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Empty.
    #[error("the password is empty")]
    Empty,
    /// Shorter than the policy's minimum.
    #[error("the password is too short: use at least {min} characters")]
    TooShort {
        /// Minimum length.
        min: usize,
    },
    /// Longer than accepted.
    #[error("the password is too long: use at most {max} characters")]
    TooLong {
        /// Maximum length.
        max: usize,
    },
    /// Contains a control character (tab, newline, …).
    #[error("the password contains a control character (tab, newline, …): remove it")]
    ControlCharacter,
    /// All characters are of one class.
    #[error(
        "the password has only {class}: add characters of another kind (lower-case or capital letters, digits, symbols)"
    )]
    SingleClass {
        /// The only class used.
        class: CharClass,
    },
}

impl Password {
    /// Shortest password the policy accepts.
    pub const MIN_LEN: usize = 10;
    /// Longest password accepted.
    pub const MAX_LEN: usize = 128;

    /// A newly chosen password, checked against the policy; `raw` is wiped.
    pub fn new(raw: String) -> Result<Password, PasswordError> {
        let password = Password::existing(raw)?;
        password.check_policy()?;
        Ok(password)
    }

    /// A password chosen earlier (for a login); `raw` is wiped.
    pub fn existing(raw: String) -> Result<Password, PasswordError> {
        let mut raw = Zeroizing::new(raw);
        if raw.is_empty() {
            return Err(PasswordError::Empty);
        }
        if raw.chars().count() > Self::MAX_LEN {
            return Err(PasswordError::TooLong { max: Self::MAX_LEN });
        }
        if raw.chars().any(char::is_control) {
            return Err(PasswordError::ControlCharacter);
        }
        Ok(Password(std::mem::take(&mut *raw)))
    }

    /// Checks the policy for choosing a password.
    pub fn check_policy(&self) -> Result<(), PasswordError> {
        if self.0.chars().count() < Self::MIN_LEN {
            return Err(PasswordError::TooShort { min: Self::MIN_LEN });
        }
        let mut classes = self.0.chars().map(CharClass::of);
        if let Some(first) = classes.next()
            && classes.all(|class| class == first)
        {
            return Err(PasswordError::SingleClass { class: first });
        }
        Ok(())
    }
}

secret_common!(Password, Password::existing);

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_wiped_on_drop<T: ZeroizeOnDrop>() {}

    #[test]
    fn all_secrets_are_wiped_on_drop() {
        assert_wiped_on_drop::<Pin>();
        assert_wiped_on_drop::<PresenceCode>();
        assert_wiped_on_drop::<Password>();
        assert_wiped_on_drop::<ActivationCode>();
        assert_wiped_on_drop::<EmailConfirmationCode>();
    }

    /// Asserts that neither `{:?}` nor `{}` shows `secret` or any part of it.
    fn assert_redacted(shown: [String; 2], secret: &str) {
        for text in shown {
            assert!(!text.contains(secret), "{text} shows the secret");
            assert!(text.contains("****"), "{text}");
        }
    }

    #[test]
    fn formatting_never_shows_the_secret() {
        let pin = Pin::new("4711".into()).unwrap();
        assert_eq!(format!("{pin:?}"), "Pin(****)");
        assert_redacted([format!("{pin:?}"), format!("{pin}")], "4711");

        let code = PresenceCode::new("qx7-k2p9".into()).unwrap();
        assert_eq!(code.expose(), "QX7K2P9");
        assert_redacted([format!("{code:?}"), format!("{code}")], "QX7K2P9");

        let password = Password::new("Sunflower-Rain7".into()).unwrap();
        assert_redacted(
            [format!("{password:?}"), format!("{password}")],
            "Sunflower",
        );

        let activation = ActivationCode::new("ab12 cd34 ef56".into()).unwrap();
        assert_eq!(activation.expose(), "AB12CD34EF56");
        assert_redacted(
            [format!("{activation:?}"), format!("{activation}")],
            "AB12CD34",
        );

        let email = EmailConfirmationCode::new("482 913".into()).unwrap();
        assert_eq!(email.expose(), "482913");
        assert_redacted([format!("{email:?}"), format!("{email}")], "482913");

        // Inside a struct that derives Debug, too.
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Login {
            pin: Pin,
        }
        assert!(!format!("{:?}", Login { pin }).contains("4711"));
    }

    #[test]
    fn errors_never_show_the_secret() {
        let failures = [
            Pin::new("47x1".into()).map(drop).unwrap_err().to_string(),
            PresenceCode::new("QX7K2P9!".into())
                .map(drop)
                .unwrap_err()
                .to_string(),
            Password::new("sunflowerrain".into())
                .map(drop)
                .unwrap_err()
                .to_string(),
            ActivationCode::new("AB12CD3".into())
                .map(drop)
                .unwrap_err()
                .to_string(),
        ];
        for (message, secret) in failures
            .iter()
            .zip(["47x1", "QX7K2P9", "sunflower", "AB12CD3"])
        {
            assert!(!message.contains(secret), "{message}");
        }
    }

    #[test]
    fn pin_is_4_to_8_digits() {
        assert!(Pin::new("1234".into()).is_ok());
        assert!(Pin::new("12345678".into()).is_ok());
        assert_eq!(Pin::new("123".into()).map(drop), Err(PinError::TooShort));
        assert_eq!(
            Pin::new("123456789".into()).map(drop),
            Err(PinError::TooLong)
        );
        assert_eq!(
            Pin::new("12 34".into()).map(drop),
            Err(PinError::NonDigit { position: 3 })
        );
    }

    #[test]
    fn code_formats() {
        assert!(PresenceCode::new("ABC123".into()).is_ok());
        assert!(matches!(
            PresenceCode::new("ABC12".into()).map(drop),
            Err(SecretCodeError::TooShort {
                min: 6,
                max: 12,
                ..
            })
        ));
        assert!(matches!(
            PresenceCode::new("ABCDEF1234567".into()).map(drop),
            Err(SecretCodeError::TooLong { .. })
        ));
        assert_eq!(
            PresenceCode::new("ABC_123".into()).map(drop),
            Err(SecretCodeError::InvalidCharacter {
                what: "code de présence",
                position: 4,
                alphabet: "letters A-Z and digits"
            })
        );
        assert!(ActivationCode::new("ABCD-1234".into()).is_ok());
        assert!(ActivationCode::new("ABC1234".into()).is_err());
        assert!(EmailConfirmationCode::new("12345A".into()).is_err());
        assert!(EmailConfirmationCode::new("123456789".into()).is_err());
    }

    #[test]
    fn password_policy_says_what_is_missing() {
        assert!(Password::new("correct horse 7".into()).is_ok());
        assert_eq!(
            Password::new("Ab1!".into()).map(drop),
            Err(PasswordError::TooShort { min: 10 })
        );
        assert_eq!(
            Password::new("onlylowercase".into()).map(drop),
            Err(PasswordError::SingleClass {
                class: CharClass::Lowercase
            })
        );
        assert_eq!(
            Password::new("1234567890".into()).map(drop),
            Err(PasswordError::SingleClass {
                class: CharClass::Digit
            })
        );
        let message = Password::new("ÉLÉPHANTROSE".into())
            .map(drop)
            .unwrap_err()
            .to_string();
        assert!(message.contains("only capital letters"), "{message}");
        assert_eq!(
            Password::new("tab\tinside-Password".into()).map(drop),
            Err(PasswordError::ControlCharacter)
        );
        assert_eq!(
            Password::new("aB".repeat(65)).map(drop),
            Err(PasswordError::TooLong { max: 128 })
        );
        // A password chosen under an older policy can still be used to log in.
        assert!(Password::existing("short".into()).is_ok());
        assert_eq!(
            Password::existing(String::new()).map(drop),
            Err(PasswordError::Empty)
        );
    }

    #[test]
    fn deserialize_runs_the_same_validation() {
        let pin: Pin = serde_json::from_str("\"123456\"").unwrap();
        assert_eq!(pin.expose(), "123456");
        let err = serde_json::from_str::<Pin>("\"12\"").unwrap_err();
        assert!(err.to_string().contains("too short"), "{err}");
        let code: PresenceCode = serde_json::from_str("\"ab-12-cd\"").unwrap();
        assert_eq!(code.expose(), "AB12CD");
        let password: Password = serde_json::from_str("\"short\"").unwrap();
        assert_eq!(
            password.check_policy(),
            Err(PasswordError::TooShort { min: 10 })
        );
    }
}
