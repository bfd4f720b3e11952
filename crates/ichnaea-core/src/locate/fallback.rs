//! The pure parts of the external fallback provider (`api.md` §8.8, §9.2, §9.5, §9.6):
//! when to ask it, how its answer is scored, and how cached answers are combined.
//!
//! The provider is paid per request, so it is only asked when the key allows it, the
//! query has real network data (not only cell areas) and our own candidates are not
//! already good enough. Its answers are trusted more than ours (score 10, or 5 when it
//! only matched a location area), so they win whenever they come.
//!
//! Answers are cached per network. A query whose networks have cached answers is
//! answered from them if they agree (same ~100 m grid cell and fallback tag): the mean
//! position, with an accuracy that covers every cached circle.
//!
//! **Deliberate difference:** the reference groups cached answers by
//! `(round(lat, 3), round(lat, 3), fallback)`, using the latitude twice and ignoring the
//! longitude, so answers on the same parallel but kilometres apart count as agreeing and
//! are averaged into a point between them. We group by latitude *and* longitude, so such
//! answers are reported as inconsistent and the provider is asked again.

use crate::geo::distance;

use super::constants::{DataSource, FALLBACK_LACF_SCORE, FALLBACK_SCORE};
use super::query::LocateQuery;
use super::result::{FallbackTag, PositionResult, PositionResults};
use crate::numeric::round_decimals;

/// Queries with this many WiFi or Bluetooth networks or more are not cached.
pub const MAX_CACHED_NETWORKS: usize = 20;

/// A position answer of the external provider.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExternalResult {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Accuracy, metres.
    pub accuracy: f64,
    /// Whether the provider said it fell back to a location area (`"lacf"`); any other
    /// `fallback` value counts as none.
    pub lacf: bool,
}

impl ExternalResult {
    /// 10, or 5 for a location-area answer.
    pub fn score(&self) -> f64 {
        if self.lacf {
            FALLBACK_LACF_SCORE
        } else {
            FALLBACK_SCORE
        }
    }

    /// The provider's fallback tag.
    pub fn fallback(&self) -> Option<FallbackTag> {
        self.lacf.then_some(FallbackTag::Lacf)
    }

    /// The position candidate of this answer.
    pub fn to_position(&self) -> PositionResult {
        PositionResult::new(
            self.lat,
            self.lon,
            self.accuracy,
            self.score(),
            DataSource::Fallback,
            self.fallback(),
        )
    }
}

/// Whether to ask the provider: the API key may use it (`can_fallback`), the query has
/// Bluetooth, cell or WiFi data, and the candidates so far (internal and GeoIP) do not
/// satisfy the query.
pub fn fallback_should_search(
    can_fallback: bool,
    query: &LocateQuery,
    results_so_far: &PositionResults,
) -> bool {
    can_fallback
        && !(query.blue().is_empty() && query.cell().is_empty() && query.wifi().is_empty())
        && !results_so_far.satisfies_query(query)
}

/// Whether answers for this query are cached: caching is on for the key and the query is
/// exactly one cell, or only WiFi, or only Bluetooth, with fewer than 20 networks.
pub fn cache_eligible(query: &LocateQuery, cache_enabled: bool) -> bool {
    let (blue, cell, wifi) = (query.blue().len(), query.cell().len(), query.wifi().len());
    cache_enabled
        && ((blue == 0 && wifi == 0 && cell == 1)
            || (blue == 0 && cell == 0 && wifi > 0 && wifi < MAX_CACHED_NETWORKS)
            || (cell == 0 && wifi == 0 && blue > 0 && blue < MAX_CACHED_NETWORKS))
}

/// A cached provider answer for one network.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CachedAnswer {
    /// The provider knew nothing (stored as `"404"`).
    NotFound,
    /// The provider's position.
    Found(ExternalResult),
}

/// What the cache says about a query.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CacheLookup {
    /// No network has a cached answer: ask the provider.
    Miss,
    /// Every cached answer is "not found": do not ask again.
    NotFound,
    /// The cached answers agree on this position.
    Hit(ExternalResult),
    /// The cached answers disagree: ask the provider.
    Inconsistent,
}

/// Combines the cached answers of the query's networks (`None` where a network has no
/// cached answer).
pub fn combine_cached(values: &[Option<CachedAnswer>]) -> CacheLookup {
    let mut not_found = false;
    // Groups in order of first appearance: (lat key, lon key, lacf) and members.
    let mut groups: Vec<((u64, u64, bool), Vec<ExternalResult>)> = Vec::new();
    for value in values.iter().flatten() {
        match value {
            CachedAnswer::NotFound => not_found = true,
            CachedAnswer::Found(found) => {
                let key = (
                    round_decimals(found.lat, 3).to_bits(),
                    round_decimals(found.lon, 3).to_bits(),
                    found.lacf,
                );
                match groups.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, members)) => members.push(*found),
                    None => groups.push((key, vec![*found])),
                }
            }
        }
    }
    match (not_found, groups.as_slice()) {
        (false, []) => CacheLookup::Miss,
        (true, []) => CacheLookup::NotFound,
        (false, [(_, members)]) => CacheLookup::Hit(combine_group(members)),
        _ => CacheLookup::Inconsistent,
    }
}

/// The mean position of agreeing answers, with an accuracy covering all of them.
fn combine_group(members: &[ExternalResult]) -> ExternalResult {
    let n = members.len() as f64;
    let (mut lat, mut lon) = (0.0, 0.0);
    for m in members {
        lat += m.lat;
        lon += m.lon;
    }
    let (lat, lon) = (lat / n, lon / n);
    let radius = members.iter().fold(0.0_f64, |radius, m| {
        radius.max(distance(lat, lon, m.lat, m.lon) + m.accuracy)
    });
    ExternalResult {
        lat,
        lon,
        accuracy: round_decimals(radius, 3),
        lacf: members.first().is_some_and(|m| m.lacf),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enums::Radio;
    use crate::ids::{CellId, Mac};
    use crate::locate::query::{BlueObservation, CellObservation, QueryInput, WifiObservation};

    fn found(lat: f64, lon: f64, accuracy: f64) -> Option<CachedAnswer> {
        Some(CachedAnswer::Found(ExternalResult {
            lat,
            lon,
            accuracy,
            lacf: false,
        }))
    }

    #[test]
    fn scores_and_tags() {
        let plain = ExternalResult {
            lat: 1.0,
            lon: 1.0,
            accuracy: 100.0,
            lacf: false,
        };
        assert_eq!(plain.score(), 10.0);
        assert_eq!(plain.fallback(), None);
        let area = ExternalResult {
            lat: 51.5366,
            lon: 0.03989,
            accuracy: 1500.0,
            lacf: true,
        };
        let p = area.to_position();
        assert_eq!(
            (p.lat, p.lon, p.accuracy, p.score),
            (51.5366, 0.03989, 1500.0, 5.0)
        );
        assert_eq!(p.fallback, Some(FallbackTag::Lacf));
        assert_eq!(p.source, DataSource::Fallback);
    }

    #[test]
    fn cached_answers_combine() {
        assert_eq!(combine_cached(&[]), CacheLookup::Miss);
        assert_eq!(combine_cached(&[None, None]), CacheLookup::Miss);
        assert_eq!(
            combine_cached(&[Some(CachedAnswer::NotFound), None]),
            CacheLookup::NotFound
        );
        let CacheLookup::Hit(hit) =
            combine_cached(&[found(51.5, -0.1, 100.0), found(51.5001, -0.1, 200.0)])
        else {
            panic!("expected a hit");
        };
        assert_eq!(hit.lat, (51.5 + 51.5001) / 2.0);
        assert_eq!(hit.lon, -0.1);
        assert_eq!(round_decimals(hit.accuracy, 2), 205.56);
        let far = combine_cached(&[
            found(51.5, -0.1, 100.0),
            found(51.5001, -0.1, 200.0),
            found(61.5, -0.1, 300.0),
        ]);
        assert_eq!(far, CacheLookup::Inconsistent);
        let mixed = combine_cached(&[found(51.5, -0.1, 100.0), Some(CachedAnswer::NotFound)]);
        assert_eq!(mixed, CacheLookup::Inconsistent);
    }

    #[test]
    fn longitude_matters_for_agreement() {
        let same_parallel = combine_cached(&[found(51.5, -0.1, 100.0), found(51.5, 10.0, 100.0)]);
        assert_eq!(same_parallel, CacheLookup::Inconsistent);
    }

    fn mac(n: u8) -> Mac {
        Mac::from_array([0xa8, 0x20, 0, 0, 0, n]).unwrap()
    }

    fn cell(n: u64) -> CellObservation {
        CellObservation::new(CellId::new(Radio::Gsm, 234, 30, 1, n).unwrap())
    }

    fn q(blue: usize, cell_count: u64, wifi: usize) -> LocateQuery {
        LocateQuery::new(QueryInput {
            blue: (0..blue as u8)
                .map(|n| BlueObservation::new(mac(n)))
                .collect(),
            cell: (1..=cell_count).map(cell).collect(),
            wifi: (0..wifi as u8)
                .map(|n| WifiObservation::new(mac(n)))
                .collect(),
            ..QueryInput::default()
        })
    }

    #[test]
    fn cache_eligibility() {
        assert!(cache_eligible(&q(2, 0, 0), true));
        assert!(cache_eligible(&q(0, 1, 0), true));
        assert!(cache_eligible(&q(0, 0, 19), true));
        assert!(!cache_eligible(&q(0, 0, 20), true));
        assert!(!cache_eligible(&q(0, 2, 0), true));
        assert!(!cache_eligible(&q(0, 1, 2), true));
        assert!(!cache_eligible(&q(2, 1, 0), true));
        assert!(!cache_eligible(&q(2, 0, 2), true));
        assert!(!cache_eligible(&q(0, 1, 0), false));
    }

    #[test]
    fn when_to_ask_the_provider() {
        let wifi = q(0, 0, 2);
        assert!(fallback_should_search(true, &wifi, &PositionResults::new()));
        assert!(!fallback_should_search(
            false,
            &wifi,
            &PositionResults::new()
        ));
        assert!(!fallback_should_search(
            true,
            &q(0, 0, 1),
            &PositionResults::new()
        ));
        assert!(!fallback_should_search(
            true,
            &q(1, 0, 0),
            &PositionResults::new()
        ));
        let geoip: PositionResults = vec![PositionResult::new(
            51.5,
            -0.1,
            40_000.0,
            0.6,
            DataSource::GeoIp,
            Some(FallbackTag::Ipf),
        )]
        .into_iter()
        .collect();
        assert!(fallback_should_search(true, &wifi, &geoip));
        let good: PositionResults = vec![PositionResult::new(
            51.5,
            -0.1,
            100.0,
            1.0,
            DataSource::Internal,
            None,
        )]
        .into_iter()
        .collect();
        assert!(!fallback_should_search(true, &wifi, &good));
    }
}
