//! The simulated world: a square region around a city centre with WiFi access points,
//! Bluetooth beacons and cell sites, generated deterministically from a seed.
//!
//! Stations are placed with a two-part density (a Gaussian core holding `centre_share`
//! of them plus a uniform background), which gives the dense-centre, sparse-suburb
//! structure that makes a location service's accuracy vary across a city. The world is
//! the one thing the generator keeps in memory (stations plus grid indexes: the
//! 1.1-million-station large world peaks at ~175 MB); training reports and queries are
//! streamed.
//!
//! Time matters for two kinds of station: a fraction of WiFi access points move once
//! during the simulated period (someone moved house), and a fraction of cells are
//! re-planned (their identity moves to another site). Both are modelled as a second
//! position valid from a switch time; ground truth for queries is the world at the end
//! of the period.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use crate::geo::{Frame, Xy};
use crate::radio::{self, Radio};

/// Parameters of a world. Serialised into the dataset manifest.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorldConfig {
    /// Seed of every random draw.
    pub seed: u64,
    /// Latitude and longitude of the centre.
    pub centre: Frame,
    /// Side of the square region, metres.
    pub size_m: f64,
    /// Number of WiFi access points.
    pub wifi: u32,
    /// Number of Bluetooth beacons.
    pub blue: u32,
    /// Number of cell sites (each with 3 sectors on one to four radios).
    pub sites: u32,
    /// Share of stations in the Gaussian core (σ = size / 8).
    pub centre_share: f64,
    /// Fraction of WiFi access points that move once during the period.
    pub moving_fraction: f64,
    /// Fraction of cells whose identity is re-planned to another site.
    pub replanned_fraction: f64,
    /// Fraction of access points with a hidden (empty) SSID.
    pub hidden_fraction: f64,
    /// Fraction of access points whose SSID ends in `_nomap`.
    pub nomap_fraction: f64,
    /// Start of the simulated period, ms since the epoch.
    pub start_ms: i64,
    /// Length of the simulated period, ms.
    pub period_ms: i64,
    /// Mobile country code of every cell.
    pub mcc: u16,
    /// Mobile network codes of the operators; sites are shared out among them.
    pub operators: Vec<u16>,
}

impl WorldConfig {
    /// End of the simulated period (the moment queries are made).
    pub fn end_ms(&self) -> i64 {
        self.start_ms + self.period_ms
    }

    /// Half the side of the region.
    pub fn half(&self) -> f64 {
        self.size_m / 2.0
    }
}

/// What an access point's SSID looks like to a scanner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ssid {
    /// A normal network name.
    Normal,
    /// Hidden network: empty SSID.
    Hidden,
    /// Owner opted out: the SSID ends in `_nomap`.
    Nomap,
}

/// A position change at a given time.
#[derive(Clone, Copy, Debug)]
pub struct Move {
    /// When the station moved, ms since the epoch.
    pub at_ms: i64,
    /// Where it is from then on.
    pub to: Xy,
    /// Sector boresight afterwards (cells), degrees.
    pub azimuth: f32,
}

/// Type-specific station data.
#[derive(Clone, Copy, Debug)]
pub enum Extra {
    /// A WiFi access point.
    Wifi {
        /// Centre frequency, MHz.
        frequency: u16,
        /// Channel number.
        channel: u8,
        /// SSID kind.
        ssid: Ssid,
    },
    /// A Bluetooth beacon.
    Blue,
    /// A cell sector.
    Cell {
        /// Mobile network code.
        mnc: u16,
        /// Location (tracking) area code.
        lac: u32,
        /// Primary scrambling code (WCDMA) or physical cell id (LTE, NR).
        psc: u16,
        /// Sector boresight, degrees clockwise from north.
        azimuth: f32,
    },
}

/// One station of the world.
#[derive(Clone, Debug)]
pub struct Station {
    /// Radio type.
    pub radio: Radio,
    /// MAC address (48 bits) or cell id.
    pub key: u64,
    /// Position at the start of the period.
    pub pos: Xy,
    /// Effective transmit power, dBm (including antenna gain and wall losses).
    pub tx: f32,
    /// Search radius (`radio::max_range`), metres.
    pub range: f32,
    /// A move during the period, if any.
    pub moved: Option<Move>,
    /// Type-specific data.
    pub extra: Extra,
}

impl Station {
    /// Position at time `t`.
    pub fn pos_at(&self, t: i64) -> Xy {
        match self.moved {
            Some(m) if t >= m.at_ms => m.to,
            _ => self.pos,
        }
    }

    /// Sector boresight at time `t` (cells only).
    pub fn azimuth_at(&self, t: i64) -> f64 {
        match (self.extra, self.moved) {
            (_, Some(m)) if t >= m.at_ms => f64::from(m.azimuth),
            (Extra::Cell { azimuth, .. }, _) => f64::from(azimuth),
            _ => 0.0,
        }
    }

    /// MAC address as 12 lowercase hex digits.
    pub fn mac(&self) -> String {
        format!("{:012x}", self.key & 0xffff_ffff_ffff)
    }

    /// Extra loss for a receiver at `p` at time `t`: antenna pattern or band.
    fn extra_loss(&self, p: Xy, t: i64) -> f64 {
        match self.extra {
            Extra::Wifi { frequency, .. } => radio::wifi_band_offset(frequency),
            Extra::Blue => 0.0,
            Extra::Cell { .. } => {
                let s = self.pos_at(t);
                let bearing = (p.x - s.x).atan2(p.y - s.y).to_degrees();
                radio::sector_attenuation(bearing - self.azimuth_at(t))
            }
        }
    }
}

/// A station heard in a scan.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Heard {
    /// Index into `World::stations`.
    pub idx: u32,
    /// Received signal, dBm.
    pub signal: i32,
}

/// A uniform grid of station indices (compressed rows), for range queries.
struct Grid {
    cell: f64,
    n: usize,
    half: f64,
    offsets: Vec<u32>,
    items: Vec<u32>,
}

impl Grid {
    fn build(cell: f64, half: f64, entries: &[(u32, Xy)]) -> Grid {
        // At least one cell; the region is small enough that this stays far below u32.
        let n = ((2.0 * half / cell).ceil() as usize).max(1);
        let mut grid = Grid {
            cell,
            n,
            half,
            offsets: vec![0; n * n + 1],
            items: vec![0; entries.len()],
        };
        for &(_, p) in entries {
            let c = grid.index(p);
            grid.offsets[c + 1] += 1;
        }
        for i in 0..n * n {
            grid.offsets[i + 1] += grid.offsets[i];
        }
        let mut fill: Vec<u32> = grid.offsets[..n * n].to_vec();
        for &(idx, p) in entries {
            let c = grid.index(p);
            grid.items[fill[c] as usize] = idx;
            fill[c] += 1;
        }
        grid
    }

    fn coord(&self, v: f64) -> usize {
        (((v + self.half) / self.cell).floor().max(0.0) as usize).min(self.n - 1)
    }

    fn index(&self, p: Xy) -> usize {
        self.coord(p.y) * self.n + self.coord(p.x)
    }

    /// Calls `f(cell index, station index)` for every entry of every grid cell that
    /// overlaps the square of half-side `r` around `p`.
    fn visit(&self, p: Xy, r: f64, mut f: impl FnMut(usize, u32)) {
        let (x0, x1) = (self.coord(p.x - r), self.coord(p.x + r));
        let (y0, y1) = (self.coord(p.y - r), self.coord(p.y + r));
        for gy in y0..=y1 {
            for gx in x0..=x1 {
                let c = gy * self.n + gx;
                let (a, b) = (self.offsets[c] as usize, self.offsets[c + 1] as usize);
                for &idx in &self.items[a..b] {
                    f(c, idx);
                }
            }
        }
    }
}

/// The world: stations and their spatial indexes.
pub struct World {
    /// The parameters it was generated from.
    pub config: WorldConfig,
    /// All stations: WiFi first, then Bluetooth, then cells.
    pub stations: Vec<Station>,
    /// Positions of the cell sites.
    pub sites: Vec<Xy>,
    short: Grid,
    cells: Grid,
    short_range: f64,
    cell_range: f64,
}

/// Counts of a world's stations, for the manifest.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StationCounts {
    /// WiFi access points.
    pub wifi: u64,
    /// Of which hidden.
    pub wifi_hidden: u64,
    /// Of which `_nomap`.
    pub wifi_nomap: u64,
    /// Of which moving.
    pub wifi_moving: u64,
    /// Bluetooth beacons.
    pub blue: u64,
    /// Cell sites.
    pub sites: u64,
    /// Cells per radio: gsm, wcdma, lte, nr.
    pub cells: [u64; 4],
    /// Re-planned cells.
    pub cells_replanned: u64,
}

/// A seeded random generator for one named purpose: every part of the generator draws
/// from its own stream so that changing one part does not reshuffle the others.
pub fn rng_for(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Random-stream numbers of the generator's parts.
pub mod streams {
    /// Station placement.
    pub const WORLD: u64 = 1;
    /// Trip schedule.
    pub const SCHEDULE: u64 = 2;
    /// Queries.
    pub const QUERIES: u64 = 3;
    /// Probe stations.
    pub const PROBES: u64 = 4;
    /// First stream of the per-trip generators (trip `i` uses `TRIPS + i`).
    pub const TRIPS: u64 = 1 << 32;
}

/// A unique 48-bit universally administered unicast MAC for station number `i`:
/// a bijection on 46-bit values with the two low bits of the first octet cleared.
pub fn mac_for(i: u64, salt: u64) -> u64 {
    const MASK46: u64 = (1 << 46) - 1;
    let v = (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt).wrapping_add(salt >> 7) & MASK46;
    let v = v.wrapping_mul(0x2545_F491_4F6C_DD1D) & MASK46;
    ((v >> 40) << 42) | (v & ((1 << 40) - 1))
}

impl World {
    /// Generates the world of a configuration.
    pub fn generate(config: WorldConfig) -> World {
        let mut rng = rng_for(config.seed, streams::WORLD);
        let half = config.half();
        let core = Normal::new(0.0, config.size_m / 8.0).ok();
        let place = |rng: &mut ChaCha8Rng| -> Xy {
            if let Some(core) = core
                .as_ref()
                .filter(|_| rng.random_bool(config.centre_share))
            {
                loop {
                    let p = Xy::new(core.sample(rng), core.sample(rng));
                    if p.x.abs() < half && p.y.abs() < half {
                        return p;
                    }
                }
            }
            Xy::new(rng.random_range(-half..half), rng.random_range(-half..half))
        };
        let mut stations =
            Vec::with_capacity((config.wifi + config.blue + config.sites * 9) as usize);
        let salt_wifi: u64 = rng.random();
        let salt_blue: u64 = rng.random();
        let tx_wifi = Normal::new(10.0, 3.0).ok();
        for i in 0..config.wifi {
            let pos = place(&mut rng);
            let (frequency, channel) = if rng.random_bool(0.7) {
                let ch = [1u8, 6, 11, 1, 6, 11, 3, 9, 13][rng.random_range(0..9)];
                (2407 + 5 * u16::from(ch), ch)
            } else {
                let ch = [36u8, 40, 44, 48, 52, 100, 112, 149, 157][rng.random_range(0..9)];
                (5000 + 5 * u16::from(ch), ch)
            };
            let roll: f64 = rng.random();
            let ssid = if roll < config.hidden_fraction {
                Ssid::Hidden
            } else if roll < config.hidden_fraction + config.nomap_fraction {
                Ssid::Nomap
            } else {
                Ssid::Normal
            };
            let moved = rng.random_bool(config.moving_fraction).then(|| {
                let at_ms = config.start_ms + rng.random_range(0..config.period_ms.max(1));
                let d = rng.random_range(1_000.0..8_000.0);
                let a = rng.random_range(0.0..std::f64::consts::TAU);
                let to = Xy::new(
                    (pos.x + d * a.cos()).clamp(-half + 1.0, half - 1.0),
                    (pos.y + d * a.sin()).clamp(-half + 1.0, half - 1.0),
                );
                Move {
                    at_ms,
                    to,
                    azimuth: 0.0,
                }
            });
            stations.push(Station {
                radio: Radio::Wifi,
                key: mac_for(u64::from(i), salt_wifi),
                pos,
                // Regulatory EIRP limits minus walls: 2–16 dBm effective.
                tx: tx_wifi
                    .as_ref()
                    .map_or(10.0_f64, |n| n.sample(&mut rng))
                    .clamp(2.0, 16.0) as f32,
                range: 0.0,
                moved,
                extra: Extra::Wifi {
                    frequency,
                    channel,
                    ssid,
                },
            });
        }
        let tx_blue = Normal::new(-4.0, 3.0).ok();
        for i in 0..config.blue {
            let pos = place(&mut rng);
            stations.push(Station {
                radio: Radio::Blue,
                key: mac_for(u64::from(i), salt_blue),
                pos,
                tx: tx_blue
                    .as_ref()
                    .map_or(-4.0_f64, |n| n.sample(&mut rng))
                    .clamp(-12.0, 4.0) as f32,
                range: 0.0,
                moved: None,
                extra: Extra::Blue,
            });
        }
        let sites: Vec<Xy> = (0..config.sites).map(|_| place(&mut rng)).collect();
        let operators = if config.operators.is_empty() {
            vec![1]
        } else {
            config.operators.clone()
        };
        let mut site_no = vec![0u32; operators.len()];
        for (s, &site) in sites.iter().enumerate() {
            let op = s % operators.len();
            let mnc = operators[op];
            let no = site_no[op];
            site_no[op] += 1;
            // Sites near the centre are lower-power micro sites.
            let micro = if site.norm() < config.size_m / 8.0 {
                6.0
            } else {
                0.0
            };
            let base_az: f64 = rng.random_range(0.0..120.0);
            let block = |p: Xy| {
                let bx = ((p.x + half) / 3_000.0).floor().max(0.0) as u32;
                let by = ((p.y + half) / 3_000.0).floor().max(0.0) as u32;
                100 + (bx * 17 + by) % 4_000
            };
            for radio in Radio::CELLS {
                let present = match radio {
                    Radio::Lte => true,
                    Radio::Gsm => rng.random_bool(0.7),
                    Radio::Wcdma => rng.random_bool(0.5),
                    _ => rng.random_bool(0.4),
                };
                if !present {
                    continue;
                }
                let (tx, lac_base) = match radio {
                    Radio::Gsm => (58.0, 0),
                    Radio::Wcdma => (45.0, 0),
                    Radio::Lte => (33.0, 10_000),
                    _ => (35.0, 20_000),
                };
                for sector in 0..3u32 {
                    let az = (base_az + 120.0 * f64::from(sector)) % 360.0;
                    let (key, psc) = match radio {
                        Radio::Gsm => (u64::from(no * 10 + sector + 1), 0),
                        Radio::Wcdma => (
                            (u64::from(1 + no / 500) << 16)
                                | u64::from((no % 500) * 10 + sector + 1),
                            rng.random_range(0..512),
                        ),
                        Radio::Lte => (
                            (u64::from(10_000 + no) << 8) | u64::from(sector + 1),
                            ((no * 3 + sector) % 504) as u16,
                        ),
                        _ => (
                            (u64::from(20_000 + no) << 12) | u64::from(sector + 1),
                            ((no * 3 + sector) % 1008) as u16,
                        ),
                    };
                    let moved = (sites.len() > 1 && rng.random_bool(config.replanned_fraction))
                        .then(|| {
                            let mut other = rng.random_range(0..sites.len());
                            if other == s {
                                other = (other + 1) % sites.len();
                            }
                            Move {
                                at_ms: config.start_ms
                                    + rng.random_range(0..config.period_ms.max(1)),
                                to: sites[other],
                                azimuth: rng.random_range(0.0..360.0),
                            }
                        });
                    let jitter: f64 = rng.random_range(-2.0..2.0);
                    stations.push(Station {
                        radio,
                        key,
                        pos: site,
                        tx: (tx - micro + jitter) as f32,
                        range: 0.0,
                        moved,
                        extra: Extra::Cell {
                            mnc,
                            lac: lac_base + block(site),
                            psc,
                            azimuth: az as f32,
                        },
                    });
                }
            }
        }
        World::index(config, stations, sites)
    }

    /// Builds the spatial indexes.
    fn index(config: WorldConfig, mut stations: Vec<Station>, sites: Vec<Xy>) -> World {
        for s in &mut stations {
            s.range = radio::max_range(&s.radio.path_loss(), f64::from(s.tx)) as f32;
        }
        let half = config.half() + 10_000.0;
        let mut short = Vec::new();
        let mut cells = Vec::new();
        let mut short_range: f64 = 1.0;
        let mut cell_range: f64 = 1.0;
        for (i, s) in stations.iter().enumerate() {
            let i = i as u32;
            let range = f64::from(s.range);
            let target = if s.radio.is_cell() {
                cell_range = cell_range.max(range);
                &mut cells
            } else {
                short_range = short_range.max(range);
                &mut short
            };
            target.push((i, s.pos));
            if let Some(m) = s.moved {
                target.push((i, m.to));
            }
        }
        World {
            short: Grid::build(100.0, half, &short),
            cells: Grid::build(2_000.0, half, &cells),
            short_range,
            cell_range,
            config,
            stations,
            sites,
        }
    }

    /// Station counts.
    pub fn counts(&self) -> StationCounts {
        let mut c = StationCounts {
            sites: self.sites.len() as u64,
            ..StationCounts::default()
        };
        for s in &self.stations {
            match (s.radio, s.extra) {
                (Radio::Wifi, Extra::Wifi { ssid, .. }) => {
                    c.wifi += 1;
                    c.wifi_hidden += u64::from(ssid == Ssid::Hidden);
                    c.wifi_nomap += u64::from(ssid == Ssid::Nomap);
                    c.wifi_moving += u64::from(s.moved.is_some());
                }
                (Radio::Blue, _) => c.blue += 1,
                (r, _) => {
                    let i = Radio::CELLS.iter().position(|&x| x == r).unwrap_or(0);
                    c.cells[i] += 1;
                    c.cells_replanned += u64::from(s.moved.is_some());
                }
            }
        }
        c
    }

    /// Scans at `p` at time `t`: WiFi, Bluetooth and cells heard, each sorted by signal,
    /// strongest first. `miss` is the chance that a station above the sensitivity is
    /// still missed by the scan (scans are not perfect).
    pub fn scan<R: Rng>(&self, rng: &mut R, p: Xy, t: i64, miss: f64) -> Scan {
        let mut out = Scan::default();
        let hear = |grid: &Grid, cell: usize, idx: u32, rng: &mut R, out: &mut Scan| {
            let s = &self.stations[idx as usize];
            let pos = s.pos_at(t);
            if grid.index(pos) != cell {
                // Indexed at its other position; it is visited from its current one.
                return;
            }
            let d = pos.dist(p);
            if d > f64::from(s.range) {
                return;
            }
            let pl = s.radio.path_loss();
            if let Some(signal) = radio::sample_rx(rng, &pl, f64::from(s.tx), d, s.extra_loss(p, t))
            {
                if miss > 0.0 && rng.random_bool(miss) {
                    return;
                }
                let h = Heard { idx, signal };
                match s.radio {
                    Radio::Wifi => out.wifi.push(h),
                    Radio::Blue => out.blue.push(h),
                    _ => out.cells.push(h),
                }
            }
        };
        self.short.visit(p, self.short_range, |c, idx| {
            hear(&self.short, c, idx, rng, &mut out)
        });
        self.cells.visit(p, self.cell_range, |c, idx| {
            hear(&self.cells, c, idx, rng, &mut out)
        });
        for list in [&mut out.wifi, &mut out.blue, &mut out.cells] {
            list.sort_by(|a, b| b.signal.cmp(&a.signal).then(a.idx.cmp(&b.idx)));
        }
        out
    }

    /// The station of an index.
    pub fn station(&self, idx: u32) -> &Station {
        &self.stations[idx as usize]
    }
}

/// What a scan heard.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    /// WiFi access points.
    pub wifi: Vec<Heard>,
    /// Bluetooth beacons.
    pub blue: Vec<Heard>,
    /// Cells of every operator.
    pub cells: Vec<Heard>,
}

impl Scan {
    /// The cells a phone on network `mnc` reports: its serving cell first (the best
    /// radio with a usable signal, preferring newer radios), then up to `neighbours`
    /// other cells of the same network and radio.
    pub fn phone_cells(&self, world: &World, mnc: u16, neighbours: usize) -> Vec<Heard> {
        let own: Vec<Heard> = self
            .cells
            .iter()
            .copied()
            .filter(
                |h| matches!(world.station(h.idx).extra, Extra::Cell { mnc: m, .. } if m == mnc),
            )
            .collect();
        let margin = |h: &Heard| {
            let s = world.station(h.idx);
            f64::from(h.signal) - s.radio.path_loss().sensitivity
        };
        let rank = |r: Radio| match r {
            Radio::Nr => 3,
            Radio::Lte => 2,
            Radio::Wcdma => 1,
            _ => 0,
        };
        let Some(serving) = own
            .iter()
            .filter(|h| margin(h) >= 6.0)
            .max_by(|a, b| {
                rank(world.station(a.idx).radio)
                    .cmp(&rank(world.station(b.idx).radio))
                    .then(a.signal.cmp(&b.signal))
            })
            .or_else(|| own.first())
            .copied()
        else {
            return Vec::new();
        };
        let radio = world.station(serving.idx).radio;
        let mut out = vec![serving];
        out.extend(
            own.iter()
                .filter(|h| h.idx != serving.idx && world.station(h.idx).radio == radio)
                .take(neighbours)
                .copied(),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets::Size;

    fn tiny() -> World {
        World::generate(Size::Tiny.world(7))
    }

    #[test]
    fn generation_is_deterministic() {
        let a = tiny();
        let b = tiny();
        assert_eq!(a.stations.len(), b.stations.len());
        for (x, y) in a.stations.iter().zip(&b.stations) {
            assert_eq!((x.key, x.pos, x.tx), (y.key, y.pos, y.tx));
        }
        let c = World::generate(Size::Tiny.world(8));
        assert_ne!(
            a.stations[0].pos, c.stations[0].pos,
            "another seed, another world"
        );
    }

    #[test]
    fn macs_are_unique_unicast_and_global() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..200_000 {
            let m = mac_for(i, 0xdead_beef);
            assert!(m < 1 << 48);
            assert_eq!((m >> 40) & 0b11, 0, "unicast, universally administered");
            assert!(seen.insert(m), "duplicate MAC for {i}");
        }
    }

    #[test]
    fn fractions_and_density() {
        let mut config = Size::Small.world(3);
        config.wifi = 20_000;
        let w = World::generate(config.clone());
        let c = w.counts();
        assert_eq!(c.wifi, 20_000);
        let frac = |n: u64| n as f64 / c.wifi as f64;
        assert!((frac(c.wifi_moving) - config.moving_fraction).abs() < 0.01);
        assert!((frac(c.wifi_hidden) - config.hidden_fraction).abs() < 0.01);
        assert!((frac(c.wifi_nomap) - config.nomap_fraction).abs() < 0.01);
        assert!(c.cells.iter().all(|&n| n > 0), "{:?}", c.cells);
        // The centre square kilometre is denser than a suburban one.
        let within = |cx: f64, cy: f64| {
            w.stations
                .iter()
                .filter(|s| s.radio == Radio::Wifi)
                .filter(|s| (s.pos.x - cx).abs() < 500.0 && (s.pos.y - cy).abs() < 500.0)
                .count()
        };
        let edge = config.half() - 600.0;
        assert!(within(0.0, 0.0) > 3 * within(edge, edge).max(1));
    }

    #[test]
    fn scans_hear_near_stations_and_moved_ones_where_they_are() {
        let w = tiny();
        let mut rng = rng_for(1, 99);
        let end = w.config.end_ms();
        let mover = w
            .stations
            .iter()
            .position(|s| {
                s.radio == Radio::Wifi && s.moved.is_some_and(|m| m.to.dist(s.pos) > 500.0)
            })
            .expect("tiny world has a moving AP") as u32;
        let s = w.station(mover);
        let m = s.moved.expect("moved");
        let heard_at = |rng: &mut ChaCha8Rng, p: Xy, t: i64| {
            (0..50).any(|_| w.scan(rng, p, t, 0.0).wifi.iter().any(|h| h.idx == mover))
        };
        assert!(heard_at(&mut rng, s.pos, m.at_ms - 1));
        assert!(!heard_at(&mut rng, s.pos, end));
        assert!(heard_at(&mut rng, m.to, end));
        // Sorted strongest first, and cells are heard everywhere in the city.
        let scan = w.scan(&mut rng, Xy::new(0.0, 0.0), end, 0.0);
        assert!(scan.wifi.windows(2).all(|p| p[0].signal >= p[1].signal));
        assert!(!scan.cells.is_empty());
        let phone = scan.phone_cells(&w, w.config.operators[0], 3);
        assert!(!phone.is_empty());
    }
}
