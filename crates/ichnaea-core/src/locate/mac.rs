//! Position and region estimates from WiFi access points and Bluetooth beacons, the
//! logic both MAC-based sources share (`api.md` §8.6.1, §8.10).
//!
//! The steps, and why:
//!
//! 1. Only stations the client actually observed, with a position and not blocked,
//!    take part (`station::Station::is_usable`).
//! 2. The stations are clustered by complete linkage with a cut at 500 m (WiFi) or
//!    100 m (Bluetooth), and only clusters of at least two stations count. A moved
//!    access point, or a fake one paired with a real one, then forms its own small
//!    cluster instead of dragging the estimate, and a single real network can never be
//!    located on its own.
//! 3. Each cluster gives one candidate. The start point is the mean of the station
//!    positions weighted by `score · min(sqrt(2000 / age), 1) / signal²`: trusted,
//!    fresh and strong observations pull hardest. It is refined by least squares on
//!    the residuals `distance · min(sqrt(2000 / age), 1) / signal²` with a port of the
//!    reference's MINPACK solver, so answers agree with the reference to the 7th
//!    decimal. The accuracy is the 95th percentile of the distances to the stations
//!    used, clamped per source; the score is the sum over the whole cluster, so bigger
//!    and better-established clusters win.
//!
//! **Deliberate difference:** for clusters larger than the per-source cap (20 WiFi,
//! 10 Bluetooth) the reference estimates from the *lowest*-scored stations: it sorts
//! ascending and takes the first ones, although its own comment says it picks "the best
//! sample". That throws away the most reliable stations exactly where there is a choice,
//! so this implementation takes the *highest*-scored ones (ties broken by the remaining
//! fields, as in the reference). Clusters within the cap are unaffected.

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::geo::distance;
use crate::ids::Mac;

use super::constants::{
    DataSource, MAC_MIN_RADIUS, MIN_NETWORKS_IN_CLUSTER, MIN_OBSERVATION_AGE_MS,
};
use super::linkage::complete_linkage;
use super::minpack::leastsq;
use super::region_radius::region_for_code;
use super::result::{
    NetworkKey, PositionResult, PositionResults, RegionResult, RegionResults, UsedNetwork,
};
use super::score::station_score;
use super::station::MacStation;
use crate::numeric::{cmp_f64, numpy_sum, percentile, weighted_mean};
use crate::time::DateTime;

/// Which kind of MAC network a source handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacKind {
    /// WiFi access points.
    Wifi,
    /// Bluetooth beacons.
    Blue,
}

/// The per-source parameters of the shared MAC algorithm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MacParams {
    /// The kind of network, recorded in the used networks.
    pub kind: MacKind,
    /// Signal assumed for observations without one, dBm.
    pub min_signal: i32,
    /// Complete-linkage cut, metres.
    pub max_cluster_distance: f64,
    /// Most stations used for one estimate.
    pub max_networks: usize,
    /// Smallest reported accuracy, metres.
    pub min_accuracy: f64,
    /// Largest reported accuracy, metres.
    pub max_accuracy: f64,
}

/// What the algorithm uses of one MAC observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacObservation {
    /// The network.
    pub mac: Mac,
    /// Observation age, ms.
    pub age: Option<i32>,
    /// Signal strength, dBm.
    pub signal: Option<i32>,
}

/// One observed, positioned station with its observation data.
#[derive(Debug, Clone, Copy)]
struct Network {
    lat: f64,
    lon: f64,
    radius: f64,
    age: i32,
    signal: i32,
    score: f64,
    mac: Mac,
    seen_today: bool,
}

impl Network {
    /// How much fresher observations count: full weight up to 2 s, then decaying.
    fn age_factor(&self) -> f64 {
        (2000.0 / f64::from(self.age)).sqrt().min(1.0)
    }

    /// `signal²`: the reference's `math.pow(signal, 2)`.
    fn signal_squared(&self) -> f64 {
        f64::from(self.signal).powi(2)
    }
}

/// The candidate positions from the stations found for the observed networks, one per
/// cluster, in cluster order. `stations` should be in the order the database returned
/// them; it only matters for exact ties.
pub fn mac_positions(
    params: &MacParams,
    observations: &[MacObservation],
    stations: &[MacStation],
    now: DateTime,
) -> PositionResults {
    let networks = observed_networks(params, observations, stations, now);
    cluster_networks(&networks, params.max_cluster_distance)
        .into_iter()
        .filter_map(|cluster| aggregate_cluster(params, cluster))
        .collect()
}

/// The region candidates from the stations found for the observed networks: the sum of
/// the station scores per known region; stations without a known region are ignored.
pub fn mac_regions(
    observations: &[MacObservation],
    stations: &[MacStation],
    now: DateTime,
) -> RegionResults {
    let today = now.date();
    let mut totals: Vec<(&str, f64)> = Vec::new();
    for station in stations {
        if !station.is_usable(today) || !observations.iter().any(|o| o.mac == station.id) {
            continue;
        }
        let Some(code) = station.region.as_deref() else {
            continue;
        };
        let score = station_score(station, now);
        match totals.iter_mut().find(|(c, _)| *c == code) {
            Some((_, total)) => *total += score,
            None => totals.push((code, score)),
        }
    }
    totals
        .into_iter()
        .filter_map(|(code, score)| {
            let region = region_for_code(code)?;
            Some(RegionResult {
                code: region.code,
                name: region.name,
                accuracy: region.radius,
                score,
                source: DataSource::Internal,
                fallback: None,
            })
        })
        .collect()
}

fn observed_networks(
    params: &MacParams,
    observations: &[MacObservation],
    stations: &[MacStation],
    now: DateTime,
) -> Vec<Network> {
    let today = now.date();
    let mut obs: HashMap<Mac, (i32, i32)> = HashMap::with_capacity(observations.len());
    for o in observations {
        let age = o
            .age
            .unwrap_or(0)
            .saturating_abs()
            .max(MIN_OBSERVATION_AGE_MS);
        // A signal of 0 counts as missing, as in the reference.
        let signal = o.signal.filter(|&s| s != 0).unwrap_or(params.min_signal);
        obs.insert(o.mac, (age, signal));
    }
    stations
        .iter()
        .filter(|s| s.is_usable(today))
        .filter_map(|s| {
            let (lat, lon) = s.position()?;
            let &(age, signal) = obs.get(&s.id)?;
            Some(Network {
                lat,
                lon,
                radius: match s.radius {
                    Some(r) if r > 0 => f64::from(r),
                    _ => MAC_MIN_RADIUS,
                },
                age,
                signal,
                score: station_score(s, now),
                mac: s.id,
                seen_today: s.seen_today(today),
            })
        })
        .collect()
}

/// Groups the networks into clusters of at least two (`cluster_networks`).
fn cluster_networks(networks: &[Network], max_distance: f64) -> Vec<Vec<Network>> {
    match networks.len() {
        0 | 1 => Vec::new(),
        2 => {
            let (a, b) = (&networks[0], &networks[1]);
            if distance(a.lat, a.lon, b.lat, b.lon) <= max_distance {
                vec![networks.to_vec()]
            } else {
                Vec::new()
            }
        }
        n => complete_linkage(n, max_distance, |i, j| {
            let (a, b) = (&networks[i], &networks[j]);
            distance(a.lat, a.lon, b.lat, b.lon)
        })
        .into_iter()
        .filter(|members| members.len() >= MIN_NETWORKS_IN_CLUSTER)
        .map(|members| members.into_iter().map(|i| networks[i]).collect())
        .collect(),
    }
}

/// The reference's record order after the score: lat, lon, radius, age, signal, mac,
/// seen today.
fn cmp_rest(a: &Network, b: &Network) -> Ordering {
    cmp_f64(a.lat, b.lat)
        .then(cmp_f64(a.lon, b.lon))
        .then(cmp_f64(a.radius, b.radius))
        .then(a.age.cmp(&b.age))
        .then(a.signal.cmp(&b.signal))
        .then(a.mac.cmp(&b.mac))
        .then(a.seen_today.cmp(&b.seen_today))
}

/// One cluster's candidate (`aggregate_cluster_position`).
fn aggregate_cluster(params: &MacParams, mut cluster: Vec<Network>) -> Option<PositionResult> {
    // Best-scored first (see the module doc for the difference to the reference).
    cluster.sort_by(|a, b| cmp_f64(b.score, a.score).then_with(|| cmp_rest(a, b)));
    let sample = &cluster[..cluster.len().min(params.max_networks)];

    let (lat, lon, accuracy) = aggregate_position(sample, params.min_accuracy)?;
    let accuracy = accuracy.min(params.max_accuracy);
    let scores: Vec<f64> = cluster.iter().map(|n| n.score).collect();
    let score = numpy_sum(&scores);

    let used = sample
        .iter()
        .map(|n| UsedNetwork {
            key: match params.kind {
                MacKind::Wifi => NetworkKey::Wifi(n.mac),
                MacKind::Blue => NetworkKey::Blue(n.mac),
            },
            seen_today: n.seen_today,
        })
        .collect();
    Some(
        PositionResult::new(lat, lon, accuracy, score, DataSource::Internal, None)
            .with_used_networks(used),
    )
}

/// The refined position of a sample and its accuracy before the upper clamp
/// (`aggregate_mac_position`).
fn aggregate_position(sample: &[Network], min_accuracy: f64) -> Option<(f64, f64, f64)> {
    let points: Vec<(f64, f64)> = sample.iter().map(|n| (n.lat, n.lon)).collect();
    let weights: Vec<f64> = sample
        .iter()
        .map(|n| n.score * n.age_factor() / n.signal_squared())
        .collect();
    let initial = weighted_mean(&points, &weights)?;

    let fit = leastsq(
        |x, residuals| {
            for (r, n) in residuals.iter_mut().zip(sample) {
                *r = distance(n.lat, n.lon, x[0], x[1]) * n.age_factor() / n.signal_squared();
            }
        },
        &[initial.0, initial.1],
        sample.len(),
    );
    let (lat, lon) = match fit.x.as_slice() {
        [lat, lon] if fit.converged() => (*lat, *lon),
        _ => initial,
    };

    let distances: Vec<f64> = sample
        .iter()
        .map(|n| distance(lat, lon, n.lat, n.lon))
        .collect();
    let p95 = percentile(&distances, 95.0)?;
    // Python's max(p95, minimum): the minimum only replaces a strictly smaller value.
    let accuracy = if min_accuracy > p95 {
        min_accuracy
    } else {
        p95
    };
    Some((lat, lon, accuracy))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::locate::wifi::WIFI_PARAMS;

    fn now() -> DateTime {
        DateTime::from_unix_seconds(1_705_000_000)
    }

    fn mac(n: u8) -> Mac {
        Mac::from_array([0xa8, 0x20, 0x11, 0, 0, n]).unwrap()
    }

    fn obs(n: u8) -> MacObservation {
        MacObservation {
            mac: mac(n),
            age: None,
            signal: None,
        }
    }

    #[test]
    fn large_clusters_use_the_best_scored_stations() {
        // 25 stations in one cluster: 20 single-sample ones and 5 well-established ones.
        let stations: Vec<MacStation> = (0..25)
            .map(|n| MacStation {
                radius: Some(20),
                samples: Some(if n < 20 { 1 } else { 500 }),
                created: Some(now().add_days(-60)),
                ..MacStation::new(mac(n), 51.5 + f64::from(n) * 1e-5, -0.1, now())
            })
            .collect();
        let observations: Vec<MacObservation> = (0..25).map(obs).collect();
        let results = mac_positions(&WIFI_PARAMS, &observations, &stations, now());
        assert_eq!(results.len(), 1);
        let used: Vec<NetworkKey> = results.as_slice()[0]
            .used_networks
            .iter()
            .map(|u| u.key)
            .collect();
        assert_eq!(used.len(), 20);
        for n in 20..25 {
            assert!(
                used.contains(&NetworkKey::Wifi(mac(n))),
                "station {n} is used"
            );
        }
        let total: f64 = stations.iter().map(|s| station_score(s, now())).sum();
        assert!(
            (results.as_slice()[0].score - total).abs() < 1e-9,
            "all 25 count"
        );
    }

    #[test]
    fn two_networks_cluster_only_within_the_cut() {
        let near = [
            MacStation::new(mac(1), 51.5, -0.1, now()),
            MacStation::new(mac(2), 51.5044, -0.1, now()),
        ];
        // About 489 m apart: one cluster, accuracy clamped to 500 m at most.
        let results = mac_positions(&WIFI_PARAMS, &[obs(1), obs(2)], &near, now());
        assert_eq!(results.len(), 1);
        assert!(results.as_slice()[0].accuracy <= 500.0);
        let far = [
            MacStation::new(mac(1), 51.5, -0.1, now()),
            MacStation::new(mac(2), 51.5046, -0.1, now()),
        ];
        assert!(mac_positions(&WIFI_PARAMS, &[obs(1), obs(2)], &far, now()).is_empty());
    }

    #[test]
    fn observation_ages_and_signals_are_normalised() {
        let stations = [
            MacStation::new(mac(1), 51.5, -0.1, now()),
            MacStation::new(mac(2), 51.5001, -0.1, now()),
        ];
        // Negative ages count by magnitude and anything below one second as one second,
        // so these two queries weigh the stations identically.
        let a = [
            MacObservation {
                age: Some(-1500),
                signal: Some(-70),
                ..obs(1)
            },
            MacObservation {
                age: Some(10),
                ..obs(2)
            },
        ];
        let b = [
            MacObservation {
                age: Some(1500),
                signal: Some(-70),
                ..obs(1)
            },
            MacObservation {
                age: None,
                signal: Some(-100),
                ..obs(2)
            },
        ];
        assert_eq!(
            mac_positions(&WIFI_PARAMS, &a, &stations, now()),
            mac_positions(&WIFI_PARAMS, &b, &stations, now())
        );
    }
}
