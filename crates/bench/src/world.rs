//! The deterministic benchmark world: where stations are and what requests see them.
//!
//! Benchmarks must be reproducible and must exercise the real code paths, so every
//! station, report and query is derived from a seed and an index: the same command gives
//! the same workload on every machine. Stations are grouped in *sites* (a building: eight
//! WiFi access points within a few tens of metres, one Bluetooth beacon, one LTE cell),
//! spread over Germany so that region attribution, shards and cell ids look like real
//! data. Two namespaces keep the locate world (seeded straight into the tables) apart
//! from the pipeline workload (submitted through the API).

use serde_json::{Value, json};

use crate::rng::{Rng, mix};

/// WiFi access points per site.
pub const SITE_WIFI: usize = 8;
/// Stations per site in the pipeline workload: the WiFi, one cell, one beacon.
pub const SITE_STATIONS: usize = SITE_WIFI + 2;
/// The mobile country code of every cell (Germany).
pub const MCC: u16 = 262;
/// Cells per location area.
const CELLS_PER_LAC: u64 = 200;

/// The bounding box sites are drawn from (mainland Germany).
const LAT: (f64, f64) = (48.0, 53.5);
const LON: (f64, f64) = (7.0, 13.5);
/// Metres per degree of latitude.
const M_PER_DEG: f64 = 111_320.0;

/// Which set of stations an id belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    /// Stations seeded directly into the tables for the locate benchmark.
    Locate,
    /// Stations created by submitting reports for the pipeline benchmark.
    Pipeline,
}

impl Namespace {
    fn salt(self) -> u64 {
        match self {
            Namespace::Locate => 0x4c4f_4341_5445,
            Namespace::Pipeline => 0x5049_5045,
        }
    }
}

/// A seeded world.
#[derive(Debug, Clone, Copy)]
pub struct World {
    seed: u64,
    ns: Namespace,
}

/// An LTE cell's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    /// Mobile network code.
    pub mnc: u16,
    /// Tracking area code.
    pub lac: u32,
    /// Cell identity.
    pub cid: u64,
}

impl World {
    /// The world of a seed in a namespace.
    pub fn new(seed: u64, ns: Namespace) -> World {
        World { seed, ns }
    }

    fn hash(&self, kind: u64, index: u64) -> u64 {
        mix(self.seed ^ self.ns.salt().rotate_left(17) ^ mix(kind.wrapping_mul(31) ^ index))
    }

    /// The centre of a site.
    pub fn site_position(&self, site: u64) -> (f64, f64) {
        let mut rng = Rng::new(self.hash(1, site));
        (rng.range(LAT.0, LAT.1), rng.range(LON.0, LON.1))
    }

    /// A position within `metres` of a site's centre, from a stream.
    pub fn near(&self, site: u64, metres: f64, rng: &mut Rng) -> (f64, f64) {
        let (lat, lon) = self.site_position(site);
        let dlat = rng.range(-metres, metres) / M_PER_DEG;
        let dlon = rng.range(-metres, metres) / (M_PER_DEG * lat.to_radians().cos());
        (lat + dlat, lon + dlon)
    }

    /// The MAC of a station: unicast, globally administered, and never one of the
    /// addresses the service rejects (they all start with 0x00, 0x01 or 0xff; these
    /// start with 0x04 set and 0x01 clear). `kind` separates WiFi from Bluetooth.
    fn mac(&self, kind: u64, index: u64) -> StationMac {
        let h = self.hash(kind, index).to_be_bytes();
        let mut bytes = [h[2], h[3], h[4], h[5], h[6], h[7]];
        bytes[0] = (bytes[0] & 0xf8) | 0x04;
        StationMac(bytes)
    }

    /// WiFi access point `k` of a site.
    pub fn wifi_mac(&self, site: u64, k: usize) -> StationMac {
        self.mac(2, site * SITE_WIFI as u64 + k as u64)
    }

    /// The Bluetooth beacon of a site.
    pub fn blue_mac(&self, site: u64) -> StationMac {
        self.mac(3, site)
    }

    /// Cell number `index` (one per site in the pipeline workload).
    pub fn cell(&self, index: u64) -> Cell {
        Cell {
            mnc: 1 + (index % 3) as u16,
            lac: 1 + (index / CELLS_PER_LAC) as u32,
            cid: 1 + index,
        }
    }
}

/// A station's MAC address, as stored (six bytes) and as sent (hex).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StationMac(pub [u8; 6]);

impl StationMac {
    /// Lower-case hex without separators, as clients send MACs.
    pub fn to_hex(self) -> String {
        hex(&self.0)
    }
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The JSON of a WiFi entry as clients send it.
pub fn wifi_json(mac: &StationMac, signal: i64) -> Value {
    json!({"macAddress": mac.to_hex(), "signalStrength": signal})
}

/// The JSON of an LTE cell entry as clients send it.
pub fn cell_json(cell: &Cell, signal: i64) -> Value {
    json!({
        "radioType": "lte",
        "mobileCountryCode": MCC,
        "mobileNetworkCode": cell.mnc,
        "locationAreaCode": cell.lac,
        "cellId": cell.cid,
        "signalStrength": signal,
    })
}

/// One GPS-tagged report of a site in the pipeline workload: all ten of its stations
/// seen from a point within 30 m of the centre.
pub fn report(world: &World, site: u64, timestamp_ms: i64, rng: &mut Rng) -> Value {
    let (lat, lon) = world.near(site, 30.0, rng);
    let wifi: Vec<Value> = (0..SITE_WIFI)
        .map(|k| wifi_json(&world.wifi_mac(site, k), -40 - rng.below(50) as i64))
        .collect();
    json!({
        "timestamp": timestamp_ms,
        "position": {
            "latitude": lat,
            "longitude": lon,
            "accuracy": 5.0 + rng.range(0.0, 15.0),
            "source": "gps",
        },
        "wifiAccessPoints": wifi,
        "cellTowers": [cell_json(&world.cell(site), -70 - rng.below(40) as i64)],
        "bluetoothBeacons": [{
            "macAddress": world.blue_mac(site).to_hex(),
            "signalStrength": -60 - rng.below(30) as i64,
        }],
    })
}

/// The pipeline workload: `reports_per_site` reports for each of `sites` sites,
/// shuffled (as many contributors would send them), in `/v2/geosubmit` bodies of
/// `per_request` reports.
pub fn submit_bodies(
    world: &World,
    sites: u64,
    reports_per_site: u64,
    per_request: usize,
    timestamp_ms: i64,
) -> Vec<Vec<u8>> {
    let mut order: Vec<u64> = (0..sites)
        .flat_map(|s| std::iter::repeat_n(s, reports_per_site as usize))
        .collect();
    let mut rng = Rng::new(world.hash(4, 0));
    rng.shuffle(&mut order);
    order
        .chunks(per_request.max(1))
        .map(|chunk| {
            let items: Vec<Value> = chunk
                .iter()
                .map(|site| report(world, *site, timestamp_ms, &mut rng))
                .collect();
            json!({ "items": items }).to_string().into_bytes()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_world_is_deterministic_and_namespaced() {
        let a = World::new(1, Namespace::Locate);
        let b = World::new(1, Namespace::Pipeline);
        assert_eq!(
            a.wifi_mac(5, 3),
            World::new(1, Namespace::Locate).wifi_mac(5, 3)
        );
        assert_ne!(a.wifi_mac(5, 3), b.wifi_mac(5, 3));
        assert_ne!(a.wifi_mac(5, 3), a.wifi_mac(5, 4));
        assert_ne!(
            a.wifi_mac(5, 3),
            World::new(2, Namespace::Locate).wifi_mac(5, 3)
        );
        let (lat, lon) = a.site_position(9);
        assert!((LAT.0..LAT.1).contains(&lat) && (LON.0..LON.1).contains(&lon));
    }

    #[test]
    fn macs_parse_as_clients_send_them() {
        use ichnaea_core::ids::Mac;
        let w = World::new(7, Namespace::Pipeline);
        for site in 0..1000 {
            let mac = w.wifi_mac(site, 0);
            let parsed = Mac::parse(&mac.to_hex()).unwrap();
            assert_eq!(parsed.as_bytes(), &mac.0);
            assert_eq!(mac.0[0] & 1, 0, "unicast");
        }
    }

    #[test]
    fn cells_stay_in_the_lte_id_ranges() {
        let w = World::new(7, Namespace::Locate);
        let c = w.cell(999_999);
        assert!(c.lac <= 65_535 && c.cid < (1 << 28));
        assert_eq!(w.cell(0).lac, 1);
    }

    #[test]
    fn bodies_hold_every_report_once() {
        let w = World::new(3, Namespace::Pipeline);
        let bodies = submit_bodies(&w, 7, 3, 10, 1_700_000_000_000);
        assert_eq!(bodies.len(), 3);
        let mut seen = std::collections::HashMap::new();
        let mut total = 0;
        for body in &bodies {
            let v: Value = serde_json::from_slice(body).unwrap();
            for item in v["items"].as_array().unwrap() {
                total += 1;
                let mac = item["bluetoothBeacons"][0]["macAddress"].as_str().unwrap();
                *seen.entry(mac.to_owned()).or_insert(0) += 1;
                assert_eq!(
                    item["wifiAccessPoints"].as_array().unwrap().len(),
                    SITE_WIFI
                );
                let (lat, lon) = (
                    item["position"]["latitude"].as_f64().unwrap(),
                    item["position"]["longitude"].as_f64().unwrap(),
                );
                assert!((LAT.0 - 0.01..LAT.1 + 0.01).contains(&lat));
                assert!((LON.0 - 0.01..LON.1 + 0.01).contains(&lon));
            }
        }
        assert_eq!(total, 21);
        assert_eq!(seen.len(), 7);
        assert!(seen.values().all(|n| *n == 3));
    }
}
