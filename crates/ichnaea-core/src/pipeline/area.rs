//! Cell area aggregation (`pipeline.md` §6).
//!
//! A location area (LAC / TAC) groups many cells. When a query names a cell the service
//! does not know, the area still gives a coarse position; and the region statistics count
//! cells per area. The area row is recomputed from scratch from its positioned cells
//! whenever one of them changes, so [`update_area`] is a pure function of the current cell
//! rows — and naturally idempotent.

use std::collections::BTreeMap;

use crate::ids::CellAreaId;
use crate::numeric::pairwise_sum;
use crate::pipeline::region::{RegionCode, RegionLookup};
use crate::pipeline::station::{BBox, StationRow};
use crate::time::{Date, DateTime};

/// The columns of a cell that the area aggregation reads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AreaCell {
    /// `lat`; cells without position are ignored.
    pub lat: Option<f64>,
    /// `lon`.
    pub lon: Option<f64>,
    /// `radius`.
    pub radius: Option<u32>,
    /// `region`.
    pub region: Option<RegionCode>,
    /// `last_seen`.
    pub last_seen: Option<Date>,
    /// `max_lat`.
    pub max_lat: Option<f64>,
    /// `min_lat`.
    pub min_lat: Option<f64>,
    /// `max_lon`.
    pub max_lon: Option<f64>,
    /// `min_lon`.
    pub min_lon: Option<f64>,
}

impl From<&StationRow> for AreaCell {
    fn from(row: &StationRow) -> AreaCell {
        AreaCell {
            lat: row.lat,
            lon: row.lon,
            radius: row.radius,
            region: row.region,
            last_seen: row.last_seen,
            max_lat: row.max_lat,
            min_lat: row.min_lat,
            max_lon: row.max_lon,
            min_lon: row.min_lon,
        }
    }
}

/// A `cell_area` row.
#[derive(Debug, Clone, PartialEq)]
pub struct CellAreaRow {
    /// `areaid` and its components `radio, mcc, mnc, lac`.
    pub area: CellAreaId,
    /// `created` (only written on insert).
    pub created: DateTime,
    /// `modified`.
    pub modified: DateTime,
    /// `lat`: unweighted mean of the cell positions.
    pub lat: f64,
    /// `lon`.
    pub lon: f64,
    /// `radius`: from the centre to the farthest corner of the cells' combined box.
    pub radius: u32,
    /// `region`: the majority region of the cells.
    pub region: Option<RegionCode>,
    /// `avg_cell_radius`: mean cell radius, rounded half to even.
    pub avg_cell_radius: Option<u32>,
    /// `num_cells`: positioned cells.
    pub num_cells: u32,
    /// `last_seen`: latest `last_seen` of the cells.
    pub last_seen: Option<Date>,
}

/// What to do with an area row.
#[derive(Debug, Clone, PartialEq)]
pub enum AreaOutcome {
    /// No positioned cell is left: `DELETE` the row.
    Delete,
    /// `INSERT IGNORE` the row if it does not exist, else `UPDATE` every column except
    /// the key and `created`.
    Upsert(CellAreaRow),
}

/// Recomputes an area from its cells (all cells of the area in the radio's table; cells
/// without position are ignored here, so blocked cells do not count).
///
/// * box: extremes of the cells' `(max_lat, max_lon)` and `(min_lat, min_lon)`, NULLs
///   ignored, the cells' centres not included; a bound no cell has falls back to the
///   centre (the reference would compute with NaN);
/// * centre: unweighted mean of the cell positions; `radius`: `circle_radius` of the
///   centre and the box;
/// * `avg_cell_radius`: mean of the cells' radii rounded half to even; cells with NULL
///   radius are left out of it (quirk 19: the reference would crash);
/// * `region`: [`majority_region`].
pub fn update_area(
    area: CellAreaId,
    cells: &[AreaCell],
    now: DateTime,
    regions: &dyn RegionLookup,
) -> AreaOutcome {
    let positioned: Vec<(&AreaCell, f64, f64)> = cells
        .iter()
        .filter_map(|c| Some((c, c.lat?, c.lon?)))
        .filter(|(_, lat, lon)| lat.is_finite() && lon.is_finite())
        .collect();
    if positioned.is_empty() {
        return AreaOutcome::Delete;
    }
    let n = positioned.len() as f64;
    let (mut lat_sum, mut lon_sum) = (0.0, 0.0);
    for &(_, lat, lon) in &positioned {
        lat_sum += lat;
        lon_sum += lon;
    }
    let (lat, lon) = (lat_sum / n, lon_sum / n);

    let bbox = BBox {
        max_lat: extreme(positioned.iter().filter_map(|c| c.0.max_lat), f64::max).unwrap_or(lat),
        min_lat: extreme(positioned.iter().filter_map(|c| c.0.min_lat), f64::min).unwrap_or(lat),
        max_lon: extreme(positioned.iter().filter_map(|c| c.0.max_lon), f64::max).unwrap_or(lon),
        min_lon: extreme(positioned.iter().filter_map(|c| c.0.min_lon), f64::min).unwrap_or(lon),
    };

    let radii: Vec<f64> = positioned
        .iter()
        .filter_map(|c| c.0.radius.map(f64::from))
        .collect();
    let avg_cell_radius = (!radii.is_empty())
        .then(|| (pairwise_sum(&radii) / radii.len() as f64).round_ties_even() as u32);

    let region_list: Vec<Option<RegionCode>> = positioned.iter().map(|c| c.0.region).collect();
    AreaOutcome::Upsert(CellAreaRow {
        area,
        created: now,
        modified: now,
        lat,
        lon,
        radius: bbox.radius_from(lat, lon),
        region: majority_region(&region_list, lat, lon, area.mcc(), regions),
        avg_cell_radius,
        num_cells: u32::try_from(positioned.len()).unwrap_or(u32::MAX),
        last_seen: positioned.iter().filter_map(|c| c.0.last_seen).max(),
    })
}

/// Decodes the raw `update_cellarea` queue items (7- or 8-byte area ids) and removes
/// duplicates (first appearance order); undecodable items are skipped.
pub fn decode_area_queue<B: AsRef<[u8]>>(items: &[B]) -> Vec<CellAreaId> {
    let mut seen = std::collections::BTreeSet::new();
    items
        .iter()
        .filter_map(|raw| CellAreaId::from_bytes(raw.as_ref()).ok())
        .filter(|area| seen.insert(*area))
        .collect()
}

/// The NaN-ignoring extreme of some values; `None` if there are none.
fn extreme(values: impl Iterator<Item = f64>, pick: fn(f64, f64) -> f64) -> Option<f64> {
    values.filter(|v| v.is_finite()).reduce(pick)
}

/// The region of an area from its cells' regions (`None` counts as a value):
///
/// * all the same (including all `None`) → that value;
/// * otherwise the most frequent; among equally frequent values `None` sorts first, then
///   alphabetically, and the first wins — unless several are tied and
///   [`RegionLookup::region_for_cell`] of the centre and MCC gives a region, which then
///   wins.
pub fn majority_region(
    cell_regions: &[Option<RegionCode>],
    lat: f64,
    lon: f64,
    mcc: u16,
    regions: &dyn RegionLookup,
) -> Option<RegionCode> {
    let mut counts: BTreeMap<Option<RegionCode>, usize> = BTreeMap::new();
    for region in cell_regions {
        *counts.entry(*region).or_default() += 1;
    }
    if counts.len() <= 1 {
        return counts.into_keys().next().flatten();
    }
    let best = counts.values().copied().max().unwrap_or(0);
    // BTreeMap order is None first, then alphabetical: the reference's tie order.
    let tied: Vec<Option<RegionCode>> = counts
        .into_iter()
        .filter(|&(_, n)| n == best)
        .map(|(region, _)| region)
        .collect();
    let first = tied.first().copied().flatten();
    if tied.len() > 1 {
        regions.region_for_cell(lat, lon, mcc).or(first)
    } else {
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enums::Radio;
    use crate::pipeline::region::fake::FakeRegions;

    const LAT: f64 = 51.5;
    const LON: f64 = -0.1;

    fn now() -> DateTime {
        DateTime::from_ymd_hms(2024, 1, 12, 10, 0, 0).unwrap()
    }

    fn today() -> Date {
        now().date()
    }

    fn area(mcc: u16) -> CellAreaId {
        CellAreaId::new(Radio::Gsm, mcc, 30, 7).unwrap()
    }

    fn cell(lat: f64, lon: f64, radius: u32, region: &str) -> AreaCell {
        AreaCell {
            lat: Some(lat),
            lon: Some(lon),
            radius: Some(radius),
            region: RegionCode::new(region),
            last_seen: Some(today()),
            max_lat: Some(lat),
            min_lat: Some(lat),
            max_lon: Some(lon),
            min_lon: Some(lon),
        }
    }

    fn upsert(outcome: AreaOutcome) -> CellAreaRow {
        match outcome {
            AreaOutcome::Upsert(row) => row,
            AreaOutcome::Delete => panic!("expected an upsert"),
        }
    }

    fn regions_of(cells: &[AreaCell], mcc: u16) -> Option<RegionCode> {
        upsert(update_area(area(mcc), cells, now(), &FakeRegions::world())).region
    }

    #[test]
    fn new_area_from_one_cell() {
        let row = upsert(update_area(
            area(234),
            &[cell(LAT, LON, 1500, "GB")],
            now(),
            &FakeRegions::world(),
        ));
        assert_eq!((row.lat, row.lon), (LAT, LON));
        assert_eq!(row.radius, 0);
        assert_eq!(row.region, RegionCode::new("GB"));
        assert_eq!(row.avg_cell_radius, Some(1500));
        assert_eq!(row.num_cells, 1);
        assert_eq!(row.last_seen, Some(today()));
        assert_eq!((row.created, row.modified), (now(), now()));
    }

    #[test]
    fn area_without_positioned_cells_is_deleted() {
        let mut blocked = cell(LAT, LON, 10, "GB");
        blocked.lat = None;
        blocked.lon = None;
        assert_eq!(
            update_area(area(234), &[], now(), &FakeRegions::world()),
            AreaOutcome::Delete
        );
        assert_eq!(
            update_area(area(234), &[blocked], now(), &FakeRegions::world()),
            AreaOutcome::Delete
        );
    }

    #[test]
    fn update_averages_radius_and_takes_latest_day() {
        let mut older = cell(LAT, LON, 300, "GB");
        older.last_seen = Some(today().add_days(-1));
        let row = upsert(update_area(
            area(234),
            &[cell(LAT, LON, 200, "GB"), older],
            now(),
            &FakeRegions::world(),
        ));
        assert_eq!(row.avg_cell_radius, Some(250));
        assert_eq!(row.num_cells, 2);
        assert_eq!(row.last_seen, Some(today()));
        assert_eq!(row.radius, 0);
    }

    #[test]
    fn incomplete_cells() {
        let mut unpositioned = cell(LAT + 0.0003, LON, 100, "GB");
        unpositioned.lat = None;
        let mut no_box = cell(LAT + 0.0002, LON, 100, "GB");
        no_box.max_lat = None;
        no_box.min_lon = None;
        let cells = [cell(LAT, LON, 100, "GB"), no_box, unpositioned];
        let row = upsert(update_area(area(234), &cells, now(), &FakeRegions::world()));
        assert_eq!(row.num_cells, 2);
        assert!((row.lat - (LAT + 0.0001)).abs() < 1e-9, "{}", row.lat);
        assert_eq!(row.lon, LON);
        // The box spans 0.0002° of latitude around a centre in its middle: about 11 m.
        assert!((10..=12).contains(&row.radius), "{}", row.radius);
    }

    #[test]
    fn null_radius_is_left_out_of_the_average() {
        let mut no_radius = cell(LAT, LON, 0, "GB");
        no_radius.radius = None;
        let row = upsert(update_area(
            area(234),
            &[cell(LAT, LON, 400, "GB"), no_radius],
            now(),
            &FakeRegions::world(),
        ));
        assert_eq!(row.avg_cell_radius, Some(400));
        assert_eq!(row.num_cells, 2);
        let row = upsert(update_area(
            area(234),
            &[no_radius],
            now(),
            &FakeRegions::world(),
        ));
        assert_eq!(row.avg_cell_radius, None);
    }

    #[test]
    fn average_radius_rounds_half_to_even() {
        let cells = [cell(LAT, LON, 1, "GB"), cell(LAT, LON, 2, "GB")];
        let row = upsert(update_area(area(234), &cells, now(), &FakeRegions::world()));
        assert_eq!(row.avg_cell_radius, Some(2), "1.5 rounds to 2");
        let cells = [cell(LAT, LON, 2, "GB"), cell(LAT, LON, 3, "GB")];
        let row = upsert(update_area(area(234), &cells, now(), &FakeRegions::world()));
        assert_eq!(row.avg_cell_radius, Some(2), "2.5 rounds to 2");
    }

    #[test]
    fn region_rules() {
        // XW / IL tie near 32.2N, broken by region_for_cell with MCC 425.
        let cells = [cell(32.2, 34.9, 10, "XW"), cell(32.2, 35.0, 10, "IL")];
        assert_eq!(regions_of(&cells, 425), RegionCode::new("IL"));
        // Majority.
        let cells = [
            cell(18.4, -66.1, 10, "PR"),
            cell(18.4, -66.1, 10, "PR"),
            cell(18.4, -66.0, 10, "US"),
        ];
        assert_eq!(regions_of(&cells, 310), RegionCode::new("PR"));
        let cells = [cell(18.4, -66.1, 10, "PR"), cell(18.4, -66.1, 10, "PR")];
        assert_eq!(regions_of(&cells, 310), RegionCode::new("PR"));
        // All NULL.
        let cells = [cell(0.0, 0.0, 10, ""), cell(0.0, 0.0, 10, "")];
        assert_eq!(regions_of(&cells, 204), None);
        // NULL / NL tie outside NL: NULL sorts first and region_for_cell finds nothing.
        let cells = [cell(0.0, 0.0, 10, ""), cell(0.0, 0.0, 10, "NL")];
        assert_eq!(regions_of(&cells, 204), None);
    }

    #[test]
    fn area_queue_items_are_decoded_and_deduplicated() {
        let nr = CellAreaId::new(Radio::Nr, 310, 260, 0xFF_FFFD).unwrap();
        let items = vec![
            area(234).to_bytes(),
            nr.to_bytes(),
            area(234).to_bytes(),
            vec![1, 2, 3],
        ];
        assert_eq!(decode_area_queue(&items), vec![area(234), nr]);
    }

    #[test]
    fn nr_areas_use_wide_ids() {
        let nr = CellAreaId::new(Radio::Nr, 310, 260, 0xFF_FFFD).unwrap();
        let row = upsert(update_area(
            nr,
            &[cell(40.0, -100.0, 300, "US")],
            now(),
            &FakeRegions::world(),
        ));
        assert_eq!(row.area.lac(), 0xFF_FFFD);
        assert_eq!(row.area.to_bytes().len(), 8);
        assert_eq!(row.region, RegionCode::new("US"));
    }
}
