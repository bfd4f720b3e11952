//! `ichnaea-sim`: a simulated world for benchmarking and measuring the accuracy of any
//! Ichnaea-compatible location service.
//!
//! The generator is deterministic from a seed: the same size and seed always give the
//! same dataset, so accuracy numbers of two server versions are comparable. Everything is
//! built from a radio model (`radio`) over a generated world of stations (`world`),
//! contributors' trips (`contrib`) and held-out query points with ground truth (`query`).
//! The commands that talk to a server (`submit`, `evaluate`, `load`) use only the public
//! HTTP API, so they work against the reference service as well as this one.

pub mod contrib;
pub mod dataset;
pub mod evaluate;
pub mod geo;
pub mod http;
pub mod load;
pub mod plot;
pub mod presets;
pub mod query;
pub mod radio;
pub mod submit;
pub mod world;
