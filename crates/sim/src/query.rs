//! Queries with ground truth: what a device sees at held-out points, as the locate clients
//! send it (`shared/spec/clients.md` §3).
//!
//! Query points lie inside street blocks, at least 20 m from every street, while every
//! training trip moves along streets: no query point is on a training trace (the
//! reported GPS positions of training reports scatter around the streets, as real ones
//! do). Points follow the population density, like the trips. A point is kept for a kind
//! only if a device there could send that kind at all: two WiFi networks left after the
//! client's own filtering (Firefox and GeoClue send nothing otherwise), two Bluetooth
//! beacons, a serving cell. So the found rate measures the server, not empty scans.
//!
//! Kinds and client shapes:
//! * `wifi`: microG's WiFi-only request (`considerIp: false`, fallbacks off, SSID,
//!   frequency, channel, age);
//! * `cell`: microG's single-cell request (top-level `radioType`, `lacf` allowed); NR
//!   cells in Google's `newRadioCellId`;
//! * `wifi_cell`: GeoClue 2.7 (lowercase MACs, `age`, one serving cell, top-level
//!   `radioType`);
//! * `blue`: Bluetooth beacons only;
//! * `ip`: GeoClue's empty `{}` from an address of the world's GeoIP block.

use std::net::Ipv4Addr;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::contrib::{cell_entry, client_filters, wifi_entry};
use crate::geo::Xy;
use crate::presets::TrafficConfig;
use crate::world::{World, rng_for, streams};

/// Query kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// WiFi only.
    Wifi,
    /// One cell.
    Cell,
    /// WiFi and a cell.
    WifiCell,
    /// Bluetooth only.
    Blue,
    /// IP address only.
    Ip,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 5] = [Kind::Wifi, Kind::Cell, Kind::WifiCell, Kind::Blue, Kind::Ip];

    /// The name used in files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Wifi => "wifi",
            Kind::Cell => "cell",
            Kind::WifiCell => "wifi_cell",
            Kind::Blue => "blue",
            Kind::Ip => "ip",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// One query, as written to `queries.jsonl`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Query {
    /// Query number (matches the truth line).
    pub id: u64,
    /// Kind.
    pub kind: Kind,
    /// `User-Agent` of the client.
    #[serde(rename = "userAgent")]
    pub user_agent: String,
    /// Client address to send as `X-Forwarded-For`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// The geolocate body.
    pub body: Value,
}

/// The true position of a query, as written to `truth.jsonl`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Truth {
    /// Query number.
    pub id: u64,
    /// Kind.
    pub kind: Kind,
    /// True latitude.
    pub lat: f64,
    /// True longitude.
    pub lon: f64,
}

/// The address block the world's GeoIP database places in the city.
pub const IP_BLOCK: (Ipv4Addr, u8) = (Ipv4Addr::new(5, 56, 0, 0), 16);

/// A point inside a street block, ≥ 20 m from every street.
fn block_point(rng: &mut ChaCha8Rng, world: &World, spacing: f64) -> Xy {
    let half = world.config.half();
    let core = Normal::new(0.0, world.config.size_m / 8.0).ok();
    let raw = match core.filter(|_| rng.random_bool(0.5)) {
        Some(n) => Xy::new(n.sample(rng), n.sample(rng)),
        None => Xy::new(rng.random_range(-half..half), rng.random_range(-half..half)),
    };
    let margin = 20.0_f64.min(spacing / 4.0);
    let inside = |v: f64, rng: &mut ChaCha8Rng| {
        let lim = half - spacing;
        let block = (v.clamp(-lim, lim) / spacing).floor() * spacing;
        block + rng.random_range(margin..spacing - margin)
    };
    Xy::new(inside(raw.x, rng), inside(raw.y, rng))
}

/// Builds the query of `kind` a device at `p` would send, if it can send one.
pub fn make_query(
    rng: &mut ChaCha8Rng,
    world: &World,
    id: u64,
    kind: Kind,
    p: Xy,
) -> Option<Query> {
    let t = world.config.end_ms();
    let scan = world.scan(rng, p, t, 0.08);
    let ops = &world.config.operators;
    let mnc = ops
        .get(rng.random_range(0..ops.len().max(1)))
        .copied()
        .unwrap_or(1);
    let microg = "microG/0.3.6 (Linux; Android 14; com.google.android.gms)";
    let (user_agent, ip, body) = match kind {
        Kind::Wifi => {
            let wifi: Vec<Value> = scan
                .wifi
                .iter()
                .filter(|h| !client_filters(world, h))
                .take(20)
                .map(|h| wifi_entry(world, h, Some(rng.random_range(0..3_000)), true, true))
                .collect();
            if wifi.len() < 2 {
                return None;
            }
            (
                microg,
                None,
                json!({"considerIp": false, "fallbacks": {"lacf": false, "ipf": false},
                       "wifiAccessPoints": wifi}),
            )
        }
        Kind::Cell => {
            let cells = scan.phone_cells(world, mnc, 0);
            let h = cells.first()?;
            let radio = world.station(h.idx).radio.name();
            let cell = cell_entry(world, h, true, true, Some(rng.random_range(0..2_000)), true);
            (
                microg,
                None,
                json!({"radioType": radio, "considerIp": false,
                       "fallbacks": {"lacf": true, "ipf": false}, "cellTowers": [cell]}),
            )
        }
        Kind::WifiCell => {
            let wifi: Vec<Value> = scan
                .wifi
                .iter()
                .filter(|h| !client_filters(world, h))
                .map(|h| wifi_entry(world, h, Some(rng.random_range(0..3_000)), false, false))
                .collect();
            let cells = scan.phone_cells(world, mnc, 0);
            let h = cells.first()?;
            if wifi.len() < 2 {
                return None;
            }
            let radio = world.station(h.idx).radio.name();
            let mut cell = cell_entry(world, h, true, false, None, false);
            if let Some(m) = cell.as_object_mut() {
                m.remove("serving");
                m.remove("primaryScramblingCode");
            }
            (
                "geoclue/2.7.2",
                None,
                json!({"radioType": radio, "cellTowers": [cell], "wifiAccessPoints": wifi}),
            )
        }
        Kind::Blue => {
            let blue: Vec<Value> = scan
                .blue
                .iter()
                .take(10)
                .map(|h| {
                    json!({"macAddress": world.station(h.idx).mac(), "signalStrength": h.signal,
                           "age": rng.random_range(0..3_000)})
                })
                .collect();
            if blue.len() < 2 {
                return None;
            }
            (
                "NeoStumbler/2.4.0 (Android 14)",
                None,
                json!({"considerIp": false, "bluetoothBeacons": blue}),
            )
        }
        Kind::Ip => {
            let base = u32::from(IP_BLOCK.0);
            let host = rng.random_range(1..(1u32 << (32 - IP_BLOCK.1)) - 1);
            (
                "geoclue/2.7.2",
                Some(Ipv4Addr::from(base + host).to_string()),
                json!({}),
            )
        }
    };
    Some(Query {
        id,
        kind,
        user_agent: user_agent.to_owned(),
        ip,
        body,
    })
}

/// Generates the queries of every kind and calls `emit` with each and its truth.
pub fn generate(world: &World, traffic: &TrafficConfig, mut emit: impl FnMut(Query, Truth)) {
    let mut rng = rng_for(world.config.seed, streams::QUERIES);
    let mut id = 0;
    for kind in Kind::ALL {
        let mut made = 0;
        let mut tries = 0u64;
        // Enough tries for sparse kinds (beacons) without looping forever.
        let max_tries = u64::from(traffic.queries_per_kind) * 200;
        while made < traffic.queries_per_kind && tries < max_tries {
            tries += 1;
            let p = block_point(&mut rng, world, traffic.street_spacing);
            if let Some(q) = make_query(&mut rng, world, id, kind, p) {
                let (lat, lon) = world.config.centre.to_latlon(p);
                emit(q, Truth { id, kind, lat, lon });
                id += 1;
                made += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets::Size;

    #[test]
    fn queries_are_off_the_streets_and_shaped_per_kind() {
        let world = World::generate(Size::Tiny.world(21));
        let traffic = Size::Tiny.traffic();
        let mut all = Vec::new();
        generate(&world, &traffic, |q, t| all.push((q, t)));
        for kind in Kind::ALL {
            let n = all.iter().filter(|(q, _)| q.kind == kind).count();
            assert!(n > 0, "no {kind:?} queries");
        }
        let spacing = traffic.street_spacing;
        for (q, t) in &all {
            assert_eq!(q.id, t.id);
            let p = world.config.centre.to_xy(t.lat, t.lon);
            let off = |v: f64| {
                let r = v.rem_euclid(spacing);
                r.min(spacing - r)
            };
            assert!(off(p.x) >= 19.9 && off(p.y) >= 19.9, "{p:?} is on a street");
            match q.kind {
                Kind::Wifi => {
                    let aps = q.body["wifiAccessPoints"].as_array().expect("aps");
                    assert!(aps.len() >= 2);
                    assert_eq!(q.body["considerIp"], false);
                }
                Kind::Cell => assert_eq!(q.body["cellTowers"].as_array().map(Vec::len), Some(1)),
                Kind::WifiCell => assert!(q.body["radioType"].is_string()),
                Kind::Blue => {
                    assert!(q.body["bluetoothBeacons"].as_array().expect("ble").len() >= 2)
                }
                Kind::Ip => {
                    assert_eq!(q.body, json!({}));
                    assert!(q.ip.as_deref().is_some_and(|ip| ip.starts_with("5.56.")));
                }
            }
        }
    }
}
