//! Points in time as XDS carries them: UTC, to the second.

use std::fmt;
use std::str::FromStr;

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcDateTime};

/// A UTC instant truncated to whole seconds.
///
/// XDS stores times as `YYYYMMDDhhmmss` in UTC, so a value kept with
/// sub-second precision would not compare equal to itself once read back
/// from the registry; truncating on construction keeps that equality.
/// Serde and [`Display`](fmt::Display) use RFC 3339 (`2026-11-28T10:00:00Z`);
/// parsing accepts any RFC 3339 offset and converts it to UTC.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct UtcTimestamp(UtcDateTime);

/// A text that is not a timestamp in the expected form.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not a {expected} timestamp")]
pub struct TimestampError {
    /// The text given.
    pub value: String,
    /// The expected form, with an example.
    pub expected: &'static str,
}

const DTM: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year][month][day][hour][minute][second]");
const BASIC_ISO: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

impl UtcTimestamp {
    /// The current time.
    pub fn now() -> UtcTimestamp {
        UtcTimestamp::from(UtcDateTime::now())
    }

    /// The instant as a `time` value.
    pub fn as_utc_date_time(self) -> UtcDateTime {
        self.0
    }

    /// The XDS DTM form, `YYYYMMDDhhmmss` (e.g. `20261128100000`).
    pub fn to_xds_dtm(self) -> String {
        self.format(DTM)
    }

    /// Parses a full-precision XDS DTM (`YYYYMMDDhhmmss`, UTC).
    pub fn from_xds_dtm(text: &str) -> Result<UtcTimestamp, TimestampError> {
        PrimitiveDateTime::parse(text, DTM)
            .map(|t| UtcTimestamp(t.as_utc()))
            .map_err(|_| TimestampError {
                value: text.to_owned(),
                expected: "XDS (YYYYMMDDhhmmss, e.g. 20261128100000)",
            })
    }

    /// The ISO 8601 basic form, `20261128T100000Z`.
    pub fn to_basic_iso(self) -> String {
        self.format(BASIC_ISO)
    }

    /// Parses the ISO 8601 basic form, `20261128T100000Z`.
    pub fn from_basic_iso(text: &str) -> Result<UtcTimestamp, TimestampError> {
        PrimitiveDateTime::parse(text, BASIC_ISO)
            .map(|t| UtcTimestamp(t.as_utc()))
            .map_err(|_| TimestampError {
                value: text.to_owned(),
                expected: "basic ISO 8601 UTC (e.g. 20261128T100000Z)",
            })
    }

    fn format(self, description: &[time::format_description::BorrowedFormatItem<'_>]) -> String {
        // Years are kept within 0..=9999 by the default `time` features, and
        // these descriptions name only components every UtcDateTime has, so
        // formatting cannot fail; fall back to RFC 3339 rather than panic.
        self.0
            .format(description)
            .unwrap_or_else(|_| self.to_string())
    }
}

impl From<UtcDateTime> for UtcTimestamp {
    fn from(value: UtcDateTime) -> Self {
        UtcTimestamp(value.truncate_to_second())
    }
}

impl From<OffsetDateTime> for UtcTimestamp {
    fn from(value: OffsetDateTime) -> Self {
        UtcTimestamp::from(UtcDateTime::from(value))
    }
}

impl FromStr for UtcTimestamp {
    type Err = TimestampError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OffsetDateTime::parse(s, &Rfc3339)
            .map(UtcTimestamp::from)
            .map_err(|_| TimestampError {
                value: s.to_owned(),
                expected: "RFC 3339 (e.g. 2026-11-28T10:00:00Z)",
            })
    }
}

impl TryFrom<String> for UtcTimestamp {
    type Error = TimestampError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<UtcTimestamp> for String {
    fn from(value: UtcTimestamp) -> Self {
        value.to_string()
    }
}

impl fmt::Display for UtcTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let offset = OffsetDateTime::from(self.0);
        match offset.format(&Rfc3339) {
            Ok(text) => f.write_str(&text),
            // Only years outside 0..=9999 fail, which `time` cannot hold
            // without its large-dates feature.
            Err(_) => write!(f, "{:?}", self.0),
        }
    }
}

impl fmt::Debug for UtcTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UtcTimestamp({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn truncates_to_seconds_and_converts_to_utc() {
        let t = UtcTimestamp::from(datetime!(2026-11-28 11:00:00.75 +01:00));
        assert_eq!(t.to_string(), "2026-11-28T10:00:00Z");
        assert_eq!(t.to_xds_dtm(), "20261128100000");
        assert_eq!(t.to_basic_iso(), "20261128T100000Z");
    }

    #[test]
    fn all_forms_round_trip() {
        let t: UtcTimestamp = "2026-11-28T11:00:00+01:00".parse().unwrap();
        assert_eq!(UtcTimestamp::from_xds_dtm(&t.to_xds_dtm()), Ok(t));
        assert_eq!(UtcTimestamp::from_basic_iso(&t.to_basic_iso()), Ok(t));
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"2026-11-28T10:00:00Z\"");
        assert_eq!(serde_json::from_str::<UtcTimestamp>(&json).unwrap(), t);
    }

    #[test]
    fn refuses_malformed_text() {
        assert!("2026-11-28".parse::<UtcTimestamp>().is_err());
        assert!(UtcTimestamp::from_xds_dtm("20261328100000").is_err());
        assert!(UtcTimestamp::from_xds_dtm("202611281000").is_err());
        assert!(UtcTimestamp::from_basic_iso("20261128T100000").is_err());
    }
}
