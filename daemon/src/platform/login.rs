//! Authentication at the IdP: the AuthnRequest signed by the card
//! (WS-Security, one card signature), or with a UsernameToken (password
//! session, limited access); the answer's assertion is checked against
//! the IdP's certificate before the session uses it.

use ihe::saml::{AuthnRequest, Response};
use ihe::soap::{Addressing, Envelope};
use ihe::wssec::{PendingEnvelope, SecurityIds, SecurityParams, Timestamp};
use ihe::xml::{Element, NsScope, ns};
use time::OffsetDateTime;
use uuid::Uuid;

use super::secret::{SecretBody, wipe};
use super::transport::CallFailure;
use super::{PlatformClient, PlatformError, SOFTWARE_ID, TIMESTAMP_LIFETIME};
use crate::card::{CardSignError, CardSigner};
use crate::session::{Assertion, AuthError, Authenticator, Matricule, Password};

/// The IdP's SOAP action (SAML 2.0 SOAP binding).
const LOGIN_ACTION: &str = "http://www.oasis-open.org/committees/security";

/// The UsernameToken profile's cleartext password type.
const PASSWORD_TEXT: &str = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText";

/// Clock skew tolerated when checking an assertion's validity.
const ASSERTION_SKEW: time::Duration = time::Duration::minutes(2);

impl PlatformClient {
    /// `payload` with WS-Addressing headers, signed by the card (Timestamp,
    /// BinarySecurityToken, signature over Body and Timestamp): the card
    /// login and the activation steps. Spends `signer`'s one signature.
    /// The serialized request (activation codes, a new password) is
    /// zeroized once sent; the signed tree is wiped.
    pub(super) async fn card_signed(
        &self,
        signer: CardSigner,
        payload: Element,
        action: &str,
        to: &str,
    ) -> Result<SecretBody, AuthError> {
        let envelope = Envelope::new(payload)
            .with_headers(Addressing::request(action, Uuid::new_v4(), to).to_headers());
        let params = SecurityParams {
            timestamp: Timestamp::new(OffsetDateTime::now_utc(), TIMESTAMP_LIFETIME),
            ids: SecurityIds::from_uuid(Uuid::new_v4()),
            assertion: None,
        };
        let pending = PendingEnvelope::prepare(envelope, signer.certificate_der().to_vec(), params)
            .map_err(|e| AuthError::InvalidResponse {
                reason: format!("the signed request cannot be prepared: {e}"),
            })?;
        let signed = signer.sign_envelope(pending).await.map_err(|e| match e {
            CardSignError::Card(card) => AuthError::Card(card),
            CardSignError::Envelope(e) => AuthError::InvalidResponse {
                reason: format!("the card's signature cannot be placed: {e}"),
            },
        })?;
        Ok(SecretBody::of_element(signed.into_element()))
    }

    /// Reads the IdP's `samlp:Response` and checks its assertion.
    fn assertion_from(&self, payload: &Element, request_id: &str) -> Result<Assertion, AuthError> {
        let invalid = |reason: String| AuthError::InvalidResponse { reason };
        let response = Response::from_element(payload, &NsScope::new())
            .map_err(|e| invalid(format!("not a SAML response: {e}")))?;
        if !response.status.is_success() {
            return Err(AuthError::Refused {
                reason: response
                    .status
                    .message
                    .unwrap_or_else(|| response.status.code.clone()),
            });
        }
        if response.in_response_to.as_deref() != Some(request_id) {
            return Err(invalid(
                "the IdP's answer is not for this request (InResponseTo)".to_owned(),
            ));
        }
        let saml = response
            .assertion
            .ok_or_else(|| invalid("the IdP's answer holds no assertion".to_owned()))?;
        if let Some(idp) = &self.inner.idp_certificate {
            saml.verify(idp)
                .map_err(|e| invalid(format!("the assertion's signature is not the IdP's: {e}")))?;
        }
        saml.check_validity(OffsetDateTime::now_utc(), ASSERTION_SKEW)
            .map_err(|e| invalid(format!("the assertion is not valid now: {e}")))?;
        Assertion::new(saml)
    }

    async fn login(&self, body: SecretBody, request_id: &str) -> Result<Assertion, AuthError> {
        let url = &self.profile().idp_url;
        match self.transport().soap(url, LOGIN_ACTION, body).await {
            Ok(mut payload) => {
                let assertion = self.assertion_from(&payload, request_id);
                // The session keeps its own copy; the answer's goes now.
                wipe(&mut payload);
                assertion
            }
            Err(failure) => Err(auth_error(failure)),
        }
    }
}

/// A platform failure as the session sees it.
fn auth_error(failure: CallFailure) -> AuthError {
    match failure.into_error() {
        PlatformError::Unreachable { reason, .. } => AuthError::Unreachable { reason },
        PlatformError::Timeout { url } => AuthError::Unreachable {
            reason: format!("{url} did not answer in time"),
        },
        PlatformError::Http { url, status } => AuthError::Unreachable {
            reason: format!("HTTP {status} from {url}"),
        },
        PlatformError::InvalidResponse { reason } => AuthError::InvalidResponse { reason },
        other @ (PlatformError::Refused { .. }
        | PlatformError::AccessDenied { .. }
        | PlatformError::Assertion { .. }) => AuthError::Refused {
            reason: other.to_string(),
        },
        other => AuthError::Platform {
            code: other.code(),
            message: other.to_string(),
            retryable: false,
        },
    }
}

fn request_id() -> String {
    format!("_{}", Uuid::new_v4().simple())
}

impl Authenticator for PlatformClient {
    async fn authenticate_with_card(&self, signer: CardSigner) -> Result<Assertion, AuthError> {
        let id = request_id();
        let ehealth_id = signer.identity().ehealth_id.clone();
        let request = AuthnRequest::new(&id, OffsetDateTime::now_utc(), SOFTWARE_ID, &ehealth_id);
        let url = self.profile().idp_url.clone();
        let body = self
            .card_signed(signer, request.to_element(), LOGIN_ACTION, &url)
            .await?;
        let assertion = self.login(body, &id).await?;
        if assertion.subject_ehealth_id() != ehealth_id {
            return Err(AuthError::WrongSubject {
                expected: ehealth_id,
                got: assertion.subject_ehealth_id().to_owned(),
            });
        }
        Ok(assertion)
    }

    async fn authenticate_with_password(
        &self,
        matricule: &Matricule,
        password: Password,
    ) -> Result<Assertion, AuthError> {
        let id = request_id();
        let digits = matricule.as_digits();
        // Only the matricule is known here: it also names the account.
        let request = AuthnRequest::new(&id, OffsetDateTime::now_utc(), SOFTWARE_ID, &digits);
        let wsse = |local: &str| Element::new(ns::WSSE, "wsse", local);
        let security = wsse("Security")
            .with_attr_ns(ns::SOAP12, "soap", "mustUnderstand", "true")
            .with_child(
                wsse("UsernameToken")
                    .with_child(wsse("Username").with_text(digits.clone()))
                    .with_child(
                        wsse("Password")
                            .with_attr("Type", PASSWORD_TEXT)
                            .with_text(password.expose()),
                    ),
            );
        let url = self.profile().idp_url.clone();
        let body = SecretBody::of_envelope(
            Envelope::new(request.to_element())
                .with_headers(Addressing::request(LOGIN_ACTION, Uuid::new_v4(), &url).to_headers())
                .with_header(security),
        );
        // The Password (zeroized on drop) goes now; the tree was wiped once
        // serialized, and the body is zeroized when the HTTP client lets go
        // of it.
        drop(password);
        self.login(body, &id).await
    }
}
