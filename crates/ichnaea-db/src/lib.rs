#![doc = include_str!("../README.md")]

pub mod api_key;
pub mod error;
pub mod export_config;
pub mod health;
pub mod migrate;
pub mod pool;
pub mod schema;

pub use error::DbError;
pub use pool::{DbConn, DbPool, DbPools, PoolConfig, PoolStatus};
