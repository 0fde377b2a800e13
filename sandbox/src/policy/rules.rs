//! The rules every decision rests on, each with the charter sentence it
//! quotes and/or the decision policy.md records where the charter leaves a
//! gap. Error messages and the generated documentation cite them by id.

use std::fmt;

/// One rule of policy.md.
#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    /// Stable id, cited in faults (`f:Rule`) and in the documentation.
    pub id: &'static str,
    /// What the rule lets happen, and for whom.
    pub statement: &'static str,
    /// What to tell a subject the rule refuses (an error message).
    pub refusal: &'static str,
    /// The charter sentence the rule rests on, quoted in French.
    pub charter: Option<&'static str>,
    /// The decision recorded in policy.md where the charter leaves a gap.
    pub decision: Option<&'static str>,
}

impl Rule {
    /// The charter quote and/or the recorded decision, on one line.
    pub fn citation(&self) -> String {
        match (self.charter, self.decision) {
            (Some(charter), Some(decision)) => {
                format!("charter: « {charter} »; decision: {decision}")
            }
            (Some(charter), None) => format!("charter: « {charter} »"),
            (None, Some(decision)) => format!("decision: {decision}"),
            // Every rule below has at least one; `all_rules_cite_something` checks it.
            (None, None) => String::new(),
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.id, self.citation())
    }
}

/// A black-listed professional is refused everything.
pub static BLACK_LIST: Rule = Rule {
    id: "BLACK-LIST",
    statement: "A professional on the patient's black list is refused every operation, even on documents they wrote.",
    refusal: "the patient has put you on the black list of their DSP: every access is refused, including to documents you wrote",
    charter: Some(
        "Constitution de sa « Black list » : le patient prend la responsabilité d'interdire l'accès à son DSP à un professionnel de santé précisément nommé.",
    ),
    decision: Some("the black list overrides every other role, the author's included"),
};

/// A password session never reaches DSP documents.
pub static PASSWORD_SESSION: Rule = Rule {
    id: "PASSWORD-SESSION",
    statement: "A password session (matricule + password) reaches the account and the directory only, never a DSP.",
    refusal: "a password session has limited access (account and directory only): log in with your LuxTrust card to use the DSP",
    charter: Some(
        "Vous bénéficierez également d'un identifiant / mot de passe pour vous connecter à la Plateforme, avec des accès limités.",
    ),
    decision: Some("limited = account and directory only"),
};

/// Only active HPD professionals hold professional roles.
pub static HPD: Rule = Rule {
    id: "HPD",
    statement: "A professional holds a role only if listed and active in the HPD and authenticated with the LuxTrust card.",
    refusal: "you are not an active professional of the HPD (annuaire national): activate your account, or ask the Agence eSanté to reactivate it",
    charter: Some(
        "le professionnel de santé doit être référencé dans l'annuaire national des professionnels de santé (ou HPD – Healthcare Provider Directory). L'accès à la Plateforme Nationale de Services eSante se fait par l'utilisation d'un moyen d'authentification forte LuxTrust.",
    ),
    decision: None,
};

/// A patient or accompagnateur acting on a DSP that is not theirs.
pub static NO_RELATION: Rule = Rule {
    id: "NO-RELATION",
    statement: "A person who is neither the patient nor an accompagnateur the patient named has no access to the DSP.",
    refusal: "this DSP is not yours, and its patient has not named you accompagnateur",
    charter: Some(
        "Il est une personne civile, choisie librement par le patient, sans obligation d'être un professionnel de santé.",
    ),
    decision: Some(
        "only the titulaire and the accompagnateur they chose use the DSP from the patient's side",
    ),
};

/// A professional without a therapeutic relationship.
pub static NO_CARE_RELATION: Rule = Rule {
    id: "NO-CARE-RELATION",
    statement: "A professional who is not the author, not the médecin référent, not in the cercle de confiance and holds no valid consultation grant reads, submits and changes nothing.",
    refusal: "you have no therapeutic relationship with this patient in the DSP: you are not their médecin référent, not in their cercle de confiance, and hold no valid consultation grant (ask the patient for their code de présence)",
    charter: Some(
        "Le patient, titulaire de son DSP, donne l'autorisation d'accès à son dossier aux professionnels de santé qui interviennent dans son parcours de soins.",
    ),
    decision: Some("no therapeutic relationship, no write"),
};

/// An operation on a document was asked without naming the document.
pub static DOCUMENT_MISSING: Rule = Rule {
    id: "DOCUMENT-MISSING",
    statement: "An operation on a document is decided only with the document's author and mode.",
    refusal: "this operation concerns a document, and none was named",
    charter: None,
    decision: Some("refuse by default when the facts are incomplete"),
};

/// The patient reads their DSP.
pub static READ_PATIENT: Rule = Rule {
    id: "READ-PATIENT",
    statement: "The patient reads their Normal and Restreint documents.",
    refusal: "the patient reads their Normal, Restreint and Privé documents only",
    charter: Some(
        "Le patient peut consulter les informations médicales enregistrées dans son DSP.",
    ),
    decision: None,
};

/// The accompagnateur reads as the patient.
pub static READ_ACCOMPAGNATEUR: Rule = Rule {
    id: "READ-ACCOMPAGNATEUR",
    statement: "The accompagnateur reads what the patient reads: Normal, Restreint and Privé.",
    refusal: "the accompagnateur reads what the patient reads: Normal, Restreint and Privé documents",
    charter: Some(
        "Cet accompagnateur a des droits équivalents au patient pour la lecture des informations contenues dans le DSP de ce dernier.",
    ),
    decision: Some(
        "the accompagnateur reads Privé and Restreint too: « droits équivalents au patient pour la lecture » names who stands in the patient's place, although Privé is « accessible uniquement au patient et à l'auteur »",
    ),
};

/// Normal: professionals in a therapeutic relationship.
pub static READ_NORMAL: Rule = Rule {
    id: "READ-NORMAL",
    statement: "Normal documents are read by the médecin référent, the cercle de confiance and consultation-grant holders.",
    refusal: "Normal documents are readable by the patient, the accompagnateur, the author and professionals in a therapeutic relationship (médecin référent, cercle de confiance, code de présence)",
    charter: Some(
        "Mode « Normal » : Statut par défaut de l'information enregistrée, accessible pour les professionnels authentifiés dans le cadre de la relation thérapeutique avec le patient.",
    ),
    decision: None,
};

/// Restreint: référent and cercle only.
pub static READ_RESTREINT: Rule = Rule {
    id: "READ-RESTREINT",
    statement: "Restreint documents are read by the médecin référent and the cercle de confiance; a code de présence does not open them.",
    refusal: "Restreint documents are readable only by the patient, the accompagnateur, the author, the médecin référent and the cercle de confiance; a code de présence does not open them",
    charter: Some(
        "Mode « Restreint » : L'information enregistrée n'est accessible qu'à certains professionnels de santé (médecin référent, professionnels du cercle médical de confiance).",
    ),
    decision: Some(
        "a presence code alone does not open it: the référent and the white list see « normal » and « restreint », the code de présence only opens the therapeutic relationship",
    ),
};

/// Privé: the patient and the author.
pub static READ_PRIVE: Rule = Rule {
    id: "READ-PRIVE",
    statement: "Privé documents are read by the patient and the author only (and the accompagnateur, who reads as the patient).",
    refusal: "Privé documents are readable only by the patient, the accompagnateur and the author",
    charter: Some(
        "Mode « Privé » : L'information enregistrée est accessible uniquement au patient et à l'auteur de celle-ci.",
    ),
    decision: None,
};

/// Visite d'annonce: professionals, hidden from the patient.
pub static READ_ANNONCE: Rule = Rule {
    id: "READ-ANNONCE",
    statement: "Visite d'annonce documents are read by the professionals with access and hidden from the patient and the accompagnateur.",
    refusal: "Visite d'annonce documents are hidden from the patient and the accompagnateur until a professional has announced them and changed the mode",
    charter: Some(
        "Mode « Visite d'annonce » : L'information enregistrée est visible par les professionnels de santé et cachée temporairement du patient, ceci afin de laisser le temps aux professionnels d'annoncer un diagnostic au patient",
    ),
    decision: Some(
        "hidden from the accompagnateur too: the accompagnateur reads as the patient does",
    ),
};

/// The author reads their own document.
pub static READ_AUTHOR: Rule = Rule {
    id: "READ-AUTHOR",
    statement: "The author always reads their own document, unless black-listed.",
    refusal: "the author reads their own document unless black-listed",
    charter: None,
    decision: Some("an author cannot be locked out of what they wrote by a mode they chose"),
};

/// Who submits.
pub static SUBMIT: Rule = Rule {
    id: "SUBMIT",
    statement: "The médecin référent, the cercle de confiance and consultation-grant holders submit documents, in any of the four modes, with the patient's informed agreement.",
    refusal: "only the médecin référent, a professional of the cercle de confiance, or one holding a valid consultation grant (code de présence) may submit documents to this DSP",
    charter: Some(
        "Le DSP permet au professionnel de santé d'enregistrer les informations, avec l'accord du patient, selon plusieurs modes de confidentialité",
    ),
    decision: Some(
        "the patient and the accompagnateur do not submit; having written earlier documents is no therapeutic relationship",
    ),
};

/// A change to the mode the document is already in.
pub static MODE_SAME: Rule = Rule {
    id: "MODE-SAME",
    statement: "A change to the mode the document already has is refused as a no-op, with its own error.",
    refusal: "the document is already in this mode: nothing to change",
    charter: None,
    decision: Some("same → same is refused as a no-op with its own error"),
};

/// Nothing goes to Visite d'annonce after submission.
pub static MODE_TO_ANNONCE: Rule = Rule {
    id: "MODE-TO-ANNONCE",
    statement: "No document is put in Visite d'annonce after its submission.",
    refusal: "a document cannot be put in Visite d'annonce after its submission (the patient may already have read it): Visite d'annonce is chosen when submitting",
    charter: None,
    decision: Some(
        "nobody after submission: the patient may already have read it; announcement is chosen when the document is submitted",
    ),
};

/// Normal → Restreint.
pub static MODE_NORMAL_TO_RESTREINT: Rule = Rule {
    id: "MODE-NORMAL-RESTREINT",
    statement: "Normal → Restreint: the patient, the author, the médecin référent and the cercle de confiance (the professional states the patient's agreement).",
    refusal: "only the patient, the author, the médecin référent and the cercle de confiance may change a Normal document to Restreint",
    charter: Some("Ce mode est choisi en accord avec le patient, dans l'intérêt du patient."),
    decision: Some("the professional states the patient's agreement"),
};

/// Normal → Privé.
pub static MODE_NORMAL_TO_PRIVE: Rule = Rule {
    id: "MODE-NORMAL-PRIVE",
    statement: "Normal → Privé: the patient and the author.",
    refusal: "only the patient and the author may change a Normal document to Privé",
    charter: Some(
        "Ce masquage doit être choisi après une réflexion éclairée entre le professionnel de santé et le patient.",
    ),
    decision: Some(
        "the professional of that reflection is the author; other professionals cannot hide what they did not write",
    ),
};

/// Restreint → Normal or Privé.
pub static MODE_FROM_RESTREINT: Rule = Rule {
    id: "MODE-FROM-RESTREINT",
    statement: "Restreint → Normal or Privé: the patient, the médecin référent and the cercle de confiance.",
    refusal: "only the patient, the médecin référent and the cercle de confiance may change the mode of a Restreint document",
    charter: Some(
        "Le patient et ces professionnels peuvent modifier ce mode à tout moment, en mode « Normal » ou « Privé »",
    ),
    decision: None,
};

/// Privé → Normal or Restreint.
pub static MODE_FROM_PRIVE: Rule = Rule {
    id: "MODE-FROM-PRIVE",
    statement: "Privé → Normal or Restreint: the patient only.",
    refusal: "only the patient may change the mode of a Privé document",
    charter: Some(
        "Le patient peut modifier ce mode, à tout moment, en mode « Normal » ou « Restreint ».",
    ),
    decision: None,
};

/// Visite d'annonce → Normal, Restreint or Privé.
pub static MODE_FROM_ANNONCE: Rule = Rule {
    id: "MODE-FROM-ANNONCE",
    statement: "Visite d'annonce → Normal, Restreint or Privé: the professionals taking part in the patient's care (author, médecin référent, cercle de confiance, consultation-grant holders).",
    refusal: "only the professionals taking part in the patient's care (the author, the médecin référent, the cercle de confiance, a consultation-grant holder) may end a Visite d'annonce",
    charter: Some(
        "Les professionnels de santé concourant au parcours du patient s'engagent à modifier cette information en mode « Normal », « Restreint » ou « Privé », dès que le patient a reçu cet accompagnement, en accord avec celui-ci.",
    ),
    decision: None,
};

/// Replacement (RPLC).
pub static REPLACE: Rule = Rule {
    id: "REPLACE",
    statement: "Only the author replaces (RPLC) a document; the replaced entry becomes Deprecated and keeps its mode history.",
    refusal: "only the author of a document may replace it; report an anomaly instead",
    charter: Some(
        "S'il détecte une anomalie dans la justesse de l'information enregistrée dans le DSP d'un patient, il lui appartient de la corriger, s'il le peut",
    ),
    decision: Some("« s'il le peut »: the author is the one who can correct"),
};

/// Anomaly reports.
pub static REPORT_ANOMALY: Rule = Rule {
    id: "REPORT-ANOMALY",
    statement: "Any professional who can read a document may report an anomaly in it to the Agence.",
    refusal: "anomaly reports are made by the professionals who can read the document",
    charter: Some(
        "il lui appartient de la corriger, s'il le peut, ou, à défaut, de la signaler au gestionnaire Agence eSante du DSP",
    ),
    decision: None,
};

/// The access trail.
pub static ACCESS_TRAIL: Rule = Rule {
    id: "ACCESS-TRAIL",
    statement: "The patient and the accompagnateur see every access to the DSP, by whom and when.",
    refusal: "only the patient and their accompagnateur may see the access trail of a DSP",
    charter: None,
    decision: Some(
        "CSS art. 60quater(4): the patient may see who accessed their DSP; the accompagnateur reads as the patient does",
    ),
};

/// Presenting a code de présence.
pub static PRESENCE_CODE: Rule = Rule {
    id: "PRESENCE-CODE",
    statement: "A professional presents the patient's code de présence once and receives a consultation grant for that patient; the code is spent at once.",
    refusal: "a code de présence is presented by a professional of the HPD, in a card session, whom the patient has not black-listed",
    charter: Some(
        "Communication de son code de présence ouvrant l'accès au professionnel dans le cadre de la relation thérapeutique.",
    ),
    decision: Some(
        "presented once by one professional and spent at once: the platform answers a consultation grant (id + expiry); a black-listed professional is refused even with a valid code",
    ),
};

/// Every rule, in the order the documentation lists them.
pub static ALL_RULES: [&Rule; 25] = [
    &BLACK_LIST,
    &PASSWORD_SESSION,
    &HPD,
    &NO_RELATION,
    &NO_CARE_RELATION,
    &DOCUMENT_MISSING,
    &READ_PATIENT,
    &READ_ACCOMPAGNATEUR,
    &READ_AUTHOR,
    &READ_NORMAL,
    &READ_RESTREINT,
    &READ_PRIVE,
    &READ_ANNONCE,
    &SUBMIT,
    &MODE_SAME,
    &MODE_TO_ANNONCE,
    &MODE_NORMAL_TO_RESTREINT,
    &MODE_NORMAL_TO_PRIVE,
    &MODE_FROM_RESTREINT,
    &MODE_FROM_PRIVE,
    &MODE_FROM_ANNONCE,
    &REPLACE,
    &REPORT_ANOMALY,
    &ACCESS_TRAIL,
    &PRESENCE_CODE,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_rules_cite_something_and_have_unique_ids() {
        let mut ids: Vec<&str> = ALL_RULES.iter().map(|rule| rule.id).collect();
        for rule in ALL_RULES {
            assert!(
                rule.charter.is_some() || rule.decision.is_some(),
                "{} cites neither the charter nor a decision",
                rule.id
            );
            assert!(!rule.refusal.is_empty() && !rule.statement.is_empty());
        }
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len(), "duplicate rule ids");
    }
}
