//! Wire formats of the eSanté platform (IHE XDS.b profile family).
//!
//! No I/O and no async runtime: callers hand in bytes or readers and get
//! typed values back, and the other way round. Both the daemon (client side)
//! and the sandbox (server side) use these types; neither shares its
//! protocol *logic* with the other.

#![forbid(unsafe_code)]

pub mod dsig;
pub mod mtom;
pub mod saml;
pub mod soap;
pub mod wssec;
pub mod xds;
pub mod xml;
mod xsd_datetime;
