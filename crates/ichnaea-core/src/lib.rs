#![doc = include_str!("../README.md")]

pub mod enums;
pub mod geo;
pub mod grid;
pub mod ids;
pub mod metrics;
pub mod queue;
pub mod shard;

pub use enums::{Radio, ReportSource, StatKey};
pub use grid::Grid;
pub use ids::{CellAreaId, CellId, IdError, Mac};
pub use queue::QueueName;
pub use shard::{BlueShard, CellShard, DataMapShard, WifiShard};
