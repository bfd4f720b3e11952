//! Whether an answered query is fed back into the data pipeline (`api.md` §8.12), the
//! pure part of the decision.
//!
//! A locate query whose internal answer is good is itself an observation: the networks
//! it saw were at the answered position. Feeding it back keeps stations fresh and finds
//! new ones. But a query answered entirely from stations that were already confirmed
//! today adds nothing, so it is skipped. (Because a query's area ids are compared too
//! while a cell answer lists only cells, cell queries are practically always exported;
//! kept as in the reference.) Sampling by API key and global rate happens afterwards,
//! in the service.

use super::query::LocateQuery;
use super::result::{PositionResult, PositionResults};

/// The internal result to export with the query, if the query should be exported: the
/// best of the internal source's candidates, unless it used every network of the query
/// and all of them were already confirmed today.
pub fn export_candidate<'a>(
    query: &LocateQuery,
    internal: &'a PositionResults,
) -> Option<&'a PositionResult> {
    let best = internal.best()?;
    if best.networks_seen_today() == query.networks() {
        None
    } else {
        Some(best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Mac;
    use crate::locate::blue::blue_positions;
    use crate::locate::cell::{areas_of_cells, cell_positions};
    use crate::locate::query::{BlueObservation, CellObservation, QueryInput};
    use crate::locate::station::{CellStation, MacStation};
    use crate::time::DateTime;

    fn now() -> DateTime {
        DateTime::from_unix_seconds(1_705_000_000)
    }

    fn beacons(seen_today: bool) -> (LocateQuery, Vec<MacStation>) {
        let macs = [
            Mac::parse("a82067491500").unwrap(),
            Mac::parse("a82067491501").unwrap(),
        ];
        let seen = if seen_today {
            now()
        } else {
            now().add_days(-3)
        };
        let stations = macs
            .iter()
            .enumerate()
            .map(|(i, &m)| MacStation {
                last_seen: Some(seen.date()),
                ..MacStation::new(m, 51.5 + 0.00002 * i as f64, -0.1, now())
            })
            .collect();
        let query = LocateQuery::new(QueryInput {
            blue: macs.iter().map(|&m| BlueObservation::new(m)).collect(),
            ..QueryInput::default()
        });
        (query, stations)
    }

    #[test]
    fn queries_confirmed_today_are_not_exported() {
        let (query, stations) = beacons(true);
        let internal = blue_positions(query.blue(), &stations, now());
        assert_eq!(internal.best().map(|r| r.lat), Some(51.50001));
        assert_eq!(export_candidate(&query, &internal), None);
    }

    #[test]
    fn queries_with_stale_networks_are_exported() {
        let (query, stations) = beacons(false);
        let internal = blue_positions(query.blue(), &stations, now());
        let exported = export_candidate(&query, &internal).unwrap();
        assert_eq!(exported.lat, 51.50001);
    }

    #[test]
    fn nothing_to_export_without_an_internal_answer() {
        let (query, _) = beacons(true);
        assert_eq!(export_candidate(&query, &PositionResults::new()), None);
    }

    #[test]
    fn cell_queries_are_exported_because_of_their_area() {
        let id = crate::ids::CellId::new(crate::enums::Radio::Lte, 234, 30, 1, 1).unwrap();
        let cells = [CellObservation::new(id)];
        let query = LocateQuery::new(QueryInput {
            cell: cells.to_vec(),
            cell_area: areas_of_cells(&cells),
            ..QueryInput::default()
        });
        let internal = cell_positions(&cells, &[CellStation::new(id, 51.5, -0.1, now())], now());
        let exported = export_candidate(&query, &internal).unwrap();
        assert_eq!((exported.lat, exported.accuracy), (51.5, 1000.0));
    }
}
