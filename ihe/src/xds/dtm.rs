//! XDS timestamps: the HL7 DTM subset `YYYY[MM[DD[hh[mm[ss]]]]]`, always UTC
//! (ITI TF-3 4.2.3.1.7, "DTM"). No time zone, no fractions of a second.

use std::fmt;
use std::str::FromStr;

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// How many components a [`Dtm`] carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DtmPrecision {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
}

impl DtmPrecision {
    /// Number of digits of the written form.
    pub fn digits(self) -> usize {
        match self {
            DtmPrecision::Year => 4,
            DtmPrecision::Month => 6,
            DtmPrecision::Day => 8,
            DtmPrecision::Hour => 10,
            DtmPrecision::Minute => 12,
            DtmPrecision::Second => 14,
        }
    }

    fn from_digits(n: usize) -> Option<Self> {
        Some(match n {
            4 => DtmPrecision::Year,
            6 => DtmPrecision::Month,
            8 => DtmPrecision::Day,
            10 => DtmPrecision::Hour,
            12 => DtmPrecision::Minute,
            14 => DtmPrecision::Second,
            _ => return None,
        })
    }
}

/// A UTC instant truncated to a precision: `20051224` is the day 24 Dec 2005.
///
/// The components that are not written are held at their minimum (month 1,
/// day 1, 00:00:00), so [`Dtm::start`] is the first instant the value covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Dtm {
    start: PrimitiveDateTime,
    precision: DtmPrecision,
}

/// Why a string is not an XDS DTM.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DtmError {
    #[error(
        "'{0}' is not YYYY[MM[DD[hh[mm[ss]]]]]: expected 4, 6, 8, 10, 12 or 14 digits (UTC, no time zone, no fractions)"
    )]
    Shape(String),
    #[error("'{value}' is not a real date or time: {problem}")]
    OutOfRange { value: String, problem: String },
}

impl Dtm {
    /// The instant at second precision, converted to UTC (sub-seconds dropped).
    pub fn from_datetime(at: OffsetDateTime) -> Self {
        let utc = at.to_offset(UtcOffset::UTC);
        let time = Time::from_hms(utc.hour(), utc.minute(), utc.second())
            // hour/minute/second come from a valid time, so this cannot fail;
            // fall back to midnight rather than panic.
            .unwrap_or(Time::MIDNIGHT);
        Dtm {
            start: PrimitiveDateTime::new(utc.date(), time),
            precision: DtmPrecision::Second,
        }
    }

    /// A day (precision [`DtmPrecision::Day`]).
    pub fn from_date(date: Date) -> Self {
        Dtm {
            start: PrimitiveDateTime::new(date, Time::MIDNIGHT),
            precision: DtmPrecision::Day,
        }
    }

    /// The same instant truncated to a coarser precision (a finer one is
    /// returned unchanged: missing digits cannot be invented).
    pub fn truncated(self, precision: DtmPrecision) -> Self {
        if precision >= self.precision {
            return self;
        }
        let s = self.start;
        let month = if precision >= DtmPrecision::Month {
            s.month()
        } else {
            Month::January
        };
        let day = if precision >= DtmPrecision::Day {
            s.day()
        } else {
            1
        };
        let hour = if precision >= DtmPrecision::Hour {
            s.hour()
        } else {
            0
        };
        let minute = if precision >= DtmPrecision::Minute {
            s.minute()
        } else {
            0
        };
        // Day 1 of any month and 00:00 are always valid, and kept components
        // come from a valid value, so these cannot fail; keep self if they do.
        let (Ok(date), Ok(time)) = (
            Date::from_calendar_date(s.year(), month, day),
            Time::from_hms(hour, minute, 0),
        ) else {
            return self;
        };
        Dtm {
            start: PrimitiveDateTime::new(date, time),
            precision,
        }
    }

    /// First instant covered by the value, in UTC.
    pub fn start(&self) -> OffsetDateTime {
        self.start.assume_utc()
    }

    pub fn precision(&self) -> DtmPrecision {
        self.precision
    }

    /// Parses the wire form.
    pub fn parse(text: &str) -> Result<Self, DtmError> {
        let precision = DtmPrecision::from_digits(text.len())
            .filter(|_| text.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| DtmError::Shape(text.to_owned()))?;
        // All bytes are ASCII digits, so every slice below is on a char
        // boundary and parses as a number.
        let field = |from: usize, len: usize| -> u16 {
            text[from..from + len]
                .bytes()
                .fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'))
        };
        let out_of_range = |problem: String| DtmError::OutOfRange {
            value: text.to_owned(),
            problem,
        };
        let year = i32::from(field(0, 4));
        let digits = precision.digits();
        let two = |at: usize, default: u8| -> u8 {
            if digits > at {
                // two digits are at most 99
                field(at, 2) as u8
            } else {
                default
            }
        };
        let month = Month::try_from(two(4, 1)).map_err(|e| out_of_range(e.to_string()))?;
        let date = Date::from_calendar_date(year, month, two(6, 1))
            .map_err(|e| out_of_range(e.to_string()))?;
        let time = Time::from_hms(two(8, 0), two(10, 0), two(12, 0))
            .map_err(|e| out_of_range(e.to_string()))?;
        Ok(Dtm {
            start: PrimitiveDateTime::new(date, time),
            precision,
        })
    }
}

impl fmt::Display for Dtm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.start;
        let full = format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            s.year(),
            u8::from(s.month()),
            s.day(),
            s.hour(),
            s.minute(),
            s.second()
        );
        // Years outside 0..=9999 cannot be built by `parse`, but
        // `from_datetime` accepts any `OffsetDateTime`; write what we have.
        let keep = full.len() - (14 - self.precision.digits());
        f.write_str(&full[..keep])
    }
}

impl FromStr for Dtm {
    type Err = DtmError;
    fn from_str(s: &str) -> Result<Self, DtmError> {
        Dtm::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    #[test]
    fn parses_each_precision() {
        let d = Dtm::parse("20051224").unwrap();
        assert_eq!(d.precision(), DtmPrecision::Day);
        assert_eq!(d.start(), datetime!(2005-12-24 0:00 UTC));
        assert_eq!(d.to_string(), "20051224");
        let d = Dtm::parse("200412230801").unwrap();
        assert_eq!(d.start(), datetime!(2004-12-23 8:01 UTC));
        assert_eq!(Dtm::parse("2004").unwrap().to_string(), "2004");
    }

    #[test]
    fn refuses_bad_shapes_and_dates() {
        for bad in [
            "",
            "200",
            "20051",
            "2005-12-24",
            "20051224000000+0100",
            "20051224000000.5",
            "２００５",
        ] {
            assert!(matches!(Dtm::parse(bad), Err(DtmError::Shape(_))), "{bad}");
        }
        for bad in ["20051324", "20050230", "2005122425", "200512242360"] {
            assert!(
                matches!(Dtm::parse(bad), Err(DtmError::OutOfRange { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn from_datetime_converts_to_utc() {
        let d = Dtm::from_datetime(datetime!(2024-01-01 00:30:15.25 +01:00));
        assert_eq!(d.to_string(), "20231231233015");
        assert_eq!(d.truncated(DtmPrecision::Day).to_string(), "20231231");
        assert_eq!(d.truncated(DtmPrecision::Year).to_string(), "2023");
    }

    fn arb_dtm() -> impl Strategy<Value = Dtm> {
        (
            0i32..=9999,
            1u8..=12,
            1u8..=31,
            0u8..24,
            0u8..60,
            0u8..60,
            0usize..6,
        )
            .prop_filter_map("real dates only", |(y, mo, d, h, mi, s, p)| {
                let date = Date::from_calendar_date(y, Month::try_from(mo).ok()?, d).ok()?;
                let at = PrimitiveDateTime::new(date, Time::from_hms(h, mi, s).ok()?);
                let precision = [
                    DtmPrecision::Year,
                    DtmPrecision::Month,
                    DtmPrecision::Day,
                    DtmPrecision::Hour,
                    DtmPrecision::Minute,
                    DtmPrecision::Second,
                ][p];
                Some(Dtm::from_datetime(at.assume_utc()).truncated(precision))
            })
    }

    proptest! {
        #[test]
        fn written_form_parses_back(d in arb_dtm()) {
            let text = d.to_string();
            prop_assert_eq!(text.len(), d.precision().digits());
            prop_assert_eq!(Dtm::parse(&text).unwrap(), d);
        }

        #[test]
        fn digit_strings_of_other_lengths_are_refused(s in "[0-9]{0,20}") {
            if ![4, 6, 8, 10, 12, 14].contains(&s.len()) {
                prop_assert!(matches!(Dtm::parse(&s), Err(DtmError::Shape(_))));
            }
        }

        #[test]
        fn anything_accepted_is_written_back_identically(s in "[0-9]{4,14}") {
            if let Ok(d) = Dtm::parse(&s) {
                prop_assert_eq!(d.to_string(), s);
            }
        }
    }
}
