//! The constants of the locate algorithm (`api.md` §8.3, Appendix A.2) and the accuracy
//! classes.
//!
//! They live in one place because the same numbers are used by several sources and by
//! the result selection: the cluster sizes and accuracy clamps decide what a source can
//! answer, and the accuracy classes decide whether the answer is "good enough" to stop
//! searching. Values are the reference's unless a comment says otherwise.

use crate::enums::Radio;

/// A query needs at least this many distinct WiFi networks, else its WiFi list is empty.
pub const MIN_WIFIS_IN_QUERY: usize = 2;
/// A query needs at least this many distinct Bluetooth beacons, else its list is empty.
pub const MIN_BLUES_IN_QUERY: usize = 2;
/// A MAC cluster needs this many found networks; one real network plus a fake one
/// must never reveal the real network's position.
pub const MIN_NETWORKS_IN_CLUSTER: usize = 2;

/// Largest complete-linkage distance inside one WiFi cluster, metres.
pub const MAX_WIFI_CLUSTER_METERS: f64 = 500.0;
/// Largest complete-linkage distance inside one Bluetooth cluster, metres.
pub const MAX_BLUE_CLUSTER_METERS: f64 = 100.0;
/// WiFi networks used for one position estimate.
pub const MAX_WIFIS_IN_CLUSTER: usize = 20;
/// Bluetooth beacons used for one position estimate.
pub const MAX_BLUES_IN_CLUSTER: usize = 10;

/// Accuracy clamp of Bluetooth answers, metres.
pub const BLUE_MIN_ACCURACY: f64 = 10.0;
/// Accuracy clamp of Bluetooth answers, metres.
pub const BLUE_MAX_ACCURACY: f64 = 50.0;
/// Accuracy clamp of WiFi answers, metres.
pub const WIFI_MIN_ACCURACY: f64 = 10.0;
/// Accuracy clamp of WiFi answers, metres.
pub const WIFI_MAX_ACCURACY: f64 = 500.0;
/// Accuracy clamp of cell answers (all radios, NR included), metres.
pub const CELL_MIN_ACCURACY: f64 = 1000.0;
/// Accuracy clamp of cell answers (all radios, NR included), metres.
pub const CELL_MAX_ACCURACY: f64 = 50_000.0;
/// Accuracy clamp of cell-area answers, metres.
pub const CELLAREA_MIN_ACCURACY: f64 = 50_000.0;
/// Accuracy clamp of cell-area answers, metres.
pub const CELLAREA_MAX_ACCURACY: f64 = 500_000.0;

/// Default radius of a MAC station whose stored radius is 0 or missing, metres.
pub const MAC_MIN_RADIUS: f64 = 10.0;
/// Signal assumed for a WiFi observation without one, dBm.
pub const MIN_WIFI_SIGNAL: i32 = -100;
/// Signal assumed for a Bluetooth observation without one (or with 0), dBm.
pub const MIN_BLUE_SIGNAL: i32 = -127;

/// Observation ages below this (ms) count as this; younger data is not trusted more.
pub const MIN_OBSERVATION_AGE_MS: i32 = 1000;

/// Circumference of the earth used for the "low" accuracy class, metres.
pub const EARTH_CIRCUMFERENCE: f64 = 40_000_000.0;

/// Decimal places of every latitude, longitude and accuracy in a result.
pub const DEGREE_DECIMAL_PLACES: i32 = 7;

/// Days a temporary block keeps a station out of locate.
pub const TEMPORARY_BLOCK_DAYS: i64 = 2;

/// Score of an external fallback answer.
pub const FALLBACK_SCORE: f64 = 10.0;
/// Score of an external fallback answer that the provider marked `lacf`.
pub const FALLBACK_LACF_SCORE: f64 = 5.0;

/// The signal assumed for a cell observation without one, per radio (dBm): the weakest
/// value the radio can report.
///
/// NR is ours: −156 dBm is the bottom of the SS-RSRP reporting range (3GPP TS 38.133),
/// the NR counterpart of LTE's −140 dBm RSRP floor. Using the floor keeps the rule the
/// same for every radio: an observation without a signal weighs like the weakest one.
pub const fn min_cell_signal(radio: Radio) -> i32 {
    match radio {
        Radio::Gsm => -113,
        Radio::Wcdma => -121,
        Radio::Lte => -140,
        Radio::Nr => -156,
    }
}

/// How precise a result is, or could be: the four ordered classes of `api.md` §8.3.
///
/// The derived order is the reference's: `High < Medium < Low < None`, so "at least as
/// good as" is `<=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataAccuracy {
    /// Within 500 m.
    High,
    /// Within 50 km.
    Medium,
    /// Within the earth's circumference.
    Low,
    /// No usable accuracy.
    None,
}

impl DataAccuracy {
    /// The largest accuracy (metres) that still belongs to this class.
    pub const fn threshold(self) -> f64 {
        match self {
            DataAccuracy::High => 500.0,
            DataAccuracy::Medium => 50_000.0,
            DataAccuracy::Low => EARTH_CIRCUMFERENCE,
            DataAccuracy::None => f64::INFINITY,
        }
    }

    /// The class of an accuracy in metres; NaN belongs to no finite class.
    pub fn from_number(meters: f64) -> DataAccuracy {
        if meters <= DataAccuracy::High.threshold() {
            DataAccuracy::High
        } else if meters <= DataAccuracy::Medium.threshold() {
            DataAccuracy::Medium
        } else if meters <= DataAccuracy::Low.threshold() {
            DataAccuracy::Low
        } else {
            DataAccuracy::None
        }
    }

    /// The metric tag value: `high`, `medium`, `low` or `none`.
    pub const fn as_str(self) -> &'static str {
        match self {
            DataAccuracy::High => "high",
            DataAccuracy::Medium => "medium",
            DataAccuracy::Low => "low",
            DataAccuracy::None => "none",
        }
    }
}

/// Where a result came from. The numeric values order region results of the same
/// region (`api.md` §8.10): internal data beats the fallback provider beats GeoIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataSource {
    /// Our own crowd-sourced station data.
    Internal = 1,
    /// The external fallback provider.
    Fallback = 2,
    /// The GeoIP database.
    GeoIp = 3,
}

impl DataSource {
    /// The metric tag value: `internal`, `fallback` or `geoip`.
    pub const fn as_str(self) -> &'static str {
        match self {
            DataSource::Internal => "internal",
            DataSource::Fallback => "fallback",
            DataSource::GeoIp => "geoip",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_ordered_and_compare_with_numbers() {
        assert!(DataAccuracy::High < DataAccuracy::Medium);
        assert!(DataAccuracy::Medium < DataAccuracy::Low);
        assert!(DataAccuracy::Low < DataAccuracy::None);
        assert_ne!(DataAccuracy::Medium, DataAccuracy::High);
        assert_eq!(DataAccuracy::None.threshold(), f64::INFINITY);
        assert!(DataAccuracy::Low.threshold() > 50_000.0);
        assert_eq!(DataAccuracy::Medium.threshold(), 50_000.0);
        assert!(500.0 <= DataAccuracy::High.threshold());
        assert!(500.1 > DataAccuracy::High.threshold());
    }

    #[test]
    fn from_number_matches_the_reference_table() {
        for (x, class) in [
            (1.0, DataAccuracy::High),
            (-0.1, DataAccuracy::High),
            (500.0, DataAccuracy::High),
            (500.1, DataAccuracy::Medium),
            (20_000.0, DataAccuracy::Medium),
            (1e5, DataAccuracy::Low),
            (1e6, DataAccuracy::Low),
            (1e9, DataAccuracy::None),
            (f64::NAN, DataAccuracy::None),
        ] {
            assert_eq!(DataAccuracy::from_number(x), class, "{x}");
        }
    }

    #[test]
    fn classes_are_distinct_map_keys() {
        let set: std::collections::HashSet<_> = [
            DataAccuracy::High,
            DataAccuracy::Medium,
            DataAccuracy::Low,
            DataAccuracy::None,
            DataAccuracy::High,
        ]
        .into_iter()
        .collect();
        assert_eq!(set.len(), 4);
        assert_eq!(DataAccuracy::Low.as_str(), "low");
    }

    #[test]
    fn sources_order_internal_first() {
        assert!(DataSource::Internal < DataSource::Fallback);
        assert!(DataSource::Fallback < DataSource::GeoIp);
        assert_eq!(DataSource::GeoIp as i32, 3);
        assert_eq!(DataSource::Internal.as_str(), "internal");
    }

    #[test]
    fn cell_signal_floors() {
        assert_eq!(min_cell_signal(Radio::Gsm), -113);
        assert_eq!(min_cell_signal(Radio::Wcdma), -121);
        assert_eq!(min_cell_signal(Radio::Lte), -140);
        assert_eq!(min_cell_signal(Radio::Nr), -156);
    }
}
