//! The WiFi position and region sources (`api.md` §8.6.1, §8.10): the shared MAC
//! algorithm with WiFi's parameters. WiFi access points reach further than Bluetooth
//! beacons, so clusters may span 500 m and answers may claim up to 500 m.

use super::constants::{
    MAX_WIFI_CLUSTER_METERS, MAX_WIFIS_IN_CLUSTER, MIN_WIFI_SIGNAL, WIFI_MAX_ACCURACY,
    WIFI_MIN_ACCURACY,
};
use super::mac::{MacKind, MacObservation, MacParams, mac_positions, mac_regions};
use super::query::WifiObservation;
use super::result::{PositionResults, RegionResults};
use super::station::MacStation;
use crate::time::DateTime;

/// WiFi's parameters of the MAC algorithm.
pub const WIFI_PARAMS: MacParams = MacParams {
    kind: MacKind::Wifi,
    min_signal: MIN_WIFI_SIGNAL,
    max_cluster_distance: MAX_WIFI_CLUSTER_METERS,
    max_networks: MAX_WIFIS_IN_CLUSTER,
    min_accuracy: WIFI_MIN_ACCURACY,
    max_accuracy: WIFI_MAX_ACCURACY,
};

fn observations(wifi: &[WifiObservation]) -> Vec<MacObservation> {
    wifi.iter()
        .map(|w| MacObservation {
            mac: w.mac,
            age: w.age,
            signal: w.signal,
        })
        .collect()
}

/// WiFi position candidates from the stations loaded for the observed networks.
pub fn wifi_positions(
    wifi: &[WifiObservation],
    stations: &[MacStation],
    now: DateTime,
) -> PositionResults {
    mac_positions(&WIFI_PARAMS, &observations(wifi), stations, now)
}

/// WiFi region candidates from the stations loaded for the observed networks.
pub fn wifi_regions(
    wifi: &[WifiObservation],
    stations: &[MacStation],
    now: DateTime,
) -> RegionResults {
    mac_regions(&observations(wifi), stations, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Mac;
    use crate::locate::constants::DataSource;
    use crate::locate::result::NetworkKey;
    use crate::locate::score::station_score;
    use crate::numeric::round_decimals;

    const LAT: f64 = 51.5;
    const LON: f64 = -0.1;

    fn now() -> DateTime {
        DateTime::from_unix_seconds(1_705_000_000)
    }

    fn mac(n: u32) -> Mac {
        let b = n.to_be_bytes();
        Mac::from_array([0xa8, 0x20, b[0], b[1], b[2], b[3]]).unwrap()
    }

    /// A factory-default WiFi station: 51.5/-0.1, radius 5, one sample, created now.
    fn station(n: u32, lat: f64, lon: f64) -> MacStation {
        MacStation {
            radius: Some(5),
            region: Some("GB".into()),
            ..MacStation::new(mac(n), lat, lon, now())
        }
    }

    fn obs(n: u32) -> WifiObservation {
        WifiObservation::new(mac(n))
    }

    fn sig(n: u32, signal: i32) -> WifiObservation {
        WifiObservation {
            signal: Some(signal),
            ..obs(n)
        }
    }

    #[test]
    fn test_wifi() {
        let a = MacStation {
            samples: Some(50),
            ..station(1, LAT, LON)
        };
        let b = MacStation {
            samples: Some(100),
            ..station(2, LAT, LON + 0.00001)
        };
        let results = wifi_positions(&[sig(1, -60), sig(2, -80)], &[a, b], now());
        assert_eq!(results.len(), 1);
        let r = results.best().unwrap();
        assert_eq!((r.lat, r.lon, r.accuracy), (LAT, LON + 0.000004, 10.0));
        assert!(r.score > 1.0);
        assert_eq!(r.source, DataSource::Internal);
        assert_eq!(r.fallback, None);
        assert_eq!(r.used_networks.len(), 2);
        assert!(r.used_networks.iter().all(|u| u.seen_today));
        assert!(matches!(r.used_networks[0].key, NetworkKey::Wifi(_)));
    }

    #[test]
    fn locate_test_wifi_with_an_unpositioned_network() {
        // test_locate_v1 test_wifi: three positioned networks 0.00001° apart plus one
        // without a position; only the first has a valid signal.
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
        let query = [sig(0, -50), obs(1), obs(2), obs(3)];
        let results = wifi_positions(&query, &stations, now());
        let r = results.best().unwrap();
        assert_eq!((r.lat, r.lon, r.accuracy), (51.500005, LON, 10.0));
    }

    #[test]
    fn test_wifi_no_position() {
        let stations = [
            station(1, LAT, LON),
            station(2, LAT, LON),
            MacStation {
                lat: None,
                radius: None,
                ..station(3, LAT, LON)
            },
        ];
        let results = wifi_positions(&[obs(1), obs(2), obs(3)], &stations, now());
        assert_eq!(results.len(), 1);
        let r = results.best().unwrap();
        assert_eq!((r.lat, r.lon, r.accuracy), (LAT, LON, 10.0));
    }

    #[test]
    fn test_wifi_temp_blocked() {
        let yesterday = now().add_days(-1);
        let blocked = MacStation {
            radius: Some(300),
            created: Some(yesterday),
            block_first: Some(yesterday.date()),
            block_last: Some(yesterday.date()),
            block_count: Some(1),
            ..station(2, LAT, LON + 0.00001)
        };
        let a = MacStation {
            radius: Some(200),
            ..station(1, LAT, LON)
        };
        assert!(wifi_positions(&[obs(1), obs(2)], &[a, blocked], now()).is_empty());
    }

    #[test]
    fn test_wifi_permanent_blocked() {
        let blocked = MacStation {
            radius: Some(300),
            created: Some(now().add_days(-120)),
            block_first: Some(now().add_days(-90).date()),
            block_last: Some(now().add_days(-7).date()),
            block_count: Some(4),
            ..station(2, LAT, LON + 0.00001)
        };
        let a = MacStation {
            radius: Some(200),
            ..station(1, LAT, LON)
        };
        assert!(wifi_positions(&[obs(1), obs(2)], &[a, blocked], now()).is_empty());
    }

    #[test]
    fn test_empty_and_few_candidates() {
        assert!(wifi_positions(&[], &[], now()).is_empty());
        // One station only (the query had one network, or only one was found).
        assert!(wifi_positions(&[obs(1)], &[station(1, LAT, LON)], now()).is_empty());
        let stations = [
            MacStation {
                lat: None,
                ..station(1, LAT, LON)
            },
            station(2, LAT, LON),
        ];
        assert!(wifi_positions(&[obs(1), obs(2)], &stations, now()).is_empty());
        // Stations that were not observed do not take part.
        let unobserved = [station(1, LAT, LON), station(2, LAT, LON)];
        assert!(wifi_positions(&[obs(1), obs(3)], &unobserved, now()).is_empty());
    }

    #[test]
    fn test_ignore_outlier() {
        let stations = [
            station(1, LAT, LON),
            station(2, LAT + 0.00001, LON),
            station(3, LAT + 0.00002, LON),
            station(4, LAT + 1.0, LON),
        ];
        let query = [obs(1), obs(2), obs(3), obs(4)];
        let results = wifi_positions(&query, &stations, now());
        assert_eq!(results.len(), 1);
        let r = results.best().unwrap();
        assert_eq!(r.lat, LAT + 0.00001);
        assert_eq!(r.lon, LON);
        assert_eq!(round_decimals(r.score, 4), 0.15);
    }

    #[test]
    fn test_not_closeby() {
        let stations = [station(1, LAT, LON), station(3, LAT + 1.0, LON)];
        assert!(wifi_positions(&[obs(1), obs(3)], &stations, now()).is_empty());
    }

    #[test]
    fn test_multiple_clusters() {
        let stations = [
            station(11, LAT, LON),
            station(12, LAT, LON),
            station(21, LAT + 1.0, LON + 1.0),
            station(22, LAT + 1.0, LON + 1.0),
        ];
        let query = [sig(11, -100), sig(12, -80), sig(21, -100), sig(22, -54)];
        let results = wifi_positions(&query, &stations, now());
        let positions: Vec<(f64, f64, f64)> =
            results.iter().map(|r| (r.lat, r.lon, r.accuracy)).collect();
        assert_eq!(
            positions,
            vec![(LAT, LON, 10.0), (LAT + 1.0, LON + 1.0, 10.0)]
        );
    }

    #[test]
    fn test_cluster_score_over_size() {
        let yesterday = now().add_days(-1);
        let last_week = now().add_days(-7);
        let three_months = now().add_days(-90);
        let four_months = now().add_days(-120);
        let at = |n, lat, lon, samples, created: DateTime, modified: DateTime| MacStation {
            samples: Some(samples),
            created: Some(created),
            modified: Some(modified),
            ..station(n, lat, lon)
        };
        let w11 = at(11, LAT, LON, 20, last_week, yesterday);
        let w12 = at(12, LAT + 0.00003, LON, 30, yesterday, now());
        let w13 = at(13, LAT - 0.00003, LON, 10, yesterday, now());
        let w21 = at(21, LAT + 1.0, LON + 1.0, 40, four_months, three_months);
        let w22 = at(22, LAT + 1.0, LON + 1.0, 50, three_months, last_week);
        let expected_score = station_score(&w21, now()) + station_score(&w22, now());
        let stations = [w11, w12, w13, w21, w22];
        let query = [obs(11), obs(12), obs(13), obs(21), obs(22)];
        let results = wifi_positions(&query, &stations, now());
        assert_eq!(results.len(), 2);
        let best = results.best().unwrap();
        assert_eq!((best.lat, best.lon), (LAT + 1.0, LON + 1.0));
        assert_eq!(round_decimals(best.accuracy, 2), 10.0);
        assert_eq!(
            round_decimals(best.score, 2),
            round_decimals(expected_score, 2)
        );
        let other = results.iter().find(|r| r.score < best.score).unwrap();
        assert_eq!(round_decimals(other.lat, 4), LAT);
        assert_eq!(round_decimals(other.lon, 4), LON);
    }

    #[test]
    fn test_top_results_in_noisy_cluster() {
        let stations: Vec<MacStation> = (0..30)
            .map(|i| MacStation {
                samples: Some(100 - i),
                ..station(
                    i,
                    LAT + f64::from(i) * 0.000001,
                    LON + f64::from(i) * 0.0000012,
                )
            })
            .collect();
        let query: Vec<WifiObservation> = (0..30).map(|i| sig(i, -50 - i as i32)).collect();
        let expected: f64 = stations.iter().map(|s| station_score(s, now())).sum();
        let results = wifi_positions(&query, &stations, now());
        assert_eq!(results.len(), 1);
        let r = results.best().unwrap();
        assert_eq!(round_decimals(r.lat, 4), LAT);
        assert_eq!(round_decimals(r.lon, 4), LON);
        assert_eq!(round_decimals(r.score, 4), round_decimals(expected, 4));
        assert_eq!(r.used_networks.len(), 20, "at most 20 networks are used");
    }

    #[test]
    fn test_weight() {
        let stations: Vec<MacStation> = (0..4)
            .map(|i| station(i, LAT + f64::from(i) * 0.0001, LON + f64::from(i) * 0.00012))
            .collect();
        let query = [
            WifiObservation {
                age: Some(0),
                ..sig(0, -10)
            },
            WifiObservation {
                age: Some(8000),
                ..sig(1, -40)
            },
            WifiObservation {
                age: Some(16000),
                ..sig(2, -70)
            },
            sig(3, -100),
        ];
        let results = wifi_positions(&query, &stations, now());
        let r = results.best().unwrap();
        assert_eq!(r.lat, LAT + 0.0000009);
        assert_eq!(r.lon, LON + 0.0000006);
        assert_eq!(round_decimals(r.accuracy, 2), 39.51);
    }

    #[test]
    fn regions_sum_station_scores() {
        let a = MacStation {
            samples: Some(10),
            ..station(1, LAT, LON)
        };
        let b = MacStation {
            samples: Some(20),
            ..station(2, LAT, LON)
        };
        let expected = station_score(&a, now()) + station_score(&b, now());
        let results = wifi_regions(&[obs(1), obs(2), obs(3)], &[a, b], now());
        assert_eq!(results.len(), 1);
        let gb = &results.as_slice()[0];
        assert_eq!((gb.code, gb.name), ("GB", "United Kingdom"));
        assert_eq!(gb.accuracy, 543_000.0);
        assert_eq!(gb.score, expected);
        assert!(wifi_regions(&[obs(5), obs(6)], &[], now()).is_empty());
        let unknown = MacStation {
            region: Some("XX".into()),
            ..station(1, LAT, LON)
        };
        assert!(wifi_regions(&[obs(1), obs(2)], &[unknown], now()).is_empty());
    }
}
