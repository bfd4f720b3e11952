//! One station updater run: batch intake, per-station updates and what gets counted
//! (`pipeline.md` §5.1, §5.2, §5.9).
//!
//! The worker dequeues up to 500 observations of one shard queue and hands them to
//! [`StationBatch::new`], which drops zero-weight observations and groups the rest by
//! station in queue order. If the batch is empty the run stops (no database access, no
//! stats). Otherwise the worker locks the rows of [`StationBatch::keys`]
//! (`SELECT … FOR UPDATE`), calls [`StationBatch::apply`] and persists the
//! [`BatchOutcome`]: two `INSERT IGNORE`s, the full updates, the `last_seen` updates, then
//! after commit the cell area ids and the stat counter / metric increments.
//!
//! Not idempotent (see [`crate::pipeline`]): a batch applied twice is merged twice and
//! counted twice, so the worker must not re-apply a batch it has already committed.

use std::collections::{BTreeSet, HashMap};

use crate::enums::StatKey;
use crate::ids::CellAreaId;
use crate::metrics::MetricName;
use crate::pipeline::StationKind;
use crate::pipeline::observation::StationObservation;
use crate::pipeline::region::RegionLookup;
use crate::pipeline::station::{StationKey, StationRow, StationUpdate, Transition, update_station};
use crate::time::{Date, DateTime};

/// The observations of one dequeued batch, grouped by station.
#[derive(Debug, Clone)]
pub struct StationBatch<O> {
    groups: Vec<(StationKey, Vec<O>)>,
    dropped: usize,
}

impl<O: StationObservation> StationBatch<O> {
    /// Groups observations by station (first appearance order; queue order within a
    /// station) after dropping those with weight 0.
    pub fn new(observations: impl IntoIterator<Item = O>) -> StationBatch<O> {
        let mut index: HashMap<StationKey, usize> = HashMap::new();
        let mut groups: Vec<(StationKey, Vec<O>)> = Vec::new();
        let mut dropped = 0;
        for obs in observations {
            if obs.weight() <= 0.0 || obs.weight().is_nan() {
                dropped += 1;
                continue;
            }
            let key = obs.station_key();
            match index.get(&key) {
                Some(&i) => groups[i].1.push(obs),
                None => {
                    index.insert(key, groups.len());
                    groups.push((key, vec![obs]));
                }
            }
        }
        StationBatch { groups, dropped }
    }

    /// Whether nothing is left to do.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The station keys to load and lock, in batch order.
    pub fn keys(&self) -> Vec<StationKey> {
        self.groups.iter().map(|(key, _)| *key).collect()
    }

    /// The stations and their observations, in batch order.
    pub fn groups(&self) -> &[(StationKey, Vec<O>)] {
        &self.groups
    }

    /// How many observations were dropped for having weight 0.
    pub fn dropped(&self) -> usize {
        self.dropped
    }

    /// Updates every station of the batch against the locked `rows` (missing keys have no
    /// row). "Today" is `now.date()`.
    pub fn apply(
        &self,
        rows: &HashMap<StationKey, StationRow>,
        now: DateTime,
        regions: &dyn RegionLookup,
    ) -> BatchOutcome {
        let stations: Vec<StationUpdate> = self
            .groups
            .iter()
            .map(|(key, observations)| {
                update_station(*key, rows.get(key), observations, now, regions)
            })
            .collect();
        let mut counters = BatchCounters::default();
        let mut areas = BTreeSet::new();
        for update in &stations {
            counters.observations += update.observations;
            if let Some(t) = update.transition() {
                counters.new += u64::from(t.counts_as_new());
                counters.block += u64::from(t.counts_as_block());
                counters.confirm += u64::from(t.counts_as_confirm());
            }
            areas.extend(update.area_to_update());
        }
        BatchOutcome {
            kind: O::KIND,
            today: now.date(),
            stations,
            counters,
            areas,
        }
    }
}

/// The per-batch counters of the reference (`pipeline.md` §5.7, §5.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchCounters {
    /// Observations with non-zero weight, including those of blocked stations (quirk 4).
    pub observations: u64,
    /// New stations: new + new_block.
    pub new: u64,
    /// Blocked stations: block + new_block.
    pub block: u64,
    /// "Confirmed" stations: change + confirm + replace (quirk 3).
    pub confirm: u64,
}

/// Everything to persist after one batch.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchOutcome {
    /// The station kind of the batch.
    pub kind: StationKind,
    /// The day the batch was processed (for the stat counter keys).
    pub today: Date,
    /// One update per station, in batch order.
    pub stations: Vec<StationUpdate>,
    /// The counters.
    pub counters: BatchCounters,
    /// Cells only: the areas to push to `update_cellarea` after commit.
    pub areas: BTreeSet<CellAreaId>,
}

impl BatchOutcome {
    fn rows_of(&self, wanted: &[Transition]) -> Vec<&StationRow> {
        wanted
            .iter()
            .flat_map(|&t| {
                self.stations
                    .iter()
                    .filter(move |u| u.transition() == Some(t))
                    .filter_map(StationUpdate::row)
            })
            .collect()
    }

    /// Rows for the first `INSERT IGNORE` (new).
    pub fn new_rows(&self) -> Vec<&StationRow> {
        self.rows_of(&[Transition::New])
    }

    /// Rows for the second `INSERT IGNORE` (new_block).
    pub fn new_block_rows(&self) -> Vec<&StationRow> {
        self.rows_of(&[Transition::NewBlock])
    }

    /// Rows for the full `UPDATE`s, in the reference's order: block, change, replace.
    pub fn full_update_rows(&self) -> Vec<&StationRow> {
        self.rows_of(&[Transition::Block, Transition::Change, Transition::Replace])
    }

    /// Keys and days for the `last_seen`-only `UPDATE`s (confirm).
    pub fn confirms(&self) -> Vec<(StationKey, Date)> {
        self.rows_of(&[Transition::Confirm])
            .into_iter()
            .filter_map(|row| row.last_seen.map(|day| (row.key, day)))
            .collect()
    }

    /// How many stations took `transition`.
    pub fn count(&self, transition: Transition) -> u64 {
        self.stations
            .iter()
            .filter(|u| u.transition() == Some(transition))
            .count() as u64
    }

    /// The two `INCRBY statcounter_<key>_<today>` increments, executed even when 0.
    pub fn stat_increments(&self) -> [(StatKey, u64); 2] {
        [
            (self.kind.stat_observation_key(), self.counters.observations),
            (self.kind.stat_station_key(), self.counters.new),
        ]
    }

    /// The statsd counters, tagged `type:<kind>`; only those above 0 are emitted.
    pub fn metrics(&self) -> Vec<(MetricName, u64)> {
        [
            (
                MetricName::DataObservationInsert,
                self.counters.observations,
            ),
            (MetricName::DataStationBlocklist, self.counters.block),
            (MetricName::DataStationConfirm, self.counters.confirm),
            (MetricName::DataStationNew, self.counters.new),
        ]
        .into_iter()
        .filter(|&(_, n)| n > 0)
        .collect()
    }
}

#[cfg(test)]
mod tests {
    //! The station updater catalogue of the reference (`pipeline.md` §19.1), run for
    //! Bluetooth, WiFi and cells, plus the kind-specific merge cases.

    use std::collections::{BTreeSet, HashMap};

    use super::*;
    use crate::enums::{Radio, ReportSource};
    use crate::geo;
    use crate::ids::{CellId, Mac};
    use crate::pipeline::observation::{
        BlueObservation, CellObservation, ObservationReport, WifiObservation,
    };
    use crate::pipeline::region::RegionCode;
    use crate::pipeline::region::fake::FakeRegions;
    use crate::pipeline::station::{SkipReason, StationOutcome};

    const LAT: f64 = 51.5;
    const LON: f64 = -0.1;

    pub(super) fn now() -> DateTime {
        DateTime::from_ymd_hms(2024, 1, 12, 10, 30, 0).unwrap()
    }
    fn today() -> Date {
        now().date()
    }
    fn ago(days: i64) -> DateTime {
        now().add_days(-days)
    }
    fn gb() -> Option<RegionCode> {
        RegionCode::new("GB")
    }
    fn close(actual: f64, expected: f64, tolerance: f64) {
        assert!(
            (actual - expected).abs() <= tolerance,
            "{actual} != {expected} ± {tolerance}"
        );
    }

    fn report(lat: f64, lon: f64, source: ReportSource) -> ObservationReport {
        ObservationReport {
            accuracy: Some(10.0),
            source: Some(source),
            ..ObservationReport::at(lat, lon)
        }
    }

    /// Builds weight-1 observations of station number `n`, like the reference factories.
    pub(super) trait Fixture: StationObservation + Clone + std::fmt::Debug {
        fn build(n: u8, lat: f64, lon: f64, source: ReportSource) -> Self;
        fn report_mut(&mut self) -> &mut ObservationReport;
        fn key(n: u8) -> StationKey {
            Self::build(n, LAT, LON, ReportSource::Gnss).station_key()
        }
    }

    fn mac(n: u8) -> Mac {
        Mac::from_array([0xa8, 0x20, 0x66, 0xdd, 0xdd, n]).unwrap()
    }

    impl Fixture for BlueObservation {
        fn build(n: u8, lat: f64, lon: f64, source: ReportSource) -> Self {
            BlueObservation {
                report: report(lat, lon, source),
                mac: mac(n),
                age: None,
                signal: None,
            }
        }
        fn report_mut(&mut self) -> &mut ObservationReport {
            &mut self.report
        }
    }

    impl Fixture for WifiObservation {
        fn build(n: u8, lat: f64, lon: f64, source: ReportSource) -> Self {
            WifiObservation {
                report: report(lat, lon, source),
                mac: mac(n),
                age: None,
                channel: None,
                frequency: None,
                signal: Some(-80),
                snr: None,
            }
        }
        fn report_mut(&mut self) -> &mut ObservationReport {
            &mut self.report
        }
    }

    impl Fixture for CellObservation {
        fn build(n: u8, lat: f64, lon: f64, source: ReportSource) -> Self {
            CellObservation {
                report: report(lat, lon, source),
                cell: CellId::new(Radio::Gsm, 234, 30, 100 + u32::from(n), 1 + u64::from(n))
                    .unwrap(),
                psc: None,
                age: None,
                asu: None,
                signal: Some(-95),
                ta: None,
            }
        }
        fn report_mut(&mut self) -> &mut ObservationReport {
            &mut self.report
        }
    }

    /// A station row as the reference's factories make it.
    fn station<O: Fixture>(lat: f64, lon: f64) -> StationRow {
        StationRow {
            lat: Some(lat),
            lon: Some(lon),
            max_lat: Some(lat),
            min_lat: Some(lat),
            max_lon: Some(lon),
            min_lon: Some(lon),
            created: Some(now()),
            modified: Some(now()),
            radius: Some(0),
            region: gb(),
            samples: Some(1),
            source: Some(ReportSource::Gnss),
            weight: Some(1.0),
            last_seen: Some(today()),
            ..StationRow::new(O::key(0))
        }
    }

    fn without_position(mut row: StationRow) -> StationRow {
        row.lat = None;
        row.lon = None;
        row.max_lat = None;
        row.min_lat = None;
        row.max_lon = None;
        row.min_lon = None;
        row.radius = None;
        row.region = None;
        row.source = None;
        row.samples = None;
        row.weight = None;
        row.last_seen = None;
        row
    }

    fn displace<O: Fixture>(lat: f64, lon: f64, bearing: f64, distance: f64) -> (f64, f64) {
        if distance == 0.0 {
            // `geo::destination` moves a point by 1 ulp for 0 m due south; the reference's
            // tests rely on an exact copy here.
            return (lat, lon);
        }
        geo::destination(lat, lon, bearing, (O::KIND.max_dist() + 10.0) * distance)
    }

    /// Three observations of station 0: at the base point and displaced north and south by
    /// `distance × (MAX_DIST + 10)` metres.
    fn make_obs<O: Fixture>(source: ReportSource, distance: f64) -> Vec<O> {
        let (north_lat, north_lon) = displace::<O>(LAT, LON, 0.0, distance);
        let (south_lat, south_lon) = displace::<O>(LAT, LON, 180.0, distance);
        vec![
            O::build(0, LAT, LON, source),
            O::build(0, north_lat, north_lon, source),
            O::build(0, south_lat, south_lon, source),
        ]
    }

    fn run<O: Fixture>(rows: &[StationRow], obs: Vec<O>) -> BatchOutcome {
        let batch = StationBatch::new(obs);
        let rows: HashMap<StationKey, StationRow> =
            rows.iter().map(|r| (r.key, r.clone())).collect();
        batch.apply(&rows, now(), &FakeRegions::world())
    }

    fn single(outcome: &BatchOutcome) -> (Transition, &StationRow) {
        assert_eq!(outcome.stations.len(), 1);
        let update = &outcome.stations[0];
        (update.transition().unwrap(), update.row().unwrap())
    }

    fn areas<O: Fixture>(keys: &[StationKey]) -> BTreeSet<crate::ids::CellAreaId> {
        keys.iter().filter_map(StationKey::area).collect()
    }

    fn check_no_position(row: &StationRow) {
        assert_eq!(row.last_seen, None);
        assert_eq!((row.lat, row.lon), (None, None));
        assert_eq!(
            (row.max_lat, row.min_lat, row.max_lon, row.min_lon),
            (None, None, None, None)
        );
        assert_eq!(
            (row.radius, row.samples, row.source, row.weight),
            (None, None, None, None)
        );
    }

    fn check_blocked(row: &StationRow, first: Option<Date>, last: Option<Date>, count: Option<u8>) {
        assert_eq!(
            (row.block_first, row.block_last, row.block_count),
            (first, last, count)
        );
    }

    const SOURCES: [ReportSource; 2] = [ReportSource::Gnss, ReportSource::Query];

    pub(super) fn blocklist_skip<O: Fixture>() {
        let obs: Vec<O> = (0..3)
            .map(|n| O::build(n, LAT, LON, ReportSource::Gnss))
            .collect();
        let blocked = StationRow {
            created: Some(now()),
            block_first: Some(today().add_days(-10)),
            block_last: Some(today()),
            block_count: Some(1),
            ..StationRow::new(O::key(0))
        };
        let outcome = run(std::slice::from_ref(&blocked), obs);
        assert_eq!(
            outcome.stations[0].outcome,
            StationOutcome::Skipped(SkipReason::Blocked)
        );
        assert_eq!(outcome.stations[0].observations, 1);
        assert_eq!(outcome.count(Transition::New), 2);
        assert_eq!(outcome.areas, areas::<O>(&[O::key(1), O::key(2)]));
        assert_eq!(
            outcome.stat_increments(),
            [
                (O::KIND.stat_observation_key(), 3),
                (O::KIND.stat_station_key(), 2)
            ]
        );
    }

    pub(super) fn new<O: Fixture>() {
        for source in SOURCES {
            let mut obs = vec![O::build(0, LAT, LON, source)];
            obs.push(O::build(0, LAT + 0.0001, LON, source));
            obs.push(O::build(0, LAT - 0.0003, LON, source));
            obs.push(O::build(0, LAT, LON + 0.0002, source));
            obs.push(O::build(0, LAT, LON - 0.0004, source));
            let outcome = run(&[], obs);
            let (transition, row) = single(&outcome);
            assert_eq!(transition, Transition::New);
            close(row.lat.unwrap(), LAT - 0.00004, 1e-12);
            close(row.max_lat.unwrap(), LAT + 0.0001, 1e-12);
            close(row.min_lat.unwrap(), LAT - 0.0003, 1e-12);
            close(row.lon.unwrap(), LON - 0.00004, 1e-12);
            close(row.max_lon.unwrap(), LON + 0.0002, 1e-12);
            close(row.min_lon.unwrap(), LON - 0.0004, 1e-12);
            assert_eq!(row.radius, Some(38));
            assert_eq!(row.region, gb());
            assert_eq!(row.samples, Some(5));
            assert_eq!(row.source, Some(source));
            assert_eq!(row.weight, Some(5.0));
            check_blocked(row, None, None, None);
            assert_eq!(
                (row.created, row.modified, row.last_seen),
                (Some(now()), Some(now()), Some(today()))
            );
            assert_eq!(outcome.areas, areas::<O>(&[O::key(0)]));
            assert_eq!(
                outcome.metrics(),
                vec![
                    (MetricName::DataObservationInsert, 5),
                    (MetricName::DataStationNew, 1)
                ]
            );
            assert_eq!(outcome.new_rows().len(), 1);
        }
    }

    pub(super) fn new_block<O: Fixture>() {
        for source in SOURCES {
            let outcome = run(&[], make_obs::<O>(source, 1.0));
            let (transition, row) = single(&outcome);
            assert_eq!(transition, Transition::NewBlock);
            check_blocked(row, Some(today()), Some(today()), Some(1));
            assert_eq!((row.created, row.modified), (Some(now()), Some(now())));
            check_no_position(row);
            assert_eq!(row.region, None);
            assert_eq!(outcome.areas, areas::<O>(&[O::key(0)]));
            assert_eq!(
                outcome.counters,
                BatchCounters {
                    observations: 3,
                    new: 1,
                    block: 1,
                    confirm: 0
                }
            );
            assert_eq!(outcome.new_block_rows().len(), 1);
        }
    }

    fn unpositioned_blocked_50_days<O: Fixture>() -> StationRow {
        StationRow {
            block_first: Some(ago(50).date()),
            block_last: Some(ago(50).date()),
            block_count: Some(1),
            created: Some(ago(50)),
            modified: Some(ago(50)),
            ..without_position(station::<O>(LAT, LON))
        }
    }

    pub(super) fn no_position_change<O: Fixture>() {
        for source in SOURCES {
            let existing = unpositioned_blocked_50_days::<O>();
            assert!(!existing.is_blocked(today()));
            let outcome = run(&[existing], make_obs::<O>(source, 0.0));
            let (transition, row) = single(&outcome);
            assert_eq!(transition, Transition::Change);
            assert_eq!(
                (row.lat, row.max_lat, row.min_lat),
                (Some(LAT), Some(LAT), Some(LAT))
            );
            close(row.lon.unwrap(), LON, 1e-12);
            assert_eq!((row.max_lon, row.min_lon), (Some(LON), Some(LON)));
            assert_eq!(row.radius, Some(0));
            assert_eq!(row.region, gb());
            assert_eq!(row.source, Some(source));
            assert_eq!((row.samples, row.weight), (Some(3), Some(3.0)));
            check_blocked(row, Some(ago(50).date()), Some(ago(50).date()), Some(1));
            assert_eq!(
                (row.created, row.modified, row.last_seen),
                (Some(ago(50)), Some(now()), Some(today()))
            );
            assert_eq!(outcome.areas, areas::<O>(&[O::key(0)]));
        }
    }

    pub(super) fn no_position_ignore<O: Fixture>() {
        for source in SOURCES {
            let outcome = run(
                &[unpositioned_blocked_50_days::<O>()],
                make_obs::<O>(source, 1.0),
            );
            assert_eq!(
                outcome.stations[0].outcome,
                StationOutcome::Skipped(SkipReason::NoTransition)
            );
            assert!(outcome.areas.is_empty());
            assert_eq!(outcome.counters.observations, 3);
            assert!(outcome.full_update_rows().is_empty());
        }
    }

    pub(super) fn confirm<O: Fixture>() {
        let seen_today = station::<O>(LAT, LON);
        let mut seen_before = station::<O>(LAT, LON);
        seen_before.key = O::key(1);
        seen_before.created = Some(ago(10));
        seen_before.modified = Some(ago(10));
        seen_before.last_seen = Some(ago(10).date());
        let obs = vec![
            O::build(0, LAT, LON, ReportSource::Query),
            O::build(1, LAT, LON, ReportSource::Query),
        ];
        let outcome = run(&[seen_today, seen_before.clone()], obs);
        assert_eq!(
            outcome.stations[0].outcome,
            StationOutcome::Skipped(SkipReason::AlreadyConfirmedToday)
        );
        assert_eq!(outcome.stations[1].transition(), Some(Transition::Confirm));
        let row = outcome.stations[1].row().unwrap();
        assert_eq!(
            row,
            &StationRow {
                last_seen: Some(today()),
                ..seen_before
            }
        );
        assert_eq!(outcome.confirms(), vec![(O::key(1), today())]);
        assert!(outcome.areas.is_empty());
        assert_eq!(
            outcome.counters,
            BatchCounters {
                observations: 2,
                new: 0,
                block: 0,
                confirm: 1
            }
        );
    }

    fn check_block_result(outcome: &BatchOutcome, created: DateTime) {
        let (transition, row) = single(outcome);
        assert_eq!(transition, Transition::Block);
        check_blocked(row, Some(today()), Some(today()), Some(1));
        assert_eq!((row.created, row.modified), (Some(created), Some(now())));
        check_no_position(row);
        assert_eq!(row.region, gb(), "blocked stations keep their region");
        assert_eq!(outcome.areas, areas::<O0>(&[row.key]));
        assert_eq!(outcome.counters.block, 1);
        assert_eq!(outcome.full_update_rows().len(), 1);
    }
    /// Any fixture works for [`areas`]: it only looks at the keys.
    type O0 = CellObservation;

    pub(super) fn block_half_consistent_obs<O: Fixture>() {
        for obs_source in SOURCES {
            for station_source in SOURCES {
                let existing = StationRow {
                    created: Some(ago(50)),
                    modified: Some(ago(50)),
                    source: Some(station_source),
                    ..station::<O>(LAT, LON)
                };
                let outcome = run(&[existing], make_obs::<O>(obs_source, 0.5));
                check_block_result(&outcome, ago(50));
            }
        }
    }

    pub(super) fn block_consistent_obs<O: Fixture>() {
        for obs_source in SOURCES {
            for station_source in SOURCES {
                let (lat, lon) = displace::<O>(LAT, LON, 0.0, 1.0);
                let existing = StationRow {
                    created: Some(ago(50)),
                    modified: Some(ago(50)),
                    source: Some(station_source),
                    ..station::<O>(lat, lon)
                };
                let outcome = run(&[existing], make_obs::<O>(obs_source, 0.0));
                check_block_result(&outcome, ago(50));
            }
        }
    }

    pub(super) fn block_inconsistent_obs<O: Fixture>() {
        for days in [10, 367] {
            for obs_source in SOURCES {
                for station_source in SOURCES {
                    let existing = StationRow {
                        created: Some(ago(days)),
                        modified: Some(ago(days)),
                        last_seen: Some(ago(days).date()),
                        source: Some(station_source),
                        ..station::<O>(LAT, LON)
                    };
                    let outcome = run(&[existing], make_obs::<O>(obs_source, 1.0));
                    check_block_result(&outcome, ago(days));
                }
            }
        }
    }

    pub(super) fn replace_query_station<O: Fixture>() {
        let existing = StationRow {
            samples: Some(10),
            weight: Some(15.0),
            created: Some(ago(10)),
            modified: Some(ago(10)),
            last_seen: Some(ago(10).date()),
            source: Some(ReportSource::Query),
            ..station::<O>(LAT, LON)
        };
        let outcome = run(&[existing], make_obs::<O>(ReportSource::Gnss, 0.0));
        let (transition, row) = single(&outcome);
        assert_eq!(transition, Transition::Replace);
        check_blocked(row, None, None, None);
        assert_eq!(
            (row.created, row.modified, row.last_seen),
            (Some(ago(10)), Some(now()), Some(today()))
        );
        assert_eq!(
            (row.lat, row.max_lat, row.min_lat),
            (Some(LAT), Some(LAT), Some(LAT))
        );
        close(row.lon.unwrap(), LON, 1e-12);
        assert_eq!((row.max_lon, row.min_lon), (Some(LON), Some(LON)));
        assert_eq!(
            (row.radius, row.region, row.samples),
            (Some(0), gb(), Some(3))
        );
        assert_eq!(row.source, Some(ReportSource::Gnss));
        close(row.weight.unwrap(), 3.0, 1e-12);
        assert_eq!(outcome.areas, areas::<O>(&[O::key(0)]));
        assert_eq!(outcome.counters.confirm, 1, "replace counts as confirm");
    }

    pub(super) fn replace_old_station<O: Fixture>() {
        for obs_source in SOURCES {
            for station_source in SOURCES {
                let (lat, lon) = displace::<O>(LAT, LON, 0.0, 1.0);
                let existing = StationRow {
                    created: Some(ago(367)),
                    modified: Some(ago(367)),
                    last_seen: Some(ago(367).date()),
                    source: Some(station_source),
                    ..station::<O>(lat, lon)
                };
                let outcome = run(&[existing], make_obs::<O>(obs_source, 0.0));
                let (transition, row) = single(&outcome);
                assert_eq!(transition, Transition::Replace);
                check_blocked(row, None, None, None);
                assert_eq!(
                    (row.created, row.modified, row.last_seen),
                    (Some(ago(367)), Some(now()), Some(today()))
                );
                assert_eq!(
                    (row.lat, row.max_lat, row.min_lat),
                    (Some(LAT), Some(LAT), Some(LAT))
                );
                close(row.lon.unwrap(), LON, 1e-12);
                assert_eq!(
                    (row.radius, row.region, row.samples),
                    (Some(0), gb(), Some(3))
                );
                assert_eq!(row.source, Some(obs_source));
            }
        }
    }

    macro_rules! station_catalogue {
        ($module:ident, $obs:ty) => {
            mod $module {
                use super::*;

                #[test]
                fn blocklist_skip() {
                    super::blocklist_skip::<$obs>();
                }
                #[test]
                fn new() {
                    super::new::<$obs>();
                }
                #[test]
                fn new_block() {
                    super::new_block::<$obs>();
                }
                #[test]
                fn no_position_change() {
                    super::no_position_change::<$obs>();
                }
                #[test]
                fn no_position_ignore() {
                    super::no_position_ignore::<$obs>();
                }
                #[test]
                fn confirm() {
                    super::confirm::<$obs>();
                }
                #[test]
                fn block_half_consistent_obs() {
                    super::block_half_consistent_obs::<$obs>();
                }
                #[test]
                fn block_consistent_obs() {
                    super::block_consistent_obs::<$obs>();
                }
                #[test]
                fn block_inconsistent_obs() {
                    super::block_inconsistent_obs::<$obs>();
                }
                #[test]
                fn replace_query_station() {
                    super::replace_query_station::<$obs>();
                }
                #[test]
                fn replace_old_station() {
                    super::replace_old_station::<$obs>();
                }
            }
        };
    }

    station_catalogue!(blue, BlueObservation);
    station_catalogue!(wifi, WifiObservation);
    station_catalogue!(cell, CellObservation);

    fn with<O: Fixture>(mut obs: O, edit: impl FnOnce(&mut O)) -> O {
        edit(&mut obs);
        obs
    }

    #[test]
    fn blue_change() {
        for source in SOURCES {
            let existing = StationRow {
                samples: Some(2),
                weight: Some(3.0),
                source: Some(source),
                ..station::<BlueObservation>(LAT, LON)
            };
            let obs = vec![
                with(BlueObservation::build(0, LAT, LON - 0.0001, source), |o| {
                    o.report.accuracy = Some(20.0);
                    o.signal = Some(-30);
                }),
                with(BlueObservation::build(0, LAT, LON - 0.0002, source), |o| {
                    o.report.accuracy = Some(40.0);
                    o.age = Some(-8000);
                    o.signal = Some(-60);
                }),
                with(BlueObservation::build(0, LAT, LON - 0.0003, source), |o| {
                    o.report.accuracy = Some(100.1);
                }),
            ];
            let outcome = run(&[existing], obs);
            let (transition, row) = single(&outcome);
            assert_eq!(transition, Transition::Change);
            assert_eq!(
                (row.lat, row.max_lat, row.min_lat),
                (Some(LAT), Some(LAT), Some(LAT))
            );
            close(row.lon.unwrap(), LON - 0.0000305, 5e-8);
            assert_eq!(row.max_lon, Some(LON));
            close(row.min_lon.unwrap(), LON - 0.0002, 1e-12);
            assert_eq!(row.radius, Some(12));
            assert_eq!(row.samples, Some(4));
            assert_eq!(row.source, Some(source));
            close(row.weight.unwrap(), 3.957107, 5e-7);
            assert_eq!(
                outcome.counters.observations, 2,
                "the zero-weight one is dropped"
            );
        }
    }

    #[test]
    fn wifi_change() {
        for source in SOURCES {
            let existing = StationRow {
                samples: Some(2),
                weight: Some(3.0),
                source: Some(source),
                ..station::<WifiObservation>(LAT, LON)
            };
            let at = |dlon: f64| WifiObservation::build(0, LAT, LON - dlon, source);
            let obs = vec![
                with(at(0.002), |o| {
                    o.report.accuracy = Some(20.0);
                    o.signal = Some(-30);
                }),
                with(at(0.004), |o| {
                    o.age = Some(-8000);
                    o.report.accuracy = Some(40.0);
                    o.signal = Some(-60);
                }),
                with(at(0.006), |o| {
                    o.age = Some(1000);
                    o.signal = Some(-90);
                }),
                with(at(0.006), |o| o.report.speed = Some(20.0)),
                with(at(0.008), |o| o.age = Some(40_000)),
                with(at(0.008), |o| o.report.speed = Some(50.1)),
                with(at(0.010), |o| o.report.accuracy = Some(200.1)),
            ];
            let outcome = run(&[existing], obs);
            let (transition, row) = single(&outcome);
            assert_eq!(transition, Transition::Change);
            close(row.lat.unwrap(), LAT, 1e-12);
            assert_eq!((row.max_lat, row.min_lat), (Some(LAT), Some(LAT)));
            close(row.lon.unwrap(), LON - 0.0019971, 5e-8);
            assert_eq!(row.max_lon, Some(LON));
            close(row.min_lon.unwrap(), LON - 0.006, 1e-12);
            assert_eq!(row.radius, Some(278));
            assert_eq!(row.samples, Some(6));
            assert_eq!(row.source, Some(source));
            close(row.weight.unwrap(), 16.10707, 5e-6);
            assert_eq!(outcome.counters.observations, 4);
        }
    }

    #[test]
    fn wifi_region() {
        let first = StationRow {
            region: RegionCode::new("FR"),
            ..station::<WifiObservation>(46.2884, 6.77)
        };
        let second = StationRow {
            key: WifiObservation::key(1),
            region: RegionCode::new("FR"),
            ..station::<WifiObservation>(46.2884, 7.4)
        };
        let mut obs = Vec::new();
        for _ in 0..5 {
            obs.push(WifiObservation::build(
                0,
                46.2884,
                6.77 + 0.05,
                ReportSource::Gnss,
            ));
            obs.push(WifiObservation::build(
                1,
                46.2884,
                7.4 + 0.05,
                ReportSource::Gnss,
            ));
        }
        let outcome = run(&[first, second], obs);
        let rows: Vec<_> = outcome.stations.iter().map(|u| u.row().unwrap()).collect();
        assert_eq!(outcome.count(Transition::Change), 2);
        assert_eq!(
            rows[0].region,
            RegionCode::new("FR"),
            "still inside buffered FR"
        );
        assert_eq!(rows[1].region, RegionCode::new("CH"));
        assert_eq!(rows[1].block_count, None);
    }

    #[test]
    fn cell_change() {
        for source in SOURCES {
            let existing = StationRow {
                samples: Some(1),
                weight: Some(2.0),
                source: Some(source),
                ..station::<CellObservation>(LAT, LON)
            };
            let at = |dlon: f64| CellObservation::build(0, LAT, LON - dlon, source);
            let obs = vec![
                with(at(0.002), |o| {
                    o.report.accuracy = Some(20.0);
                    o.signal = Some(-51);
                }),
                with(at(0.004), |o| {
                    o.report.accuracy = Some(1000.0);
                    o.signal = Some(-111);
                }),
                with(at(0.004), |o| o.report.accuracy = Some(1000.1)),
            ];
            let outcome = run(&[existing], obs);
            let (transition, row) = single(&outcome);
            assert_eq!(transition, Transition::Change);
            close(row.lat.unwrap(), LAT, 1e-12);
            close(row.lon.unwrap(), LON - 0.0015793, 5e-8);
            assert_eq!(row.max_lon, Some(LON));
            close(row.min_lon.unwrap(), LON - 0.004, 1e-12);
            assert_eq!(row.radius, Some(168));
            assert_eq!(row.samples, Some(3));
            assert_eq!(row.source, Some(source));
            close(row.weight.unwrap(), 9.2452954, 5e-8);
            assert_eq!(outcome.areas, areas::<CellObservation>(&[row.key]));
        }
    }

    #[test]
    fn change_of_an_existing_cell_counts_as_confirm() {
        // The "retriable DB errors" scenario without the DB: samples 10 → 11.
        let obs = with(
            CellObservation::build(0, LAT, LON, ReportSource::Gnss),
            |o| {
                o.cell = CellId::new(Radio::Lte, 234, 30, 100, 1).unwrap();
                o.signal = Some(-105);
            },
        );
        let created = DateTime::from_ymd_hms(2019, 12, 5, 0, 0, 0).unwrap();
        let existing = StationRow {
            key: obs.station_key(),
            samples: Some(10),
            created: Some(created),
            ..station::<CellObservation>(LAT, LON)
        };
        let outcome = run(&[existing], vec![obs]);
        let (transition, row) = single(&outcome);
        assert_eq!(transition, Transition::Change);
        assert_eq!((row.samples, row.created), (Some(11), Some(created)));
        assert_eq!(
            outcome.stat_increments(),
            [
                (crate::enums::StatKey::Cell, 1),
                (crate::enums::StatKey::UniqueCell, 0)
            ]
        );
        assert_eq!(
            outcome.metrics(),
            vec![
                (MetricName::DataObservationInsert, 1),
                (MetricName::DataStationConfirm, 1)
            ]
        );
    }

    #[test]
    fn cell_psc_comes_from_the_last_observation_that_has_one() {
        let mut obs: Vec<CellObservation> = (0..3)
            .map(|_| CellObservation::build(0, LAT, LON, ReportSource::Gnss))
            .collect();
        obs[0].psc = Some(7);
        obs[1].psc = Some(8);
        let existing = StationRow {
            psc: Some(5),
            ..station::<CellObservation>(LAT, LON)
        };
        let outcome = run(std::slice::from_ref(&existing), obs.clone());
        assert_eq!(single(&outcome).1.psc, Some(8));
        obs.iter_mut().for_each(|o| o.psc = None);
        let outcome = run(&[existing], obs);
        assert_eq!(single(&outcome).1.psc, Some(5));
    }

    #[test]
    fn gnss_observations_suppress_query_observations() {
        let obs = vec![
            CellObservation::build(0, LAT, LON, ReportSource::Gnss),
            with(
                CellObservation::build(0, LAT + 5.0, LON, ReportSource::Query),
                |_| {},
            ),
        ];
        let outcome = run(&[], obs);
        let (transition, row) = single(&outcome);
        assert_eq!(transition, Transition::New);
        assert_eq!((row.lat, row.samples), (Some(LAT), Some(1)));
        assert_eq!(row.source, Some(ReportSource::Gnss));
        assert_eq!(outcome.counters.observations, 2, "both are counted");
    }

    #[test]
    fn fused_and_unknown_sources_count_as_gnss() {
        let obs = vec![
            with(
                CellObservation::build(0, LAT, LON, ReportSource::Fused),
                |_| {},
            ),
            with(
                CellObservation::build(0, LAT, LON, ReportSource::Fixed),
                |o| {
                    o.report_mut().source = None;
                },
            ),
        ];
        let outcome = run(&[], obs);
        assert_eq!(single(&outcome).1.source, Some(ReportSource::Gnss));
    }

    #[test]
    fn nr_cells_flow_through_the_updater() {
        let nr = CellId::new(Radio::Nr, 310, 260, 0xFF_FFFD, (1 << 36) - 1).unwrap();
        let obs: Vec<CellObservation> = (0..2)
            .map(|i| {
                with(
                    CellObservation::build(
                        0,
                        40.0 + f64::from(i) * 0.001,
                        -100.0,
                        ReportSource::Gnss,
                    ),
                    |o| {
                        o.cell = nr;
                        o.signal = Some(-105);
                        o.psc = Some(1007);
                    },
                )
            })
            .collect();
        let outcome = run(&[], obs);
        let (transition, row) = single(&outcome);
        assert_eq!(transition, Transition::New);
        assert_eq!(row.key, StationKey::Cell(nr));
        assert_eq!(
            (row.samples, row.weight, row.psc),
            (Some(2), Some(2.0), Some(1007))
        );
        assert_eq!(row.region, RegionCode::new("US"));
        assert_eq!(outcome.areas, [nr.area()].into());
    }

    #[test]
    fn empty_and_zero_weight_batches() {
        let batch = StationBatch::<WifiObservation>::new(Vec::new());
        assert!(batch.is_empty());
        let zero = with(
            WifiObservation::build(0, LAT, LON, ReportSource::Gnss),
            |o| {
                o.report.speed = Some(51.0);
            },
        );
        let batch = StationBatch::new(vec![zero.clone(), zero]);
        assert!(batch.is_empty());
        assert_eq!(batch.dropped(), 2);
        let outcome = batch.apply(&HashMap::new(), now(), &FakeRegions::world());
        assert!(outcome.stations.is_empty());
        assert!(outcome.metrics().is_empty());
        assert_eq!(outcome.stat_increments()[0].1, 0);
    }

    #[test]
    fn grouping_keeps_first_appearance_and_queue_order() {
        let obs = vec![
            WifiObservation::build(2, LAT, LON, ReportSource::Gnss),
            WifiObservation::build(1, LAT, LON, ReportSource::Gnss),
            WifiObservation::build(2, LAT + 0.001, LON, ReportSource::Gnss),
        ];
        let batch = StationBatch::new(obs);
        assert_eq!(
            batch.keys(),
            vec![WifiObservation::key(2), WifiObservation::key(1)]
        );
        assert_eq!(batch.groups()[0].1[1].report.lat, LAT + 0.001);
    }

    #[test]
    fn applying_twice_is_not_idempotent() {
        let obs = make_obs::<WifiObservation>(ReportSource::Gnss, 0.0);
        let first = run(&[], obs.clone());
        let row = single(&first).1.clone();
        let second = run(&[row], obs);
        let (transition, row) = single(&second);
        assert_eq!(transition, Transition::Change);
        assert_eq!(row.samples, Some(6));
    }
}
