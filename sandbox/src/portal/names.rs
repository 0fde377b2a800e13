//! How pages name people: professionals as the HPD lists them, patients and
//! accompagnateurs by name. Looked up once per page.

use std::collections::HashMap;

use crate::policy::{AccompagnateurId, EHealthId, SessionKind, Subject};
use crate::store::{Store, StoreError};

/// A page's cache of names.
pub(crate) struct Names<'a> {
    store: &'a Store,
    professionals: HashMap<EHealthId, String>,
    accompagnateurs: HashMap<AccompagnateurId, String>,
}

impl<'a> Names<'a> {
    pub fn new(store: &'a Store) -> Self {
        Self {
            store,
            professionals: HashMap::new(),
            accompagnateurs: HashMap::new(),
        }
    }

    /// "Anne Weber (médecin, médecine générale) — SBX-1001".
    pub fn professional(&mut self, id: &EHealthId) -> Result<String, StoreError> {
        if let Some(name) = self.professionals.get(id) {
            return Ok(name.clone());
        }
        let name = match self.store.professional(id)? {
            Some(record) => {
                let what = match &record.specialty {
                    Some(specialty) => format!("{}, {specialty}", record.profession),
                    None => record.profession.clone(),
                };
                format!("{} ({what}) — {id}", record.full_name())
            }
            None => format!("{id} (not in the HPD)"),
        };
        self.professionals.insert(id.clone(), name.clone());
        Ok(name)
    }

    /// "Jean Reuter (jean.reuter)".
    pub fn accompagnateur(&mut self, login: &AccompagnateurId) -> Result<String, StoreError> {
        if let Some(name) = self.accompagnateurs.get(login) {
            return Ok(name.clone());
        }
        let name = match self.store.accompagnateur(login)? {
            Some(record) => format!("{} {} ({login})", record.given_name, record.family_name),
            None => login.to_string(),
        };
        self.accompagnateurs.insert(login.clone(), name.clone());
        Ok(name)
    }

    /// Who acted, for the access trail.
    pub fn subject(&mut self, subject: &Subject) -> Result<String, StoreError> {
        Ok(match subject {
            Subject::Patient(_) => "the patient".to_owned(),
            Subject::Accompagnateur(login) => {
                format!("accompagnateur {}", self.accompagnateur(login)?)
            }
            Subject::Professional {
                id,
                session: SessionKind::Card,
            } => self.professional(id)?,
            Subject::Professional {
                id,
                session: SessionKind::Password,
            } => format!("{} (password session)", self.professional(id)?),
        })
    }
}
