//! The DSP access-policy engine: the one place where the sandbox decides who
//! may do what to a patient's DSP, exactly as `policy.md` (the charter plus
//! the decisions recorded where it leaves a gap) says. Pure logic, no I/O.
//!
//! - [`Facts`]: who asks, the patient's consents (référent, cercle de
//!   confiance, black list, accompagnateur), the subject's consultation
//!   grants, the document's author and mode. `Store::facts_for` builds them.
//! - [`Facts::roles`]: the policy.md roles (P, ACC, AUT, REF, CMC, PC, OTH,
//!   BL, PWD) the subject holds; several at once is normal.
//! - [`decide`]: an [`Operation`] → a [`Decision`] (allowed, refused or
//!   no-op) naming the [`Rule`] it rests on, with the charter quote or the
//!   recorded decision, and a refusal message fit for an error.
//! - [`render_markdown`]: the decision table, computed from the engine, that
//!   `docs/platform-protocol.md` carries (a test keeps them equal).
//!
//! Nothing else in the sandbox checks roles: handlers gather facts, call
//! [`decide`], and act on the answer.

mod decide;
mod facts;
mod render;
mod role;
pub mod rules;
mod subject;

#[cfg(test)]
mod tests;

pub use decide::{Decision, Operation, Outcome, decide, decide_for_roles};
pub use facts::{ConsultationGrant, DocumentFacts, Facts, PatientRelations, ProfessionalStatus};
pub use render::{DOC_BEGIN_MARKER, DOC_END_MARKER, render_markdown, splice_between_markers};
pub use role::{Role, RoleSet};
pub use rules::Rule;
pub use subject::{
    AccompagnateurId, EHealthId, InvalidIdentifier, PatientId, SessionKind, Subject,
};
