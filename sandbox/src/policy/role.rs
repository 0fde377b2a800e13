//! The roles of policy.md, for one patient and one document. A subject may
//! hold several at once (the author who is also the médecin référent).

use std::fmt;

/// One role of policy.md's role table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// P: the patient, titulaire du DSP.
    Patient,
    /// ACC: the patient's accompagnateur (reads as the patient).
    Accompagnateur,
    /// AUT: the professional who submitted the document.
    Author,
    /// REF: the patient's médecin référent.
    Referent,
    /// CMC: a professional in the cercle médical de confiance (white list).
    Cercle,
    /// PC: a professional holding a valid consultation grant, obtained with
    /// the patient's code de présence.
    PresenceCode,
    /// OTH: a professional in the HPD with none of the roles above.
    Other,
    /// BL: a professional on the patient's black list; overrides every other role.
    BlackListed,
    /// PWD: a professional in a password session; never reaches documents.
    PasswordSession,
}

impl Role {
    /// Every role, in policy.md's column order.
    pub const ALL: [Role; 9] = [
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

    /// policy.md's short name (P, ACC, AUT, …).
    pub fn code(self) -> &'static str {
        match self {
            Role::Patient => "P",
            Role::Accompagnateur => "ACC",
            Role::Author => "AUT",
            Role::Referent => "REF",
            Role::Cercle => "CMC",
            Role::PresenceCode => "PC",
            Role::Other => "OTH",
            Role::BlackListed => "BL",
            Role::PasswordSession => "PWD",
        }
    }

    /// Who holds the role, in the charter's words.
    pub fn description(self) -> &'static str {
        match self {
            Role::Patient => "the patient (titulaire du DSP), in the patient portal",
            Role::Accompagnateur => {
                "the patient's accompagnateur DSP, in the patient portal (reads as the patient does)"
            }
            Role::Author => "the professional who submitted the document",
            Role::Referent => "the patient's médecin référent",
            Role::Cercle => {
                "a professional in the patient's cercle médical de confiance (white list)"
            }
            Role::PresenceCode => {
                "a professional holding a valid consultation grant for this patient (code de présence)"
            }
            Role::Other => "a professional in the HPD with none of the roles above",
            Role::BlackListed => {
                "a professional on the patient's black list: overrides every other role, the author's included"
            }
            Role::PasswordSession => {
                "a professional in a password session (matricule + password): never reaches DSP documents"
            }
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The roles a subject holds for one patient and one document.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RoleSet(u16);

impl RoleSet {
    /// No role: the subject has no standing in this DSP.
    pub const EMPTY: RoleSet = RoleSet(0);

    /// Exactly one role.
    pub fn only(role: Role) -> Self {
        RoleSet(role.bit())
    }

    /// These roles.
    pub fn of(roles: &[Role]) -> Self {
        roles.iter().fold(Self::EMPTY, |set, &role| set.with(role))
    }

    /// This set and `role`.
    #[must_use]
    pub fn with(self, role: Role) -> Self {
        RoleSet(self.0 | role.bit())
    }

    pub fn contains(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The roles held, in policy.md's column order.
    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL
            .into_iter()
            .filter(move |role| self.contains(*role))
    }
}

impl fmt::Debug for RoleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(Role::code)).finish()
    }
}

impl fmt::Display for RoleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("no role");
        }
        let codes: Vec<&str> = self.iter().map(Role::code).collect();
        f.write_str(&codes.join("+"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_holds_exactly_the_roles_put_in() {
        let set = RoleSet::of(&[Role::Author, Role::Referent]);
        assert!(set.contains(Role::Author) && set.contains(Role::Referent));
        for role in Role::ALL {
            if !matches!(role, Role::Author | Role::Referent) {
                assert!(!set.contains(role), "{role}");
            }
        }
        assert_eq!(set.to_string(), "AUT+REF");
        assert_eq!(RoleSet::EMPTY.to_string(), "no role");
        assert_eq!(set.iter().count(), 2);
    }
}
