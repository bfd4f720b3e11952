#![doc = include_str!("../README.md")]

pub mod config;
pub mod geoip;
pub mod gzip;
pub mod object_store;
pub mod queue;
pub mod redis;
pub mod shutdown;
pub mod telemetry;

/// Every binary that links this crate allocates with mimalloc rather than glibc's
/// `malloc`. Requests and batches build and drop many small objects (JSON trees,
/// reports, rows); in profiles of the submit path glibc spent its time consolidating
/// freed chunks, and mimalloc cut the api's CPU per request by about a fifth
/// (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use config::{ConfigErrors, Role, Settings};
pub use geoip::GeoIp;
pub use queue::{Batch, DataQueue, QueueState};
pub use redis::{RedisClient, RedisError};
pub use telemetry::Metrics;
