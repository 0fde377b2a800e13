//! The Luxembourg social security number ("matricule"), the DSP's patient id.

use std::fmt;
use std::str::FromStr;

use time::{Date, Month};

use super::check_digits::{luhn, mod11, verhoeff};

/// OID of the assigning authority of matricules in XDS patient ids.
pub const MATRICULE_AUTHORITY_OID: &str = "1.3.182.4.4";

/// Earliest birth year accepted: nobody in the social security register was
/// born before it, so an earlier year is a typo in the first digits.
const EARLIEST_BIRTH_YEAR: i32 = 1800;

/// A patient's or professional's matricule (numéro d'identification national).
///
/// Two forms exist:
/// - the current 13-digit form `YYYYMMDD SSS L V`: birth date, a 3-digit
///   serial, a Luhn digit and a Verhoeff digit, **both** computed over the
///   first 11 digits (`1893120105732`: born 1893-12-01, serial 057, Luhn 3,
///   Verhoeff 2);
/// - the legacy 11-digit form `YYYYMMDD SS C`: birth date, a 2-digit serial
///   and a mod-11 digit (weights 5,4,3,2,7,6,5,4,3,2 over the first ten
///   digits; check = 11 − remainder, remainder 0 gives 0). A remainder of 1
///   would need the check "digit" 10: such numbers are not issued and are
///   refused with [`MatriculeError::LegacyNotIssued`].
///
/// The birth date must be a real calendar date, except that a month and/or
/// day of `00` means "not known" (règlement grand-ducal du 21 décembre 1987,
/// art. 1er): then [`Matricule::birth_date`] is `None`.
///
/// Parsing is friendly to how people copy the number: surrounding whitespace
/// is ignored and so are ASCII spaces between digits (`"1893 1201 05732"`,
/// `"1893 12 01 057 32"`). Any other character is refused with its position.
/// [`Display`](fmt::Display) and serde always use the bare digits.
///
/// The legacy form accepts only the first check-digit mode of the 1987
/// règlement; the later modes (used once a day's serials ran out) would make
/// every single-digit typo pass, and the 13-digit form replaced them.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Matricule {
    /// Digit values; only the first `len` are used.
    digits: [u8; 13],
    len: u8,
}

/// Which part of the birth date is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatePart {
    /// Digits 1–4.
    Year,
    /// Digits 5–6.
    Month,
    /// Digits 7–8.
    Day,
}

impl fmt::Display for DatePart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DatePart::Year => "year (digits 1-4)",
            DatePart::Month => "month (digits 5-6)",
            DatePart::Day => "day (digits 7-8)",
        })
    }
}

/// Why a text is not a matricule. Each variant names the check that failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MatriculeError {
    /// Nothing but whitespace was given.
    #[error(
        "no matricule given: enter the 13 digits from the social security card (e.g. 1893120105732)"
    )]
    Empty,
    /// A character other than a digit or a space.
    #[error(
        "the matricule has {character:?} at position {position}: only digits (and spaces between them) are allowed"
    )]
    NonDigit {
        /// 1-based character position in the text as given.
        position: usize,
        /// The offending character.
        character: char,
    },
    /// Neither 13 nor 11 digits.
    #[error(
        "the matricule has {length} digits: it must have 13 (or 11 for the old form); check for a missing or extra digit"
    )]
    WrongLength {
        /// How many digits were seen.
        length: usize,
    },
    /// The first eight digits are not a birth date.
    #[error(
        "the matricule's birth date is invalid: {part} is '{value}' ({reason}); check the first 8 digits (YYYYMMDD)"
    )]
    InvalidDate {
        /// Which part is wrong.
        part: DatePart,
        /// The digits of that part.
        value: String,
        /// What a valid value looks like.
        reason: &'static str,
    },
    /// Digit 12 does not match the Luhn check of the first 11 digits.
    #[error(
        "the matricule's 12th digit (Luhn check) does not match the first 11 digits: a digit is mistyped; re-read the number from the social security card"
    )]
    LuhnMismatch,
    /// Digit 13 does not match the Verhoeff check of the first 11 digits.
    #[error(
        "the matricule's 13th digit (Verhoeff check) does not match the first 11 digits: a digit is mistyped or two are swapped; re-read the number from the social security card"
    )]
    VerhoeffMismatch,
    /// Digit 11 of a legacy number does not match its mod-11 check.
    #[error(
        "the old-form matricule's 11th digit (mod-11 check) does not match the first 10 digits: a digit is mistyped; re-read it, or use the 13-digit matricule"
    )]
    Mod11Mismatch,
    /// The first ten digits of a legacy number leave remainder 1 (check 10).
    #[error(
        "no old-form matricule starts with these 10 digits (their mod-11 check would be 10, and such numbers are not issued): a digit is mistyped; use the 13-digit matricule"
    )]
    LegacyNotIssued,
    /// A serial given to [`Matricule::from_parts`] or
    /// [`Matricule::legacy_from_parts`] that does not fit its digits.
    #[error(
        "serial {serial} does not fit the matricule: it has 0 to {max_serial} (3 digits in the 13-digit form, 2 in the old form)"
    )]
    SerialOutOfRange {
        /// The serial given.
        serial: u16,
        /// The largest serial of the form.
        max_serial: u16,
    },
    /// Not an HL7 CX patient id of the form `digits^^^&1.3.182.4.4&ISO`.
    #[error(
        "'{value}' is not an XDS patient id: expected <matricule>^^^&{MATRICULE_AUTHORITY_OID}&ISO"
    )]
    NotCx {
        /// The text given.
        value: String,
    },
    /// A CX patient id assigned by another authority than the matricule's.
    #[error(
        "the patient id is assigned by '{authority}', not by the matricule authority {MATRICULE_AUTHORITY_OID}: only matricules identify DSP patients"
    )]
    WrongAuthority {
        /// The assigning authority found (CX.4).
        authority: String,
    },
}

impl Matricule {
    /// True for the legacy 11-digit form.
    pub fn is_legacy(&self) -> bool {
        self.len == 11
    }

    /// The birth date, or `None` when the month or day is recorded as
    /// unknown (`00`).
    pub fn birth_date(&self) -> Option<Date> {
        let month = self.number(4, 6);
        let day = self.number(6, 8);
        let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
        Date::from_calendar_date(self.birth_year(), month, u8::try_from(day).ok()?).ok()
    }

    /// The birth year (always known).
    pub fn birth_year(&self) -> i32 {
        // Four digits: at most 9999, fits.
        self.number(0, 4) as i32
    }

    /// The digits, as on the card.
    pub fn as_digits(&self) -> String {
        self.digits[..usize::from(self.len)]
            .iter()
            .map(|&d| char::from(b'0' + d))
            .collect()
    }

    /// The XDS patient id (HL7 CX): `1893120105732^^^&1.3.182.4.4&ISO`.
    pub fn to_cx(&self) -> String {
        format!("{}^^^&{MATRICULE_AUTHORITY_OID}&ISO", self.as_digits())
    }

    /// Parses an XDS patient id, checking that its assigning authority is
    /// the matricule's (`1.3.182.4.4`, type ISO) and that the id is a valid
    /// matricule. The other CX components must be empty.
    pub fn from_cx(cx: &str) -> Result<Matricule, MatriculeError> {
        let not_cx = || MatriculeError::NotCx {
            value: cx.to_owned(),
        };
        let components: Vec<&str> = cx.trim().split('^').collect();
        let [id, "", "", authority] = components.as_slice() else {
            return Err(not_cx());
        };
        let sub: Vec<&str> = authority.split('&').collect();
        let ["", oid, "ISO"] = sub.as_slice() else {
            return Err(not_cx());
        };
        if *oid != MATRICULE_AUTHORITY_OID {
            return Err(MatriculeError::WrongAuthority {
                authority: (*oid).to_owned(),
            });
        }
        if id.contains(char::is_whitespace) {
            return Err(not_cx());
        }
        id.parse()
    }

    /// Builds a 13-digit matricule from its birth date and serial, computing
    /// both check digits. `month` and `day` may be 0 (unknown).
    pub fn from_parts(
        year: u16,
        month: u8,
        day: u8,
        serial: u16,
    ) -> Result<Matricule, MatriculeError> {
        let payload = payload_from_parts(year, month, day, serial, 3)?;
        let mut digits = [0u8; 13];
        digits[..11].copy_from_slice(&payload);
        digits[11] = luhn(&payload);
        digits[12] = verhoeff(&payload);
        Ok(Matricule { digits, len: 13 })
    }

    /// Builds a legacy 11-digit matricule from its birth date and 2-digit
    /// serial; fails with [`MatriculeError::LegacyNotIssued`] for the
    /// combinations that were never issued.
    pub fn legacy_from_parts(
        year: u16,
        month: u8,
        day: u8,
        serial: u8,
    ) -> Result<Matricule, MatriculeError> {
        let payload = payload_from_parts(year, month, day, u16::from(serial), 2)?;
        let mut ten = [0u8; 10];
        ten.copy_from_slice(&payload);
        let check = mod11(&ten).ok_or(MatriculeError::LegacyNotIssued)?;
        let mut digits = [0u8; 13];
        digits[..10].copy_from_slice(&ten);
        digits[10] = check;
        Ok(Matricule { digits, len: 11 })
    }

    fn number(&self, from: usize, to: usize) -> u32 {
        self.digits[from..to]
            .iter()
            .fold(0, |acc, &d| acc * 10 + u32::from(d))
    }
}

/// The digits of `YYYYMMDD` followed by `serial` on `serial_digits` digits,
/// with the date checked.
fn payload_from_parts(
    year: u16,
    month: u8,
    day: u8,
    serial: u16,
    serial_digits: u32,
) -> Result<Vec<u8>, MatriculeError> {
    let max_serial = 10u16.pow(serial_digits) - 1;
    if serial > max_serial {
        return Err(MatriculeError::SerialOutOfRange { serial, max_serial });
    }
    // Parts too large for their digits; smaller ones are checked by
    // `check_date` like parsed text.
    let too_large = |part, value: u16, reason| MatriculeError::InvalidDate {
        part,
        value: value.to_string(),
        reason,
    };
    if year > 9999 {
        return Err(too_large(DatePart::Year, year, YEAR_REASON));
    }
    if month > 99 {
        return Err(too_large(DatePart::Month, month.into(), MONTH_REASON));
    }
    if day > 99 {
        return Err(too_large(DatePart::Day, day.into(), DAY_REASON));
    }
    let payload = format!(
        "{year:04}{month:02}{day:02}{serial:0width$}",
        width = serial_digits as usize
    );
    let digits: Vec<u8> = payload.bytes().map(|b| b - b'0').collect();
    check_date(&digits)?;
    Ok(digits)
}

fn digits_value(digits: &[u8]) -> u32 {
    digits.iter().fold(0, |acc, &d| acc * 10 + u32::from(d))
}

fn digits_text(digits: &[u8]) -> String {
    digits.iter().map(|&d| char::from(b'0' + d)).collect()
}

const YEAR_REASON: &str = "a four-digit birth year from 1800 on";
const MONTH_REASON: &str = "01 to 12, or 00 when the month is unknown";
const DAY_REASON: &str = "01 to 31, or 00 when the day is unknown";

/// Checks the YYYYMMDD prefix; month and day may be `00` (unknown).
fn check_date(digits: &[u8]) -> Result<(), MatriculeError> {
    let invalid = |part, range: std::ops::Range<usize>, reason| MatriculeError::InvalidDate {
        part,
        value: digits_text(&digits[range]),
        reason,
    };
    let year = digits_value(&digits[0..4]);
    let month = digits_value(&digits[4..6]);
    let day = digits_value(&digits[6..8]);
    // Four digits: at most 9999, fits.
    let year = year as i32;
    if year < EARLIEST_BIRTH_YEAR {
        return Err(invalid(DatePart::Year, 0..4, YEAR_REASON));
    }
    if month > 12 {
        return Err(invalid(DatePart::Month, 4..6, MONTH_REASON));
    }
    if day > 31 {
        return Err(invalid(DatePart::Day, 6..8, DAY_REASON));
    }
    if month == 0 || day == 0 {
        return Ok(());
    }
    // month is 1..=12 here, day 1..=31.
    let Ok(month) = Month::try_from(month as u8) else {
        return Err(invalid(DatePart::Month, 4..6, "01 to 12"));
    };
    if Date::from_calendar_date(year, month, day as u8).is_err() {
        return Err(invalid(
            DatePart::Day,
            6..8,
            "that day does not exist in that month and year",
        ));
    }
    Ok(())
}

impl FromStr for Matricule {
    type Err = MatriculeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let leading = s.chars().take_while(|c| c.is_whitespace()).count();
        let trimmed = s.trim();
        if trimmed.is_empty() {
            return Err(MatriculeError::Empty);
        }
        let mut seen = Vec::with_capacity(13);
        for (index, character) in trimmed.chars().enumerate() {
            match character {
                '0'..='9' => seen.push(character as u8 - b'0'),
                ' ' => {}
                _ => {
                    return Err(MatriculeError::NonDigit {
                        position: leading + index + 1,
                        character,
                    });
                }
            }
        }
        let mut digits = [0u8; 13];
        match seen.len() {
            13 => {
                check_date(&seen)?;
                let payload = &seen[..11];
                if luhn(payload) != seen[11] {
                    return Err(MatriculeError::LuhnMismatch);
                }
                if verhoeff(payload) != seen[12] {
                    return Err(MatriculeError::VerhoeffMismatch);
                }
            }
            11 => {
                check_date(&seen)?;
                let mut payload = [0u8; 10];
                payload.copy_from_slice(&seen[..10]);
                match mod11(&payload) {
                    None => return Err(MatriculeError::LegacyNotIssued),
                    Some(check) if check != seen[10] => return Err(MatriculeError::Mod11Mismatch),
                    Some(_) => {}
                }
            }
            length => return Err(MatriculeError::WrongLength { length }),
        }
        digits[..seen.len()].copy_from_slice(&seen);
        Ok(Matricule {
            digits,
            // 13 or 11 here.
            len: seen.len() as u8,
        })
    }
}

impl TryFrom<String> for Matricule {
    type Error = MatriculeError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl TryFrom<&str> for Matricule {
    type Error = MatriculeError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Matricule> for String {
    fn from(value: Matricule) -> Self {
        value.as_digits()
    }
}

impl fmt::Display for Matricule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_digits())
    }
}

impl fmt::Debug for Matricule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Matricule({})", self.as_digits())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    const KNOWN: &str = "1893120105732";

    #[test]
    fn known_example_is_valid() {
        let m: Matricule = KNOWN.parse().unwrap();
        assert!(!m.is_legacy());
        assert_eq!(m.birth_date(), Some(date!(1893 - 12 - 01)));
        assert_eq!(m.to_string(), KNOWN);
        assert_eq!(Matricule::from_parts(1893, 12, 1, 57).unwrap(), m);
    }

    #[test]
    fn spaces_between_digits_and_around_are_accepted() {
        let expected: Matricule = KNOWN.parse().unwrap();
        for text in ["  1893120105732\n", "1893 1201 05732", "1893 12 01 057 32"] {
            assert_eq!(text.parse::<Matricule>(), Ok(expected), "{text:?}");
        }
    }

    #[test]
    fn each_failure_names_its_check() {
        assert_eq!("".parse::<Matricule>(), Err(MatriculeError::Empty));
        assert_eq!(
            " 18931201-05732".parse::<Matricule>(),
            Err(MatriculeError::NonDigit {
                position: 10,
                character: '-'
            })
        );
        assert_eq!(
            "189312010573".parse::<Matricule>(),
            Err(MatriculeError::WrongLength { length: 12 })
        );
        assert_eq!(
            "1893120105742".parse::<Matricule>(),
            Err(MatriculeError::LuhnMismatch)
        );
        assert_eq!(
            "1893120105731".parse::<Matricule>(),
            Err(MatriculeError::VerhoeffMismatch)
        );
        let Err(MatriculeError::InvalidDate { part, value, .. }) =
            "1893130105732".parse::<Matricule>()
        else {
            panic!("month 13 accepted");
        };
        assert_eq!((part, value.as_str()), (DatePart::Month, "13"));
        let Err(MatriculeError::InvalidDate { part, .. }) = "0893120105732".parse::<Matricule>()
        else {
            panic!("year 0893 accepted");
        };
        assert_eq!(part, DatePart::Year);
    }

    #[test]
    fn leap_years_are_respected() {
        assert!(Matricule::from_parts(2000, 2, 29, 1).is_ok());
        assert!(Matricule::from_parts(2024, 2, 29, 1).is_ok());
        for (year, serial) in [(1900, 1), (2023, 1), (2100, 1)] {
            let Err(MatriculeError::InvalidDate { part, .. }) =
                Matricule::from_parts(year, 2, 29, serial)
            else {
                panic!("{year}-02-29 accepted");
            };
            assert_eq!(part, DatePart::Day);
        }
        assert!(Matricule::from_parts(2023, 4, 31, 1).is_err());
    }

    #[test]
    fn unknown_month_or_day_is_zero() {
        let m = Matricule::from_parts(1931, 0, 0, 123).unwrap();
        assert_eq!(m.birth_date(), None);
        assert_eq!(m.birth_year(), 1931);
        assert_eq!(m.to_string().parse::<Matricule>(), Ok(m));
        assert!(Matricule::from_parts(1931, 5, 0, 123).is_ok());
    }

    #[test]
    fn parts_out_of_range_are_named() {
        assert_eq!(
            Matricule::from_parts(1950, 1, 1, 1000),
            Err(MatriculeError::SerialOutOfRange {
                serial: 1000,
                max_serial: 999
            })
        );
        assert_eq!(
            Matricule::legacy_from_parts(1950, 1, 1, 100),
            Err(MatriculeError::SerialOutOfRange {
                serial: 100,
                max_serial: 99
            })
        );
        for (year, month, day, part) in [
            (10_000, 1, 1, DatePart::Year),
            (1799, 1, 1, DatePart::Year),
            (1950, 100, 1, DatePart::Month),
            (1950, 13, 1, DatePart::Month),
            (1950, 1, 200, DatePart::Day),
            (1950, 1, 32, DatePart::Day),
        ] {
            let Err(MatriculeError::InvalidDate { part: seen, .. }) =
                Matricule::from_parts(year, month, day, 1)
            else {
                panic!("{year}-{month}-{day} accepted");
            };
            assert_eq!(seen, part);
        }
    }

    #[test]
    fn legacy_form() {
        // 1893120105: remainder 4 → check 7 (worked in check_digits).
        let m: Matricule = "18931201057".parse().unwrap();
        assert!(m.is_legacy());
        assert_eq!(m.birth_date(), Some(date!(1893 - 12 - 01)));
        assert_eq!(
            "18931201058".parse::<Matricule>(),
            Err(MatriculeError::Mod11Mismatch)
        );
        // 1893120109 leaves remainder 1: never issued, whatever digit 11 is.
        for last in 0..=9 {
            assert_eq!(
                format!("1893120109{last}").parse::<Matricule>(),
                Err(MatriculeError::LegacyNotIssued)
            );
        }
        assert_eq!(
            Matricule::legacy_from_parts(1893, 12, 1, 9),
            Err(MatriculeError::LegacyNotIssued)
        );
    }

    #[test]
    fn cx_round_trip_and_authority_check() {
        let m: Matricule = KNOWN.parse().unwrap();
        assert_eq!(m.to_cx(), "1893120105732^^^&1.3.182.4.4&ISO");
        assert_eq!(Matricule::from_cx(&m.to_cx()), Ok(m));
        assert_eq!(
            Matricule::from_cx("1893120105732^^^&1.2.3&ISO"),
            Err(MatriculeError::WrongAuthority {
                authority: "1.2.3".into()
            })
        );
        for bad in [
            "1893120105732",
            "1893120105732^^^&1.3.182.4.4",
            "1893120105732^^^1.3.182.4.4&ISO",
            "1893120105732^x^^&1.3.182.4.4&ISO",
            "1893120105732^^^&1.3.182.4.4&ISO^",
            "1893 120105732^^^&1.3.182.4.4&ISO",
            "'; DROP TABLE x;--^^^&1.3.182.4.4&ISO",
        ] {
            assert!(Matricule::from_cx(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Matricule::from_cx("1893120105742^^^&1.3.182.4.4&ISO"),
            Err(MatriculeError::LuhnMismatch)
        );
    }

    #[test]
    fn serde_is_the_digit_string() {
        let m: Matricule = "1893 1201 05732".parse().unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"1893120105732\"");
        assert_eq!(
            serde_json::from_str::<Matricule>("\"1893120105732\"").unwrap(),
            m
        );
        let err = serde_json::from_str::<Matricule>("\"1893120105742\"").unwrap_err();
        assert!(err.to_string().contains("Luhn"), "{err}");
    }

    fn any_date() -> impl Strategy<Value = (u16, u8, u8)> {
        (1800u16..=2099, 1u8..=12, 1u8..=31).prop_filter_map("a real date", |(y, m, d)| {
            let month = Month::try_from(m).ok()?;
            Date::from_calendar_date(i32::from(y), month, d).ok()?;
            Some((y, m, d))
        })
    }

    fn digits_of(m: &Matricule) -> Vec<u8> {
        m.to_string().into_bytes()
    }

    proptest! {
        #[test]
        fn generated_matricules_are_accepted((y, m, d) in any_date(), serial in 0u16..1000) {
            let generated = Matricule::from_parts(y, m, d, serial).unwrap();
            let parsed: Matricule = generated.to_string().parse().unwrap();
            prop_assert_eq!(parsed, generated);
            prop_assert!(!parsed.is_legacy());
            let expected = Date::from_calendar_date(i32::from(y), Month::try_from(m).unwrap(), d).unwrap();
            prop_assert_eq!(parsed.birth_date(), Some(expected));
        }

        #[test]
        fn every_single_digit_change_is_rejected((y, m, d) in any_date(), serial in 0u16..1000) {
            let valid = digits_of(&Matricule::from_parts(y, m, d, serial).unwrap());
            for position in 0..valid.len() {
                for replacement in b'0'..=b'9' {
                    if replacement == valid[position] {
                        continue;
                    }
                    let mut changed = valid.clone();
                    changed[position] = replacement;
                    let text = String::from_utf8(changed).unwrap();
                    prop_assert!(text.parse::<Matricule>().is_err(), "{} accepted", text);
                }
            }
        }

        #[test]
        fn every_adjacent_transposition_is_rejected((y, m, d) in any_date(), serial in 0u16..1000) {
            let valid = digits_of(&Matricule::from_parts(y, m, d, serial).unwrap());
            for position in 0..valid.len() - 1 {
                if valid[position] == valid[position + 1] {
                    continue;
                }
                let mut swapped = valid.clone();
                swapped.swap(position, position + 1);
                let text = String::from_utf8(swapped).unwrap();
                prop_assert!(text.parse::<Matricule>().is_err(), "{} accepted", text);
            }
        }

        #[test]
        fn generated_legacy_matricules_are_accepted((y, m, d) in any_date(), serial in 0u8..100) {
            match Matricule::legacy_from_parts(y, m, d, serial) {
                Ok(generated) => {
                    let parsed: Matricule = generated.to_string().parse().unwrap();
                    prop_assert_eq!(parsed, generated);
                    prop_assert!(parsed.is_legacy());
                    prop_assert_eq!(parsed.to_string().len(), 11);
                }
                // About one in eleven date+serial combinations has no check digit.
                Err(error) => prop_assert_eq!(error, MatriculeError::LegacyNotIssued),
            }
        }

        #[test]
        fn every_single_digit_change_of_a_legacy_matricule_is_rejected(
            (y, m, d) in any_date(),
            serial in 0u8..100,
        ) {
            let Ok(valid) = Matricule::legacy_from_parts(y, m, d, serial) else {
                return Ok(());
            };
            let valid = digits_of(&valid);
            for position in 0..valid.len() {
                for replacement in b'0'..=b'9' {
                    if replacement == valid[position] {
                        continue;
                    }
                    let mut changed = valid.clone();
                    changed[position] = replacement;
                    let text = String::from_utf8(changed).unwrap();
                    prop_assert!(text.parse::<Matricule>().is_err(), "{} accepted", text);
                }
            }
        }
    }
}
