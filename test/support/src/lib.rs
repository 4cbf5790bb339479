//! Helpers for integration tests of several crates (a dev-dependency only).

pub mod registry;

pub use registry::Registry;
