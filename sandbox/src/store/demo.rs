//! Demo data a fresh sandbox starts with: one person for each situation the
//! charter describes, with fixed identifiers and documented test passwords
//! (this is a sandbox: none of them is a secret).
//!
//! | who | eHealth id / login | situation |
//! |---|---|---|
//! | Dr Anne Weber, médecine générale | `SBX1001` | médecin référent of Marie Reuter |
//! | Dr Marc Schmit, cardiologie | `SBX1002` | in Marie Reuter's cercle de confiance |
//! | Dr Paul Hoffmann, dermatologie | `SBX1003` | on Marie Reuter's black list |
//! | Claire Muller, pharmacienne | `SBX1004` | no relationship with anyone |
//! | Dr Luc Wagner, médecine générale | `SBX1005` | pending activation (a letter code is issued) |
//! | Marie Reuter | `1945093006704` | patient with référent, cercle, black list and accompagnateur |
//! | Tom Kieffer | `2005062201818` | patient who named nobody |
//! | Henri Bausch | `1893120105732` | patient who named nobody (the matricule of the XDS examples) |
//! | Jean Reuter | `jean.reuter` | accompagnateur of Marie Reuter |

use rusqlite::{OptionalExtension, params};
use time::{Duration, OffsetDateTime};

use super::hpd::NewProfessional;
use super::patients::NewPatient;
use super::secret::OneTimeCode;
use super::{During, Result, Store, StoreError};
use crate::policy::{AccompagnateurId, EHealthId, PatientId, ProfessionalStatus};

/// Portal password of every demo patient.
pub const DEMO_PATIENT_PASSWORD: &str = "sandbox-patient";
/// Portal password of every demo accompagnateur.
pub const DEMO_ACCOMPAGNATEUR_PASSWORD: &str = "sandbox-accompagnateur";
/// Password (password-session login with their matricule) of every active
/// demo professional.
pub const DEMO_PROFESSIONAL_PASSWORD: &str = "sandbox-professional";

/// How long the pending professional's activation letter stays valid.
const DEMO_LETTER_LIFETIME: Duration = Duration::days(90);
/// The `sandbox_meta` key recording that the demo data was seeded.
const SEEDED_KEY: &str = "demo_seeded_at";

/// A demo professional.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DemoProfessional {
    pub ehealth_id: &'static str,
    pub given_name: &'static str,
    pub family_name: &'static str,
    pub profession: &'static str,
    pub specialty: Option<&'static str>,
    /// Their own matricule (the password-session login).
    pub matricule: &'static str,
    pub email: Option<&'static str>,
    pub status: ProfessionalStatus,
    /// What they are in the demo.
    pub situation: &'static str,
}

/// A demo patient and the consents they gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DemoPatient {
    pub matricule: &'static str,
    pub given_name: &'static str,
    pub family_name: &'static str,
    pub referent: Option<&'static str>,
    pub cercle: &'static [&'static str],
    pub black_list: &'static [&'static str],
    pub accompagnateurs: &'static [&'static str],
}

/// A demo accompagnateur.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DemoAccompagnateur {
    pub login: &'static str,
    pub given_name: &'static str,
    pub family_name: &'static str,
}

// Letters and digits only: the client's model (`dspconnect::model::EHealthId`)
// takes 6 to 20 of them, and the patient-informed statement names its author
// with it.
pub const DEMO_REFERENT_GP: &str = "SBX1001";
pub const DEMO_CERCLE_SPECIALIST: &str = "SBX1002";
pub const DEMO_BLACK_LISTED: &str = "SBX1003";
pub const DEMO_PHARMACIST: &str = "SBX1004";
pub const DEMO_PENDING_ACTIVATION: &str = "SBX1005";
/// Marie Reuter: référent, cercle, black list and accompagnateur.
pub const DEMO_PATIENT_WITH_RELATIONS: &str = "1945093006704";
/// Tom Kieffer: named nobody.
pub const DEMO_PATIENT_WITHOUT_RELATIONS: &str = "2005062201818";
/// Henri Bausch: named nobody; the matricule of the XDS examples.
pub const DEMO_PATIENT_EXAMPLE_MATRICULE: &str = "1893120105732";
pub const DEMO_ACCOMPAGNATEUR: &str = "jean.reuter";

pub const DEMO_PROFESSIONALS: [DemoProfessional; 5] = [
    DemoProfessional {
        ehealth_id: DEMO_REFERENT_GP,
        given_name: "Anne",
        family_name: "Weber",
        profession: "médecin",
        specialty: Some("médecine générale"),
        matricule: "1972110504599",
        email: Some("anne.weber@sandbox.invalid"),
        status: ProfessionalStatus::Active,
        situation: "médecin référent of Marie Reuter",
    },
    DemoProfessional {
        ehealth_id: DEMO_CERCLE_SPECIALIST,
        given_name: "Marc",
        family_name: "Schmit",
        profession: "médecin",
        specialty: Some("cardiologie"),
        matricule: "1969012507186",
        email: Some("marc.schmit@sandbox.invalid"),
        status: ProfessionalStatus::Active,
        situation: "in Marie Reuter's cercle de confiance",
    },
    DemoProfessional {
        ehealth_id: DEMO_BLACK_LISTED,
        given_name: "Paul",
        family_name: "Hoffmann",
        profession: "médecin",
        specialty: Some("dermatologie"),
        matricule: "1963070808912",
        email: Some("paul.hoffmann@sandbox.invalid"),
        status: ProfessionalStatus::Active,
        situation: "on Marie Reuter's black list",
    },
    DemoProfessional {
        ehealth_id: DEMO_PHARMACIST,
        given_name: "Claire",
        family_name: "Muller",
        profession: "pharmacien",
        specialty: None,
        matricule: "1977041205615",
        email: Some("claire.muller@sandbox.invalid"),
        status: ProfessionalStatus::Active,
        situation: "no relationship with any patient (a code de présence gives access)",
    },
    DemoProfessional {
        ehealth_id: DEMO_PENDING_ACTIVATION,
        given_name: "Luc",
        family_name: "Wagner",
        profession: "médecin",
        specialty: Some("médecine générale"),
        matricule: "1981090309264",
        email: None,
        status: ProfessionalStatus::PendingActivation,
        situation: "pending activation: the activation letter's code is printed at first start",
    },
];

pub const DEMO_PATIENTS: [DemoPatient; 3] = [
    DemoPatient {
        matricule: DEMO_PATIENT_WITH_RELATIONS,
        given_name: "Marie",
        family_name: "Reuter",
        referent: Some(DEMO_REFERENT_GP),
        cercle: &[DEMO_CERCLE_SPECIALIST],
        black_list: &[DEMO_BLACK_LISTED],
        accompagnateurs: &[DEMO_ACCOMPAGNATEUR],
    },
    DemoPatient {
        matricule: DEMO_PATIENT_WITHOUT_RELATIONS,
        given_name: "Tom",
        family_name: "Kieffer",
        referent: None,
        cercle: &[],
        black_list: &[],
        accompagnateurs: &[],
    },
    DemoPatient {
        matricule: DEMO_PATIENT_EXAMPLE_MATRICULE,
        given_name: "Henri",
        family_name: "Bausch",
        referent: None,
        cercle: &[],
        black_list: &[],
        accompagnateurs: &[],
    },
];

pub const DEMO_ACCOMPAGNATEURS: [DemoAccompagnateur; 1] = [DemoAccompagnateur {
    login: DEMO_ACCOMPAGNATEUR,
    given_name: "Jean",
    family_name: "Reuter",
}];

/// What seeding did.
#[derive(Debug)]
pub struct DemoSeed {
    /// `false` when the store already held the demo data (nothing was done).
    pub seeded: bool,
    /// The code of the activation letter issued to the pending professional
    /// ([`DEMO_PENDING_ACTIVATION`]), in clear, to print once. Only its hash
    /// is stored.
    pub activation_code: Option<OneTimeCode>,
}

/// A demo constant that does not parse is a defect in this file; the tests
/// parse every one, so this cannot fail at run time.
fn demo_id<T, E>(parsed: std::result::Result<T, E>, value: &str) -> Result<T> {
    parsed.map_err(|_| StoreError::Invalid {
        what: "demo identifier",
        reason: format!("'{value}' does not parse"),
    })
}

impl Store {
    /// Fills an empty store with the demo data. Idempotent: a store that was
    /// seeded is left as it is; one seeded halfway (interrupted) is completed.
    pub fn seed_demo(&self, now: OffsetDateTime) -> Result<DemoSeed> {
        if self.seeded_at()?.is_some() {
            return Ok(DemoSeed {
                seeded: false,
                activation_code: None,
            });
        }
        for demo in DEMO_PROFESSIONALS {
            let id = demo_id(EHealthId::new(demo.ehealth_id), demo.ehealth_id)?;
            if self.professional(&id)?.is_some() {
                continue;
            }
            self.add_professional(
                &NewProfessional {
                    ehealth_id: id.clone(),
                    given_name: demo.given_name.into(),
                    family_name: demo.family_name.into(),
                    profession: demo.profession.into(),
                    specialty: demo.specialty.map(Into::into),
                    matricule: demo.matricule.into(),
                    email: demo.email.map(Into::into),
                    status: demo.status,
                },
                now,
            )?;
            if demo.status == ProfessionalStatus::Active {
                self.set_professional_password(&id, DEMO_PROFESSIONAL_PASSWORD)?;
            }
        }
        for demo in DEMO_ACCOMPAGNATEURS {
            let login = demo_id(AccompagnateurId::new(demo.login), demo.login)?;
            if self.accompagnateur(&login)?.is_none() {
                self.add_accompagnateur(
                    &login,
                    demo.given_name,
                    demo.family_name,
                    DEMO_ACCOMPAGNATEUR_PASSWORD,
                    now,
                )?;
            }
        }
        for demo in DEMO_PATIENTS {
            let patient = demo_id(PatientId::new(demo.matricule), demo.matricule)?;
            if self.patient(&patient)?.is_none() {
                self.add_patient(
                    &NewPatient {
                        id: patient.clone(),
                        given_name: demo.given_name.into(),
                        family_name: demo.family_name.into(),
                    },
                    Some(DEMO_PATIENT_PASSWORD),
                    now,
                )?;
            }
            let referent = demo
                .referent
                .map(|id| demo_id(EHealthId::new(id), id))
                .transpose()?;
            self.set_referent(&patient, referent.as_ref(), now)?;
            for id in demo.cercle {
                self.add_to_cercle(&patient, &demo_id(EHealthId::new(*id), id)?, now)?;
            }
            for id in demo.black_list {
                self.add_to_black_list(&patient, &demo_id(EHealthId::new(*id), id)?, now)?;
            }
            for login in demo.accompagnateurs {
                self.name_accompagnateur(
                    &patient,
                    &demo_id(AccompagnateurId::new(*login), login)?,
                    now,
                )?;
            }
        }
        let pending = demo_id(
            EHealthId::new(DEMO_PENDING_ACTIVATION),
            DEMO_PENDING_ACTIVATION,
        )?;
        let activation_code = match self.professional(&pending)? {
            Some(record) if record.status == ProfessionalStatus::PendingActivation => {
                Some(self.issue_activation_letter(&pending, now, DEMO_LETTER_LIFETIME)?)
            }
            _ => None,
        };
        self.with(|connection| {
            connection
                .execute(
                    "INSERT OR REPLACE INTO sandbox_meta (key, value) VALUES (?1, ?2)",
                    params![SEEDED_KEY, now.unix_timestamp().to_string()],
                )
                .during("recording the demo seed")?;
            Ok(())
        })?;
        Ok(DemoSeed {
            seeded: true,
            activation_code,
        })
    }

    /// When the demo data was seeded (Unix seconds as text), if it was.
    fn seeded_at(&self) -> Result<Option<String>> {
        self.with(|connection| {
            connection
                .query_row(
                    "SELECT value FROM sandbox_meta WHERE key = ?1",
                    [SEEDED_KEY],
                    |row| row.get(0),
                )
                .optional()
                .during("reading whether the demo data was seeded")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Luhn check digit over `digits` (the digit to append).
    fn luhn(digits: &[u32]) -> u32 {
        let sum: u32 = digits
            .iter()
            .rev()
            .enumerate()
            .map(|(i, &d)| {
                if i % 2 == 0 {
                    let doubled = d * 2;
                    if doubled > 9 { doubled - 9 } else { doubled }
                } else {
                    d
                }
            })
            .sum();
        (10 - sum % 10) % 10
    }

    /// Verhoeff check digit over `digits` (the digit to append).
    fn verhoeff(digits: &[u32]) -> u32 {
        const D: [[u32; 10]; 10] = [
            [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
            [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
            [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
            [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
            [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
            [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
            [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
            [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
            [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
            [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
        ];
        const P: [[u32; 10]; 8] = [
            [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
            [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
            [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
            [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
            [9, 4, 5, 3, 1, 2, 7, 8, 6, 0],
            [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
            [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
            [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
        ];
        const INVERSE: [u32; 10] = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];
        let check = digits.iter().rev().enumerate().fold(0, |c, (i, &d)| {
            D[c as usize][P[(i + 1) % 8][d as usize] as usize]
        });
        INVERSE[check as usize]
    }

    /// YYYYMMDD + serial + Luhn + Verhoeff, both over the first 11 digits,
    /// with a real calendar date.
    fn is_valid_matricule(text: &str) -> bool {
        let digits: Vec<u32> = text.chars().filter_map(|c| c.to_digit(10)).collect();
        if digits.len() != 13 || text.len() != 13 {
            return false;
        }
        let number =
            |range: std::ops::Range<usize>| digits[range].iter().fold(0u32, |n, d| n * 10 + d);
        let date_ok = time::Month::try_from(number(4..6) as u8)
            .ok()
            .and_then(|month| {
                time::Date::from_calendar_date(number(0..4) as i32, month, number(6..8) as u8).ok()
            })
            .is_some();
        date_ok && digits[11] == luhn(&digits[..11]) && digits[12] == verhoeff(&digits[..11])
    }

    #[test]
    fn check_digit_helpers_agree_with_the_documented_example() {
        assert!(is_valid_matricule("1893120105732"));
        // A changed digit breaks at least one check digit.
        for bad in [
            "1893120105733",
            "1893120105722",
            "1893120105832",
            "1893130105732",
        ] {
            assert!(!is_valid_matricule(bad), "{bad}");
        }
        // Verhoeff catches the adjacent transposition Luhn misses (09 ↔ 90).
        assert_eq!(luhn(&[0, 9]), luhn(&[9, 0]));
        assert_ne!(verhoeff(&[0, 9]), verhoeff(&[9, 0]));
    }

    #[test]
    fn every_demo_matricule_is_valid() {
        for patient in DEMO_PATIENTS {
            assert!(
                is_valid_matricule(patient.matricule),
                "{}",
                patient.matricule
            );
        }
        for professional in DEMO_PROFESSIONALS {
            assert!(
                is_valid_matricule(professional.matricule),
                "{}",
                professional.matricule
            );
        }
    }

    #[test]
    fn every_demo_identifier_parses() {
        for professional in DEMO_PROFESSIONALS {
            assert!(EHealthId::new(professional.ehealth_id).is_ok());
            // The client names them with its own type (statements, logins).
            assert!(
                professional
                    .ehealth_id
                    .parse::<dspconnect::model::EHealthId>()
                    .is_ok(),
                "{} is not an eHealth id the client accepts",
                professional.ehealth_id
            );
        }
        for accompagnateur in DEMO_ACCOMPAGNATEURS {
            assert!(AccompagnateurId::new(accompagnateur.login).is_ok());
        }
        for patient in DEMO_PATIENTS {
            assert!(PatientId::new(patient.matricule).is_ok());
        }
    }
}
