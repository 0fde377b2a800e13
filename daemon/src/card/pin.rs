//! The card PIN on its way to one VERIFY: checked for shape, zeroized when
//! dropped, never shown by `Debug` or `Display`.

use std::fmt;

use zeroize::Zeroizing;

/// Fewest digits a card PIN has.
pub const PIN_MIN_DIGITS: usize = 4;
/// Most digits a card PIN has: the 8-byte PIN block of IAS-ECC cards and
/// of the PC/SC pinpad structure.
pub const PIN_MAX_DIGITS: usize = 8;

/// A PIN that is not 4 to 8 ASCII digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a card PIN is {PIN_MIN_DIGITS} to {PIN_MAX_DIGITS} digits (0-9); check what was typed")]
pub struct MalformedPin;

/// A card PIN. Moving it into [`crate::card::CardHandle::verify_pin`]
/// hands it to the card thread, which drops it (and so zeroizes it) right
/// after the VERIFY.
pub struct Pin(Zeroizing<String>);

impl Pin {
    /// Checks and wraps `digits`; the caller's string is taken and
    /// zeroized whatever the outcome.
    pub fn new(digits: String) -> Result<Self, MalformedPin> {
        let digits = Zeroizing::new(digits);
        let valid = (PIN_MIN_DIGITS..=PIN_MAX_DIGITS).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit());
        if valid {
            Ok(Pin(digits))
        } else {
            Err(MalformedPin)
        }
    }

    /// Copies a PIN out of a borrowed string (the IPC layer's
    /// `SecretString`, which zeroizes its own copy).
    pub fn from_secret(digits: &str) -> Result<Self, MalformedPin> {
        Self::new(digits.to_owned())
    }

    /// The digits, for the VERIFY command only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Compares without an early exit on the first differing digit, so a
    /// software card's comparison time says nothing about the PIN.
    pub fn matches(&self, other: &Pin) -> bool {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        let mut difference = a.len() ^ b.len();
        for i in 0..a.len().max(b.len()) {
            let x = a.get(i).copied().unwrap_or(0);
            let y = b.get(i).copied().unwrap_or(0);
            difference |= usize::from(x ^ y);
        }
        difference == 0
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_is_four_to_eight_digits() {
        for good in ["0000", "123456", "12345678"] {
            assert!(Pin::new(good.to_owned()).is_ok(), "{good}");
        }
        for bad in ["", "123", "123456789", "12a4", "12 34", "١٢٣٤"] {
            assert_eq!(Pin::new(bad.to_owned()).err(), Some(MalformedPin), "{bad}");
        }
    }

    #[test]
    fn a_pin_never_shows_in_debug() {
        let pin = Pin::new("987654".to_owned()).unwrap();
        let shown = format!("{pin:?} {:?}", Some(&pin));
        assert!(!shown.contains("987654"), "{shown}");
    }

    #[test]
    fn matching_compares_the_whole_pin() {
        let pin = |s: &str| Pin::new(s.to_owned()).unwrap();
        assert!(pin("123456").matches(&pin("123456")));
        assert!(!pin("123456").matches(&pin("123457")));
        assert!(!pin("123456").matches(&pin("12345")));
        assert!(!pin("1234").matches(&pin("123400")));
    }
}
