//! Integration tests of the runtime crate against a real Redis server.

mod geoip;
mod queue;
mod redis;
mod s3;
