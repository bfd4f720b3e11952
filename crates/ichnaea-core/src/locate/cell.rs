//! The cell position and region sources (`api.md` §8.6.2, §8.10).
//!
//! **Positions.** Cells of the same location area are one cluster; cells of different
//! areas disagree too much to be averaged. A single cell answers with its own
//! position and radius; several cells answer with their weighted mean position (weights
//! as for MAC networks: `score · min(sqrt(2000 / age), 1) / signal²`) and the 95th
//! percentile of the distances to them. Cell answers are clamped to [1 km, 50 km]. Only
//! when no cell is known does the whole area answer (if the client allows `lacf`),
//! clamped to [50 km, 500 km] and tagged `lacf`.
//!
//! **Regions.** The mobile country code names the region, with its score split evenly
//! when an MCC covers several regions; for such ambiguous MCCs the stored region of the
//! cell's area adds the area's score to break the tie. A complete cell is also in the
//! area list, so with `lacf` on it counts twice; the reference relies on that (a cell
//! then outweighs a GeoIP guess), so it is kept.
//!
//! **5G NR** cells use the same formulas and clamps as the other radios; the only
//! NR-specific value is the signal assumed when none is sent
//! ([`super::constants::min_cell_signal`]).
//!
//! **Missing radius:** a single cell or area whose radius column is NULL answers with
//! the lower accuracy clamp. (The reference computes NaN there and would answer with an
//! unusable accuracy.)

use std::collections::HashMap;

use crate::geo::distance;
use crate::ids::{CellAreaId, CellId};

use super::constants::{
    CELL_MAX_ACCURACY, CELL_MIN_ACCURACY, CELLAREA_MAX_ACCURACY, CELLAREA_MIN_ACCURACY, DataSource,
    MIN_OBSERVATION_AGE_MS, min_cell_signal,
};
use super::query::{AreaObservation, CellObservation, LocateQuery};
use super::region_radius::{Region, region_for_code};
use super::result::{
    FallbackTag, NetworkKey, PositionResult, PositionResults, RegionResult, RegionResults,
    UsedNetwork,
};
use super::score::{area_score, station_score};
use super::station::{AreaStation, CellStation};
use crate::numeric::{numpy_sum, percentile, weighted_mean};
use crate::time::DateTime;

/// The region table of mobile country codes, provided by the geocoder.
pub trait MccRegions {
    /// The GENC codes of the regions an MCC is used in (`api.md` §10.3); codes that are
    /// not known regions are ignored. Empty for unknown MCCs.
    fn regions_for_mcc(&self, mcc: u16) -> Vec<&str>;
}

impl<F> MccRegions for F
where
    F: Fn(u16) -> Vec<&'static str>,
{
    fn regions_for_mcc(&self, mcc: u16) -> Vec<&str> {
        self(mcc)
    }
}

/// One positioned cell with its observation data.
#[derive(Debug, Clone, Copy)]
struct CellNetwork {
    lat: f64,
    lon: f64,
    radius: f64,
    age: i32,
    signal: i32,
    score: f64,
    id: CellId,
    seen_today: bool,
}

fn observation_data(age: Option<i32>, signal: Option<i32>, floor: i32) -> (i32, i32) {
    let age = age
        .unwrap_or(0)
        .saturating_abs()
        .max(MIN_OBSERVATION_AGE_MS);
    let signal = signal.filter(|&s| s != 0).unwrap_or(floor);
    (age, signal)
}

/// Cell position candidates, one per location area, in the order the areas first
/// appear among `stations`.
pub fn cell_positions(
    cells: &[CellObservation],
    stations: &[CellStation],
    now: DateTime,
) -> PositionResults {
    let today = now.date();
    let obs: HashMap<CellId, (i32, i32)> = cells
        .iter()
        .map(|c| {
            let data = observation_data(c.age, c.signal, min_cell_signal(c.id.radio()));
            (c.id, data)
        })
        .collect();

    let mut clusters: Vec<(CellAreaId, Vec<CellNetwork>)> = Vec::new();
    for station in stations.iter().filter(|s| s.is_usable(today)) {
        let (Some((lat, lon)), Some(&(age, signal))) = (station.position(), obs.get(&station.id))
        else {
            continue;
        };
        let network = CellNetwork {
            lat,
            lon,
            radius: f64::from(station.radius.unwrap_or(0)),
            age,
            signal,
            score: station_score(station, now),
            id: station.id,
            seen_today: station.seen_today(today),
        };
        let area = station.id.area();
        match clusters.iter_mut().find(|(a, _)| *a == area) {
            Some((_, members)) => members.push(network),
            None => clusters.push((area, vec![network])),
        }
    }

    clusters
        .into_iter()
        .filter_map(|(_, members)| {
            let (lat, lon, accuracy, score) = aggregate_cells(&members)?;
            let used = members
                .iter()
                .map(|n| UsedNetwork {
                    key: NetworkKey::Cell(n.id),
                    seen_today: n.seen_today,
                })
                .collect();
            Some(
                PositionResult::new(lat, lon, accuracy, score, DataSource::Internal, None)
                    .with_used_networks(used),
            )
        })
        .collect()
}

/// `aggregate_cell_position` for one area's cells: position, accuracy and score.
fn aggregate_cells(members: &[CellNetwork]) -> Option<(f64, f64, f64, f64)> {
    match members {
        [] => None,
        [one] => Some((
            one.lat,
            one.lon,
            one.radius.clamp(CELL_MIN_ACCURACY, CELL_MAX_ACCURACY),
            one.score,
        )),
        _ => {
            let points: Vec<(f64, f64)> = members.iter().map(|n| (n.lat, n.lon)).collect();
            let weights: Vec<f64> = members
                .iter()
                .map(|n| {
                    n.score * (2000.0 / f64::from(n.age)).sqrt().min(1.0)
                        / f64::from(n.signal).powi(2)
                })
                .collect();
            let (lat, lon) = weighted_mean(&points, &weights)?;
            let scores: Vec<f64> = members.iter().map(|n| n.score).collect();
            let distances: Vec<f64> = members
                .iter()
                .map(|n| distance(lat, lon, n.lat, n.lon))
                .collect();
            let p95 = percentile(&distances, 95.0)?;
            let accuracy = p95.clamp(CELL_MIN_ACCURACY, CELL_MAX_ACCURACY);
            Some((lat, lon, accuracy, numpy_sum(&scores)))
        }
    }
}

/// Area position candidates (`lacf`), one per observed area found, in station order.
/// Only used when [`cell_positions`] found nothing.
pub fn area_positions(
    areas: &[AreaObservation],
    stations: &[AreaStation],
    now: DateTime,
) -> PositionResults {
    let today = now.date();
    stations
        .iter()
        .filter(|s| s.is_usable() && areas.iter().any(|a| a.id == s.id))
        .filter_map(|s| {
            let (lat, lon) = s.position()?;
            let radius = f64::from(s.radius.unwrap_or(0));
            let accuracy = radius.clamp(CELLAREA_MIN_ACCURACY, CELLAREA_MAX_ACCURACY);
            let used = vec![UsedNetwork {
                key: NetworkKey::Area(s.id),
                seen_today: s.seen_today(today),
            }];
            Some(
                PositionResult::new(
                    lat,
                    lon,
                    accuracy,
                    area_score(s, now),
                    DataSource::Internal,
                    Some(FallbackTag::Lacf),
                )
                .with_used_networks(used),
            )
        })
        .collect()
}

/// Whether the area rows are needed for a position: the query has areas (so `lacf` is
/// on) and no cell produced a candidate.
pub fn needs_area_search(query: &LocateQuery, cell_results: &PositionResults) -> bool {
    cell_results.is_empty() && !query.cell_area().is_empty()
}

/// The areas whose rows the region search needs: those of the query's cells and areas
/// whose MCC maps to more than one region, deduplicated, in query order.
pub fn ambiguous_area_ids(query: &LocateQuery, mcc: &impl MccRegions) -> Vec<CellAreaId> {
    let mut ids: Vec<CellAreaId> = Vec::new();
    let areas = query
        .cell()
        .iter()
        .map(|c| c.id.area())
        .chain(query.cell_area().iter().map(|a| a.id));
    for area in areas {
        if known_regions(mcc, area.mcc()).len() > 1 && !ids.contains(&area) {
            ids.push(area);
        }
    }
    ids
}

fn known_regions(mcc: &impl MccRegions, code: u16) -> Vec<&'static Region> {
    let mut regions: Vec<&'static Region> = Vec::new();
    for code in mcc.regions_for_mcc(code) {
        if let Some(region) = region_for_code(code)
            && !regions.iter().any(|r| r.code == region.code)
        {
            regions.push(region);
        }
    }
    regions
}

/// Cell region candidates (`api.md` §8.10): each complete cell, then each area, adds
/// `1 / n` to each of the `n` regions of its MCC; for ambiguous MCCs, each area row in
/// `ambiguous_areas` (see [`ambiguous_area_ids`]) whose region is already scored adds
/// its area score.
pub fn cell_regions(
    query: &LocateQuery,
    mcc: &impl MccRegions,
    ambiguous_areas: &[AreaStation],
    now: DateTime,
) -> RegionResults {
    let mut scored: Vec<(&'static Region, f64)> = Vec::new();
    let mut wanted: Vec<CellAreaId> = Vec::new();
    let entries = query
        .cell()
        .iter()
        .map(|c| c.id.area())
        .chain(query.cell_area().iter().map(|a| a.id));
    for area in entries {
        let regions = known_regions(mcc, area.mcc());
        let share = 1.0 / (regions.len().max(1) as f64);
        for region in &regions {
            match scored.iter_mut().find(|(r, _)| r.code == region.code) {
                Some((_, total)) => *total += share,
                None => scored.push((region, share)),
            }
        }
        if regions.len() > 1 && !wanted.contains(&area) {
            wanted.push(area);
        }
    }

    if !wanted.is_empty() {
        for row in ambiguous_areas {
            if !row.is_usable() || !wanted.contains(&row.id) {
                continue;
            }
            let Some(code) = row.region.as_deref() else {
                continue;
            };
            if let Some((_, total)) = scored.iter_mut().find(|(r, _)| r.code == code) {
                *total += area_score(row, now);
            }
        }
    }

    scored
        .into_iter()
        .map(|(region, score)| RegionResult {
            code: region.code,
            name: region.name,
            accuracy: region.radius,
            score,
            source: DataSource::Internal,
            fallback: None,
        })
        .collect()
}

/// Area observations for the areas of complete cells, the way the request parser
/// derives them; convenient when only cells are at hand.
pub fn areas_of_cells(cells: &[CellObservation]) -> Vec<AreaObservation> {
    let mut areas: Vec<AreaObservation> = Vec::new();
    for cell in cells {
        let id = cell.id.area();
        if !areas.iter().any(|a| a.id == id) {
            areas.push(AreaObservation {
                age: cell.age,
                signal: cell.signal,
                ta: cell.ta,
                asu: cell.asu,
                ..AreaObservation::new(id)
            });
        }
    }
    areas
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::enums::Radio;
    use crate::locate::query::{FallbackFlags, QueryInput};
    use crate::numeric::round_decimals;

    pub(crate) const LAT: f64 = 51.5;
    pub(crate) const LON: f64 = -0.1;

    pub(crate) fn now() -> DateTime {
        DateTime::from_unix_seconds(1_705_000_000)
    }

    /// The MCC table rows the reference tests use.
    pub(crate) fn mcc_table(mcc: u16) -> Vec<&'static str> {
        match mcc {
            234 => vec!["GB", "GG", "IM", "JE"],
            235 => vec!["GB"],
            262 => vec!["DE"],
            310 => vec!["BM", "GU", "MP", "PR", "US", "VI"],
            311 => vec!["AS", "GU", "US", "VI"],
            _ => vec![],
        }
    }

    pub(crate) fn cell_id(radio: Radio, mcc: u16, lac: u32, cid: u64) -> CellId {
        CellId::new(radio, mcc, 30, lac, cid).unwrap()
    }

    /// A factory-default cell: radius 500, one sample, created now.
    pub(crate) fn cell_station(id: CellId, lat: f64, lon: f64) -> CellStation {
        CellStation {
            radius: Some(500),
            region: Some("GB".into()),
            ..CellStation::new(id, lat, lon, now())
        }
    }

    /// A factory-default area: radius 25000, one cell, created now.
    pub(crate) fn area_station(id: CellAreaId, lat: f64, lon: f64) -> AreaStation {
        AreaStation {
            radius: Some(25_000),
            region: Some("GB".into()),
            avg_cell_radius: Some(500),
            ..AreaStation::new(id, lat, lon, now())
        }
    }

    #[test]
    fn test_cell() {
        let id = cell_id(Radio::Lte, 234, 1, 1);
        let station = CellStation {
            samples: Some(10),
            ..cell_station(id, LAT, LON)
        };
        let results = cell_positions(
            &[CellObservation::new(id)],
            std::slice::from_ref(&station),
            now(),
        );
        assert_eq!(results.len(), 1);
        let r = results.best().unwrap();
        assert_eq!((r.lat, r.lon, r.accuracy), (LAT, LON, 1000.0));
        assert_eq!(r.score, station_score(&station, now()));
        assert_eq!(r.fallback, None);
        assert_eq!(
            r.used_networks,
            vec![UsedNetwork {
                key: NetworkKey::Cell(id),
                seen_today: true
            }]
        );
        let wide = CellStation {
            radius: Some(15_000),
            ..station
        };
        let results = cell_positions(&[CellObservation::new(id)], &[wide], now());
        assert_eq!(results.best().unwrap().accuracy, 15_000.0);
    }

    #[test]
    fn test_cell_wrong_cid() {
        let station = cell_station(cell_id(Radio::Gsm, 234, 1, 1), LAT, LON);
        let wrong = CellObservation::new(cell_id(Radio::Gsm, 234, 1, 2));
        assert!(cell_positions(&[wrong], &[station], now()).is_empty());
    }

    #[test]
    fn test_multiple_cells() {
        let a = cell_id(Radio::Wcdma, 234, 7, 100);
        let b = cell_id(Radio::Wcdma, 234, 7, 101);
        let sa = CellStation {
            samples: Some(100),
            ..cell_station(a, LAT, LON)
        };
        let sb = CellStation {
            samples: Some(10),
            ..cell_station(b, LAT + 1.0, LON + 1.0)
        };
        let expected = station_score(&sa, now()) + station_score(&sb, now());
        let query = [CellObservation::new(a), CellObservation::new(b)];
        let results = cell_positions(&query, &[sa, sb], now());
        assert_eq!(results.len(), 1);
        let r = results.best().unwrap();
        assert_eq!((r.lat, r.lon), (LAT + 0.3333333, LON + 0.3333333));
        assert_eq!(r.accuracy, CELL_MAX_ACCURACY);
        assert_eq!(round_decimals(r.score, 4), round_decimals(expected, 4));
        assert_eq!(r.used_networks.len(), 2);
    }

    #[test]
    fn cells_of_different_areas_are_separate_candidates() {
        // test_inconsistent_cell_radio: a wcdma cell and a gsm cell 0.0002° north.
        let w = cell_id(Radio::Wcdma, 234, 1, 1);
        let g = cell_id(Radio::Gsm, 234, 1, 2);
        let stations = [
            CellStation {
                radius: Some(15_000),
                samples: Some(10),
                ..cell_station(w, LAT, LON)
            },
            CellStation {
                radius: Some(35_000),
                samples: Some(5),
                ..cell_station(g, LAT + 0.0002, LON)
            },
        ];
        let query = [CellObservation::new(w), CellObservation::new(g)];
        let results = cell_positions(&query, &stations, now());
        assert_eq!(results.len(), 2);
        let best = results.best().unwrap();
        assert_eq!((best.lat, best.lon, best.accuracy), (LAT, LON, 15_000.0));
    }

    #[test]
    fn nr_cells_work_like_the_others() {
        let nr = CellId::new(Radio::Nr, 310, 260, 0xAB_CDEF, (1 << 36) - 5).unwrap();
        let nr2 = CellId::new(Radio::Nr, 310, 260, 0xAB_CDEF, (1 << 36) - 6).unwrap();
        let stations = [
            CellStation {
                radius: Some(300),
                ..cell_station(nr, LAT, LON)
            },
            cell_station(nr2, LAT + 0.01, LON),
        ];
        let one = cell_positions(&[CellObservation::new(nr)], &stations, now());
        assert_eq!(one.best().unwrap().accuracy, CELL_MIN_ACCURACY);
        // No signal on either: both weigh with the NR floor, so the mean is the
        // midpoint.
        let query = [CellObservation::new(nr), CellObservation::new(nr2)];
        let both = cell_positions(&query, &stations, now());
        assert_eq!(both.best().unwrap().lat, LAT + 0.005);
        // A stronger signal pulls the mean towards its cell.
        let strong = [
            CellObservation {
                signal: Some(-80),
                ..CellObservation::new(nr)
            },
            CellObservation::new(nr2),
        ];
        // Weights 1/80² and 1/156²: 0.01° · 6400 / (6400 + 24336) from the first cell.
        let pulled = cell_positions(&strong, &stations, now());
        assert_eq!(pulled.best().unwrap().lat, 51.5020822);
    }

    #[test]
    fn missing_radius_uses_the_lower_clamp() {
        let id = cell_id(Radio::Lte, 234, 1, 1);
        let station = CellStation {
            radius: None,
            ..cell_station(id, LAT, LON)
        };
        let results = cell_positions(&[CellObservation::new(id)], &[station], now());
        assert_eq!(results.best().unwrap().accuracy, CELL_MIN_ACCURACY);
    }

    fn area_id(mcc: u16, lac: u32) -> CellAreaId {
        CellAreaId::new(Radio::Gsm, mcc, 30, lac).unwrap()
    }

    #[test]
    fn test_cellarea() {
        let id = area_id(234, 5);
        let results = area_positions(
            &[AreaObservation::new(id)],
            &[area_station(id, LAT, LON)],
            now(),
        );
        let r = results.best().unwrap();
        assert_eq!((r.lat, r.lon, r.accuracy), (LAT, LON, 50_000.0));
        assert_eq!(r.fallback, Some(FallbackTag::Lacf));
        assert!((r.score - 0.1).abs() < 1e-12);
        assert_eq!(r.used_networks[0].key, NetworkKey::Area(id));
    }

    #[test]
    fn test_smallest_area() {
        let (a, b) = (area_id(234, 1), area_id(234, 2));
        let sa = AreaStation {
            radius: Some(25_000),
            num_cells: Some(8),
            ..area_station(a, LAT, LON)
        };
        let sb = AreaStation {
            radius: Some(30_000),
            num_cells: Some(6),
            ..area_station(b, LAT + 0.2, LON)
        };
        let query = [AreaObservation::new(a), AreaObservation::new(b)];
        let results = area_positions(&query, &[sa.clone(), sb], now());
        let best = results.best().unwrap();
        assert_eq!((best.lat, best.accuracy), (LAT, 50_000.0));
        assert_eq!(
            round_decimals(best.score, 4),
            round_decimals(area_score(&sa, now()), 4)
        );
    }

    #[test]
    fn test_minimum_radius() {
        let (a, b) = (area_id(234, 1), area_id(234, 2));
        let stations = [
            AreaStation {
                radius: Some(48_000),
                ..area_station(a, LAT, LON)
            },
            AreaStation {
                radius: Some(53_000),
                ..area_station(b, LAT + 0.2, LON)
            },
        ];
        let query = [AreaObservation::new(a), AreaObservation::new(b)];
        let best = area_positions(&query, &stations, now())
            .best()
            .cloned()
            .unwrap();
        assert_eq!((best.lat, best.accuracy), (LAT, CELLAREA_MIN_ACCURACY));
    }

    fn area_query(areas: &[CellAreaId]) -> LocateQuery {
        LocateQuery::new(QueryInput {
            cell_area: areas.iter().map(|&a| AreaObservation::new(a)).collect(),
            ..QueryInput::default()
        })
    }

    fn scores(results: &RegionResults) -> Vec<(&'static str, f64)> {
        results.iter().map(|r| (r.code, r.score)).collect()
    }

    #[test]
    fn region_from_an_unambiguous_area() {
        let query = area_query(&[area_id(235, 1)]);
        assert!(ambiguous_area_ids(&query, &mcc_table).is_empty());
        let results = cell_regions(&query, &mcc_table, &[], now());
        assert_eq!(scores(&results), vec![("GB", 1.0)]);
        assert_eq!(results.best().unwrap().name, "United Kingdom");
    }

    #[test]
    fn ambiguous_mcc_uses_the_area_region() {
        let id = area_id(234, 1);
        let area = AreaStation {
            num_cells: Some(10),
            ..area_station(id, LAT, LON)
        };
        let query = area_query(&[id]);
        assert_eq!(ambiguous_area_ids(&query, &mcc_table), vec![id]);
        let results = cell_regions(&query, &mcc_table, std::slice::from_ref(&area), now());
        let bonus = area_score(&area, now());
        assert_eq!(
            scores(&results),
            vec![
                ("GB", 0.25 + bonus),
                ("GG", 0.25),
                ("IM", 0.25),
                ("JE", 0.25)
            ]
        );
        assert_eq!(results.best().unwrap().code, "GB");
    }

    #[test]
    fn ambiguous_and_unambiguous_areas_add_up() {
        let (a234, a235) = (area_id(234, 1), area_id(235, 1));
        let stored = [
            AreaStation {
                num_cells: Some(6),
                ..area_station(a234, LAT, LON)
            },
            AreaStation {
                num_cells: Some(8),
                ..area_station(a235, LAT, LON)
            },
        ];
        let query = area_query(&[a234, a235]);
        let results = cell_regions(&query, &mcc_table, &stored, now());
        assert!(results.len() > 2);
        let best = results.best().unwrap();
        assert_eq!(best.code, "GB");
        assert_eq!(best.score, 0.25 + area_score(&stored[0], now()) + 1.0);
    }

    #[test]
    fn unknown_mcc_gives_no_region() {
        let results = cell_regions(&area_query(&[area_id(999, 1)]), &mcc_table, &[], now());
        assert!(results.is_empty());
    }

    #[test]
    fn full_cells_count_with_their_area() {
        let id = cell_id(Radio::Gsm, 235, 1, 1);
        let cells = [CellObservation::new(id)];
        let with_lacf = LocateQuery::new(QueryInput {
            cell: cells.to_vec(),
            cell_area: areas_of_cells(&cells),
            ..QueryInput::default()
        });
        assert_eq!(
            scores(&cell_regions(&with_lacf, &mcc_table, &[], now())),
            vec![("GB", 2.0)]
        );
        let without = LocateQuery::new(QueryInput {
            cell: cells.to_vec(),
            cell_area: areas_of_cells(&cells),
            fallback: FallbackFlags {
                ipf: true,
                lacf: false,
            },
            ..QueryInput::default()
        });
        assert_eq!(
            scores(&cell_regions(&without, &mcc_table, &[], now())),
            vec![("GB", 1.0)]
        );
    }

    #[test]
    fn area_search_only_without_cell_results() {
        let id = cell_id(Radio::Gsm, 234, 1, 1);
        let cells = [CellObservation::new(id)];
        let query = LocateQuery::new(QueryInput {
            cell: cells.to_vec(),
            cell_area: areas_of_cells(&cells),
            ..QueryInput::default()
        });
        assert!(needs_area_search(&query, &PositionResults::new()));
        let found = cell_positions(&cells, &[cell_station(id, LAT, LON)], now());
        assert!(!needs_area_search(&query, &found));
    }
}
