//! Locate request bodies for the benchmark scenarios, drawn from the seeded locate
//! world so that every WiFi and cell query names stations that exist.

use serde_json::{Value, json};

use crate::rng::Rng;
use crate::world::{SITE_WIFI, World, cell_json, wifi_json};

/// A locate benchmark scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// An empty body: the answer comes from GeoIP.
    Ip,
    /// Three known access points of one site.
    Wifi,
    /// One known LTE cell.
    Cell,
    /// A client-shaped payload: five known access points and an unknown one, with ages
    /// and channels, plus the site's known cell.
    Mixed,
}

/// `count` request bodies of a scenario. `wifi` and `cells` are the seeded sizes.
pub fn locate_bodies(
    world: &World,
    scenario: Scenario,
    wifi: u64,
    cells: u64,
    count: usize,
    seed: u64,
) -> Vec<Vec<u8>> {
    let sites = (wifi / SITE_WIFI as u64).max(1);
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|_| {
            body(world, scenario, sites, cells.max(1), &mut rng)
                .to_string()
                .into_bytes()
        })
        .collect()
}

fn body(world: &World, scenario: Scenario, sites: u64, cells: u64, rng: &mut Rng) -> Value {
    match scenario {
        Scenario::Ip => json!({}),
        Scenario::Wifi => {
            let site = rng.below(sites as usize) as u64;
            let first = rng.below(SITE_WIFI);
            let aps: Vec<Value> = (0..3)
                .map(|i| {
                    let mac = world.wifi_mac(site, (first + i) % SITE_WIFI);
                    wifi_json(&mac, -45 - rng.below(40) as i64)
                })
                .collect();
            json!({ "wifiAccessPoints": aps })
        }
        Scenario::Cell => {
            let cell = world.cell(rng.below(cells as usize) as u64);
            json!({ "radioType": "lte", "cellTowers": [cell_json(&cell, -85)] })
        }
        Scenario::Mixed => {
            // Cell i stands at site i, so a site below both sizes has both.
            let site = rng.below(sites.min(cells) as usize) as u64;
            let mut aps: Vec<Value> = (0..5)
                .map(|k| {
                    let mut ap = wifi_json(&world.wifi_mac(site, k), -50 - rng.below(35) as i64);
                    ap["age"] = json!(rng.below(3000));
                    ap["channel"] = json!(1 + rng.below(11));
                    ap
                })
                .collect();
            aps.push(json!({"macAddress": "0a1b2c3d4e5f", "signalStrength": -90, "age": 500}));
            json!({
                "considerIp": true,
                "cellTowers": [cell_json(&world.cell(site), -75)],
                "wifiAccessPoints": aps,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::Namespace;

    #[test]
    fn scenarios_name_seeded_stations() {
        let w = World::new(1, Namespace::Locate);
        let wifi = locate_bodies(&w, Scenario::Wifi, 800, 100, 20, 5);
        assert_eq!(wifi.len(), 20);
        for body in &wifi {
            let v: Value = serde_json::from_slice(body).unwrap();
            let aps = v["wifiAccessPoints"].as_array().unwrap();
            assert_eq!(aps.len(), 3);
            // Every AP is one of the seeded sites' (0..100).
            for ap in aps {
                let mac = ap["macAddress"].as_str().unwrap();
                assert!((0..100).any(|s| (0..SITE_WIFI).any(|k| w.wifi_mac(s, k).to_hex() == mac)));
            }
        }
        let mixed: Value =
            serde_json::from_slice(&locate_bodies(&w, Scenario::Mixed, 800, 10, 1, 5)[0]).unwrap();
        assert_eq!(mixed["wifiAccessPoints"].as_array().unwrap().len(), 6);
        assert!(mixed["cellTowers"][0]["cellId"].as_u64().unwrap() <= 10);
        assert_eq!(locate_bodies(&w, Scenario::Ip, 8, 1, 2, 5)[0], b"{}");
    }
}
