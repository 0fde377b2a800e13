//! The sandbox: a stand-in for the eSanté platform that enforces the DSP
//! charter. Filled by issue 3.

#![forbid(unsafe_code)]

pub mod config;
pub mod pki;
pub mod server;

pub use config::SandboxConfig;
pub use server::{RunningSandbox, Sandbox, SandboxError};
