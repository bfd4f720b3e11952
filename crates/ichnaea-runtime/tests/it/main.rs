//! Integration tests of the runtime crate against a real Redis server.

mod queue;
mod redis;
