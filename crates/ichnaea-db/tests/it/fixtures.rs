//! Shared fixtures of the pipeline tests: a fixed clock, a tiny geography, observation and
//! station factories shaped like the reference's (`pipeline.md` §19).

use ichnaea_core::pipeline::observation::{
    BlueObservation, CellObservation, ObservationReport, StationObservation, WifiObservation,
};
use ichnaea_core::pipeline::region::{RegionCode, RegionLookup};
use ichnaea_core::pipeline::station::{StationKey, StationRow};
use ichnaea_core::shard::{BlueShard, CellShard, WifiShard};
use ichnaea_core::time::{Date, DateTime};
use ichnaea_core::{CellId, Mac, Radio, ReportSource, geo};
use ichnaea_db::{DbConn, DbPool, StationShard};
use ichnaea_testing::TestDb;

/// London, region GB.
pub const LAT: f64 = 51.5;
/// London, region GB.
pub const LON: f64 = -0.1;

pub fn now() -> DateTime {
    DateTime::from_ymd_hms(2024, 1, 12, 10, 30, 0).unwrap()
}

pub fn today() -> Date {
    now().date()
}

pub fn ago(days: i64) -> DateTime {
    now().add_days(-days)
}

pub fn gb() -> Option<RegionCode> {
    RegionCode::new("GB")
}

pub fn close(actual: f64, expected: f64, tolerance: f64) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "{actual} != {expected} ± {tolerance}"
    );
}

/// A pool on the test database and one connection from it.
pub async fn connect(db: &TestDb) -> (DbPool, DbConn) {
    let pool = DbPool::new(&db.pool_config()).unwrap();
    let conn = pool.get().await.unwrap();
    (pool, conn)
}

/// A few rectangular regions: `(code, min_lat, max_lat, min_lon, max_lon)`, precise; the
/// buffered shapes are 0.5° larger.
pub struct TestRegions;

const REGIONS: &[(&str, f64, f64, f64, f64)] = &[
    ("GB", 49.9, 58.7, -8.2, 1.8),
    ("DE", 47.3, 55.0, 6.0, 15.0),
    ("US", 24.0, 49.0, -125.0, -66.9),
];

fn inside(r: &(&str, f64, f64, f64, f64), lat: f64, lon: f64, buffer: f64) -> bool {
    lat >= r.1 - buffer && lat <= r.2 + buffer && lon >= r.3 - buffer && lon <= r.4 + buffer
}

impl RegionLookup for TestRegions {
    fn region(&self, lat: f64, lon: f64) -> Option<RegionCode> {
        REGIONS
            .iter()
            .find(|r| inside(r, lat, lon, 0.0))
            .or_else(|| REGIONS.iter().find(|r| inside(r, lat, lon, 0.5)))
            .and_then(|r| RegionCode::new(r.0))
    }
    fn in_region(&self, lat: f64, lon: f64, code: RegionCode) -> bool {
        REGIONS
            .iter()
            .any(|r| r.0 == code.as_str() && inside(r, lat, lon, 0.5))
    }
    fn any_region(&self, lat: f64, lon: f64) -> bool {
        REGIONS.iter().any(|r| inside(r, lat, lon, 0.5))
    }
    fn region_for_cell(&self, lat: f64, lon: f64, _mcc: u16) -> Option<RegionCode> {
        self.region(lat, lon)
    }
}

fn report(lat: f64, lon: f64, source: ReportSource) -> ObservationReport {
    ObservationReport {
        accuracy: Some(10.0),
        source: Some(source),
        ..ObservationReport::at(lat, lon)
    }
}

/// MACs `a8:20:66:dd:dd:<n>`: all in shard `6`.
pub fn mac(n: u8) -> Mac {
    Mac::from_array([0xa8, 0x20, 0x66, 0xdd, 0xdd, n]).unwrap()
}

/// A MAC in shard `shard` (its 5th hex digit).
pub fn mac_in_shard(shard: u8, n: u8) -> Mac {
    Mac::from_array([0x10, 0x20, shard << 4 | 1, 0x33, 0x44, n]).unwrap()
}

/// GSM cells 234/30, lac 100 + n, cid 1 + n.
pub fn gsm_cell(n: u8) -> CellId {
    CellId::new(Radio::Gsm, 234, 30, 100 + u32::from(n), 1 + u64::from(n)).unwrap()
}

/// Builds weight-1 observations of station number `n`, like the reference factories.
pub trait Kind: StationObservation + Clone + std::fmt::Debug + Send + Sync + 'static {
    type Shard: StationShard<Observation = Self>;
    fn build(n: u8, lat: f64, lon: f64, source: ReportSource) -> Self;
    fn shard() -> Self::Shard;
    fn key(n: u8) -> StationKey {
        Self::build(n, LAT, LON, ReportSource::Gnss).station_key()
    }
}

impl Kind for BlueObservation {
    type Shard = BlueShard;
    fn build(n: u8, lat: f64, lon: f64, source: ReportSource) -> Self {
        BlueObservation {
            report: report(lat, lon, source),
            mac: mac(n),
            age: None,
            signal: None,
        }
    }
    fn shard() -> BlueShard {
        BlueShard::for_mac(&mac(0))
    }
}

impl Kind for WifiObservation {
    type Shard = WifiShard;
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
    fn shard() -> WifiShard {
        WifiShard::for_mac(&mac(0))
    }
}

impl Kind for CellObservation {
    type Shard = CellShard;
    fn build(n: u8, lat: f64, lon: f64, source: ReportSource) -> Self {
        CellObservation {
            report: report(lat, lon, source),
            cell: gsm_cell(n),
            psc: None,
            age: None,
            asu: None,
            signal: Some(-95),
            ta: None,
        }
    }
    fn shard() -> CellShard {
        CellShard::for_radio(Radio::Gsm)
    }
}

/// A station row as the reference's factories make it: station `n` at a position,
/// samples 1, weight 1, gnss, created / modified now, seen today, box = point.
pub fn station<O: Kind>(n: u8, lat: f64, lon: f64) -> StationRow {
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
        ..StationRow::new(O::key(n))
    }
}

/// The row without any position columns.
pub fn without_position(mut row: StationRow) -> StationRow {
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

/// A point displaced by `distance × (MAX_DIST + 10)` metres.
pub fn displace<O: Kind>(lat: f64, lon: f64, bearing: f64, distance: f64) -> (f64, f64) {
    if distance == 0.0 {
        return (lat, lon);
    }
    geo::destination(lat, lon, bearing, (O::KIND.max_dist() + 10.0) * distance)
}

/// Three observations of station 0: at the base point and displaced north and south.
pub fn make_obs<O: Kind>(source: ReportSource, distance: f64) -> Vec<O> {
    let (north_lat, north_lon) = displace::<O>(LAT, LON, 0.0, distance);
    let (south_lat, south_lon) = displace::<O>(LAT, LON, 180.0, distance);
    vec![
        O::build(0, LAT, LON, source),
        O::build(0, north_lat, north_lon, source),
        O::build(0, south_lat, south_lon, source),
    ]
}

/// Edits a value in place and returns it.
pub fn with<T>(mut value: T, edit: impl FnOnce(&mut T)) -> T {
    edit(&mut value);
    value
}
