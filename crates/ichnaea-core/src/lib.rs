#![doc = include_str!("../README.md")]

pub mod apikey;
pub mod cellcsv;
pub mod dumpcsv;
pub mod enums;
pub mod geo;
pub mod grid;
pub mod ids;
pub mod json;
pub mod locate;
pub mod metrics;
pub mod numeric;
pub mod pipeline;
pub mod queue;
pub mod ranges;
pub mod rate_control;
pub mod schema;
pub mod shard;
pub mod tasks;
pub mod time;

pub use enums::{Radio, ReportSource, StatKey};
pub use grid::Grid;
pub use ids::{CellAreaId, CellId, IdError, Mac};
pub use queue::QueueName;
pub use shard::{BlueShard, CellShard, DataMapShard, WifiShard};
pub use time::{Date, DateTime};
