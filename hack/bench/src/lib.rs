//! What the benchmark binaries share.

pub mod load;
pub mod server;
