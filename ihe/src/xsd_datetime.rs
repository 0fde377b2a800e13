//! `xs:dateTime` as WS-Security and SAML use it: always written in UTC with
//! a `Z` suffix (SAML core §1.3.3 requires UTC), read with any explicit
//! offset. A value without a time zone is refused: its instant would depend
//! on the reader's local clock.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// The instant as `YYYY-MM-DDThh:mm:ss[.fffffffff]Z` (fraction only when
/// not zero, trailing zeros dropped).
pub(crate) fn format(instant: OffsetDateTime) -> String {
    let t = instant.to_offset(UtcOffset::UTC);
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let nanos = t.nanosecond();
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Parses an `xs:dateTime` that carries a time zone (`Z` or `±hh:mm`).
pub(crate) fn parse(value: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(value.trim(), &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn writes_utc_with_z_and_reads_offsets() {
        let t = datetime!(2024-03-01 10:00:00 +01:00);
        assert_eq!(format(t), "2024-03-01T09:00:00Z");
        assert_eq!(parse("2024-03-01T09:00:00Z"), Some(t));
        assert_eq!(parse("2024-03-01T10:00:00+01:00"), Some(t));
        assert_eq!(
            format(datetime!(2024-03-01 09:00:00.25 UTC)),
            "2024-03-01T09:00:00.25Z"
        );
        assert_eq!(
            parse("2024-03-01T09:00:00.250Z"),
            Some(datetime!(2024-03-01 09:00:00.25 UTC))
        );
        assert_eq!(parse("2024-03-01T09:00:00"), None);
        assert_eq!(parse("yesterday"), None);
    }
}
