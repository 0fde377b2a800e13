//! What the engine needs to know to decide, and how a subject's roles follow
//! from it. The store assembles these facts (`Store::facts_for`); the engine
//! never reads anything else.

use dspconnect::model::ConfidentialityMode;
use time::OffsetDateTime;

use super::role::{Role, RoleSet};
use super::subject::{AccompagnateurId, EHealthId, PatientId, SessionKind, Subject};

/// A professional's standing in the HPD.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProfessionalStatus {
    /// Listed, but the account was not activated yet (letter not used).
    PendingActivation,
    /// Activated: may authenticate.
    Active,
    /// Deactivated by the Agence (or after the loss of a card).
    Deactivated,
}

impl ProfessionalStatus {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            ProfessionalStatus::PendingActivation => "pending_activation",
            ProfessionalStatus::Active => "active",
            ProfessionalStatus::Deactivated => "deactivated",
        }
    }

    /// Parses the stored form.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending_activation" => Some(ProfessionalStatus::PendingActivation),
            "active" => Some(ProfessionalStatus::Active),
            "deactivated" => Some(ProfessionalStatus::Deactivated),
            _ => None,
        }
    }
}

/// The consents a patient gave (charter, « Droit du patient »).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatientRelations {
    pub patient: PatientId,
    /// « Choix du médecin référent ».
    pub referent: Option<EHealthId>,
    /// « Choix des professionnels de santé de son cercle médical de confiance (white list) ».
    pub cercle: Vec<EHealthId>,
    /// « Constitution de sa Black list ».
    pub black_list: Vec<EHealthId>,
    /// « se faire aider … par un accompagnateur DSP ».
    pub accompagnateurs: Vec<AccompagnateurId>,
}

impl PatientRelations {
    /// A patient who named nobody.
    pub fn none(patient: PatientId) -> Self {
        Self {
            patient,
            referent: None,
            cercle: Vec::new(),
            black_list: Vec::new(),
            accompagnateurs: Vec::new(),
        }
    }
}

/// What a spent code de présence gives: access as PC for one professional,
/// one patient, until `not_on_or_after`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsultationGrant {
    pub id: String,
    pub professional: EHealthId,
    pub patient: PatientId,
    pub not_on_or_after: OffsetDateTime,
}

impl ConsultationGrant {
    /// Whether this grant opens PC for `professional` on `patient` at `now`.
    pub fn opens(
        &self,
        professional: &EHealthId,
        patient: &PatientId,
        now: OffsetDateTime,
    ) -> bool {
        &self.professional == professional && &self.patient == patient && now < self.not_on_or_after
    }
}

/// The document an operation concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentFacts {
    /// The professional who submitted it.
    pub author: EHealthId,
    /// Its current confidentiality mode.
    pub mode: ConfidentialityMode,
}

/// Everything a decision rests on, for one subject, one patient and at most
/// one document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    pub subject: Subject,
    /// The subject's HPD status when the subject is a professional listed in
    /// the HPD; `None` otherwise.
    pub hpd_status: Option<ProfessionalStatus>,
    pub relations: PatientRelations,
    /// The subject's consultation grants (any patient, any expiry: the
    /// engine checks both).
    pub grants: Vec<ConsultationGrant>,
    /// The document, for operations on one.
    pub document: Option<DocumentFacts>,
    /// The instant of the decision (grant expiry is checked against it).
    pub now: OffsetDateTime,
}

impl Facts {
    /// Whether the subject is a professional who is not active in the HPD
    /// (unknown, pending activation or deactivated): such a subject holds
    /// no professional role at all.
    pub fn is_inactive_professional(&self) -> bool {
        matches!(self.subject, Subject::Professional { .. })
            && self.hpd_status != Some(ProfessionalStatus::Active)
    }

    /// The subject's roles for this patient and document (policy.md, "Roles,
    /// for one patient and one document").
    pub fn roles(&self) -> RoleSet {
        match &self.subject {
            Subject::Patient(patient) => {
                if *patient == self.relations.patient {
                    RoleSet::only(Role::Patient)
                } else {
                    RoleSet::EMPTY
                }
            }
            Subject::Accompagnateur(person) => {
                if self.relations.accompagnateurs.contains(person) {
                    RoleSet::only(Role::Accompagnateur)
                } else {
                    RoleSet::EMPTY
                }
            }
            Subject::Professional { id, session } => {
                // Charter: « doit être référencé dans l'annuaire national »;
                // a pending or deactivated account is no professional yet.
                if self.is_inactive_professional() {
                    return RoleSet::EMPTY;
                }
                if *session == SessionKind::Password {
                    return RoleSet::only(Role::PasswordSession);
                }
                self.card_roles(id)
            }
        }
    }

    fn card_roles(&self, id: &EHealthId) -> RoleSet {
        let relations = &self.relations;
        let mut roles = RoleSet::EMPTY;
        if relations.black_list.contains(id) {
            roles = roles.with(Role::BlackListed);
        }
        if self.document.as_ref().is_some_and(|doc| &doc.author == id) {
            roles = roles.with(Role::Author);
        }
        if relations.referent.as_ref() == Some(id) {
            roles = roles.with(Role::Referent);
        }
        if relations.cercle.contains(id) {
            roles = roles.with(Role::Cercle);
        }
        if self
            .grants
            .iter()
            .any(|grant| grant.opens(id, &relations.patient, self.now))
        {
            roles = roles.with(Role::PresenceCode);
        }
        if roles.is_empty() {
            roles = RoleSet::only(Role::Other);
        }
        roles
    }
}
