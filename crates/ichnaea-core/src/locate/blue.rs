//! The Bluetooth position and region sources (`api.md` §8.6.1, §8.10): the shared MAC
//! algorithm with Bluetooth's parameters. Beacons have a short range, so clusters may
//! span only 100 m and answers claim at most 50 m. A reported signal of 0 dBm is not
//! physically plausible for a received beacon and is treated as missing (−127 dBm), as
//! in the reference.

use super::constants::{
    BLUE_MAX_ACCURACY, BLUE_MIN_ACCURACY, MAX_BLUE_CLUSTER_METERS, MAX_BLUES_IN_CLUSTER,
    MIN_BLUE_SIGNAL,
};
use super::mac::{MacKind, MacObservation, MacParams, mac_positions, mac_regions};
use super::query::BlueObservation;
use super::result::{PositionResults, RegionResults};
use super::station::MacStation;
use crate::time::DateTime;

/// Bluetooth's parameters of the MAC algorithm.
pub const BLUE_PARAMS: MacParams = MacParams {
    kind: MacKind::Blue,
    min_signal: MIN_BLUE_SIGNAL,
    max_cluster_distance: MAX_BLUE_CLUSTER_METERS,
    max_networks: MAX_BLUES_IN_CLUSTER,
    min_accuracy: BLUE_MIN_ACCURACY,
    max_accuracy: BLUE_MAX_ACCURACY,
};

fn observations(blue: &[BlueObservation]) -> Vec<MacObservation> {
    blue.iter()
        .map(|b| MacObservation {
            mac: b.mac,
            age: b.age,
            signal: b.signal,
        })
        .collect()
}

/// Bluetooth position candidates from the stations loaded for the observed beacons.
pub fn blue_positions(
    blue: &[BlueObservation],
    stations: &[MacStation],
    now: DateTime,
) -> PositionResults {
    mac_positions(&BLUE_PARAMS, &observations(blue), stations, now)
}

/// Bluetooth region candidates from the stations loaded for the observed beacons.
pub fn blue_regions(
    blue: &[BlueObservation],
    stations: &[MacStation],
    now: DateTime,
) -> RegionResults {
    mac_regions(&observations(blue), stations, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Mac;
    use crate::locate::result::NetworkKey;
    use crate::locate::score::station_score;
    use crate::numeric::round_decimals;

    const LAT: f64 = 51.5;
    const LON: f64 = -0.1;

    fn now() -> DateTime {
        DateTime::from_unix_seconds(1_705_000_000)
    }

    fn mac(n: u8) -> Mac {
        Mac::from_array([0xa8, 0x20, 0x12, 0x34, 0x56, n]).unwrap()
    }

    fn station(n: u8, lat: f64, lon: f64) -> MacStation {
        MacStation {
            radius: Some(5),
            region: Some("GB".into()),
            ..MacStation::new(mac(n), lat, lon, now())
        }
    }

    fn sig(n: u8, signal: Option<i32>) -> BlueObservation {
        BlueObservation {
            signal,
            ..BlueObservation::new(mac(n))
        }
    }

    #[test]
    fn test_blue() {
        let a = MacStation {
            radius: Some(10),
            samples: Some(50),
            ..station(1, LAT, LON)
        };
        let b = MacStation {
            radius: Some(100),
            samples: Some(100),
            ..station(2, LAT, LON + 0.00001)
        };
        let results = blue_positions(&[sig(1, Some(-80)), sig(2, Some(-90))], &[a, b], now());
        assert_eq!(results.len(), 1);
        let r = results.best().unwrap();
        assert_eq!((r.lat, r.lon, r.accuracy), (LAT, LON + 0.0000048, 10.0));
        assert_eq!(round_decimals(r.score, 4), 1.2288);
        assert!(matches!(r.used_networks[0].key, NetworkKey::Blue(_)));
    }

    #[test]
    fn locate_test_blue_with_an_unpositioned_beacon() {
        // test_locate_v1 test_blue: three positioned beacons 0.00001° apart plus one
        // without a position; only the first has a (valid) signal.
        let stations = [
            station(0, LAT, LON),
            station(1, LAT + 0.00001, LON),
            station(2, LAT + 0.00002, LON),
            MacStation {
                lat: None,
                lon: None,
                ..station(3, LAT, LON)
            },
        ];
        let query = [sig(0, Some(-50)), sig(1, None), sig(2, None), sig(3, None)];
        let results = blue_positions(&query, &stations, now());
        let r = results.best().unwrap();
        assert_eq!((r.lat, r.lon, r.accuracy), (51.5000035, LON, 10.0));
    }

    #[test]
    fn locate_test_blue_seen() {
        let stations = [station(0, LAT, LON), station(1, LAT + 0.00002, LON)];
        let results = blue_positions(&[sig(0, None), sig(1, None)], &stations, now());
        let r = results.best().unwrap();
        assert_eq!(r.lat, LAT + 0.00001);
        assert!(r.used_networks.iter().all(|u| u.seen_today));
    }

    #[test]
    fn clusters_are_tighter_than_wifi() {
        // 200 m apart: one WiFi cluster, but no Bluetooth cluster.
        let stations = [station(1, LAT, LON), station(2, LAT + 0.0018, LON)];
        assert!(blue_positions(&[sig(1, None), sig(2, None)], &stations, now()).is_empty());
    }

    #[test]
    fn zero_signal_counts_as_missing() {
        let stations = [station(1, LAT, LON), station(2, LAT + 0.0001, LON)];
        let zero = blue_positions(&[sig(1, Some(0)), sig(2, Some(-127))], &stations, now());
        let missing = blue_positions(&[sig(1, None), sig(2, None)], &stations, now());
        assert_eq!(zero, missing);
    }

    #[test]
    fn regions_from_beacons() {
        let a = MacStation {
            samples: Some(10),
            ..station(1, LAT, LON)
        };
        let b = MacStation {
            samples: Some(20),
            ..station(2, LAT, LON)
        };
        let expected = station_score(&a, now()) + station_score(&b, now());
        let results = blue_regions(&[sig(1, None), sig(2, None), sig(3, None)], &[a, b], now());
        assert_eq!(results.len(), 1);
        assert_eq!(results.as_slice()[0].code, "GB");
        assert_eq!(results.as_slice()[0].score, expected);
        assert!(blue_regions(&[sig(7, None), sig(8, None)], &[], now()).is_empty());
    }
}
