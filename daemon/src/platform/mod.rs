//! The platform client: HTTPS (reqwest over rustls, the profile's CA as the
//! only trust anchor), SOAP 1.2 with WS-Addressing, the IdP's card and
//! password logins, XDS.b (ITI-41/18/43/57), the DSP services and account
//! activation (`docs/platform-protocol.md`).
//!
//! - [`transport`]: the HTTPS client and how failures are classified.
//! - [`login`]: authentication (the session's [`Authenticator`]).
//! - [`xds`]: submissions, queries, retrieval, mode changes.
//! - [`services`]: presence code, portal ticket, anomaly, HPD, password,
//!   activation, and the `doctor` probe.
//! - [`secret`]: request bodies holding secrets, zeroized once sent.
//!
//! Assertions are bearer tokens (the profile says so): each call carries
//! the session's assertion unchanged in its `wsse:Security` header. Every
//! request body that holds it, a password, a code de présence or an
//! activation code is a [`SecretBody`], and the trees they are written
//! from are wiped once serialized.

mod error;
mod login;
mod secret;
mod services;
mod transport;
mod xds;

use std::sync::Arc;

use ihe::soap::{Addressing, Envelope};
use ihe::wssec::{Timestamp, bearer_security_header};
use ihe::xml::Element;
use time::OffsetDateTime;
use uuid::Uuid;

pub use error::PlatformError;
pub use secret::{SecretBody, wipe as wipe_xml};
pub use services::{PlatformProbe, PortalTicket};
pub use xds::RetrievedInfo;

use crate::config::PlatformProfile;
use crate::session::Assertion;
use transport::Transport;

/// The software that talks to the platform (SAML `Issuer`, XDS `sourceId`
/// root is the profile's).
pub const SOFTWARE_ID: &str = "urn:dspconnect:dspconnectd";

/// Lifetime of the `wsu:Timestamp` of each request.
const TIMESTAMP_LIFETIME: time::Duration = time::Duration::minutes(5);

/// A client of one platform profile. Cheap to clone.
#[derive(Clone)]
pub struct PlatformClient {
    inner: Arc<Inner>,
}

struct Inner {
    profile: PlatformProfile,
    transport: Transport,
    /// The IdP's signing certificate (DER), when the profile names it.
    idp_certificate: Option<Vec<u8>>,
    /// The drop folder, named in statements that rest on its configured
    /// default.
    drop_folder: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for PlatformClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformClient")
            .field("profile", &self.inner.profile.name)
            .finish()
    }
}

impl PlatformClient {
    /// A client for `profile`: its CA file is loaded and pinned; its IdP
    /// certificate, when given, checks every assertion.
    pub fn new(profile: &PlatformProfile) -> Result<PlatformClient, PlatformError> {
        let transport = Transport::new(profile)?;
        let idp_certificate = match &profile.idp_certificate_file {
            Some(path) => Some(transport::read_pem_certificate(path)?),
            None => None,
        };
        Ok(PlatformClient {
            inner: Arc::new(Inner {
                profile: profile.clone(),
                transport,
                idp_certificate,
                drop_folder: None,
            }),
        })
    }

    /// The same client, naming `folder` in the statements of documents
    /// that rest on the drop folder's configured default.
    pub fn with_drop_folder(self, folder: Option<std::path::PathBuf>) -> PlatformClient {
        PlatformClient {
            inner: Arc::new(Inner {
                profile: self.inner.profile.clone(),
                transport: Transport::clone(&self.inner.transport),
                idp_certificate: self.inner.idp_certificate.clone(),
                drop_folder: folder,
            }),
        }
    }

    /// The drop folder named in folder-default statements.
    pub fn drop_folder(&self) -> Option<&std::path::Path> {
        self.inner.drop_folder.as_deref()
    }

    pub fn profile(&self) -> &PlatformProfile {
        &self.inner.profile
    }

    fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    /// `payload` in an envelope with WS-Addressing headers and the
    /// assertion (bearer) in the Security header, serialized; the tree
    /// (the payload and the assertion's copy) is wiped.
    fn bearer_envelope(
        &self,
        payload: Element,
        action: &str,
        to: &str,
        assertion: &Assertion,
    ) -> SecretBody {
        let now = OffsetDateTime::now_utc();
        let timestamp_id = format!("TS-{}", Uuid::new_v4().simple());
        SecretBody::of_envelope(
            Envelope::new(payload)
                .with_headers(Addressing::request(action, Uuid::new_v4(), to).to_headers())
                .with_header(bearer_security_header(
                    &Timestamp::new(now, TIMESTAMP_LIFETIME),
                    &timestamp_id,
                    assertion.element().clone(),
                )),
        )
    }
}
