//! dspconnectd internals: configuration, the card and the session, the
//! durable outbox, the IPC server and the audit log (the platform client
//! comes with issue 4's other parts).

#![forbid(unsafe_code)]

pub mod audit;
pub mod card;
pub mod config;
pub mod drop_folder;
pub mod dspctl;
pub mod ipc_server;
pub mod outbox;
pub mod private_fs;
pub mod session;
pub mod tray;

#[cfg(test)]
mod test_support;
