#![doc = include_str!("../README.md")]

pub mod api_key;
pub mod areas;
pub mod cells;
pub mod convert;
pub mod datamap;
pub mod error;
pub mod export_config;
pub mod health;
pub mod in_list;
pub mod markers;
pub mod migrate;
pub mod pool;
pub mod retry;
pub mod schema;
pub mod shard_lock;
pub mod shards;
mod sql_text;
pub mod stations;
pub mod stats;

pub use error::{DbError, LockFailure};
pub use markers::BatchMarker;
pub use pool::{DbConn, DbPool, DbPools, PoolConfig, PoolStatus};
pub use retry::{BatchStatus, Retried};
pub use shards::{StationShard, StationTable};
