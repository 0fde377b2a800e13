//! The sandbox: a stand-in for the eSanté platform that enforces the DSP
//! charter (issue 3).
//!
//! - [`pki`]: the test PKI in the data directory (platform CA and HTTPS
//!   certificate, IdP signing key, LuxTrust test CA issuing card
//!   certificates), card verification and revocation, card export.
//! - [`server`]: HTTPS (axum + rustls with ring) on 127.0.0.1;
//!   [`Sandbox::start`] is what the daemon embeds and the
//!   `dspconnect-sandbox` binary runs.
//! - [`policy`]: the DSP access-policy engine (policy.md), pure logic;
//!   the one place that decides who may do what.
//! - [`store`]: SQLite persistence of the HPD, patients and their
//!   consents, documents, access log, outbox and replay cache.
//! - [`portal`]: the professional web portal, the patient portal and the
//!   admin JSON API.
//! - [`config`]: what an instance is started with.
//! - [`cards`]: the demo professionals' LuxTrust test cards, and exporting them.
//! - [`idp`]: the IdP (card and password login → SAML assertion).
//! - [`activation`]: account activation and password reset, card-signed.
//! - [`services`]: the DSP services (code de présence, portal ticket,
//!   anomaly report, HPD lookup, password change).
//! - [`xds`]: the XDS.b registry and repository (ITI-41, ITI-43, ITI-18,
//!   ITI-57), every act decided by the policy engine.
//! - [`faults`]: fault injection on chosen paths (503, delays, cut or lost
//!   answers) for the daemon's reliability tests.

#![forbid(unsafe_code)]

pub mod activation;
pub mod cards;
pub mod clock;
pub mod config;
pub mod faults;
pub mod idp;
pub mod pki;
pub mod policy;
pub mod portal;
pub mod server;
pub mod services;
pub mod soap_service;
pub mod store;
pub mod virtual_card;
pub mod xds;

pub use config::SandboxConfig;
pub use server::{RunningSandbox, Sandbox, SandboxError};
