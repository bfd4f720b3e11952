//! The searchers: which sources run for a query, in which order, and how their
//! candidates are combined (`api.md` §8.1, §8.6, §8.8).
//!
//! Position: the internal source (Bluetooth, WiFi, then cells, with areas only when no
//! cell matched), then GeoIP when the client allows `ipf` and sent an IP, then — only if
//! those candidates do not satisfy the query — the external provider. The answer is
//! [`PositionResults::best`] over all candidates. Region: the internal source
//! (Bluetooth, WiFi, cells by MCC), then GeoIP; the answer is [`RegionResults::best`].
//!
//! The database and the provider are IO, so this module takes the rows the caller
//! loaded and returns the candidates; the caller then asks
//! [`super::fallback::fallback_should_search`] and adds the provider's answer itself.
//! Rows the caller loads:
//!
//! * stations for the query's Bluetooth, WiFi and cell ids ([`StationRows`]);
//! * for positions, the query's areas, but only when [`super::cell::needs_area_search`]
//!   says so after the cell search (or always, if a second round trip costs more);
//! * for regions, the areas listed by [`super::cell::ambiguous_area_ids`].
//!
//! Rows the rules exclude (no position, blocked) may be passed: every source filters
//! them itself.

use super::blue::{blue_positions, blue_regions};
use super::cell::{MccRegions, area_positions, cell_positions, cell_regions};
use super::constants::DataAccuracy;
use super::geoip::{geoip_position, geoip_region, geoip_should_search};
use super::query::LocateQuery;
use super::result::{PositionResult, PositionResults, RegionResult, RegionResults};
use super::station::{AreaStation, CellStation, MacStation};
use super::wifi::{wifi_positions, wifi_regions};
use crate::time::DateTime;

/// The station rows loaded for one query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StationRows {
    /// Rows of `blue_shard_*` for the query's beacons.
    pub blue: Vec<MacStation>,
    /// Rows of `wifi_shard_*` for the query's networks.
    pub wifi: Vec<MacStation>,
    /// Rows of the cell tables for the query's complete cells.
    pub cell: Vec<CellStation>,
    /// Rows of `cell_area`: the query's areas (positions) or its ambiguous areas
    /// (regions).
    pub area: Vec<AreaStation>,
}

/// Whether the internal source runs: the query has any network data.
pub fn internal_should_search(query: &LocateQuery) -> bool {
    query.has_networks()
}

/// The internal position source: Bluetooth, WiFi and cell candidates, in that order,
/// all kept; area candidates only when no cell candidate exists.
pub fn internal_positions(
    query: &LocateQuery,
    rows: &StationRows,
    now: DateTime,
) -> PositionResults {
    let mut results = PositionResults::new();
    if !internal_should_search(query) {
        return results;
    }
    if !query.blue().is_empty() {
        results.append(blue_positions(query.blue(), &rows.blue, now));
    }
    if !query.wifi().is_empty() {
        results.append(wifi_positions(query.wifi(), &rows.wifi, now));
    }
    let cells = if query.cell().is_empty() {
        PositionResults::new()
    } else {
        cell_positions(query.cell(), &rows.cell, now)
    };
    if cells.is_empty() && !query.cell_area().is_empty() {
        results.append(area_positions(query.cell_area(), &rows.area, now));
    } else {
        results.append(cells);
    }
    results
}

/// The position candidates before the external provider.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PositionCandidates {
    /// The internal source's candidates; the export decision looks at these only.
    pub internal: PositionResults,
    /// All candidates: internal, then GeoIP. Add the provider's answer here.
    pub all: PositionResults,
    /// The sources that ran (their `should_search` was true), each with its own
    /// candidates, in search order: what the per-source metrics report.
    pub searched: Vec<(SourceName, Vec<DataAccuracy>)>,
}

/// A locate source, as the per-source metrics name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceName {
    /// Our own station tables.
    Internal,
    /// The GeoIP database.
    GeoIp,
    /// The external fallback provider.
    Fallback,
}

impl SourceName {
    /// The metric tag value.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceName::Internal => "internal",
            SourceName::GeoIp => "geoip",
            SourceName::Fallback => "fallback",
        }
    }
}

/// Whether a source's candidates count as a `hit` for the per-source metric: any of
/// them is at least as precise as the query expects (`api.md` §12.6).
pub fn source_hit(accuracies: &[DataAccuracy], expected: DataAccuracy) -> bool {
    accuracies.iter().any(|a| *a <= expected)
}

/// Runs the internal and GeoIP position sources.
pub fn position_candidates(
    query: &LocateQuery,
    rows: &StationRows,
    now: DateTime,
) -> PositionCandidates {
    let internal = internal_positions(query, rows, now);
    let mut all = internal.clone();
    let mut searched = Vec::new();
    if internal_should_search(query) {
        let accuracies = internal.iter().map(PositionResult::data_accuracy).collect();
        searched.push((SourceName::Internal, accuracies));
    }
    if geoip_should_search(query) {
        let found = geoip_position(query);
        let accuracies = found.iter().map(PositionResult::data_accuracy).collect();
        searched.push((SourceName::GeoIp, accuracies));
        all.extend(found);
    }
    PositionCandidates {
        internal,
        all,
        searched,
    }
}

/// The internal region source: Bluetooth, WiFi and cell candidates, in that order.
/// `rows.area` holds the rows for [`super::cell::ambiguous_area_ids`].
pub fn internal_regions(
    query: &LocateQuery,
    rows: &StationRows,
    mcc: &impl MccRegions,
    now: DateTime,
) -> RegionResults {
    let mut results = RegionResults::new();
    if !internal_should_search(query) {
        return results;
    }
    if !query.blue().is_empty() {
        results.append(blue_regions(query.blue(), &rows.blue, now));
    }
    if !query.wifi().is_empty() {
        results.append(wifi_regions(query.wifi(), &rows.wifi, now));
    }
    if !query.cell().is_empty() || !query.cell_area().is_empty() {
        results.append(cell_regions(query, mcc, &rows.area, now));
    }
    results
}

/// All region candidates: the internal source, then GeoIP.
pub fn region_candidates(
    query: &LocateQuery,
    rows: &StationRows,
    mcc: &impl MccRegions,
    now: DateTime,
) -> RegionResults {
    region_candidates_by_source(query, rows, mcc, now).0
}

/// [`region_candidates`] with the sources that ran and their candidates' accuracies,
/// for the per-source metrics.
pub fn region_candidates_by_source(
    query: &LocateQuery,
    rows: &StationRows,
    mcc: &impl MccRegions,
    now: DateTime,
) -> (RegionResults, Vec<(SourceName, Vec<DataAccuracy>)>) {
    let mut results = internal_regions(query, rows, mcc, now);
    let mut searched = Vec::new();
    if internal_should_search(query) {
        let accuracies = results.iter().map(RegionResult::data_accuracy).collect();
        searched.push((SourceName::Internal, accuracies));
    }
    if geoip_should_search(query) {
        let found = geoip_region(query);
        let accuracies = found.iter().map(RegionResult::data_accuracy).collect();
        searched.push((SourceName::GeoIp, accuracies));
        results.extend(found);
    }
    (results, searched)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enums::Radio;
    use crate::ids::{CellId, Mac};
    use crate::locate::cell::tests::{
        LAT, LON, area_station, cell_id, cell_station, mcc_table, now,
    };
    use crate::locate::cell::{ambiguous_area_ids, areas_of_cells, needs_area_search};
    use crate::locate::constants::DataSource;
    use crate::locate::export::export_candidate;
    use crate::locate::fallback::{ExternalResult, fallback_should_search};
    use crate::locate::geoip::{GeoIpRecord, geoip_info};
    use crate::locate::query::{
        ApiType, BlueObservation, CellObservation, FallbackFlags, QueryInput, WifiObservation,
    };
    use crate::locate::result::FallbackTag;

    fn london() -> GeoIpRecord {
        GeoIpRecord {
            country_code: Some("GB".into()),
            city_geoname_id: Some(2_643_743),
            has_subdivisions: true,
            latitude: Some(51.5142),
            longitude: Some(-0.0931),
            accuracy_radius_km: Some(100),
        }
    }

    fn with_london(input: QueryInput) -> QueryInput {
        QueryInput {
            has_ip: true,
            geoip: geoip_info(&london()),
            ..input
        }
    }

    fn mac(n: u8) -> Mac {
        Mac::from_array([0xa8, 0x20, 0x99, 0, 0, n]).unwrap()
    }

    fn wifis(n: u8) -> Vec<WifiObservation> {
        (0..n).map(|i| WifiObservation::new(mac(i))).collect()
    }

    fn cells_query(cells: &[CellObservation], input: QueryInput) -> QueryInput {
        QueryInput {
            cell: cells.to_vec(),
            cell_area: areas_of_cells(cells),
            ..input
        }
    }

    fn answer(query: &LocateQuery, rows: &StationRows) -> Option<PositionResult> {
        position_candidates(query, rows, now()).all.best().cloned()
    }

    use crate::locate::result::PositionResult;

    #[test]
    fn ip_only_queries_answer_from_geoip_without_a_fallback_tag() {
        let query = LocateQuery::new(with_london(QueryInput::default()));
        assert!(!internal_should_search(&query));
        let best = answer(&query, &StationRows::default()).unwrap();
        assert_eq!(
            (best.lat, best.lon, best.accuracy),
            (51.5142, -0.0931, 40_000.0)
        );
        assert_eq!(best.fallback, None);
        assert_eq!(best.source, DataSource::GeoIp);

        let regions = region_candidates(
            &LocateQuery::new(with_london(QueryInput {
                api_type: ApiType::Region,
                ..QueryInput::default()
            })),
            &StationRows::default(),
            &mcc_table,
            now(),
        );
        let best = regions.best().unwrap();
        assert_eq!(
            (best.code, best.name, best.fallback),
            ("GB", "United Kingdom", None)
        );
    }

    #[test]
    fn unknown_networks_fall_back_to_the_ip() {
        let query = LocateQuery::new(with_london(QueryInput {
            wifi: wifis(2),
            ..QueryInput::default()
        }));
        let best = answer(&query, &StationRows::default()).unwrap();
        assert_eq!(best.lat, 51.5142);
        assert_eq!(best.fallback, Some(FallbackTag::Ipf));
        // The log of test_database_error: medium accuracy against an expected high.
        assert!(best.data_accuracy() > query.expected_accuracy());
    }

    #[test]
    fn no_data_no_answer() {
        let wifi_only = LocateQuery::new(QueryInput {
            wifi: wifis(2),
            ..QueryInput::default()
        });
        assert_eq!(answer(&wifi_only, &StationRows::default()), None);
        let no_ipf = LocateQuery::new(with_london(QueryInput {
            fallback: FallbackFlags {
                ipf: false,
                lacf: true,
            },
            ..QueryInput::default()
        }));
        assert_eq!(answer(&no_ipf, &StationRows::default()), None);
    }

    #[test]
    fn a_weak_cell_far_away_loses_to_geoip() {
        // A brand-new single cell scores 0.05, London's GeoIP 0.8.
        let id = cell_id(Radio::Lte, 402, 1, 1);
        let cells = [CellObservation::new(id)];
        let query = LocateQuery::new(with_london(cells_query(&cells, QueryInput::default())));
        let rows = StationRows {
            cell: vec![cell_station(id, 27.5, 90.5)],
            ..StationRows::default()
        };
        let best = answer(&query, &rows).unwrap();
        assert_eq!((best.lat, best.fallback), (51.5142, Some(FallbackTag::Ipf)));
    }

    #[test]
    fn a_nearby_cell_beats_geoip_by_precision() {
        let id = cell_id(Radio::Lte, 234, 1, 1);
        let cells = [CellObservation::new(id)];
        let query = LocateQuery::new(with_london(cells_query(&cells, QueryInput::default())));
        let rows = StationRows {
            cell: vec![cell_station(id, LAT, LON)],
            ..StationRows::default()
        };
        let best = answer(&query, &rows).unwrap();
        assert_eq!((best.lat, best.lon, best.accuracy), (LAT, LON, 1000.0));
        assert_eq!(best.fallback, None);
    }

    #[test]
    fn area_answers_need_lacf() {
        let area = crate::ids::CellAreaId::new(Radio::Wcdma, 234, 30, 9).unwrap();
        let rows = StationRows {
            area: vec![area_station(area, LAT, LON)],
            ..StationRows::default()
        };
        let input = QueryInput {
            cell_area: vec![crate::locate::query::AreaObservation::new(area)],
            ..QueryInput::default()
        };
        let query = LocateQuery::new(input.clone());
        assert!(needs_area_search(&query, &PositionResults::new()));
        let best = answer(&query, &rows).unwrap();
        assert_eq!((best.lat, best.accuracy), (LAT, 50_000.0));
        assert_eq!(best.fallback, Some(FallbackTag::Lacf));
        let no_lacf = LocateQuery::new(QueryInput {
            fallback: FallbackFlags {
                ipf: true,
                lacf: false,
            },
            ..input
        });
        assert_eq!(answer(&no_lacf, &rows), None);
    }

    #[test]
    fn known_cells_hide_their_area() {
        let id = cell_id(Radio::Wcdma, 234, 9, 1);
        let cells = [CellObservation::new(id)];
        let query = LocateQuery::new(cells_query(&cells, QueryInput::default()));
        let rows = StationRows {
            cell: vec![cell_station(id, LAT, LON)],
            area: vec![area_station(id.area(), LAT + 0.1, LON)],
            ..StationRows::default()
        };
        let internal = internal_positions(&query, &rows, now());
        assert_eq!(internal.len(), 1);
        assert_eq!(internal.as_slice()[0].fallback, None);
    }

    #[test]
    fn all_internal_sources_contribute() {
        let cell = cell_id(Radio::Gsm, 234, 3, 3);
        let cells = [CellObservation::new(cell)];
        let blue: Vec<BlueObservation> = (10..12).map(|i| BlueObservation::new(mac(i))).collect();
        let query = LocateQuery::new(cells_query(
            &cells,
            QueryInput {
                blue,
                wifi: wifis(2),
                ..QueryInput::default()
            },
        ));
        let rows = StationRows {
            blue: (10..12)
                .map(|i| MacStation::new(mac(i), LAT, LON, now()))
                .collect(),
            wifi: (0..2)
                .map(|i| MacStation::new(mac(i), LAT, LON, now()))
                .collect(),
            cell: vec![cell_station(cell, LAT, LON)],
            area: vec![],
        };
        let internal = internal_positions(&query, &rows, now());
        let accuracies: Vec<f64> = internal.iter().map(|r| r.accuracy).collect();
        assert_eq!(accuracies, vec![10.0, 10.0, 1000.0]);
        assert_eq!(internal.best().unwrap().accuracy, 10.0);
    }

    #[test]
    fn the_fallback_provider_wins_when_asked() {
        // test_fallback: two known wcdma cells plus three unknown WiFi networks.
        let a = cell_id(Radio::Wcdma, 234, 4, 1);
        let b = cell_id(Radio::Wcdma, 234, 4, 2);
        let cells = [CellObservation::new(a), CellObservation::new(b)];
        let query = LocateQuery::new(cells_query(
            &cells,
            QueryInput {
                wifi: wifis(3),
                ..QueryInput::default()
            },
        ));
        let rows = StationRows {
            cell: vec![cell_station(a, LAT, LON), cell_station(b, LAT + 0.001, LON)],
            ..StationRows::default()
        };
        let mut candidates = position_candidates(&query, &rows, now());
        assert!(fallback_should_search(true, &query, &candidates.all));
        let external = ExternalResult {
            lat: 1.0,
            lon: 1.0,
            accuracy: 100.0,
            lacf: false,
        };
        candidates.all.push(external.to_position());
        let best = candidates.all.best().unwrap();
        assert_eq!((best.lat, best.lon, best.accuracy), (1.0, 1.0, 100.0));
        assert_eq!((best.fallback, best.source), (None, DataSource::Fallback));
        // The cells still feed the pipeline.
        assert!(export_candidate(&query, &candidates.internal).is_some());
    }

    fn region_of(
        input: QueryInput,
        rows: &StationRows,
    ) -> (Option<&'static str>, Option<FallbackTag>) {
        let query = LocateQuery::new(QueryInput {
            api_type: ApiType::Region,
            ..input
        });
        let results = region_candidates(&query, rows, &mcc_table, now());
        let best = results.best();
        (best.map(|r| r.code), best.and_then(|r| r.fallback))
    }

    fn cell_obs(radio: Radio, mcc: u16, cid: u64) -> CellObservation {
        CellObservation::new(CellId::new(radio, mcc, 1, 1, cid).unwrap())
    }

    #[test]
    fn region_examples() {
        let none = StationRows::default();
        // mcc 235 (GB only), no IP.
        let q = cells_query(&[cell_obs(Radio::Gsm, 235, 1)], QueryInput::default());
        assert_eq!(region_of(q, &none), (Some("GB"), None));
        // mcc 234 (GB, GG, IM, JE): a tie broken by the largest region.
        let q = cells_query(&[cell_obs(Radio::Gsm, 234, 1)], QueryInput::default());
        assert_eq!(region_of(q.clone(), &none), (Some("GB"), None));
        // The same with the London IP: GB confirmed by internal data, no fallback tag.
        assert_eq!(region_of(with_london(q), &none), (Some("GB"), None));
        // mcc 310 (six regions, 0.333 each) loses to London's GeoIP (0.8).
        let q = cells_query(&[cell_obs(Radio::Gsm, 310, 1)], QueryInput::default());
        assert_eq!(
            region_of(with_london(q), &none),
            (Some("GB"), Some(FallbackTag::Ipf))
        );
        // mcc 262 (DE, 2.0) beats it.
        let q = cells_query(&[cell_obs(Radio::Gsm, 262, 1)], QueryInput::default());
        assert_eq!(region_of(with_london(q), &none), (Some("DE"), None));
        // gsm 310 + lte 311: US = GU = VI = 2/6 + 2/4 = 0.833 > 0.8; US is the largest.
        let q = cells_query(
            &[cell_obs(Radio::Gsm, 310, 1), cell_obs(Radio::Lte, 311, 2)],
            QueryInput::default(),
        );
        assert_eq!(region_of(with_london(q), &none), (Some("US"), None));
    }

    #[test]
    fn wifi_outweighs_cell_and_geoip_for_regions() {
        let cells = [cell_obs(Radio::Gsm, 234, 1)];
        let stations: Vec<MacStation> = (0..2)
            .map(|i| MacStation {
                samples: Some(1000),
                radius: Some(5),
                region: Some("US".into()),
                created: Some(now().add_days(-90)),
                ..MacStation::new(mac(i), 40.0, -100.0, now())
            })
            .collect();
        let rows = StationRows {
            wifi: stations,
            ..StationRows::default()
        };
        let q = cells_query(
            &cells,
            QueryInput {
                wifi: wifis(2),
                ..QueryInput::default()
            },
        );
        let query = LocateQuery::new(QueryInput {
            api_type: ApiType::Region,
            ..with_london(q.clone())
        });
        let results = region_candidates(&query, &rows, &mcc_table, now());
        let us = results.iter().find(|r| r.code == "US").unwrap();
        assert!((us.score - 19.93).abs() < 0.01, "{}", us.score);
        assert_eq!(region_of(with_london(q), &rows), (Some("US"), None));
    }

    #[test]
    fn ambiguous_regions_use_the_loaded_areas() {
        let cells = [cell_obs(Radio::Gsm, 234, 1)];
        let query = LocateQuery::new(QueryInput {
            api_type: ApiType::Region,
            ..cells_query(&cells, QueryInput::default())
        });
        let ids = ambiguous_area_ids(&query, &mcc_table);
        assert_eq!(ids, vec![cells[0].id.area()]);
        let rows = StationRows {
            area: vec![crate::locate::station::AreaStation {
                region: Some("JE".into()),
                num_cells: Some(100),
                radius: Some(1000),
                ..area_station(ids[0], 49.2, -2.1)
            }],
            ..StationRows::default()
        };
        let results = region_candidates(&query, &rows, &mcc_table, now());
        assert_eq!(results.best().map(|r| r.code), Some("JE"));
    }

    #[test]
    fn region_queries_without_data() {
        assert_eq!(
            region_of(QueryInput::default(), &StationRows::default()),
            (None, None)
        );
        let miss = QueryInput {
            has_ip: true,
            ..QueryInput::default()
        };
        assert_eq!(region_of(miss, &StationRows::default()), (None, None));
    }
}
