#![doc = include_str!("../README.md")]

pub mod config;
pub mod geoip;
pub mod gzip;
pub mod object_store;
pub mod queue;
pub mod redis;
pub mod shutdown;
pub mod telemetry;

pub use config::{ConfigErrors, Role, Settings};
pub use geoip::GeoIp;
pub use queue::{Batch, DataQueue, QueueState};
pub use redis::{RedisClient, RedisError};
pub use telemetry::Metrics;
