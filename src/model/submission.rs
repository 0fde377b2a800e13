//! A submission: the submission set, its document, the patient's informed
//! agreement, and the document it replaces, if any.

use super::code::Code;
use super::document::DocumentMetadata;
use super::entry_uuid::EntryUuid;
use super::oid::{DocumentUniqueId, SourceId, SubmissionSetUniqueId};
use super::professional::{Author, EHealthId};
use super::statement::PatientInformedStatement;
use super::timestamp::UtcTimestamp;

/// The XDS submission set that wraps a submission.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SubmissionSet {
    /// `uniqueId`.
    pub unique_id: SubmissionSetUniqueId,
    /// `sourceId`: the OID of the submitting software installation.
    pub source_id: SourceId,
    /// `submissionTime`.
    pub submission_time: UtcTimestamp,
    /// `contentTypeCode`: the kind of clinical activity that led to it.
    pub content_type_code: Code,
    /// `author`: the submitting professional.
    pub author: Author,
}

/// A correction (XDS RPLC): the new document replaces an earlier one, which
/// the registry then marks Deprecated. Only its author may do it (policy).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Replacement {
    /// The replaced document's uniqueId.
    pub replaced_unique_id: DocumentUniqueId,
    /// The replaced entry's entryUUID, when known; otherwise it is looked
    /// up by uniqueId before the association is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_entry_uuid: Option<EntryUuid>,
}

/// One document submitted to the DSP, with everything the submission
/// needs.
///
/// It cannot exist without a [`PatientInformedStatement`]: the constructors
/// take one by value, and deserializing requires one. A submission carries
/// one document, since each one is a separate outbox job, submitted and
/// retried on its own.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "SubmissionFields")]
pub struct Submission {
    submission_set: SubmissionSet,
    document: DocumentMetadata,
    patient_informed: PatientInformedStatement,
    #[serde(skip_serializing_if = "Option::is_none")]
    replaces: Option<Replacement>,
}

/// The parts of a [`Submission`] before their consistency is checked.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmissionFields {
    /// The submission set.
    pub submission_set: SubmissionSet,
    /// The document.
    pub document: DocumentMetadata,
    /// The patient's informed agreement, as stated by the author.
    pub patient_informed: PatientInformedStatement,
    /// The document replaced, for a correction.
    #[serde(default)]
    pub replaces: Option<Replacement>,
}

/// Why the parts of a submission do not fit together.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubmissionError {
    /// The statement is not the author's.
    #[error(
        "the patient-informed statement is made by {stated_by}, but the document's author is {author}: only the submitting professional can state that the patient was informed and agrees"
    )]
    StatementNotByAuthor {
        /// Who made the statement.
        stated_by: EHealthId,
        /// The document's author.
        author: EHealthId,
    },
    /// The submission set and the document have different authors.
    #[error(
        "the submission set's author ({submission_set_author}) is not the document's author ({document_author}): both must be the professional who submits"
    )]
    AuthorMismatch {
        /// The submission set's author.
        submission_set_author: EHealthId,
        /// The document's author.
        document_author: EHealthId,
    },
    /// The submission set and the document share a uniqueId.
    #[error(
        "the submission set and the document have the same uniqueId {unique_id}: generate one for each"
    )]
    SharedUniqueId {
        /// The shared id.
        unique_id: String,
    },
    /// The document would replace itself.
    #[error(
        "the document {unique_id} cannot replace itself: a correction needs a new uniqueId and names the replaced document's"
    )]
    ReplacesItself {
        /// The uniqueId.
        unique_id: DocumentUniqueId,
    },
}

impl Submission {
    /// A new document.
    pub fn new(
        submission_set: SubmissionSet,
        document: DocumentMetadata,
        patient_informed: PatientInformedStatement,
    ) -> Result<Submission, SubmissionError> {
        Submission::from_fields(SubmissionFields {
            submission_set,
            document,
            patient_informed,
            replaces: None,
        })
    }

    /// A correction of an earlier document.
    pub fn replacing(
        submission_set: SubmissionSet,
        document: DocumentMetadata,
        patient_informed: PatientInformedStatement,
        replaces: Replacement,
    ) -> Result<Submission, SubmissionError> {
        Submission::from_fields(SubmissionFields {
            submission_set,
            document,
            patient_informed,
            replaces: Some(replaces),
        })
    }

    /// Checks that the parts fit together.
    pub fn from_fields(fields: SubmissionFields) -> Result<Submission, SubmissionError> {
        let author = &fields.document.author().ehealth_id;
        if fields.patient_informed.stated_by() != author {
            return Err(SubmissionError::StatementNotByAuthor {
                stated_by: fields.patient_informed.stated_by().clone(),
                author: author.clone(),
            });
        }
        if &fields.submission_set.author.ehealth_id != author {
            return Err(SubmissionError::AuthorMismatch {
                submission_set_author: fields.submission_set.author.ehealth_id.clone(),
                document_author: author.clone(),
            });
        }
        if fields.submission_set.unique_id.oid() == fields.document.unique_id().oid() {
            return Err(SubmissionError::SharedUniqueId {
                unique_id: fields.document.unique_id().to_string(),
            });
        }
        if let Some(replaces) = &fields.replaces
            && &replaces.replaced_unique_id == fields.document.unique_id()
        {
            return Err(SubmissionError::ReplacesItself {
                unique_id: replaces.replaced_unique_id.clone(),
            });
        }
        Ok(Submission {
            submission_set: fields.submission_set,
            document: fields.document,
            patient_informed: fields.patient_informed,
            replaces: fields.replaces,
        })
    }

    /// The submission set.
    pub fn submission_set(&self) -> &SubmissionSet {
        &self.submission_set
    }

    /// The document.
    pub fn document(&self) -> &DocumentMetadata {
        &self.document
    }

    /// The author's statement that the patient was informed and agrees.
    pub fn patient_informed(&self) -> &PatientInformedStatement {
        &self.patient_informed
    }

    /// The document this one replaces, for a correction.
    pub fn replaces(&self) -> Option<&Replacement> {
        self.replaces.as_ref()
    }
}

impl TryFrom<SubmissionFields> for Submission {
    type Error = SubmissionError;
    fn try_from(fields: SubmissionFields) -> Result<Self, Self::Error> {
        Submission::from_fields(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::document::tests::{author, code, complete};
    use crate::model::professional::PersonName;
    use crate::model::statement::StatementSource;

    fn submission_set(author: Author) -> SubmissionSet {
        SubmissionSet {
            unique_id: "1.3.6.1.4.1.99999.1.20261128100000.987654321098765432"
                .parse()
                .unwrap(),
            source_id: "1.3.6.1.4.1.99999".parse().unwrap(),
            submission_time: "2026-11-28T10:05:00Z".parse().unwrap(),
            content_type_code: code("CONSULT"),
            author,
        }
    }

    fn statement_by(id: &str) -> PatientInformedStatement {
        PatientInformedStatement::new(
            id.parse().unwrap(),
            "2026-11-28T10:00:00Z".parse().unwrap(),
            StatementSource::Api,
        )
    }

    #[test]
    fn a_consistent_submission_is_accepted_and_round_trips() {
        let document = complete().build().unwrap();
        let submission = Submission::new(
            submission_set(author()),
            document,
            statement_by("2854201475"),
        )
        .unwrap();
        assert_eq!(
            submission.patient_informed().stated_by().as_str(),
            "2854201475"
        );
        assert!(submission.replaces().is_none());
        let json = serde_json::to_value(&submission).unwrap();
        assert_eq!(
            serde_json::from_value::<Submission>(json).unwrap(),
            submission
        );
    }

    #[test]
    fn deserializing_without_a_statement_fails() {
        let document = complete().build().unwrap();
        let submission = Submission::new(
            submission_set(author()),
            document,
            statement_by("2854201475"),
        )
        .unwrap();
        let mut json = serde_json::to_value(&submission).unwrap();
        json.as_object_mut().unwrap().remove("patient_informed");
        let err = serde_json::from_value::<Submission>(json).unwrap_err();
        assert!(err.to_string().contains("patient_informed"), "{err}");
    }

    #[test]
    fn the_statement_must_be_the_authors() {
        let document = complete().build().unwrap();
        assert!(matches!(
            Submission::new(
                submission_set(author()),
                document,
                statement_by("9999999999")
            ),
            Err(SubmissionError::StatementNotByAuthor { .. })
        ));
    }

    #[test]
    fn the_submission_set_author_must_be_the_documents() {
        let document = complete().build().unwrap();
        let other = Author::new(
            "9999999999".parse().unwrap(),
            PersonName::new("Paul", "Weber").unwrap(),
        );
        assert!(matches!(
            Submission::new(submission_set(other), document, statement_by("2854201475")),
            Err(SubmissionError::AuthorMismatch { .. })
        ));
    }

    #[test]
    fn unique_ids_must_differ() {
        let document = complete().build().unwrap();
        let mut set = submission_set(author());
        set.unique_id = SubmissionSetUniqueId::from(document.unique_id().oid().clone());
        assert!(matches!(
            Submission::new(set, document.clone(), statement_by("2854201475")),
            Err(SubmissionError::SharedUniqueId { .. })
        ));
        let itself = Replacement {
            replaced_unique_id: document.unique_id().clone(),
            replaced_entry_uuid: None,
        };
        assert!(matches!(
            Submission::replacing(
                submission_set(author()),
                document.clone(),
                statement_by("2854201475"),
                itself
            ),
            Err(SubmissionError::ReplacesItself { .. })
        ));
        let earlier = Replacement {
            replaced_unique_id: "1.3.6.1.4.1.99999.1.20261101080000.111111111111111111"
                .parse()
                .unwrap(),
            replaced_entry_uuid: Some(EntryUuid::new_random()),
        };
        let correction = Submission::replacing(
            submission_set(author()),
            document,
            statement_by("2854201475"),
            earlier.clone(),
        )
        .unwrap();
        assert_eq!(correction.replaces(), Some(&earlier));
        let json = serde_json::to_value(&correction).unwrap();
        assert_eq!(
            serde_json::from_value::<Submission>(json).unwrap(),
            correction
        );
    }
}
