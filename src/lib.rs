//! dspconnect: the client side of Luxembourg's DSP (Dossier de Soins Partagé).
//!
//! This crate holds what every caller of the daemon needs and nothing that
//! talks to the platform: the domain model ([`model`]), and (in later
//! modules) the IPC protocol types, the blocking IPC client and the C ABI.
//! It depends on no other crate of this workspace.

// `unsafe` is allowed only in the C ABI (src/ffi/), each block with a
// SAFETY: comment.
#![deny(unsafe_code)]

pub mod error_code;
#[allow(unsafe_code, non_camel_case_types)]
pub mod ffi;
pub mod ipc;
pub mod model;

pub use error_code::ErrorCode;
