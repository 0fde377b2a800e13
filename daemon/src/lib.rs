//! dspconnectd internals: configuration, the card and the session, the
//! durable outbox, the platform client, the IPC server, the audit log, and
//! the service that runs them together.

#![forbid(unsafe_code)]

pub mod audit;
pub mod card;
pub mod config;
pub mod drop_folder;
pub mod dspctl;
pub mod ipc_server;
pub mod outbox;
pub mod platform;
pub mod private_fs;
pub mod service;
pub mod session;
pub mod tray;

#[cfg(test)]
mod test_support;
