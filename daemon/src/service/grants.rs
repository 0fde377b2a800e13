//! Consultation grants obtained with a patient's presence code (code de
//! présence): only the platform's grant id and its end are kept, in memory,
//! never the code. Pushes for that patient carry the grant.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use time::OffsetDateTime;

use crate::outbox::AccessBasis;

#[derive(Default)]
pub struct Grants {
    by_professional_and_patient: Mutex<HashMap<(String, String), AccessBasis>>,
}

impl Grants {
    pub fn insert(&self, professional: &str, patient: &str, grant: AccessBasis) {
        self.by_professional_and_patient
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((professional.to_owned(), patient.to_owned()), grant);
    }

    /// The professional's current grant for the patient, if any.
    pub fn current(&self, professional: &str, patient: &str) -> Option<AccessBasis> {
        let mut grants = self
            .by_professional_and_patient
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = OffsetDateTime::now_utc();
        grants.retain(|_, g| g.expires_at > now);
        grants
            .get(&(professional.to_owned(), patient.to_owned()))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_grants_are_forgotten() {
        let grants = Grants::default();
        let now = OffsetDateTime::now_utc();
        grants.insert(
            "SBX1002",
            "2005062201818",
            AccessBasis {
                grant_id: "g1".into(),
                expires_at: now + time::Duration::hours(1),
            },
        );
        grants.insert(
            "SBX1002",
            "1893120105732",
            AccessBasis {
                grant_id: "g2".into(),
                expires_at: now - time::Duration::seconds(1),
            },
        );
        assert_eq!(
            grants
                .current("SBX1002", "2005062201818")
                .map(|g| g.grant_id),
            Some("g1".to_owned())
        );
        assert!(grants.current("SBX1002", "1893120105732").is_none());
        assert!(grants.current("SBX1001", "2005062201818").is_none());
    }
}
