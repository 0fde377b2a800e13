//! dspconnectd internals. Filled by issue 4.

#![forbid(unsafe_code)]

pub mod card;
pub mod session;
