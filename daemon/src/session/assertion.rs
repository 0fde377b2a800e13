//! What a successful authentication gives: the platform's assertion (a
//! bearer token), and who the session belongs to.

use std::sync::Arc;

use dspconnect::ipc::protocol::Professional;
use ihe::xml::Element;
use time::OffsetDateTime;

use super::AuthError;
use crate::card::Fingerprint;
use crate::outbox::Owner;

/// The XSPA attribute naming the subject (a person's name).
pub const XSPA_SUBJECT_ID: &str = "urn:oasis:names:tc:xspa:1.0:subject:subject-id";

/// The platform's SAML assertion for the session.
///
/// It is a bearer token: whoever holds the XML can act as the professional
/// until it expires. `Debug` therefore shows only its subject and expiry.
#[derive(Clone)]
pub struct Assertion {
    inner: Arc<AssertionInner>,
}

struct AssertionInner {
    saml: ihe::saml::Assertion,
    not_on_or_after: OffsetDateTime,
}

impl std::fmt::Debug for Assertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assertion")
            .field("subject", &self.subject_ehealth_id())
            .field("not_on_or_after", &self.inner.not_on_or_after)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Assertion {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner) || self.inner.saml.id == other.inner.saml.id
    }
}

impl Assertion {
    /// Wraps an assertion read from the platform's answer (its signature
    /// checked by the caller as the profile requires). It must name a
    /// subject and say until when it is valid.
    pub fn new(saml: ihe::saml::Assertion) -> Result<Self, AuthError> {
        let invalid = |reason: &str| AuthError::InvalidResponse {
            reason: reason.to_owned(),
        };
        if saml.subject.value.trim().is_empty() {
            return Err(invalid("the assertion's NameID is empty"));
        }
        let not_on_or_after = saml
            .not_on_or_after
            .ok_or_else(|| invalid("the assertion has no Conditions/@NotOnOrAfter"))?;
        Ok(Assertion {
            inner: Arc::new(AssertionInner {
                saml,
                not_on_or_after,
            }),
        })
    }

    /// The namespace-complete `saml:Assertion`, to put as is into the
    /// WS-Security header of each platform call.
    pub fn element(&self) -> &Element {
        self.inner.saml.element()
    }

    /// The subject: the professional's eHealth id.
    pub fn subject_ehealth_id(&self) -> &str {
        self.inner.saml.subject.value.trim()
    }

    /// The subject's name, when the assertion carries one.
    pub fn subject_name(&self) -> Option<&str> {
        self.inner
            .saml
            .attribute(XSPA_SUBJECT_ID)
            .and_then(|a| a.values.first())
            .map(String::as_str)
    }

    /// The end of the assertion's validity.
    pub fn not_on_or_after(&self) -> OffsetDateTime {
        self.inner.not_on_or_after
    }

    /// Everything read from the assertion.
    pub fn saml(&self) -> &ihe::saml::Assertion {
        &self.inner.saml
    }
}

/// How the session was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// With the LuxTrust card: full access.
    Card,
    /// With the platform password: account and directory only.
    Password,
}

/// An open platform session: what the outbox and the platform client use.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveSession {
    /// The professional, with the eHealth id the platform authenticated.
    pub professional: Professional,
    /// The card's certificate fingerprint; `None` for a password session.
    pub certificate_fingerprint: Option<Fingerprint>,
    pub kind: SessionKind,
    pub assertion: Assertion,
}

impl ActiveSession {
    /// Whether this session may read or write DSP documents: only a card
    /// session may (the charter: « Seule la Smartcard LuxTrust est
    /// acceptée »).
    pub fn can_reach_documents(&self) -> bool {
        self.kind == SessionKind::Card
    }

    /// Whom outbox jobs queued now belong to, and whose jobs may upload
    /// now: the card session's professional (eHealth id and certificate
    /// fingerprint); `None` for a password session, which uploads nothing.
    pub fn outbox_owner(&self) -> Option<Owner> {
        let fingerprint = self.certificate_fingerprint?;
        match Owner::new(&self.professional.ehealth_id, &fingerprint.to_string()) {
            Ok(owner) => Some(owner),
            Err(error) => {
                tracing::error!(%error, "the card's identity cannot own outbox jobs");
                None
            }
        }
    }
}
