//! dspconnectd internals: configuration, the durable outbox and the audit
//! log (session, platform client and IPC server come with issue 4's other
//! parts).

#![forbid(unsafe_code)]

pub mod audit;
pub mod config;
pub mod dspctl;
pub mod ipc_server;
pub mod outbox;
pub mod private_fs;

#[cfg(test)]
mod test_support;
