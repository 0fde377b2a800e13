//! dspconnectd internals. Filled by issue 4.

#![forbid(unsafe_code)]

pub mod dspctl;
pub mod ipc_server;
