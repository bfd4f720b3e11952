//! Contributors: GPS-tagged trips through the world, turned into geosubmit v2 reports in
//! the shapes real clients send (`shared/spec/clients.md` §3).
//!
//! A trip walks or drives along a square street grid (turning at random at
//! intersections, turning back at the region's edge), making one report every few
//! seconds. Each report carries a GPS fix with realistic error: the reported `accuracy`
//! is log-normal (median 6 m on foot, 5 m in a car), the true error is a slowly drifting
//! bias plus white noise scaled to it, and 2 % of fixes are bad (accuracy 80–300 m with a
//! matching error). The radio scan behind a report happened up to 3 s before the fix,
//! where the device was a little further back along its path; each entry's `age` says
//! so, as Android's scan results do.
//!
//! Client shapes:
//! * **NeoStumbler**: everything (WiFi with SSID, frequency and channel, Bluetooth, serving
//!   and neighbour cells with signal), full position block with `source: "gps"`, gzip,
//!   at most 950 reports per upload; drops hidden and `_nomap` networks itself.
//! * **GeoClue 2.7**: WiFi (`macAddress`, `signalStrength`, `frequency`, `age`; hidden and
//!   `_nomap` dropped client-side, only when ≥ 2 remain) and one serving cell without
//!   signal; a few reports per upload.
//! * **Tower Collector**: cells only, serving and neighbours, no `age` anywhere, from cars.
//! * **WiGLE uploader**: WiFi converted from wardriving logs, SSIDs included unfiltered (so
//!   hidden networks and `_nomap` SSIDs reach the server, which must drop the latter).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal, Normal};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::geo::Xy;
use crate::presets::TrafficConfig;
use crate::radio::Radio;
use crate::world::{Extra, Heard, Ssid, World, rng_for, streams};

/// Submitting client kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Client {
    /// NeoStumbler (Android).
    NeoStumbler,
    /// GeoClue 2.7 (Linux).
    GeoClue,
    /// Tower Collector (Android, cells only).
    TowerCollector,
    /// A WiGLE CSV to geosubmit converter.
    Wigle,
}

impl Client {
    /// The `User-Agent` header the client sends.
    pub fn user_agent(self) -> &'static str {
        match self {
            Client::NeoStumbler => "NeoStumbler/2.4.0 (Android 14)",
            Client::GeoClue => "geoclue/2.7.2",
            Client::TowerCollector => "TowerCollector/2.14.1",
            Client::Wigle => "wigle-beacondb-uploader/0.3",
        }
    }

    /// Whether the client gzips its uploads.
    pub fn gzip(self) -> bool {
        matches!(self, Client::NeoStumbler)
    }

    /// Most reports in one upload.
    pub fn max_batch(self) -> usize {
        match self {
            Client::NeoStumbler => 950,
            Client::GeoClue => 5,
            Client::TowerCollector => 100,
            Client::Wigle => 500,
        }
    }
}

/// How a trip moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// On foot, 1.1–1.7 m/s, a report every 10 s.
    Walk,
    /// By car, 6–14 m/s, a report every 4 s.
    Drive,
}

/// One planned trip.
#[derive(Clone, Debug)]
pub struct Trip {
    /// Trip number (also its random stream).
    pub id: u64,
    /// The client used.
    pub client: Client,
    /// Walking or driving.
    pub mode: Mode,
    /// Start time, ms since the epoch.
    pub start_ms: i64,
    /// Number of reports.
    pub reports: u32,
    /// Mobile network of the contributor's SIM.
    pub mnc: u16,
}

/// Plans trips until `traffic.reports` reports are reached, ordered by start time.
pub fn schedule(world: &World, traffic: &TrafficConfig) -> Vec<Trip> {
    let mut rng = rng_for(world.config.seed, streams::SCHEDULE);
    let mut trips = Vec::new();
    let mut total = 0u64;
    let (lo, hi) = traffic.trip_reports;
    while total < traffic.reports {
        let client = match rng.random_range(0..100) {
            0..50 => Client::NeoStumbler,
            50..70 => Client::GeoClue,
            70..85 => Client::TowerCollector,
            _ => Client::Wigle,
        };
        let drive_share = match client {
            Client::NeoStumbler => 0.4,
            Client::GeoClue => 0.3,
            Client::TowerCollector => 0.8,
            Client::Wigle => 0.7,
        };
        let mode = if rng.random_bool(drive_share) {
            Mode::Drive
        } else {
            Mode::Walk
        };
        let reports = rng.random_range(lo..=hi.max(lo));
        let ops = &world.config.operators;
        trips.push(Trip {
            id: trips.len() as u64,
            client,
            mode,
            start_ms: world.config.start_ms + rng.random_range(0..world.config.period_ms.max(1)),
            reports,
            mnc: ops
                .get(rng.random_range(0..ops.len().max(1)))
                .copied()
                .unwrap_or(1),
        });
        total += u64::from(reports);
    }
    trips.sort_by_key(|t| (t.start_ms, t.id));
    trips
}

/// A point moving along the street grid.
struct Walker {
    pos: Xy,
    /// Unit direction along x or y.
    dir: (f64, f64),
    spacing: f64,
    half: f64,
}

impl Walker {
    /// Starts on the street nearest to `p`, heading in a random direction.
    fn start(rng: &mut ChaCha8Rng, p: Xy, spacing: f64, half: f64) -> Walker {
        let snap = |v: f64| (v / spacing).round() * spacing;
        let horizontal = rng.random_bool(0.5);
        let sign = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
        let (pos, dir) = if horizontal {
            (Xy::new(p.x, snap(p.y)), (sign, 0.0))
        } else {
            (Xy::new(snap(p.x), p.y), (0.0, sign))
        };
        let lim = half - 1.0;
        Walker {
            pos: Xy::new(pos.x.clamp(-lim, lim), pos.y.clamp(-lim, lim)),
            dir,
            spacing,
            half,
        }
    }

    /// Moves `dist` metres, turning at intersections with probability 0.3 each way.
    fn advance(&mut self, rng: &mut ChaCha8Rng, mut dist: f64) {
        while dist > 1e-9 {
            // Distance to the next intersection in the current direction.
            let along = if self.dir.0 != 0.0 {
                self.pos.x
            } else {
                self.pos.y
            };
            let sign = if self.dir.0 != 0.0 {
                self.dir.0
            } else {
                self.dir.1
            };
            let next = if sign > 0.0 {
                (along / self.spacing).floor() * self.spacing + self.spacing
            } else {
                (along / self.spacing).ceil() * self.spacing - self.spacing
            };
            let to_next = (next - along).abs().max(1e-6);
            let step = dist.min(to_next);
            self.pos.x += self.dir.0 * step;
            self.pos.y += self.dir.1 * step;
            dist -= step;
            if step >= to_next {
                // At an intersection: snap, maybe turn, turn back at the edge.
                self.pos = Xy::new(
                    (self.pos.x / self.spacing).round() * self.spacing,
                    (self.pos.y / self.spacing).round() * self.spacing,
                );
                let roll: f64 = rng.random();
                if roll < 0.3 {
                    self.dir = (-self.dir.1, self.dir.0);
                } else if roll < 0.6 {
                    self.dir = (self.dir.1, -self.dir.0);
                }
                let lim = self.half - self.spacing;
                let ahead = Xy::new(
                    self.pos.x + self.dir.0 * self.spacing,
                    self.pos.y + self.dir.1 * self.spacing,
                );
                if ahead.x.abs() > lim || ahead.y.abs() > lim {
                    self.dir = (-self.dir.0, -self.dir.1);
                    let ahead = Xy::new(
                        self.pos.x + self.dir.0 * self.spacing,
                        self.pos.y + self.dir.1 * self.spacing,
                    );
                    if ahead.x.abs() > lim || ahead.y.abs() > lim {
                        // A corner: take the other axis, towards the centre.
                        self.dir = if self.dir.0 != 0.0 {
                            (0.0, -self.pos.y.signum())
                        } else {
                            (-self.pos.x.signum(), 0.0)
                        };
                    }
                }
            }
        }
    }
}

/// Counts of what a trip produced.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Produced {
    /// Reports.
    pub reports: u64,
    /// WiFi entries.
    pub wifi: u64,
    /// Bluetooth entries.
    pub blue: u64,
    /// Cell entries.
    pub cell: u64,
}

impl Produced {
    /// All station entries.
    pub fn observations(&self) -> u64 {
        self.wifi + self.blue + self.cell
    }

    /// Adds another count.
    pub fn add(&mut self, o: &Produced) {
        self.reports += o.reports;
        self.wifi += o.wifi;
        self.blue += o.blue;
        self.cell += o.cell;
    }
}

/// One upload: a geosubmit v2 body and how to send it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Upload {
    /// The client that sends it.
    pub client: Client,
    /// Its `User-Agent`.
    #[serde(rename = "userAgent")]
    pub user_agent: String,
    /// Whether it is sent with `Content-Encoding: gzip`.
    pub gzip: bool,
    /// Reports and entries in it.
    pub counts: Produced,
    /// The geosubmit v2 body `{"items": [...]}`.
    pub body: Value,
}

/// Entry JSON of a WiFi access point as a client sends it.
pub fn wifi_entry(
    world: &World,
    h: &Heard,
    age: Option<i64>,
    with_ssid: bool,
    full: bool,
) -> Value {
    let s = world.station(h.idx);
    let mut m = Map::new();
    m.insert("macAddress".into(), s.mac().into());
    m.insert("signalStrength".into(), h.signal.into());
    if let Extra::Wifi {
        frequency,
        channel,
        ssid,
    } = s.extra
    {
        m.insert("frequency".into(), frequency.into());
        if full {
            m.insert("channel".into(), channel.into());
        }
        if with_ssid {
            let name = match ssid {
                Ssid::Normal => format!("net-{:06x}", s.key & 0xff_ffff),
                Ssid::Hidden => String::new(),
                Ssid::Nomap => format!("home-{:04x}_nomap", s.key & 0xffff),
            };
            m.insert("ssid".into(), name.into());
        }
    }
    if let Some(age) = age {
        m.insert("age".into(), age.into());
    }
    Value::Object(m)
}

/// Entry JSON of a cell as a client sends it (`newRadioCellId` for NR when `google`).
pub fn cell_entry(
    world: &World,
    h: &Heard,
    serving: bool,
    signal: bool,
    age: Option<i64>,
    google_nr: bool,
) -> Value {
    let s = world.station(h.idx);
    let mut m = Map::new();
    m.insert("radioType".into(), s.radio.name().into());
    m.insert("mobileCountryCode".into(), world.config.mcc.into());
    if let Extra::Cell { mnc, lac, psc, .. } = s.extra {
        m.insert("mobileNetworkCode".into(), mnc.into());
        m.insert("locationAreaCode".into(), lac.into());
        if s.radio != Radio::Gsm {
            m.insert("primaryScramblingCode".into(), psc.into());
        }
    }
    if s.radio == Radio::Nr && google_nr {
        m.insert("newRadioCellId".into(), s.key.into());
    } else {
        m.insert("cellId".into(), s.key.into());
    }
    if signal {
        m.insert("signalStrength".into(), h.signal.into());
    }
    m.insert("serving".into(), u8::from(serving).into());
    if let Some(age) = age {
        m.insert("age".into(), age.into());
    }
    Value::Object(m)
}

/// Whether a client would drop this access point before sending (hidden or `_nomap`).
pub fn client_filters(world: &World, h: &Heard) -> bool {
    matches!(world.station(h.idx).extra, Extra::Wifi { ssid, .. } if ssid != Ssid::Normal)
}

/// Simulates one trip; calls `emit` with each upload, in order.
pub fn run_trip(
    world: &World,
    traffic: &TrafficConfig,
    trip: &Trip,
    seen: &mut [bool],
    mut emit: impl FnMut(Upload),
) {
    let mut rng = rng_for(world.config.seed, streams::TRIPS + trip.id);
    let half = world.config.half();
    let start = Xy::new(rng.random_range(-half..half), rng.random_range(-half..half));
    // Start points follow the population: half of the trips start in the core.
    let start = if rng.random_bool(0.5) {
        let n = Normal::new(0.0, world.config.size_m / 8.0).ok();
        n.map_or(start, |n| {
            Xy::new(
                n.sample(&mut rng).clamp(-half, half),
                n.sample(&mut rng).clamp(-half, half),
            )
        })
    } else {
        start
    };
    let mut walker = Walker::start(&mut rng, start, traffic.street_spacing, half);
    let (speed, interval_ms) = match trip.mode {
        Mode::Walk => (rng.random_range(1.1..1.7), 10_000),
        Mode::Drive => (rng.random_range(6.0..14.0), 4_000),
    };
    let acc_median: f64 = if trip.mode == Mode::Walk { 6.0 } else { 5.0 };
    let acc_dist = LogNormal::new(acc_median.ln(), 0.5).ok();
    let unit = Normal::new(0.0, 1.0).ok();
    let gauss = |rng: &mut ChaCha8Rng| unit.as_ref().map_or(0.0, |n| n.sample(rng));
    let mut bias = Xy::default();
    let mut items = Vec::new();
    let mut counts = Produced::default();
    let max_batch = trip.client.max_batch();
    let flush = |items: &mut Vec<Value>, counts: &mut Produced, emit: &mut dyn FnMut(Upload)| {
        if items.is_empty() {
            return;
        }
        emit(Upload {
            client: trip.client,
            user_agent: trip.client.user_agent().to_owned(),
            gzip: trip.client.gzip(),
            counts: *counts,
            body: json!({ "items": std::mem::take(items) }),
        });
        *counts = Produced::default();
    };
    for k in 0..trip.reports {
        let t = trip.start_ms + i64::from(k) * interval_ms;
        walker.advance(&mut rng, speed * interval_ms as f64 / 1000.0);
        let truth = walker.pos;
        // GPS fix: accuracy, then an error consistent with it.
        let bad = rng.random_bool(0.02);
        let accuracy = if bad {
            rng.random_range(80.0..300.0)
        } else {
            acc_dist
                .as_ref()
                .map_or(acc_median, |d| d.sample(&mut rng))
                .clamp(2.0, 60.0)
        };
        let sigma = accuracy / 2.0;
        bias = Xy::new(
            0.8 * bias.x + 0.3 * sigma * gauss(&mut rng),
            0.8 * bias.y + 0.3 * sigma * gauss(&mut rng),
        );
        let fix = Xy::new(
            truth.x + bias.x + 0.6 * sigma * gauss(&mut rng),
            truth.y + bias.y + 0.6 * sigma * gauss(&mut rng),
        );
        // The scan happened `scan_age` ms before the fix, further back on the path.
        let scan_age: i64 = rng.random_range(0..3_000);
        let back = speed * scan_age as f64 / 1000.0;
        let scan_pos = Xy::new(truth.x - walker.dir.0 * back, truth.y - walker.dir.1 * back);
        let scan = world.scan(&mut rng, scan_pos, t - scan_age, 0.08);
        let (lat, lon) = world.config.centre.to_latlon(fix);
        let mut position = Map::new();
        position.insert("latitude".into(), json!((lat * 1e7).round() / 1e7));
        position.insert("longitude".into(), json!((lon * 1e7).round() / 1e7));
        position.insert("accuracy".into(), json!((accuracy * 10.0).round() / 10.0));
        let heading = walker
            .dir
            .0
            .atan2(walker.dir.1)
            .to_degrees()
            .rem_euclid(360.0);
        let entry_age = |rng: &mut ChaCha8Rng| scan_age + rng.random_range(0..300);
        let mut item = Map::new();
        item.insert("timestamp".into(), t.into());
        let mut produced = Produced {
            reports: 1,
            ..Produced::default()
        };
        match trip.client {
            Client::NeoStumbler => {
                position.insert("altitude".into(), json!(35.0 + gauss(&mut rng) * 5.0));
                position.insert("altitudeAccuracy".into(), json!(8.0));
                position.insert("heading".into(), json!(heading.round()));
                position.insert("speed".into(), json!((speed * 10.0).round() / 10.0));
                position.insert("source".into(), "gps".into());
                position.insert("age".into(), json!(rng.random_range(0..1_000)));
                let wifi: Vec<Value> = scan
                    .wifi
                    .iter()
                    .filter(|h| !client_filters(world, h))
                    .take(60)
                    .map(|h| {
                        seen[h.idx as usize] = true;
                        wifi_entry(world, h, Some(entry_age(&mut rng)), true, true)
                    })
                    .collect();
                let blue: Vec<Value> = scan
                    .blue
                    .iter()
                    .take(20)
                    .map(|h| {
                        seen[h.idx as usize] = true;
                        json!({"macAddress": world.station(h.idx).mac(),
                               "signalStrength": h.signal, "age": entry_age(&mut rng)})
                    })
                    .collect();
                let cells: Vec<Value> = scan
                    .phone_cells(world, trip.mnc, 3)
                    .iter()
                    .enumerate()
                    .map(|(i, h)| {
                        seen[h.idx as usize] = true;
                        cell_entry(world, h, i == 0, true, Some(entry_age(&mut rng)), false)
                    })
                    .collect();
                produced.wifi = wifi.len() as u64;
                produced.blue = blue.len() as u64;
                produced.cell = cells.len() as u64;
                if !wifi.is_empty() {
                    item.insert("wifiAccessPoints".into(), wifi.into());
                }
                if !blue.is_empty() {
                    item.insert("bluetoothBeacons".into(), blue.into());
                }
                if !cells.is_empty() {
                    item.insert("cellTowers".into(), cells.into());
                }
            }
            Client::GeoClue => {
                position.insert("altitude".into(), json!(35.0 + gauss(&mut rng) * 5.0));
                position.insert("speed".into(), json!((speed * 10.0).round() / 10.0));
                let kept: Vec<&Heard> = scan
                    .wifi
                    .iter()
                    .filter(|h| !client_filters(world, h))
                    .collect();
                if kept.len() >= 2 {
                    let wifi: Vec<Value> = kept
                        .iter()
                        .map(|h| {
                            seen[h.idx as usize] = true;
                            wifi_entry(world, h, Some(entry_age(&mut rng)), false, false)
                        })
                        .collect();
                    produced.wifi = wifi.len() as u64;
                    item.insert("wifiAccessPoints".into(), wifi.into());
                }
                if let Some(h) = scan.phone_cells(world, trip.mnc, 0).first() {
                    seen[h.idx as usize] = true;
                    let mut c = cell_entry(world, h, true, false, None, false);
                    if let Some(m) = c.as_object_mut() {
                        m.remove("serving");
                        m.remove("primaryScramblingCode");
                    }
                    produced.cell = 1;
                    item.insert("cellTowers".into(), json!([c]));
                }
            }
            Client::TowerCollector => {
                position.insert("altitude".into(), json!(35.0 + gauss(&mut rng) * 5.0));
                position.insert("heading".into(), json!(heading.round()));
                position.insert("speed".into(), json!((speed * 10.0).round() / 10.0));
                position.insert("source".into(), "gps".into());
                let cells: Vec<Value> = scan
                    .phone_cells(world, trip.mnc, 6)
                    .iter()
                    .enumerate()
                    .map(|(i, h)| {
                        seen[h.idx as usize] = true;
                        cell_entry(world, h, i == 0, true, None, false)
                    })
                    .collect();
                produced.cell = cells.len() as u64;
                if !cells.is_empty() {
                    item.insert("cellTowers".into(), cells.into());
                }
            }
            Client::Wigle => {
                let wifi: Vec<Value> = scan
                    .wifi
                    .iter()
                    .take(60)
                    .map(|h| {
                        seen[h.idx as usize] = true;
                        wifi_entry(world, h, None, true, true)
                    })
                    .collect();
                produced.wifi = wifi.len() as u64;
                if !wifi.is_empty() {
                    item.insert("wifiAccessPoints".into(), wifi.into());
                }
            }
        }
        if produced.observations() == 0 {
            // Clients send nothing for an empty scan.
            continue;
        }
        item.insert("position".into(), Value::Object(position));
        items.push(Value::Object(item));
        counts.add(&produced);
        if items.len() >= max_batch {
            flush(&mut items, &mut counts, &mut emit);
        }
    }
    flush(&mut items, &mut counts, &mut emit);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets::Size;

    #[test]
    fn walker_stays_on_streets_and_inside() {
        let mut rng = rng_for(5, 5);
        let mut w = Walker::start(&mut rng, Xy::new(123.0, -456.0), 100.0, 1_000.0);
        for _ in 0..2_000 {
            w.advance(&mut rng, 37.0);
            let on_x = (w.pos.x / 100.0 - (w.pos.x / 100.0).round()).abs() < 1e-6;
            let on_y = (w.pos.y / 100.0 - (w.pos.y / 100.0).round()).abs() < 1e-6;
            assert!(on_x || on_y, "off street at {:?}", w.pos);
            assert!(
                w.pos.x.abs() <= 1_000.0 && w.pos.y.abs() <= 1_000.0,
                "{:?}",
                w.pos
            );
        }
    }

    #[test]
    fn trips_produce_client_shaped_reports() {
        let world = World::generate(Size::Tiny.world(11));
        let traffic = Size::Tiny.traffic();
        let trips = schedule(&world, &traffic);
        assert!(trips.windows(2).all(|p| p[0].start_ms <= p[1].start_ms));
        let total: u64 = trips.iter().map(|t| u64::from(t.reports)).sum();
        assert!(total >= traffic.reports);
        let mut seen = vec![false; world.stations.len()];
        let mut uploads = Vec::new();
        for trip in &trips {
            run_trip(&world, &traffic, trip, &mut seen, |u| uploads.push(u));
        }
        assert!(!uploads.is_empty());
        let mut clients = std::collections::HashSet::new();
        for u in &uploads {
            clients.insert(u.client);
            let items = u.body["items"].as_array().expect("items");
            assert_eq!(items.len() as u64, u.counts.reports);
            assert!(items.len() <= u.client.max_batch());
            for item in items {
                let acc = item["position"]["accuracy"].as_f64().expect("accuracy");
                assert!(acc > 0.0);
                match u.client {
                    Client::TowerCollector => {
                        assert!(item.get("wifiAccessPoints").is_none());
                        assert!(item["cellTowers"][0].get("age").is_none());
                    }
                    Client::Wigle => assert!(item.get("cellTowers").is_none()),
                    Client::GeoClue | Client::NeoStumbler => {
                        for w in item["wifiAccessPoints"].as_array().into_iter().flatten() {
                            let age = w["age"].as_i64().expect("age");
                            assert!((0..20_000).contains(&age), "weight-bearing age {age}");
                            if let Some(ssid) = w["ssid"].as_str() {
                                assert!(!ssid.is_empty() && !ssid.ends_with("_nomap"));
                            }
                        }
                    }
                }
            }
        }
        assert!(clients.len() >= 3, "{clients:?}");
        // Identical on a second run: determinism down to the bytes.
        let mut seen2 = vec![false; world.stations.len()];
        let mut again = Vec::new();
        for trip in &trips {
            run_trip(&world, &traffic, trip, &mut seen2, |u| again.push(u));
        }
        assert_eq!(
            serde_json::to_string(&uploads[0].body).ok(),
            serde_json::to_string(&again[0].body).ok()
        );
    }
}
