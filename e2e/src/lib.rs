//! The end-to-end harness: real parts on loopback, started and stopped by the tests.

pub mod cluster;
pub mod git_server;
