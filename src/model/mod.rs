//! Domain model: patients, professionals, documents and the charter's
//! vocabulary (modes de confidentialité, code de présence, …).

mod mode;

pub use mode::{ConfidentialityMode, UnknownMode};
