//! Logging, shared by every function: see [`herald::telemetry`].

pub use herald::telemetry::init;
