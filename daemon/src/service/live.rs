//! The platform client of the profile in force. A profile change (live
//! configuration reload) swaps the client; calls under way finish on the
//! client they started with, and the session is locked so that the next
//! assertion comes from the new platform.

use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use super::StartupError;
use crate::card::CardSigner;
use crate::config::PlatformProfile;
use crate::outbox::{
    JobRecord, PlatformFault, ReadBackOutcome, UploadFailure, UploadOutcome, Uploader,
};
use crate::platform::PlatformClient;
use crate::session::{Assertion, AuthError, Authenticator, Matricule, Password, SessionHandle};

/// The current platform client; cheap to clone.
#[derive(Clone)]
pub struct LivePlatform {
    current: Arc<RwLock<PlatformClient>>,
}

impl LivePlatform {
    pub fn new(
        profile: &PlatformProfile,
        drop_folder: Option<std::path::PathBuf>,
    ) -> Result<LivePlatform, StartupError> {
        Ok(LivePlatform {
            current: Arc::new(RwLock::new(
                client_for(profile)?.with_drop_folder(drop_folder),
            )),
        })
    }

    /// The client of the profile in force now.
    pub fn current(&self) -> PlatformClient {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Uses `profile` from now on.
    pub fn replace(&self, profile: &PlatformProfile) -> Result<(), StartupError> {
        let drop_folder = self.current().drop_folder().map(ToOwned::to_owned);
        let client = client_for(profile)?.with_drop_folder(drop_folder);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = client;
        Ok(())
    }
}

fn client_for(profile: &PlatformProfile) -> Result<PlatformClient, StartupError> {
    PlatformClient::new(profile).map_err(|e| StartupError::Platform {
        profile: profile.name.clone(),
        reason: e.to_string(),
    })
}

impl Authenticator for LivePlatform {
    async fn authenticate_with_card(&self, signer: CardSigner) -> Result<Assertion, AuthError> {
        self.current().authenticate_with_card(signer).await
    }

    async fn authenticate_with_password(
        &self,
        matricule: &Matricule,
        password: Password,
    ) -> Result<Assertion, AuthError> {
        self.current()
            .authenticate_with_password(matricule, password)
            .await
    }
}

/// The outbox's uploader: the current client, in the session's name.
pub struct LiveUploader {
    platform: LivePlatform,
    session: SessionHandle,
}

impl LiveUploader {
    pub fn new(platform: LivePlatform, session: SessionHandle) -> LiveUploader {
        LiveUploader { platform, session }
    }

    /// The assertion to upload `job` with: only the session of the job's
    /// own professional (same eHealth id and card) may send it.
    fn assertion_for(&self, job: &JobRecord) -> Result<Assertion, UploadFailure> {
        match (self.session.owner(), self.session.current_assertion()) {
            (Some(owner), Some(assertion)) if owner == job.owner => Ok(assertion),
            _ => Err(UploadFailure::Fault {
                // Not the platform's answer: a session switch raced the
                // scheduler; the retry table then waits for the session.
                fault: PlatformFault::AssertionMissing,
                message: "the job's professional has no open card session; it waits for them"
                    .to_owned(),
            }),
        }
    }
}

impl Uploader for LiveUploader {
    async fn upload(&self, job: &JobRecord, content: &Path) -> UploadOutcome {
        match self.assertion_for(job) {
            Ok(assertion) => {
                self.platform
                    .current()
                    .submit(&assertion, job, content)
                    .await
            }
            Err(failure) => UploadOutcome::Failed(failure),
        }
    }

    async fn read_back(&self, job: &JobRecord) -> ReadBackOutcome {
        match self.assertion_for(job) {
            Ok(assertion) => {
                self.platform
                    .current()
                    .find_by_unique_id(&assertion, job)
                    .await
            }
            Err(failure) => ReadBackOutcome::Failed(failure),
        }
    }
}
