//! `wsu:Timestamp` and its freshness. Times come from the caller: this
//! crate never reads a clock.

use time::{Duration, OffsetDateTime};

use super::{WSU_PREFIX, WsSecurityError};
use crate::xml::{Element, ns};
use crate::xsd_datetime;

/// The creation and expiry times of a message's security header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timestamp {
    pub created: OffsetDateTime,
    pub expires: OffsetDateTime,
}

/// How fresh a Timestamp must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FreshnessPolicy {
    /// How far the sender's clock may be off from ours.
    pub max_clock_skew: Duration,
    /// The longest time since `Created` we accept, whatever `Expires` says.
    pub max_age: Duration,
}

impl Default for FreshnessPolicy {
    /// Five minutes of skew, five minutes of age: common WS-Security
    /// defaults (WSS4J, Metro).
    fn default() -> Self {
        FreshnessPolicy {
            max_clock_skew: Duration::minutes(5),
            max_age: Duration::minutes(5),
        }
    }
}

/// Why a Timestamp is not fresh.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FreshnessError {
    #[error(
        "the message was created at {created}, after now ({now}) plus the allowed clock skew: \
         check the sender's clock"
    )]
    CreatedInFuture {
        created: OffsetDateTime,
        now: OffsetDateTime,
    },
    #[error("the message expired at {expires} (now {now}); send a new one")]
    Expired {
        expires: OffsetDateTime,
        now: OffsetDateTime,
    },
    #[error("the message was created at {created}, longer ago than {max_age} (now {now})")]
    TooOld {
        created: OffsetDateTime,
        now: OffsetDateTime,
        max_age: Duration,
    },
}

impl Timestamp {
    /// Created at `created`, valid for `lifetime`.
    pub fn new(created: OffsetDateTime, lifetime: Duration) -> Self {
        Timestamp {
            created,
            expires: created + lifetime,
        }
    }

    /// Checks the Timestamp against `now` under `policy`.
    pub fn check_freshness(
        &self,
        now: OffsetDateTime,
        policy: &FreshnessPolicy,
    ) -> Result<(), FreshnessError> {
        if self.created > now + policy.max_clock_skew {
            return Err(FreshnessError::CreatedInFuture {
                created: self.created,
                now,
            });
        }
        if now >= self.expires + policy.max_clock_skew {
            return Err(FreshnessError::Expired {
                expires: self.expires,
                now,
            });
        }
        if now - self.created > policy.max_age + policy.max_clock_skew {
            return Err(FreshnessError::TooOld {
                created: self.created,
                now,
                max_age: policy.max_age,
            });
        }
        Ok(())
    }

    pub(crate) fn to_element(self, id: &str) -> Element {
        let wsu = |local: &str| Element::new(ns::WSU, WSU_PREFIX, local);
        wsu("Timestamp")
            .with_attr_ns(ns::WSU, WSU_PREFIX, "Id", id)
            .with_child(wsu("Created").with_text(xsd_datetime::format(self.created)))
            .with_child(wsu("Expires").with_text(xsd_datetime::format(self.expires)))
    }

    /// Reads a `wsu:Timestamp`: exactly one Created and one Expires (we
    /// require Expires, which WS-Security leaves optional), Expires after
    /// Created, nothing else.
    pub(crate) fn from_element(el: &Element) -> Result<Timestamp, WsSecurityError> {
        let malformed = |problem: String| WsSecurityError::MalformedTimestamp { problem };
        let mut created = None;
        let mut expires = None;
        for child in el.elements() {
            let slot = if child.is(ns::WSU, "Created") {
                &mut created
            } else if child.is(ns::WSU, "Expires") {
                &mut expires
            } else {
                return Err(malformed(format!(
                    "unexpected {}",
                    crate::soap::expanded_name(child)
                )));
            };
            if slot.is_some() {
                return Err(malformed(format!("wsu:{} appears twice", child.local)));
            }
            let text = child.text();
            *slot = Some(xsd_datetime::parse(&text).ok_or_else(|| {
                malformed(format!(
                    "wsu:{} '{}' is not an xs:dateTime with a time zone",
                    child.local,
                    text.trim()
                ))
            })?);
        }
        let created = created.ok_or_else(|| malformed("wsu:Created is missing".into()))?;
        let expires = expires.ok_or_else(|| malformed("wsu:Expires is missing".into()))?;
        if expires <= created {
            return Err(malformed(format!(
                "wsu:Expires ({expires}) is not after wsu:Created ({created})"
            )));
        }
        Ok(Timestamp { created, expires })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn freshness_bounds() {
        let ts = Timestamp::new(datetime!(2024-01-01 12:00 UTC), Duration::minutes(5));
        let policy = FreshnessPolicy {
            max_clock_skew: Duration::minutes(1),
            max_age: Duration::minutes(10),
        };
        assert_eq!(
            ts.check_freshness(datetime!(2024-01-01 12:02 UTC), &policy),
            Ok(())
        );
        // Sender's clock 59 s ahead: accepted.
        assert_eq!(
            ts.check_freshness(datetime!(2024-01-01 11:59:01 UTC), &policy),
            Ok(())
        );
        assert!(matches!(
            ts.check_freshness(datetime!(2024-01-01 11:58:59 UTC), &policy),
            Err(FreshnessError::CreatedInFuture { .. })
        ));
        assert!(matches!(
            ts.check_freshness(datetime!(2024-01-01 12:06 UTC), &policy),
            Err(FreshnessError::Expired { .. })
        ));
        let long = Timestamp::new(datetime!(2024-01-01 12:00 UTC), Duration::hours(2));
        assert!(matches!(
            long.check_freshness(datetime!(2024-01-01 12:12 UTC), &policy),
            Err(FreshnessError::TooOld { .. })
        ));
    }

    #[test]
    fn element_round_trip_and_refusals() {
        let ts = Timestamp::new(datetime!(2024-01-01 12:00 UTC), Duration::minutes(5));
        let el = ts.to_element("ts-1");
        assert_eq!(
            crate::xml::to_string(&el),
            format!(
                r#"<wsu:Timestamp xmlns:wsu="{}" wsu:Id="ts-1"><wsu:Created>2024-01-01T12:00:00Z</wsu:Created><wsu:Expires>2024-01-01T12:05:00Z</wsu:Expires></wsu:Timestamp>"#,
                ns::WSU
            )
        );
        assert_eq!(Timestamp::from_element(&el), Ok(ts));
        let inverted = Timestamp {
            created: ts.expires,
            expires: ts.created,
        };
        assert!(matches!(
            Timestamp::from_element(&inverted.to_element("x")),
            Err(WsSecurityError::MalformedTimestamp { .. })
        ));
        let mut no_zone = el.clone();
        if let Some(crate::xml::Node::Element(c)) = no_zone.children.get_mut(0) {
            c.children = vec![crate::xml::Node::Text("2024-01-01T12:00:00".into())];
        }
        assert!(matches!(
            Timestamp::from_element(&no_zone),
            Err(WsSecurityError::MalformedTimestamp { .. })
        ));
    }
}
