//! The decision: what a set of roles may do to a document in a given mode.

use std::fmt;

use dspconnect::model::ConfidentialityMode;

use super::facts::Facts;
use super::role::{Role, RoleSet};
use super::rules::{self, Rule};

/// What a subject asks to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Read a document (ITI-43, the portals).
    Read,
    /// See that a document exists, in a listing (ITI-18, the portals).
    List,
    /// Change a document's confidentiality mode (ITI-57, the patient portal).
    ChangeMode { to: ConfidentialityMode },
    /// Submit a new document in a mode (ITI-41).
    Submit { mode: ConfidentialityMode },
    /// Replace a document by a corrected one (ITI-41 with RPLC).
    Replace,
    /// Report an anomaly in a document to the Agence.
    ReportAnomaly,
    /// See who accessed the DSP, and when.
    SeeAccessTrail,
    /// Present the patient's code de présence, to be granted access for the
    /// consultation (the grant makes the subject PC).
    PresentPresenceCode,
}

impl Operation {
    /// Whether the operation acts on an existing document (and so needs its
    /// author and mode).
    pub fn concerns_document(self) -> bool {
        matches!(
            self,
            Operation::Read
                | Operation::List
                | Operation::ChangeMode { .. }
                | Operation::Replace
                | Operation::ReportAnomaly
        )
    }

    /// A stable name, for the access log.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::List => "list",
            Operation::ChangeMode { .. } => "change_mode",
            Operation::Submit { .. } => "submit",
            Operation::Replace => "replace",
            Operation::ReportAnomaly => "report_anomaly",
            Operation::SeeAccessTrail => "see_access_trail",
            Operation::PresentPresenceCode => "present_presence_code",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operation::Read => f.write_str("read the document"),
            Operation::List => f.write_str("list the document"),
            Operation::ChangeMode { to } => write!(f, "change the document's mode to {to}"),
            Operation::Submit { mode } => write!(f, "submit a document in mode {mode}"),
            Operation::Replace => f.write_str("replace the document"),
            Operation::ReportAnomaly => f.write_str("report an anomaly in the document"),
            Operation::SeeAccessTrail => f.write_str("see the access trail"),
            Operation::PresentPresenceCode => f.write_str("present the patient's code de présence"),
        }
    }
}

/// How a decision came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    Allowed,
    Refused,
    /// A mode change to the mode the document already has: refused as a
    /// no-op, with its own error (rule MODE-SAME).
    AlreadyInMode,
}

/// The engine's answer, with the rule it rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    pub rule: &'static Rule,
    pub operation: Operation,
    /// The roles the decision was taken on.
    pub roles: RoleSet,
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        self.outcome == Outcome::Allowed
    }

    /// For an error message: why it was refused (or, when allowed, what
    /// allowed it).
    pub fn reason(&self) -> &'static str {
        match self.outcome {
            Outcome::Allowed => self.rule.statement,
            Outcome::Refused | Outcome::AlreadyInMode => self.rule.refusal,
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = match self.outcome {
            Outcome::Allowed => "allowed",
            Outcome::Refused | Outcome::AlreadyInMode => "refused",
        };
        write!(
            f,
            "{} ({}): {verdict} by rule {}: {}",
            self.operation,
            self.roles,
            self.rule.id,
            self.reason()
        )
    }
}

/// Decides `operation` for the subject, patient and document in `facts`.
/// The one entry point of the sandbox's access control.
pub fn decide(facts: &Facts, operation: Operation) -> Decision {
    if facts.is_inactive_professional() {
        return Decision {
            outcome: Outcome::Refused,
            rule: &rules::HPD,
            operation,
            roles: RoleSet::EMPTY,
        };
    }
    decide_for_roles(
        facts.roles(),
        operation,
        facts.document.as_ref().map(|doc| doc.mode),
    )
}

/// Decides `operation` for a subject holding `roles`, on a document in
/// `mode` (`None` when the operation concerns no document). [`decide`]
/// derives the roles from facts; the generated table calls this directly.
pub fn decide_for_roles(
    roles: RoleSet,
    operation: Operation,
    mode: Option<ConfidentialityMode>,
) -> Decision {
    let answer = |outcome, rule| Decision {
        outcome,
        rule,
        operation,
        roles,
    };
    // policy.md: BL « overrides every other role, AUT included »; PWD
    // « never reaches DSP documents ».
    if roles.contains(Role::BlackListed) {
        return answer(Outcome::Refused, &rules::BLACK_LIST);
    }
    if roles.contains(Role::PasswordSession) {
        return answer(Outcome::Refused, &rules::PASSWORD_SESSION);
    }
    if roles.is_empty() {
        return answer(Outcome::Refused, &rules::NO_RELATION);
    }

    match operation {
        Operation::SeeAccessTrail => {
            let allowed = roles.contains(Role::Patient) || roles.contains(Role::Accompagnateur);
            answer(allowed_or_refused(allowed), &rules::ACCESS_TRAIL)
        }
        Operation::PresentPresenceCode => {
            // Any professional with a card session may be given the code;
            // BL and PWD were refused above.
            let professional = PROFESSIONAL_ROLES
                .iter()
                .chain(&[Role::Other])
                .any(|role| roles.contains(*role));
            answer(allowed_or_refused(professional), &rules::PRESENCE_CODE)
        }
        Operation::Submit { .. } => {
            if [Role::Referent, Role::Cercle, Role::PresenceCode]
                .iter()
                .any(|role| roles.contains(*role))
            {
                answer(Outcome::Allowed, &rules::SUBMIT)
            } else if roles == RoleSet::only(Role::Other) {
                answer(Outcome::Refused, &rules::NO_CARE_RELATION)
            } else {
                answer(Outcome::Refused, &rules::SUBMIT)
            }
        }
        Operation::Read
        | Operation::List
        | Operation::ChangeMode { .. }
        | Operation::Replace
        | Operation::ReportAnomaly => {
            let Some(mode) = mode else {
                return answer(Outcome::Refused, &rules::DOCUMENT_MISSING);
            };
            let (readable, read_rule) = combine(roles, |role| read_verdict(role, mode));
            // Nobody acts on a document they may not read: the refusal then
            // names the reading rule, not the rule of the act.
            if !readable {
                return answer(Outcome::Refused, read_rule);
            }
            match operation {
                Operation::ChangeMode { to } => match change_rule(mode, to) {
                    None => answer(Outcome::AlreadyInMode, &rules::MODE_SAME),
                    Some((changers, rule)) => {
                        let allowed = changers.iter().any(|role| roles.contains(*role));
                        answer(allowed_or_refused(allowed), rule)
                    }
                },
                Operation::Replace => answer(
                    allowed_or_refused(roles.contains(Role::Author)),
                    &rules::REPLACE,
                ),
                Operation::ReportAnomaly => {
                    let professional_reader = PROFESSIONAL_ROLES
                        .iter()
                        .any(|role| roles.contains(*role) && read_verdict(*role, mode).0);
                    answer(
                        allowed_or_refused(professional_reader),
                        &rules::REPORT_ANOMALY,
                    )
                }
                _ => answer(Outcome::Allowed, read_rule),
            }
        }
    }
}

/// Roles that are professionals with a relationship (OTH reads nothing).
const PROFESSIONAL_ROLES: [Role; 4] = [
    Role::Author,
    Role::Referent,
    Role::Cercle,
    Role::PresenceCode,
];

/// The order in which roles are asked which rule grants or refuses: the
/// charter's own grants first, the author's decision-based grant last.
const PRECEDENCE: [Role; 7] = [
    Role::Patient,
    Role::Accompagnateur,
    Role::Referent,
    Role::Cercle,
    Role::PresenceCode,
    Role::Author,
    Role::Other,
];

fn allowed_or_refused(allowed: bool) -> Outcome {
    if allowed {
        Outcome::Allowed
    } else {
        Outcome::Refused
    }
}

/// Allowed if any held role allows (naming the first granting rule);
/// otherwise refused by the rule of the first held role.
fn combine(
    roles: RoleSet,
    verdict: impl Fn(Role) -> (bool, &'static Rule),
) -> (bool, &'static Rule) {
    let held = || PRECEDENCE.into_iter().filter(|role| roles.contains(*role));
    if let Some(rule) = held()
        .map(&verdict)
        .find_map(|(allowed, rule)| allowed.then_some(rule))
    {
        return (true, rule);
    }
    let refusing_rule = held()
        .map(|role| verdict(role).1)
        .next()
        .unwrap_or(&rules::NO_RELATION);
    (false, refusing_rule)
}

/// Who reads a document in `mode` (policy.md, "Read (and list) a document,
/// by its mode"), one role at a time.
fn read_verdict(role: Role, mode: ConfidentialityMode) -> (bool, &'static Rule) {
    use ConfidentialityMode::{Normal, Prive, Restreint, VisiteAnnonce};
    match (role, mode) {
        (Role::BlackListed, _) => (false, &rules::BLACK_LIST),
        (Role::PasswordSession, _) => (false, &rules::PASSWORD_SESSION),
        (Role::Other, _) => (false, &rules::NO_CARE_RELATION),
        (Role::Author, Prive) => (true, &rules::READ_PRIVE),
        (Role::Author, Normal | Restreint | VisiteAnnonce) => (true, &rules::READ_AUTHOR),
        (Role::Patient, Normal | Restreint) => (true, &rules::READ_PATIENT),
        (Role::Patient, Prive) => (true, &rules::READ_PRIVE),
        (Role::Accompagnateur, Normal | Restreint | Prive) => (true, &rules::READ_ACCOMPAGNATEUR),
        (Role::Patient | Role::Accompagnateur, VisiteAnnonce) => (false, &rules::READ_ANNONCE),
        (Role::Referent | Role::Cercle | Role::PresenceCode, Normal) => (true, &rules::READ_NORMAL),
        (Role::Referent | Role::Cercle, Restreint) => (true, &rules::READ_RESTREINT),
        (Role::PresenceCode, Restreint) => (false, &rules::READ_RESTREINT),
        (Role::Referent | Role::Cercle | Role::PresenceCode, Prive) => (false, &rules::READ_PRIVE),
        (Role::Referent | Role::Cercle | Role::PresenceCode, VisiteAnnonce) => {
            (true, &rules::READ_ANNONCE)
        }
    }
}

/// Who may change a document from `from` to `to` (policy.md, "Change a
/// document's mode"); `None` when `to` is `from`.
fn change_rule(
    from: ConfidentialityMode,
    to: ConfidentialityMode,
) -> Option<(&'static [Role], &'static Rule)> {
    use ConfidentialityMode::{Normal, Prive, Restreint, VisiteAnnonce};
    if from == to {
        return None;
    }
    Some(match (from, to) {
        (_, VisiteAnnonce) => (&[], &rules::MODE_TO_ANNONCE),
        (Normal, Restreint) => (
            &[Role::Patient, Role::Author, Role::Referent, Role::Cercle],
            &rules::MODE_NORMAL_TO_RESTREINT,
        ),
        (Normal, Prive) => (&[Role::Patient, Role::Author], &rules::MODE_NORMAL_TO_PRIVE),
        (Restreint, _) => (
            &[Role::Patient, Role::Referent, Role::Cercle],
            &rules::MODE_FROM_RESTREINT,
        ),
        (Prive, _) => (&[Role::Patient], &rules::MODE_FROM_PRIVE),
        (VisiteAnnonce, _) => (
            &[
                Role::Author,
                Role::Referent,
                Role::Cercle,
                Role::PresenceCode,
            ],
            &rules::MODE_FROM_ANNONCE,
        ),
        // Normal → Normal was answered above (from == to).
        (Normal, Normal) => return None,
    })
}
