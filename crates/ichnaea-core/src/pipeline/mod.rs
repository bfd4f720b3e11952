//! The data pipeline's maths: everything between a contributor's report and the station,
//! area, datamap and statistics tables, as pure functions (`pipeline.md` §3.4–§8).
//!
//! # Why pure
//!
//! The reference interleaves its algorithms with SQL, Redis pipelines and Celery tasks, which
//! makes the numbers hard to test and the failure modes hard to see. Here every decision is
//! a function of its inputs: the worker loads rows, calls these functions with the current
//! time and a [`RegionLookup`], and persists exactly what comes back. No function reads a
//! clock, a database or a random source, so the same inputs always give the same outputs and
//! the test catalogue of the reference (`pipeline.md` §19) runs as plain unit tests.
//!
//! # Stages
//!
//! | stage | module | reference |
//! |---|---|---|
//! | report → typed observations, de-duplication, datamap cells, metrics | [`export`], [`validate`] | §4 |
//! | observation payloads of the `update_*` queues | [`observation`] | §3.4 (c) |
//! | observation weights | [`weight`] | §4.7 |
//! | station state machine, weighted merge, blocking | [`station`] | §5.2–§5.8 |
//! | batch intake, counters, area ids | [`batch`] | §5.1, §5.9 |
//! | cell areas | [`area`] | §6 |
//! | datamap recording and cleanup | [`datamap`] | §7 |
//! | stat counters, `stat` and `region_stat` | [`stats`] | §8 |
//!
//! # Delivery is at-least-once: what is idempotent
//!
//! A batch may be processed twice (a crash after the commit but before the queue trim, or a
//! retried task). The functions differ in how they tolerate that; the worker must
//! de-duplicate by batch id where they do not:
//!
//! * **idempotent**: [`export::internal_export`] and [`validate`] (pure transforms — but
//!   pushing their output twice duplicates observations downstream);
//!   [`area::update_area`] (a function of the current cell rows only);
//!   [`datamap::plan_datamap_update`] (a second run finds `modified = today` and does
//!   nothing); [`stats::plan_region_stats`]; a **confirm** of a station (a second confirm
//!   the same day is a no-op).
//! * **not idempotent**: [`station::update_station`] and [`batch::StationBatch::apply`]
//!   (samples and weights accumulate, `block_count` increments, a second `new` becomes a
//!   `change`), and the stat counter deltas they return (`INCRBY`);
//!   [`stats::fold_stat_counter`] is safe to repeat only because it also returns the
//!   matching `DECRBY` — the database update and the counter decrement must both happen
//!   exactly once.
//!
//! # 5G NR
//!
//! [`crate::Radio::Nr`] is handled wherever a cell radio appears: validation ranges
//! ([`validate`]: 24-bit TAC 1–16 777 213, 36-bit NCI 1–2³⁶−1, PCI 0–1007, ASU 0–97, signal
//! −140…−43 dBm, TA 0–3846), weights ([`weight`]: LTE's RSRP scale), station updates, areas
//! and region statistics (an `nr` column).
//!
//! # Quirks (`pipeline.md` §20) — decisions
//!
//! Kept for compatibility: 3 (the confirm metric counts change + confirm + replace; the
//! separate counts are available too), 4 (stat counters include observations of blocked
//! stations and stations created blocked), 5 (confirm does not touch `modified`), 6 (the
//! "any comparator" `better()` de-duplication), 7 (no MCC/region consistency check for
//! cells), 8 (NULL-weight imported stations are re-positioned by their first change), 9 and
//! 20 (half-to-even rounding of the long-term block threshold, grid scaling and the average
//! cell radius), 10 (blocked stations keep their region), 23 (all dates UTC, by type).
//!
//! Fixed: 1 (the datamap push is gated: [`export::internal_export`] only returns grid cells
//! when the caller says the datamap consumer runs), 19 (a positioned cell with NULL radius
//! no longer breaks the area update: it is left out of the average; an area bound no cell
//! has falls back to the centre instead of NaN), a signal that would give an infinite
//! weight (possible only in unvalidated queue items) gives weight 0 instead of crashing,
//! lenient parsing never crashes on malformed report JSON, and `block_count` saturates at
//! 255 (its `tinyint unsigned` column).
//!
//! Not in this crate (IO, scheduling or other services): 2, 11–18, 21, 22.

pub mod area;
pub mod batch;

pub mod datamap;
pub mod export;
pub mod observation;
pub mod region;
pub mod station;
pub mod stats;
pub mod validate;
pub mod weight;

pub use crate::time::{Date, DateTime};
pub use area::{AreaCell, AreaOutcome, CellAreaRow, update_area};
pub use batch::{BatchCounters, BatchOutcome, StationBatch};
pub use datamap::{DatamapPlan, plan_datamap_update};
pub use export::{ExportCounts, ExportItem, InternalExport, internal_export};
pub use observation::{
    BlueObservation, CellObservation, Observation, ObservationReport, StationObservation,
    WifiObservation,
};
pub use region::{NoRegions, RegionCode, RegionLookup};
pub use station::{StationKey, StationRow, StationUpdate, Transition, update_station};

use crate::enums::StatKey;

/// The three kinds of station, with the constants that differ between them (`pipeline.md`
/// §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StationKind {
    /// Bluetooth beacons (`blue_shard_*`).
    Blue,
    /// WiFi access points (`wifi_shard_*`).
    Wifi,
    /// Cells of every radio (`cell_gsm`, `cell_wcdma`, `cell_lte`, `cell_nr`).
    Cell,
}

impl StationKind {
    /// All kinds.
    pub const ALL: [StationKind; 3] = [StationKind::Blue, StationKind::Wifi, StationKind::Cell];

    /// `MAX_DIST`: how far apart (metres) observations may be to be consistent with each
    /// other, and how far from the station to agree with it (`*_MAX_RADIUS`).
    pub const fn max_dist(self) -> f64 {
        match self {
            StationKind::Blue => 100.0,
            StationKind::Wifi => 5_000.0,
            StationKind::Cell => 100_000.0,
        }
    }

    /// The worst observation accuracy (metres) that still gets a non-zero weight.
    pub const fn max_accuracy(self) -> f64 {
        match self {
            StationKind::Blue => 100.0,
            StationKind::Wifi => 200.0,
            StationKind::Cell => 1_000.0,
        }
    }

    /// The daily stat counter of processed observations.
    pub const fn stat_observation_key(self) -> StatKey {
        match self {
            StationKind::Blue => StatKey::Blue,
            StationKind::Wifi => StatKey::Wifi,
            StationKind::Cell => StatKey::Cell,
        }
    }

    /// The daily stat counter of created stations.
    pub const fn stat_station_key(self) -> StatKey {
        match self {
            StationKind::Blue => StatKey::UniqueBlue,
            StationKind::Wifi => StatKey::UniqueWifi,
            StationKind::Cell => StatKey::UniqueCell,
        }
    }

    /// The `type:` metric tag value and the JSON section name (`blue`, `wifi`, `cell`).
    pub const fn tag(self) -> &'static str {
        match self {
            StationKind::Blue => "blue",
            StationKind::Wifi => "wifi",
            StationKind::Cell => "cell",
        }
    }
}

/// Largest `samples` value (the `int unsigned` column).
pub const MAX_SAMPLES: u32 = u32::MAX;
/// Largest stored `weight`.
pub const MAX_WEIGHT: f64 = 1_000_000_000.0;
/// How much weight of a station's history at most counts against new observations.
pub const MAX_OLD_WEIGHT: f64 = 10_000.0;
/// A station not modified for more than this many days may be replaced instead of blocked.
pub const MAX_OLD_DAYS: i32 = 365;
/// A block keeps a station blocked on the day of blocking and this many days minus one
/// after.
pub const TEMPORARY_BLOCK_DAYS: i64 = 2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn station_constants_match_the_reference() {
        assert_eq!(StationKind::Blue.max_dist(), 100.0);
        assert_eq!(StationKind::Wifi.max_dist(), 5000.0);
        assert_eq!(StationKind::Cell.max_dist(), 100_000.0);
        assert_eq!(StationKind::Wifi.max_accuracy(), 200.0);
        assert_eq!(StationKind::Blue.stat_station_key(), StatKey::UniqueBlue);
        assert_eq!(StationKind::Cell.stat_observation_key(), StatKey::Cell);
        let tags: Vec<_> = StationKind::ALL.iter().map(|k| k.tag()).collect();
        assert_eq!(tags, ["blue", "wifi", "cell"]);
    }
}
