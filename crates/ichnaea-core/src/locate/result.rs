//! Results of the position and region sources, and the choice of the answer among them
//! (`api.md` §8.9, §8.10).
//!
//! Every source adds candidates to one list; the answer is chosen in two steps. First
//! the candidates are clustered: positions by overlapping accuracy circles (with a 50%
//! buffer), regions by region code. The cluster with the highest total score wins, so
//! independent sources that agree reinforce each other. Then, inside the winning
//! cluster, the most precise position is returned (for regions: the one from the most
//! trusted source). The same clustering answers "is this good enough to stop
//! searching?" for the fallback provider, which costs money per request.
//!
//! Positions and accuracies are rounded to 7 decimals when a result is created, like
//! the reference, so that clustering, ranking and the response all see the same values.

use crate::geo::distance;
use crate::ids::{CellAreaId, CellId, Mac};

use super::constants::{DEGREE_DECIMAL_PLACES, DataAccuracy, DataSource};
use super::query::{LocateQuery, QueryNetworks};
use crate::numeric::{cmp_f64, round_decimals};

/// Which fallback produced an answer, reported to the client as `"fallback"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FallbackTag {
    /// A whole cell location area answered, not a single cell.
    Lacf,
    /// The client's IP address answered (GeoIP).
    Ipf,
}

impl FallbackTag {
    /// The wire value: `lacf` or `ipf`.
    pub const fn as_str(self) -> &'static str {
        match self {
            FallbackTag::Lacf => "lacf",
            FallbackTag::Ipf => "ipf",
        }
    }
}

/// A network that contributed to a result, with its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetworkKey {
    /// A cell location area.
    Area(CellAreaId),
    /// A Bluetooth beacon.
    Blue(Mac),
    /// A complete cell.
    Cell(CellId),
    /// A WiFi network.
    Wifi(Mac),
}

/// A network used by a result, and whether its station was confirmed today. Queries
/// answered only from networks already confirmed today are not exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UsedNetwork {
    /// The network.
    pub key: NetworkKey,
    /// Whether the station's `last_seen` is today.
    pub seen_today: bool,
}

/// A candidate position.
#[derive(Debug, Clone, PartialEq)]
pub struct PositionResult {
    /// Latitude, rounded to 7 decimals.
    pub lat: f64,
    /// Longitude, rounded to 7 decimals.
    pub lon: f64,
    /// Accuracy radius in metres, rounded to 7 decimals.
    pub accuracy: f64,
    /// How much the result is trusted; higher is better.
    pub score: f64,
    /// The source that produced it.
    pub source: DataSource,
    /// The fallback tag reported with it.
    pub fallback: Option<FallbackTag>,
    /// The networks it was computed from.
    pub used_networks: Vec<UsedNetwork>,
}

impl PositionResult {
    /// A result without used networks; position and accuracy are rounded to 7 decimals.
    pub fn new(
        lat: f64,
        lon: f64,
        accuracy: f64,
        score: f64,
        source: DataSource,
        fallback: Option<FallbackTag>,
    ) -> PositionResult {
        PositionResult {
            lat: round_decimals(lat, DEGREE_DECIMAL_PLACES),
            lon: round_decimals(lon, DEGREE_DECIMAL_PLACES),
            accuracy: round_decimals(accuracy, DEGREE_DECIMAL_PLACES),
            score,
            source,
            fallback,
            used_networks: Vec::new(),
        }
    }

    /// The same result, listing the networks it was computed from.
    pub fn with_used_networks(mut self, used: Vec<UsedNetwork>) -> PositionResult {
        self.used_networks = used;
        self
    }

    /// The accuracy class of the result.
    pub fn data_accuracy(&self) -> DataAccuracy {
        DataAccuracy::from_number(self.accuracy)
    }

    /// The used networks that were confirmed today, grouped by kind.
    pub fn networks_seen_today(&self) -> QueryNetworks {
        let mut networks = QueryNetworks::default();
        for used in self.used_networks.iter().filter(|u| u.seen_today) {
            match used.key {
                NetworkKey::Area(id) => {
                    networks.area.insert(id);
                }
                NetworkKey::Blue(mac) => {
                    networks.blue.insert(mac);
                }
                NetworkKey::Cell(id) => {
                    networks.cell.insert(id);
                }
                NetworkKey::Wifi(mac) => {
                    networks.wifi.insert(mac);
                }
            }
        }
        networks
    }
}

/// All candidate positions of one query, in the order the sources produced them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PositionResults(Vec<PositionResult>);

impl PositionResults {
    /// An empty list.
    pub fn new() -> PositionResults {
        PositionResults(Vec::new())
    }

    /// Adds one candidate.
    pub fn push(&mut self, result: PositionResult) {
        self.0.push(result);
    }

    /// Adds the candidates of another list, keeping their order.
    pub fn append(&mut self, other: PositionResults) {
        self.0.extend(other.0);
    }

    /// The candidates.
    pub fn as_slice(&self) -> &[PositionResult] {
        &self.0
    }

    /// Iterates over the candidates.
    pub fn iter(&self) -> std::slice::Iter<'_, PositionResult> {
        self.0.iter()
    }

    /// Number of candidates.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no candidate.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The winning cluster (`best_cluster`): candidates sorted by accuracy, each one
    /// seeding a cluster of itself and the less precise candidates whose distance is
    /// within 1.5 times the larger of the two accuracies; the cluster with the highest
    /// total score (then highest single score, then most precise seed) wins.
    pub fn best_cluster(&self) -> Vec<&PositionResult> {
        if self.0.len() <= 1 {
            return self.0.iter().collect();
        }
        let mut sorted: Vec<&PositionResult> = self.0.iter().collect();
        sorted.sort_by(|a, b| cmp_f64(a.accuracy, b.accuracy));

        let mut clusters: Vec<Vec<&PositionResult>> = Vec::with_capacity(sorted.len());
        for (i, seed) in sorted.iter().enumerate() {
            let mut cluster = vec![*seed];
            let seed_radius = seed.accuracy * 1.5;
            for other in &sorted[i + 1..] {
                let max_radius = seed_radius.max(other.accuracy * 1.5);
                if distance(seed.lat, seed.lon, other.lat, other.lon) <= max_radius {
                    cluster.push(other);
                }
            }
            clusters.push(cluster);
        }

        let rank = |cluster: &[&PositionResult]| {
            let total: f64 = cluster.iter().fold(0.0, |acc, r| acc + r.score);
            let max = cluster
                .iter()
                .fold(f64::NEG_INFINITY, |acc, r| acc.max(r.score));
            (total, max)
        };
        // A stable sort on the descending key keeps ties in seed order.
        clusters.sort_by(|a, b| {
            let (ka, kb) = (rank(a), rank(b));
            cmp_f64(kb.0, ka.0).then(cmp_f64(kb.1, ka.1))
        });
        clusters.into_iter().next().unwrap_or_default()
    }

    /// The answer: the most precise result of the winning cluster, the higher score
    /// breaking ties; `None` without candidates.
    pub fn best(&self) -> Option<&PositionResult> {
        let mut cluster = self.best_cluster();
        cluster.sort_by(|a, b| cmp_f64(a.accuracy, b.accuracy).then(cmp_f64(b.score, a.score)));
        cluster.first().copied()
    }

    /// Whether the candidates are good enough to skip the fallback provider: the
    /// winning cluster has a total score of at least 1 and a member at least as precise
    /// as the query's expected accuracy.
    pub fn satisfies(&self, expected: DataAccuracy) -> bool {
        let cluster = self.best_cluster();
        if cluster.is_empty() {
            return false;
        }
        let total: f64 = cluster.iter().fold(0.0, |acc, r| acc + r.score);
        let best_class = cluster
            .iter()
            .map(|r| r.data_accuracy())
            .min()
            .unwrap_or(DataAccuracy::None);
        total >= 1.0 && best_class <= expected
    }

    /// [`PositionResults::satisfies`] for the query's expected accuracy.
    pub fn satisfies_query(&self, query: &LocateQuery) -> bool {
        self.satisfies(query.expected_accuracy())
    }
}

impl FromIterator<PositionResult> for PositionResults {
    fn from_iter<T: IntoIterator<Item = PositionResult>>(iter: T) -> PositionResults {
        PositionResults(iter.into_iter().collect())
    }
}

impl Extend<PositionResult> for PositionResults {
    fn extend<T: IntoIterator<Item = PositionResult>>(&mut self, iter: T) {
        self.0.extend(iter);
    }
}

impl IntoIterator for PositionResults {
    type Item = PositionResult;
    type IntoIter = std::vec::IntoIter<PositionResult>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// A candidate region.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionResult {
    /// GENC code, e.g. `GB`.
    pub code: &'static str,
    /// GENC name, e.g. `United Kingdom`.
    pub name: &'static str,
    /// The region's radius in metres.
    pub accuracy: f64,
    /// How much the result is trusted; higher is better.
    pub score: f64,
    /// The source that produced it.
    pub source: DataSource,
    /// The fallback tag reported with it.
    pub fallback: Option<FallbackTag>,
}

impl RegionResult {
    /// The accuracy class of the result.
    pub fn data_accuracy(&self) -> DataAccuracy {
        DataAccuracy::from_number(self.accuracy)
    }
}

/// All candidate regions of one query, in the order the sources produced them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RegionResults(Vec<RegionResult>);

impl RegionResults {
    /// An empty list.
    pub fn new() -> RegionResults {
        RegionResults(Vec::new())
    }

    /// Adds one candidate.
    pub fn push(&mut self, result: RegionResult) {
        self.0.push(result);
    }

    /// Adds the candidates of another list, keeping their order.
    pub fn append(&mut self, other: RegionResults) {
        self.0.extend(other.0);
    }

    /// The candidates.
    pub fn as_slice(&self) -> &[RegionResult] {
        &self.0
    }

    /// Iterates over the candidates.
    pub fn iter(&self) -> std::slice::Iter<'_, RegionResult> {
        self.0.iter()
    }

    /// Number of candidates.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no candidate.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The winning group: candidates grouped by region code (in order of first
    /// appearance); the highest total score wins, then the largest region.
    pub fn best_cluster(&self) -> Vec<&RegionResult> {
        if self.0.len() <= 1 {
            return self.0.iter().collect();
        }
        let mut groups: Vec<Vec<&RegionResult>> = Vec::new();
        for result in &self.0 {
            match groups.iter_mut().find(|g| g[0].code == result.code) {
                Some(group) => group.push(result),
                None => groups.push(vec![result]),
            }
        }
        let rank = |group: &[&RegionResult]| {
            let total: f64 = group.iter().fold(0.0, |acc, r| acc + r.score);
            let radius = group
                .iter()
                .fold(f64::NEG_INFINITY, |acc, r| acc.max(r.accuracy));
            (total, radius)
        };
        groups.sort_by(|a, b| {
            let (ka, kb) = (rank(a), rank(b));
            cmp_f64(kb.0, ka.0).then(cmp_f64(kb.1, ka.1))
        });
        groups.into_iter().next().unwrap_or_default()
    }

    /// The answer: within the winning group, the result from the most trusted source
    /// (internal, then fallback, then GeoIP), the higher score breaking ties. So a
    /// region confirmed by internal data is reported without a fallback tag.
    pub fn best(&self) -> Option<&RegionResult> {
        let mut group = self.best_cluster();
        group.sort_by(|a, b| a.source.cmp(&b.source).then(cmp_f64(b.score, a.score)));
        group.first().copied()
    }

    /// Whether there is any candidate: every region answer is good enough.
    pub fn satisfies(&self) -> bool {
        !self.0.is_empty()
    }
}

impl FromIterator<RegionResult> for RegionResults {
    fn from_iter<T: IntoIterator<Item = RegionResult>>(iter: T) -> RegionResults {
        RegionResults(iter.into_iter().collect())
    }
}

impl Extend<RegionResult> for RegionResults {
    fn extend<T: IntoIterator<Item = RegionResult>>(&mut self, iter: T) {
        self.0.extend(iter);
    }
}

impl IntoIterator for RegionResults {
    type Item = RegionResult;
    type IntoIter = std::vec::IntoIter<RegionResult>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::locate::query::{QueryInput, WifiObservation};

    fn pos(lat: f64, lon: f64, accuracy: f64, score: f64) -> PositionResult {
        PositionResult::new(lat, lon, accuracy, score, DataSource::Internal, None)
    }

    fn gb1() -> PositionResult {
        pos(51.5, -0.1, 100_000.0, 0.6)
    }
    fn gb2() -> PositionResult {
        pos(51.5002, -0.1, 10_000.0, 1.5)
    }
    fn gb3() -> PositionResult {
        pos(51.7, -0.1, 1000.0, 5.0)
    }
    fn bt1() -> PositionResult {
        pos(27.5002, 90.5, 1000.0, 0.5)
    }
    fn bt2() -> PositionResult {
        pos(27.5, 90.5, 2000.0, 2.0)
    }
    fn bt3() -> PositionResult {
        pos(27.7, 90.7, 500.0, 5.0)
    }
    fn bt4() -> PositionResult {
        pos(27.9, 90.7, 300.0, 5.0)
    }

    fn best_lat(results: Vec<PositionResult>) -> Option<f64> {
        results
            .into_iter()
            .collect::<PositionResults>()
            .best()
            .map(|r| r.lat)
    }

    #[test]
    fn positions_are_rounded_on_creation() {
        let r = pos(51.500_003_499_99, -0.123_456_789, 10.000_000_06, 1.0);
        assert_eq!(
            (r.lat, r.lon, r.accuracy),
            (51.5000035, -0.1234568, 10.0000001)
        );
        assert!(r.used_networks.is_empty());
    }

    #[test]
    fn best_position_examples() {
        assert_eq!(best_lat(vec![]), None);
        assert_eq!(best_lat(vec![gb1()]), Some(51.5));
        assert_eq!(best_lat(vec![bt1(), bt2()]), Some(27.5002));
        assert_eq!(best_lat(vec![gb1(), bt2()]), Some(27.5));
        assert_eq!(best_lat(vec![gb1(), gb2(), bt2()]), Some(51.5002));
        assert_eq!(best_lat(vec![gb1(), gb3(), bt1(), bt2()]), Some(51.7));
        assert_eq!(best_lat(vec![gb1(), gb2(), bt2(), bt3()]), Some(27.7));
        assert_eq!(best_lat(vec![gb3(), bt3()]), Some(27.7));
        assert_eq!(best_lat(vec![bt3(), bt4()]), Some(27.9));
    }

    #[test]
    fn position_data_accuracy() {
        assert_eq!(pos(1.0, 1.0, 0.0, 1.0).data_accuracy(), DataAccuracy::High);
        assert_eq!(
            pos(1.0, 1.0, 100.0, 1.0).data_accuracy(),
            DataAccuracy::High
        );
        assert_eq!(
            pos(1.0, 1.0, 20_000.0, 1.0).data_accuracy(),
            DataAccuracy::Medium
        );
        assert_eq!(pos(1.0, 1.0, 1e6, 1.0).data_accuracy(), DataAccuracy::Low);
    }

    #[test]
    fn satisfies_needs_score_and_accuracy() {
        let wifi = |n: u8| WifiObservation::new(Mac::from_array([1, 2, 3, 4, 5, n]).unwrap());
        let query = LocateQuery::new(QueryInput {
            wifi: vec![wifi(1), wifi(2)],
            ..QueryInput::default()
        });
        assert_eq!(query.expected_accuracy(), DataAccuracy::High);
        let good: PositionResults = vec![pos(1.0, 1.0, 100.0, 0.5), pos(1.0, 1.0, 10_000.0, 0.6)]
            .into_iter()
            .collect();
        assert!(good.satisfies_query(&query));
        assert!(!PositionResults::new().satisfies_query(&query));
        let coarse: PositionResults = vec![pos(1.0, 1.0, 2500.0, 2.0)].into_iter().collect();
        assert!(!coarse.satisfies_query(&query));
        let weak: PositionResults = vec![pos(1.0, 1.0, 100.0, 0.9)].into_iter().collect();
        assert!(!weak.satisfies_query(&query));
    }

    fn region(code: &'static str, radius: f64, score: f64, source: DataSource) -> RegionResult {
        RegionResult {
            code,
            name: code,
            accuracy: radius,
            score,
            source,
            fallback: None,
        }
    }

    fn best_code(results: Vec<RegionResult>) -> Option<&'static str> {
        results
            .into_iter()
            .collect::<RegionResults>()
            .best()
            .map(|r| r.code)
    }

    #[test]
    fn best_region_examples() {
        let us1 = region("US", 200_000.0, 3.0, DataSource::Internal);
        let us2 = region("US", 200_000.0, 3.0, DataSource::Internal);
        let gb1 = region("GB", 100_000.0, 5.0, DataSource::Internal);
        let gb2 = region("GB", 100_000.0, 3.0, DataSource::Internal);
        assert_eq!(best_code(vec![]), None);
        assert_eq!(best_code(vec![us1.clone(), gb1.clone()]), Some("GB"));
        assert_eq!(best_code(vec![us1.clone(), gb1, us2]), Some("US"));
        assert_eq!(
            best_code(vec![gb2, us1]),
            Some("US"),
            "the larger region wins a tie"
        );
        assert!(!RegionResults::new().satisfies());
        let one: RegionResults = vec![region("DE", 463_000.0, 0.1, DataSource::GeoIp)]
            .into_iter()
            .collect();
        assert!(one.satisfies());
        assert_eq!(one.best().map(|r| r.code), Some("DE"));
    }

    #[test]
    fn region_answer_prefers_internal_sources() {
        let geoip = RegionResult {
            fallback: Some(FallbackTag::Ipf),
            ..region("GB", 543_000.0, 0.8, DataSource::GeoIp)
        };
        let internal = region("GB", 543_000.0, 0.5, DataSource::Internal);
        let results: RegionResults = vec![geoip, internal].into_iter().collect();
        let best = results.best().unwrap();
        assert_eq!(best.source, DataSource::Internal);
        assert_eq!(best.fallback, None);
    }

    #[test]
    fn region_data_accuracy() {
        assert_eq!(
            region("GB", 100_000.0, 1.0, DataSource::Internal).data_accuracy(),
            DataAccuracy::Low
        );
        assert_eq!(
            region("VA", 1000.0, 1.0, DataSource::Internal).data_accuracy(),
            DataAccuracy::Medium
        );
    }

    #[test]
    fn networks_seen_today_groups_by_kind() {
        let mac = Mac::parse("a82066123456").unwrap();
        let r = pos(1.0, 1.0, 10.0, 1.0).with_used_networks(vec![
            UsedNetwork {
                key: NetworkKey::Wifi(mac),
                seen_today: true,
            },
            UsedNetwork {
                key: NetworkKey::Blue(mac),
                seen_today: false,
            },
        ]);
        let seen = r.networks_seen_today();
        assert_eq!(seen.wifi.len(), 1);
        assert!(seen.blue.is_empty());
    }
}
