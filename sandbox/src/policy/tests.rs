//! The decision table of policy.md, written out row for row, checked against
//! the engine for every role × mode × operation; then role combinations
//! derived from facts.

use dspconnect::model::ConfidentialityMode::{self, Normal, Prive, Restreint, VisiteAnnonce};
use time::{Duration, OffsetDateTime};

use super::*;

const Y: Outcome = Outcome::Allowed;
const N: Outcome = Outcome::Refused;
/// A mode change to the same mode: refused as a no-op with its own error.
const NOOP: Outcome = Outcome::AlreadyInMode;

/// The columns of every row below, in policy.md's order.
const COLUMNS: [Role; 9] = [
    Role::Patient,
    Role::Accompagnateur,
    Role::Author,
    Role::Referent,
    Role::Cercle,
    Role::PresenceCode,
    Role::Other,
    Role::BlackListed,
    Role::PasswordSession,
];

type Row = [Outcome; 9];

// policy.md, "Read (and list) a document, by its mode".
//                              P    ACC  AUT  REF  CMC  PC   OTH  BL   PWD
const READ: [(ConfidentialityMode, Row, &str); 4] = [
    (
        Normal,
        [Y, Y, Y, Y, Y, Y, N, N, N],
        "charter: « accessible pour les professionnels authentifiés dans le cadre de la relation thérapeutique » — REF, CMC, PC",
    ),
    (
        Restreint,
        [Y, Y, Y, Y, Y, N, N, N, N],
        "charter: « n'est accessible qu'à certains professionnels de santé (médecin référent, professionnels du cercle médical de confiance) »; a presence code alone does not open it",
    ),
    (
        Prive,
        [Y, Y, Y, N, N, N, N, N, N],
        "charter: « accessible uniquement au patient et à l'auteur »; decision: ACC reads Privé (« droits équivalents au patient pour la lecture »)",
    ),
    (
        VisiteAnnonce,
        [N, N, Y, Y, Y, Y, N, N, N],
        "charter: « visible par les professionnels de santé et cachée temporairement du patient »; decision: hidden from ACC too",
    ),
];

// policy.md, "Submit a document": REF, CMC, PC in any of the four modes
// (charter: « enregistrer les informations, avec l'accord du patient, selon
// plusieurs modes »); OTH, BL, PWD may not (decision: no therapeutic
// relationship, no write). AUT is no role before the document exists.
//                                P    ACC  AUT  REF  CMC  PC   OTH  BL   PWD
const SUBMIT_ANY_MODE: Row = [N, N, N, Y, Y, Y, N, N, N];

// policy.md, "Change a document's mode" — every from → to pair. A same →
// same change is a no-op with its own error for whoever may read the
// document; the others are refused as for any act on it.
//                                                     P     ACC   AUT   REF   CMC   PC    OTH BL PWD
const CHANGE: [(ConfidentialityMode, ConfidentialityMode, Row, &str); 16] = [
    (
        Normal,
        Normal,
        [NOOP, NOOP, NOOP, NOOP, NOOP, NOOP, N, N, N],
        "same → same: refused as a no-op with its own error",
    ),
    (
        Normal,
        Restreint,
        [Y, N, Y, Y, Y, N, N, N, N],
        "P; AUT, REF, CMC — decision: « ce mode est choisi en accord avec le patient », the professional states the patient's agreement",
    ),
    (
        Normal,
        Prive,
        [Y, N, Y, N, N, N, N, N, N],
        "P; AUT — decision: « choisi après une réflexion éclairée entre le professionnel de santé et le patient »",
    ),
    (
        Normal,
        VisiteAnnonce,
        [N, N, N, N, N, N, N, N, N],
        "any → Visite d'annonce: nobody after submission (decision: the patient may already have read it)",
    ),
    (
        Restreint,
        Normal,
        [Y, N, N, Y, Y, N, N, N, N],
        "P, REF, CMC — charter: « Le patient et ces professionnels peuvent modifier ce mode à tout moment »",
    ),
    (
        Restreint,
        Restreint,
        [NOOP, NOOP, NOOP, NOOP, NOOP, N, N, N, N],
        "same → same: no-op; PC cannot read Restreint",
    ),
    (
        Restreint,
        Prive,
        [Y, N, N, Y, Y, N, N, N, N],
        "P, REF, CMC — charter: « Le patient et ces professionnels peuvent modifier ce mode à tout moment »",
    ),
    (
        Restreint,
        VisiteAnnonce,
        [N, N, N, N, N, N, N, N, N],
        "any → Visite d'annonce: nobody after submission",
    ),
    (
        Prive,
        Normal,
        [Y, N, N, N, N, N, N, N, N],
        "P only — charter: « Le patient peut modifier ce mode »",
    ),
    (
        Prive,
        Restreint,
        [Y, N, N, N, N, N, N, N, N],
        "P only — charter: « Le patient peut modifier ce mode »",
    ),
    (
        Prive,
        Prive,
        [NOOP, NOOP, NOOP, N, N, N, N, N, N],
        "same → same: no-op for those who read Privé",
    ),
    (
        Prive,
        VisiteAnnonce,
        [N, N, N, N, N, N, N, N, N],
        "any → Visite d'annonce: nobody after submission",
    ),
    (
        VisiteAnnonce,
        Normal,
        [N, N, Y, Y, Y, Y, N, N, N],
        "AUT, REF, CMC, PC — charter: « Les professionnels de santé concourant au parcours du patient s'engagent à modifier cette information »",
    ),
    (
        VisiteAnnonce,
        Restreint,
        [N, N, Y, Y, Y, Y, N, N, N],
        "AUT, REF, CMC, PC — same charter sentence",
    ),
    (
        VisiteAnnonce,
        Prive,
        [N, N, Y, Y, Y, Y, N, N, N],
        "AUT, REF, CMC, PC — same charter sentence",
    ),
    (
        VisiteAnnonce,
        VisiteAnnonce,
        [N, N, NOOP, NOOP, NOOP, NOOP, N, N, N],
        "same → same: no-op for the professionals who read it; hidden from P and ACC",
    ),
];

// policy.md, "Correct, report, see the trail".
// Replace (RPLC): AUT only (charter: « il lui appartient de la corriger, s'il le peut »).
//                            P    ACC  AUT  REF  CMC  PC   OTH  BL   PWD
const REPLACE_ANY_MODE: Row = [N, N, Y, N, N, N, N, N, N];

// Report an anomaly: any professional who can read the document (charter:
// « ou, à défaut, de la signaler au gestionnaire »).
//                                       P    ACC  AUT  REF  CMC  PC   OTH  BL   PWD
const REPORT: [(ConfidentialityMode, Row); 4] = [
    (Normal, [N, N, Y, Y, Y, Y, N, N, N]),
    (Restreint, [N, N, Y, Y, Y, N, N, N, N]),
    (Prive, [N, N, Y, N, N, N, N, N, N]),
    (VisiteAnnonce, [N, N, Y, Y, Y, Y, N, N, N]),
];

// Access trail: P and ACC see every access (CSS art. 60quater(4)).
//                          P    ACC  AUT  REF  CMC  PC   OTH  BL   PWD
const TRAIL: Row = [Y, Y, N, N, N, N, N, N, N];

// Presence code: « presented once by one professional »; the patient and the
// accompagnateur have no code to present; BL is refused even with a valid
// code; PWD never reaches a DSP.
//                                  P    ACC  AUT  REF  CMC  PC   OTH  BL   PWD
const PRESENT_CODE: Row = [N, N, Y, Y, Y, Y, Y, N, N];

fn check_row(
    operation: Operation,
    mode: Option<ConfidentialityMode>,
    expected: Row,
    citation: &str,
    checked: &mut usize,
) {
    for (role, want) in COLUMNS.into_iter().zip(expected) {
        let decision = decide_for_roles(RoleSet::only(role), operation, mode);
        assert_eq!(
            decision.outcome, want,
            "{role} {operation:?} on {mode:?}: got {decision} — policy.md: {citation}"
        );
        assert!(
            !decision.rule.citation().is_empty(),
            "{role} {operation:?} on {mode:?}: rule {} cites nothing",
            decision.rule.id
        );
        *checked += 1;
    }
}

#[test]
fn every_role_mode_and_operation_matches_policy_md() {
    assert_eq!(
        COLUMNS,
        Role::ALL,
        "the table's columns are policy.md's roles"
    );
    let mut checked = 0;
    for (mode, row, citation) in READ {
        check_row(Operation::Read, Some(mode), row, citation, &mut checked);
        check_row(Operation::List, Some(mode), row, citation, &mut checked);
    }
    for mode in ConfidentialityMode::ALL {
        check_row(
            Operation::Submit { mode },
            None,
            SUBMIT_ANY_MODE,
            "REF, CMC, PC may submit, in any of the four modes",
            &mut checked,
        );
        check_row(
            Operation::Replace,
            Some(mode),
            REPLACE_ANY_MODE,
            "Replace (RPLC): AUT only",
            &mut checked,
        );
    }
    for (from, to, row, citation) in CHANGE {
        check_row(
            Operation::ChangeMode { to },
            Some(from),
            row,
            citation,
            &mut checked,
        );
    }
    for (mode, row) in REPORT {
        check_row(
            Operation::ReportAnomaly,
            Some(mode),
            row,
            "any professional who can read the document",
            &mut checked,
        );
    }
    check_row(
        Operation::SeeAccessTrail,
        None,
        TRAIL,
        "P and ACC see every access (CSS art. 60quater(4))",
        &mut checked,
    );
    check_row(
        Operation::PresentPresenceCode,
        None,
        PRESENT_CODE,
        "Presence code: presented once by one professional; BL refused even with a valid code",
        &mut checked,
    );
    // 9 roles × (4 read + 4 list + 4 submit + 4 replace + 16 changes + 4 reports + 1 trail
    // + 1 presence code).
    assert_eq!(checked, 9 * 38);
}

#[test]
fn the_change_table_covers_every_pair_of_modes() {
    for from in ConfidentialityMode::ALL {
        for to in ConfidentialityMode::ALL {
            let rows = CHANGE
                .iter()
                .filter(|(f, t, _, _)| *f == from && *t == to)
                .count();
            assert_eq!(rows, 1, "{from} → {to}");
        }
    }
}

#[test]
fn refusals_name_the_rule_and_say_why() {
    let prive = decide_for_roles(RoleSet::only(Role::Referent), Operation::Read, Some(Prive));
    assert_eq!(prive.rule.id, "READ-PRIVE");
    assert_eq!(
        prive.reason(),
        "Privé documents are readable only by the patient, the accompagnateur and the author"
    );
    assert!(prive.to_string().contains("READ-PRIVE"), "{prive}");
    assert!(
        prive
            .rule
            .citation()
            .contains("accessible uniquement au patient")
    );

    let restreint = decide_for_roles(
        RoleSet::only(Role::PresenceCode),
        Operation::Read,
        Some(Restreint),
    );
    assert_eq!(restreint.rule.id, "READ-RESTREINT");
    assert!(restreint.reason().contains("code de présence"));

    let same = decide_for_roles(
        RoleSet::only(Role::Patient),
        Operation::ChangeMode { to: Normal },
        Some(Normal),
    );
    assert_eq!((same.outcome, same.rule.id), (NOOP, "MODE-SAME"));

    let to_annonce = decide_for_roles(
        RoleSet::only(Role::Referent),
        Operation::ChangeMode { to: VisiteAnnonce },
        Some(Normal),
    );
    assert_eq!(to_annonce.rule.id, "MODE-TO-ANNONCE");

    // An act on a document one may not read is refused by the reading rule.
    let hidden = decide_for_roles(
        RoleSet::only(Role::Patient),
        Operation::ChangeMode { to: Normal },
        Some(VisiteAnnonce),
    );
    assert_eq!(hidden.rule.id, "READ-ANNONCE");

    let missing = decide_for_roles(RoleSet::only(Role::Patient), Operation::Read, None);
    assert_eq!((missing.outcome, missing.rule.id), (N, "DOCUMENT-MISSING"));
}

// ---------------------------------------------------------------- facts

fn id(text: &str) -> EHealthId {
    EHealthId::new(text).unwrap()
}

const PATIENT_A: &str = "1893120105732";
const PATIENT_B: &str = "1960030401246";

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

/// Patient A: référent `ref`, cercle `cmc`, black list `bl`, accompagnateur `acc`.
fn relations() -> PatientRelations {
    PatientRelations {
        patient: PatientId::new(PATIENT_A).unwrap(),
        referent: Some(id("ref")),
        cercle: vec![id("cmc")],
        black_list: vec![id("bl")],
        accompagnateurs: vec![AccompagnateurId::new("acc").unwrap()],
    }
}

fn facts(subject: Subject, author: Option<&str>, mode: ConfidentialityMode) -> Facts {
    Facts {
        hpd_status: subject
            .professional_id()
            .map(|_| ProfessionalStatus::Active),
        subject,
        relations: relations(),
        grants: Vec::new(),
        document: author.map(|author| DocumentFacts {
            author: id(author),
            mode,
        }),
        now: now(),
    }
}

fn grant(professional: &str, patient: &str, not_on_or_after: OffsetDateTime) -> ConsultationGrant {
    ConsultationGrant {
        id: "grant-1".into(),
        professional: id(professional),
        patient: PatientId::new(patient).unwrap(),
        not_on_or_after,
    }
}

#[test]
fn author_on_the_black_list_is_refused_even_their_own_document() {
    for mode in ConfidentialityMode::ALL {
        let f = facts(Subject::card(id("bl")), Some("bl"), mode);
        assert_eq!(f.roles(), RoleSet::of(&[Role::Author, Role::BlackListed]));
        for operation in [
            Operation::Read,
            Operation::List,
            Operation::Replace,
            Operation::ReportAnomaly,
            Operation::ChangeMode { to: Normal },
        ] {
            let decision = decide(&f, operation);
            assert_eq!(
                (decision.outcome, decision.rule.id),
                (N, "BLACK-LIST"),
                "{decision}"
            );
        }
    }
    // Black list beats référent too.
    let mut f = facts(Subject::card(id("ref")), None, Normal);
    f.relations.black_list.push(id("ref"));
    assert_eq!(
        decide(&f, Operation::Submit { mode: Normal }).rule.id,
        "BLACK-LIST"
    );
}

#[test]
fn accompagnateur_does_not_read_a_visite_d_annonce() {
    let acc = Subject::Accompagnateur(AccompagnateurId::new("acc").unwrap());
    let f = facts(acc.clone(), Some("ref"), VisiteAnnonce);
    assert_eq!(f.roles(), RoleSet::only(Role::Accompagnateur));
    let decision = decide(&f, Operation::Read);
    assert_eq!((decision.outcome, decision.rule.id), (N, "READ-ANNONCE"));
    assert!(decide(&facts(acc.clone(), Some("ref"), Prive), Operation::Read).is_allowed());
    // The accompagnateur is read-only.
    let change = decide(
        &facts(acc, Some("ref"), Normal),
        Operation::ChangeMode { to: Prive },
    );
    assert_eq!(change.outcome, N);
}

#[test]
fn a_grant_for_another_patient_gives_nothing() {
    let mut f = facts(Subject::card(id("pharma")), Some("ref"), Normal);
    f.grants
        .push(grant("pharma", PATIENT_B, now() + Duration::hours(4)));
    assert_eq!(f.roles(), RoleSet::only(Role::Other));
    let decision = decide(&f, Operation::Read);
    assert_eq!(
        (decision.outcome, decision.rule.id),
        (N, "NO-CARE-RELATION")
    );
    assert!(!decide(&f, Operation::Submit { mode: Normal }).is_allowed());
}

#[test]
fn a_grant_of_another_professional_gives_nothing() {
    let mut f = facts(Subject::card(id("pharma")), Some("ref"), Normal);
    f.grants
        .push(grant("someone-else", PATIENT_A, now() + Duration::hours(4)));
    assert_eq!(f.roles(), RoleSet::only(Role::Other));
}

#[test]
fn an_expired_grant_gives_nothing() {
    for expiry in [now(), now() - Duration::seconds(1)] {
        let mut f = facts(Subject::card(id("pharma")), Some("ref"), Normal);
        f.grants.push(grant("pharma", PATIENT_A, expiry));
        assert_eq!(f.roles(), RoleSet::only(Role::Other), "expiry {expiry}");
        assert!(!decide(&f, Operation::Read).is_allowed());
    }
}

#[test]
fn a_valid_grant_opens_normal_and_visite_d_annonce_only() {
    let with_grant = |mode| {
        let mut f = facts(Subject::card(id("pharma")), Some("ref"), mode);
        f.grants
            .push(grant("pharma", PATIENT_A, now() + Duration::seconds(1)));
        f
    };
    assert_eq!(
        with_grant(Normal).roles(),
        RoleSet::only(Role::PresenceCode)
    );
    assert!(decide(&with_grant(Normal), Operation::Read).is_allowed());
    assert!(decide(&with_grant(VisiteAnnonce), Operation::Read).is_allowed());
    assert!(!decide(&with_grant(Restreint), Operation::Read).is_allowed());
    assert!(!decide(&with_grant(Prive), Operation::Read).is_allowed());
    let mut submit = with_grant(Normal);
    submit.document = None;
    assert!(decide(&submit, Operation::Submit { mode: Prive }).is_allowed());
}

#[test]
fn author_reads_their_own_prive_document() {
    let f = facts(Subject::card(id("pharma")), Some("pharma"), Prive);
    assert_eq!(f.roles(), RoleSet::only(Role::Author));
    let decision = decide(&f, Operation::Read);
    assert!(decision.is_allowed(), "{decision}");
    assert_eq!(decision.rule.id, "READ-PRIVE");
    // …and every other mode, on the recorded decision.
    for mode in [Normal, Restreint, VisiteAnnonce] {
        let d = decide(
            &facts(Subject::card(id("pharma")), Some("pharma"), mode),
            Operation::Read,
        );
        assert_eq!((d.outcome, d.rule.id), (Y, "READ-AUTHOR"), "{mode}");
    }
}

#[test]
fn roles_combine_author_and_referent() {
    let f = facts(Subject::card(id("ref")), Some("ref"), Restreint);
    assert_eq!(f.roles(), RoleSet::of(&[Role::Author, Role::Referent]));
    // AUT alone may not leave Restreint; REF may.
    let decision = decide(&f, Operation::ChangeMode { to: Normal });
    assert_eq!(
        (decision.outcome, decision.rule.id),
        (Y, "MODE-FROM-RESTREINT")
    );
    let author_only = facts(Subject::card(id("pharma")), Some("pharma"), Restreint);
    let refused = decide(&author_only, Operation::ChangeMode { to: Normal });
    assert_eq!(
        (refused.outcome, refused.rule.id),
        (N, "MODE-FROM-RESTREINT")
    );
    // REF alone may not replace; AUT+REF may.
    assert!(decide(&f, Operation::Replace).is_allowed());
    assert!(
        !decide(
            &facts(Subject::card(id("ref")), Some("cmc"), Normal),
            Operation::Replace
        )
        .is_allowed()
    );
}

#[test]
fn a_password_session_reaches_no_document_whatever_the_relationship() {
    let f = facts(Subject::password(id("ref")), Some("ref"), Normal);
    assert_eq!(f.roles(), RoleSet::only(Role::PasswordSession));
    for operation in [
        Operation::Read,
        Operation::List,
        Operation::Submit { mode: Normal },
        Operation::ChangeMode { to: Restreint },
        Operation::ReportAnomaly,
    ] {
        assert_eq!(decide(&f, operation).rule.id, "PASSWORD-SESSION");
    }
}

#[test]
fn a_professional_not_active_in_the_hpd_holds_no_role() {
    for status in [
        None,
        Some(ProfessionalStatus::PendingActivation),
        Some(ProfessionalStatus::Deactivated),
    ] {
        let mut f = facts(Subject::card(id("ref")), Some("ref"), Normal);
        f.hpd_status = status;
        assert_eq!(f.roles(), RoleSet::EMPTY);
        let decision = decide(&f, Operation::Read);
        assert_eq!(
            (decision.outcome, decision.rule.id),
            (N, "HPD"),
            "{status:?}"
        );
    }
}

#[test]
fn people_outside_the_dsp_see_nothing() {
    let other_patient = Subject::Patient(PatientId::new(PATIENT_B).unwrap());
    let stranger = Subject::Accompagnateur(AccompagnateurId::new("stranger").unwrap());
    for subject in [other_patient, stranger] {
        let f = facts(subject, Some("ref"), Normal);
        assert_eq!(f.roles(), RoleSet::EMPTY);
        for operation in [Operation::Read, Operation::SeeAccessTrail] {
            assert_eq!(decide(&f, operation).rule.id, "NO-RELATION");
        }
    }
    let patient = facts(
        Subject::Patient(PatientId::new(PATIENT_A).unwrap()),
        None,
        Normal,
    );
    assert!(decide(&patient, Operation::SeeAccessTrail).is_allowed());
}
