//! The fuzz targets of dspconnect's `ihe` readers. The registry is
//! [`targets::TARGETS`]; `ihe/tests/fuzz_seeds.rs` compiles the same file to
//! replay `fuzz/seeds/<target>/` in the ordinary test run.

pub mod targets;
