//! Station rows as the locate algorithm reads them from MySQL, and the rules deciding
//! which rows it may use at all (`api.md` §8.4).
//!
//! The database layer loads rows by id and converts them into these plain structs; the
//! algorithm then applies [`Station::is_usable`] / [`AreaStation::is_usable`] itself, so
//! the rules hold however the rows were fetched. A station is unusable when it has no
//! position (never positioned, or its position was cleared when it was blocked) or
//! when it is currently blocked: temporarily for two days after each block, or
//! permanently once it was blocked more often than once per 30 days of its life.
//! Areas are never blocked.
//!
//! Nullable columns stay `Option`s here; how a missing value is treated is decided
//! where it is used and documented there.

use crate::enums::ReportSource;
use crate::ids::{CellAreaId, CellId, Mac};

use super::constants::TEMPORARY_BLOCK_DAYS;
use crate::time::{Date, DateTime};

/// A station row: a WiFi access point, Bluetooth beacon or cell, keyed by `I`.
///
/// All three station tables share these columns (`pipeline.md` §2.5); locate reads all
/// but the bounding box.
#[derive(Debug, Clone, PartialEq)]
pub struct Station<I> {
    /// The station's identifier: a [`Mac`] or a [`CellId`].
    pub id: I,
    /// Latitude of the position estimate; `None` when not positioned or blocked.
    pub lat: Option<f64>,
    /// Longitude of the position estimate; `None` when not positioned or blocked.
    pub lon: Option<f64>,
    /// Metres from the position to the farthest corner of the observed bounding box.
    pub radius: Option<u32>,
    /// GENC region code the station lies in.
    pub region: Option<String>,
    /// Number of observations merged into the position.
    pub samples: Option<u32>,
    /// Best report source seen.
    pub source: Option<ReportSource>,
    /// Sum of merged observation weights.
    pub weight: Option<f64>,
    /// Row creation time.
    pub created: Option<DateTime>,
    /// Last position or block change.
    pub modified: Option<DateTime>,
    /// Last day the station was confirmed by an observation.
    pub last_seen: Option<Date>,
    /// First day the station was blocked.
    pub block_first: Option<Date>,
    /// Most recent day the station was blocked.
    pub block_last: Option<Date>,
    /// Number of times the station was blocked.
    pub block_count: Option<u8>,
}

/// A row of `wifi_shard_*` or `blue_shard_*`.
pub type MacStation = Station<Mac>;
/// A row of `cell_gsm`, `cell_wcdma`, `cell_lte` or `cell_nr`.
pub type CellStation = Station<CellId>;

impl<I> Station<I> {
    /// A station at a position, created and last modified at `when`, last seen that day,
    /// with one sample and no blocks: the shape of a freshly inserted row. Set the other
    /// fields with struct update syntax.
    pub fn new(id: I, lat: f64, lon: f64, when: DateTime) -> Station<I> {
        Station {
            id,
            lat: Some(lat),
            lon: Some(lon),
            radius: None,
            region: None,
            samples: Some(1),
            source: None,
            weight: None,
            created: Some(when),
            modified: Some(when),
            last_seen: Some(when.date()),
            block_first: None,
            block_last: None,
            block_count: None,
        }
    }

    /// The position, when the row has one.
    pub fn position(&self) -> Option<(f64, f64)> {
        Some((self.lat?, self.lon?))
    }

    /// Whether the station is blocked on `today` (the reference's `station_blocked`).
    pub fn is_blocked(&self, today: Date) -> bool {
        station_blocked(self.created, self.block_last, self.block_count, today)
    }

    /// Whether locate may use this row on `today`: it has a position and is not blocked.
    pub fn is_usable(&self, today: Date) -> bool {
        self.position().is_some() && !self.is_blocked(today)
    }

    /// Whether the station was confirmed on `today` (or later). A row that was never
    /// seen counts as not seen today.
    pub fn seen_today(&self, today: Date) -> bool {
        self.last_seen.is_some_and(|d| d >= today)
    }
}

/// Whether a station is blocked on `today`.
///
/// * Temporarily: `block_last` is less than two days ago (or in the future).
/// * Permanently: it has a creation time and a non-zero block count of at least one
///   block per 30 days of age, the age rounded half to even (45 days → 2, 75 → 2).
///   A station created today with one block is blocked.
pub fn station_blocked(
    created: Option<DateTime>,
    block_last: Option<Date>,
    block_count: Option<u8>,
    today: Date,
) -> bool {
    if let Some(last) = block_last
        && today.days_since(last) < TEMPORARY_BLOCK_DAYS
    {
        return true;
    }
    if let (Some(created), Some(count)) = (created, block_count)
        && count > 0
    {
        let age_days = today.days_since(created.date()).abs();
        let allowed = (age_days as f64 / 30.0).round_ties_even();
        return f64::from(count) >= allowed;
    }
    false
}

/// Keeps the rows locate may use on `today`, in their order.
pub fn usable_stations<I: Clone>(rows: &[Station<I>], today: Date) -> Vec<Station<I>> {
    rows.iter()
        .filter(|r| r.is_usable(today))
        .cloned()
        .collect()
}

/// A `cell_area` row: the aggregate of all cells in one location area.
#[derive(Debug, Clone, PartialEq)]
pub struct AreaStation {
    /// The area's identifier.
    pub id: CellAreaId,
    /// Mean latitude of the member cells.
    pub lat: Option<f64>,
    /// Mean longitude of the member cells.
    pub lon: Option<f64>,
    /// Metres from the position to the farthest member cell edge.
    pub radius: Option<u32>,
    /// GENC region code.
    pub region: Option<String>,
    /// Number of member cells.
    pub num_cells: Option<u32>,
    /// Average radius of the member cells.
    pub avg_cell_radius: Option<u32>,
    /// Row creation time.
    pub created: Option<DateTime>,
    /// Last change.
    pub modified: Option<DateTime>,
    /// Last day a member cell was confirmed.
    pub last_seen: Option<Date>,
}

impl AreaStation {
    /// An area at a position with one cell, created and last modified at `when` and
    /// last seen that day. Set the other fields with struct update syntax.
    pub fn new(id: CellAreaId, lat: f64, lon: f64, when: DateTime) -> AreaStation {
        AreaStation {
            id,
            lat: Some(lat),
            lon: Some(lon),
            radius: None,
            region: None,
            num_cells: Some(1),
            avg_cell_radius: None,
            created: Some(when),
            modified: Some(when),
            last_seen: Some(when.date()),
        }
    }

    /// The position, when the row has one.
    pub fn position(&self) -> Option<(f64, f64)> {
        Some((self.lat?, self.lon?))
    }

    /// Whether locate may use this row: areas are never blocked, so any row with a
    /// position is usable.
    pub fn is_usable(&self) -> bool {
        self.position().is_some()
    }

    /// Whether a member cell was confirmed on `today` (or later).
    pub fn seen_today(&self, today: Date) -> bool {
        self.last_seen.is_some_and(|d| d >= today)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime {
        DateTime::from_unix_seconds(1_705_000_000)
    }

    fn mac() -> Mac {
        Mac::parse("a82066123456").unwrap()
    }

    #[test]
    fn temporary_block_lasts_two_days() {
        let today = now().date();
        let at = |days_ago: i32| Station {
            block_last: Some(today.add_days(-days_ago)),
            block_count: Some(1),
            created: Some(now().add_days(-400)),
            ..Station::new(mac(), 51.5, -0.1, now())
        };
        assert!(at(0).is_blocked(today));
        assert!(at(1).is_blocked(today));
        assert!(!at(2).is_blocked(today));
        assert!(at(-3).is_blocked(today), "a future block date still blocks");
    }

    #[test]
    fn permanent_block_allows_one_block_per_30_days() {
        let today = now().date();
        let station = |created_days_ago: i64, count: u8| Station {
            created: Some(now().add_days(-created_days_ago)),
            block_last: Some(today.add_days(-7)),
            block_count: Some(count),
            ..Station::new(mac(), 51.5, -0.1, now())
        };
        assert!(
            station(0, 1).is_blocked(today),
            "created today, blocked once"
        );
        assert!(
            station(120, 4).is_blocked(today),
            "the test_wifi_permanent_blocked case"
        );
        assert!(!station(120, 3).is_blocked(today));
        assert!(station(45, 2).is_blocked(today), "45/30 rounds to 2");
        assert!(!station(75, 1).is_blocked(today), "75/30 rounds to 2");
        assert!(station(75, 2).is_blocked(today));
        assert!(
            !station(0, 0).is_blocked(today),
            "a zero count never blocks"
        );
        let no_created = Station {
            created: None,
            ..station(0, 5)
        };
        assert!(!no_created.is_blocked(today));
    }

    #[test]
    fn usable_rows_need_a_position_and_no_block() {
        let today = now().date();
        let fine = Station::new(mac(), 51.5, -0.1, now());
        let no_lat = Station {
            lat: None,
            ..fine.clone()
        };
        let blocked = Station {
            block_last: Some(today.add_days(-1)),
            ..fine.clone()
        };
        let kept = usable_stations(&[no_lat, fine.clone(), blocked], today);
        assert_eq!(kept, vec![fine.clone()]);
        assert!(fine.seen_today(today));
        assert!(!fine.seen_today(today.add_days(1)));
        let never_seen = Station {
            last_seen: None,
            ..fine
        };
        assert!(!never_seen.seen_today(today));
    }

    #[test]
    fn areas_need_only_a_position() {
        let id = CellAreaId::new(crate::enums::Radio::Lte, 262, 1, 5).unwrap();
        let area = AreaStation::new(id, 51.5, -0.1, now());
        assert!(area.is_usable());
        assert!(area.seen_today(now().date()));
        let no_lon = AreaStation { lon: None, ..area };
        assert!(!no_lon.is_usable());
    }
}
