//! Assembles what the policy engine needs from the store.

use time::OffsetDateTime;

use super::documents::document_in;
use super::patients::{grants_in, relations_in};
use super::{During, Result, Store, StoreError};
use crate::policy::{DocumentFacts, Facts, PatientId, ProfessionalStatus, Subject};

impl Store {
    /// The facts for `subject` acting on `patient`'s DSP and, for operations
    /// on a document, the document with entryUUID `document` (which must be
    /// the patient's). Read in one locked pass, so the facts are coherent.
    pub fn facts_for(
        &self,
        subject: &Subject,
        patient: &PatientId,
        document: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Facts> {
        self.with(|connection| {
            let relations = relations_in(connection, patient)?;
            let (hpd_status, grants) = match subject.professional_id() {
                Some(id) => {
                    let status: Option<String> =
                        rusqlite::OptionalExtension::optional(connection.query_row(
                            "SELECT status FROM professionals WHERE ehealth_id = ?1",
                            [id.as_str()],
                            |row| row.get(0),
                        ))
                        .during("reading a professional's status")?;
                    let status = status
                        .map(|text| {
                            ProfessionalStatus::parse(&text).ok_or(StoreError::Corrupt {
                                what: "professional status",
                                value: text,
                            })
                        })
                        .transpose()?;
                    (status, grants_in(connection, id, patient)?)
                }
                None => (None, Vec::new()),
            };
            let document = match document {
                None => None,
                Some(entry_uuid) => {
                    let entry = document_in(connection, entry_uuid)?.ok_or_else(|| {
                        StoreError::NotFound {
                            what: "document entry",
                            id: entry_uuid.to_owned(),
                        }
                    })?;
                    if entry.patient != *patient {
                        // Same answer as an unknown entry: a document of
                        // another DSP must not be confirmed to exist.
                        return Err(StoreError::NotFound {
                            what: "document entry",
                            id: entry_uuid.to_owned(),
                        });
                    }
                    Some(DocumentFacts {
                        author: entry.author,
                        mode: entry.mode,
                    })
                }
            };
            Ok(Facts {
                subject: subject.clone(),
                hpd_status,
                relations,
                grants,
                document,
                now,
            })
        })
    }
}
