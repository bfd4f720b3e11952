//! An in-process cache of the station rows that locate reads.
//!
//! A locate request costs one `SELECT` per shard table it touches, and the profile showed
//! those round trips (and MariaDB's work per statement) as the largest cost of a WiFi or
//! cell query. Clients ask again and again from the same places, so the api keeps the rows
//! it read for `LOCATE_CACHE_TTL_SECS`, in one bounded cache of `LOCATE_CACHE_ENTRIES`
//! rows of any kind, shared by all worker threads.
//!
//! The cache is a plain sharded map with first-in, first-out eviction rather than moka
//! (which the api uses for its key cache). moka's admission policy turns away rows seen
//! only once while the cache is full, so a new working set (clients moving into another
//! area, or the benchmark's next scenario) found no room; and its per-entry bookkeeping
//! cost as much memory as the row itself. Here an entry is a compact copy of the row
//! ([`CacheEntry`]) in a hash table plus its key in the eviction ring, about 150 bytes;
//! eviction is by insertion order, and expiry is checked on read.
//!
//! Only rows are cached, not the absence of one: a network the database does not know is
//! asked for again on every query, so a station the pipeline has just created is
//! locatable at once (a contributor checking their own submission sees it). The price is
//! staleness of known stations: a move, a new average or a block reaches locate up to one
//! TTL later, which is small against the time the pipeline takes to make such changes.
//! Blocking rules are applied at query time to the cached row, so a temporary block
//! that has run out is honoured without a reload. The reference has no such cache
//! (docs/ARCHITECTURE.md lists it among the deliberate differences).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ichnaea_core::enums::ReportSource;
use ichnaea_core::ids::{CellAreaId, CellId, Mac};
use ichnaea_core::locate::station::{AreaStation, CellStation, MacStation, Station};
use ichnaea_core::time::{Date, DateTime};

/// Independent parts of the cache, each with its own lock.
const SHARDS: usize = 16;
/// Entries per shard whose room is reserved when the cache is made (about 1 million in
/// all, some 150 MiB once filled).
const PRESIZED_PER_SHARD: usize = 1 << 16;

/// The entries, in [`SHARDS`] locked parts.
struct Store {
    shards: Box<[Mutex<Shard>]>,
    /// Entries per shard.
    per_shard: usize,
    /// How long an entry is used, in milliseconds.
    ttl_ms: u64,
    epoch: Instant,
    hasher: RandomState,
}

/// One part of the cache: the entries, and their keys in insertion order for eviction.
struct Shard {
    map: HashMap<CacheKey, Slot>,
    ring: Vec<CacheKey>,
    /// The ring position to evict next once the ring is full.
    hand: usize,
}

/// A row and when it was stored (milliseconds since the cache's epoch).
struct Slot {
    entry: CacheEntry,
    stored: u64,
}

impl Store {
    fn new(entries: u64, ttl: Duration) -> Store {
        let entries = usize::try_from(entries).unwrap_or(usize::MAX);
        let per_shard = entries.div_ceil(SHARDS).max(1);
        let shards = (0..SHARDS)
            .map(|_| {
                // Sized up front for caches of ordinary size, so the tables do not grow
                // in steps under load; a very large cache grows with use instead of
                // reserving all its memory at start.
                let reserve = per_shard.min(PRESIZED_PER_SHARD);
                Mutex::new(Shard {
                    map: HashMap::with_capacity(reserve),
                    ring: Vec::with_capacity(reserve),
                    hand: 0,
                })
            })
            .collect();
        Store {
            shards,
            per_shard,
            ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
            epoch: Instant::now(),
            hasher: RandomState::new(),
        }
    }

    fn shard(&self, key: &CacheKey) -> std::sync::MutexGuard<'_, Shard> {
        let index = (self.hasher.hash_one(key) % SHARDS as u64) as usize;
        self.shards[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn get(&self, key: &CacheKey) -> Option<CacheEntry> {
        let now = self.now();
        let shard = self.shard(key);
        let slot = shard.map.get(key)?;
        (now.saturating_sub(slot.stored) < self.ttl_ms).then_some(slot.entry)
    }

    fn insert(&self, key: CacheKey, entry: CacheEntry) {
        let stored = self.now();
        let mut shard = self.shard(&key);
        if let Some(slot) = shard.map.get_mut(&key) {
            *slot = Slot { entry, stored };
            return;
        }
        if shard.ring.len() < self.per_shard {
            shard.ring.push(key);
        } else {
            let hand = shard.hand;
            let evicted = std::mem::replace(&mut shard.ring[hand], key);
            shard.map.remove(&evicted);
            shard.hand = (hand + 1) % self.per_shard;
        }
        shard.map.insert(key, Slot { entry, stored });
    }

    fn len(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).map.len() as u64)
            .sum()
    }
}

/// The key of a cache entry: the kind of station and its identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheKey {
    /// A WiFi access point.
    Wifi(Mac),
    /// A Bluetooth beacon.
    Blue(Mac),
    /// A cell.
    Cell(CellId),
    /// A cell area.
    Area(CellAreaId),
}

/// A cached row, without its identifier (that is in the key) and without the
/// discriminants of its optional fields: a WiFi row takes 80 bytes here against 160 plus
/// a heap allocation for its region as a [`MacStation`].
#[derive(Debug, Clone, Copy)]
pub enum CacheEntry {
    /// A WiFi, Bluetooth or cell row.
    Station(CompactStation),
    /// A cell area row.
    Area(CompactArea),
}

/// The fields of a station row. Missing values are stored as values MySQL cannot hold
/// (NaN, the smallest integer); a row that does hold such a value is not cached.
#[derive(Debug, Clone, Copy)]
pub struct CompactStation {
    lat: f64,
    lon: f64,
    weight: f64,
    created: i64,
    modified: i64,
    radius: Option<u32>,
    samples: Option<u32>,
    last_seen: i32,
    block_first: i32,
    block_last: i32,
    region: [u8; 2],
    source: Option<ReportSource>,
    block_count: Option<u8>,
}

/// The fields of a cell area row, stored as in [`CompactStation`].
#[derive(Debug, Clone, Copy)]
pub struct CompactArea {
    lat: f64,
    lon: f64,
    created: i64,
    modified: i64,
    radius: Option<u32>,
    num_cells: Option<u32>,
    avg_cell_radius: Option<u32>,
    last_seen: i32,
    region: [u8; 2],
}

fn pack_f64(v: Option<f64>) -> Option<f64> {
    match v {
        None => Some(f64::NAN),
        Some(x) if x.is_nan() => None,
        Some(x) => Some(x),
    }
}

fn unpack_f64(v: f64) -> Option<f64> {
    (!v.is_nan()).then_some(v)
}

fn pack_time(v: Option<DateTime>) -> Option<i64> {
    match v.map(DateTime::unix_seconds) {
        None => Some(i64::MIN),
        Some(i64::MIN) => None,
        Some(t) => Some(t),
    }
}

fn unpack_time(v: i64) -> Option<DateTime> {
    (v != i64::MIN).then(|| DateTime::from_unix_seconds(v))
}

fn pack_date(v: Option<Date>) -> Option<i32> {
    match v.map(Date::days) {
        None => Some(i32::MIN),
        Some(i32::MIN) => None,
        Some(d) => Some(d),
    }
}

fn unpack_date(v: i32) -> Option<Date> {
    (v != i32::MIN).then(|| Date::from_days(v))
}

/// Region codes are two ASCII letters; anything else is not cached.
fn pack_region(v: Option<&str>) -> Option<[u8; 2]> {
    match v.map(str::as_bytes) {
        None => Some([0, 0]),
        Some(&[a, b]) if a.is_ascii() && b.is_ascii() && a != 0 && b != 0 => Some([a, b]),
        Some(_) => None,
    }
}

fn unpack_region(v: [u8; 2]) -> Option<String> {
    (v != [0, 0]).then(|| String::from_utf8_lossy(&v).into_owned())
}

impl CompactStation {
    fn pack<I>(row: &Station<I>) -> Option<CompactStation> {
        Some(CompactStation {
            lat: pack_f64(row.lat)?,
            lon: pack_f64(row.lon)?,
            weight: pack_f64(row.weight)?,
            created: pack_time(row.created)?,
            modified: pack_time(row.modified)?,
            radius: row.radius,
            samples: row.samples,
            last_seen: pack_date(row.last_seen)?,
            block_first: pack_date(row.block_first)?,
            block_last: pack_date(row.block_last)?,
            region: pack_region(row.region.as_deref())?,
            source: row.source,
            block_count: row.block_count,
        })
    }

    fn unpack<I>(self, id: I) -> Station<I> {
        Station {
            id,
            lat: unpack_f64(self.lat),
            lon: unpack_f64(self.lon),
            radius: self.radius,
            region: unpack_region(self.region),
            samples: self.samples,
            source: self.source,
            weight: unpack_f64(self.weight),
            created: unpack_time(self.created),
            modified: unpack_time(self.modified),
            last_seen: unpack_date(self.last_seen),
            block_first: unpack_date(self.block_first),
            block_last: unpack_date(self.block_last),
            block_count: self.block_count,
        }
    }
}

/// A row the cache can hold.
pub trait Cached: Clone + Send + Sync + 'static {
    /// The row's identifier.
    type Id: Copy + Eq + Hash + Send + Sync + 'static;
    /// The identifier of a row.
    fn id(&self) -> Self::Id;
    /// The row as a cache entry; `None` when it holds a value the compact form cannot.
    fn to_entry(&self) -> Option<CacheEntry>;
    /// The row of a cache entry, if it is of this kind.
    fn from_entry(entry: CacheEntry, id: Self::Id) -> Option<Self>;
}

/// WiFi, Bluetooth and cell rows: the same fields under different identifiers.
impl<I: Copy + Eq + Hash + Send + Sync + 'static> Cached for Station<I> {
    type Id = I;
    fn id(&self) -> I {
        self.id
    }
    fn to_entry(&self) -> Option<CacheEntry> {
        CompactStation::pack(self).map(CacheEntry::Station)
    }
    fn from_entry(entry: CacheEntry, id: I) -> Option<Self> {
        match entry {
            CacheEntry::Station(row) => Some(row.unpack(id)),
            CacheEntry::Area(_) => None,
        }
    }
}

impl Cached for AreaStation {
    type Id = CellAreaId;
    fn id(&self) -> CellAreaId {
        self.id
    }
    fn to_entry(&self) -> Option<CacheEntry> {
        Some(CacheEntry::Area(CompactArea {
            lat: pack_f64(self.lat)?,
            lon: pack_f64(self.lon)?,
            created: pack_time(self.created)?,
            modified: pack_time(self.modified)?,
            radius: self.radius,
            num_cells: self.num_cells,
            avg_cell_radius: self.avg_cell_radius,
            last_seen: pack_date(self.last_seen)?,
            region: pack_region(self.region.as_deref())?,
        }))
    }
    fn from_entry(entry: CacheEntry, id: CellAreaId) -> Option<Self> {
        match entry {
            CacheEntry::Area(a) => Some(AreaStation {
                id,
                lat: unpack_f64(a.lat),
                lon: unpack_f64(a.lon),
                radius: a.radius,
                region: unpack_region(a.region),
                num_cells: a.num_cells,
                avg_cell_radius: a.avg_cell_radius,
                created: unpack_time(a.created),
                modified: unpack_time(a.modified),
                last_seen: unpack_date(a.last_seen),
            }),
            CacheEntry::Station(_) => None,
        }
    }
}

/// One kind of station's view of the shared cache. Cheap to clone.
#[derive(Clone)]
pub struct KindCache<R: Cached> {
    cache: Option<Arc<Store>>,
    key: fn(R::Id) -> CacheKey,
}

/// The station cache of locate, with a view per kind of station; cheap to clone (clones
/// share the entries).
#[derive(Clone)]
pub struct StationCache {
    /// `wifi_shard_*` rows.
    pub wifi: KindCache<MacStation>,
    /// `blue_shard_*` rows.
    pub blue: KindCache<MacStation>,
    /// Cell table rows.
    pub cell: KindCache<CellStation>,
    /// `cell_area` rows.
    pub area: KindCache<AreaStation>,
}

impl StationCache {
    /// A cache of at most `entries` rows in all, each kept `ttl`; `entries == 0` caches
    /// nothing.
    pub fn new(entries: u64, ttl: Duration) -> StationCache {
        let cache = (entries > 0).then(|| Arc::new(Store::new(entries, ttl)));
        StationCache {
            wifi: KindCache {
                cache: cache.clone(),
                key: CacheKey::Wifi,
            },
            blue: KindCache {
                cache: cache.clone(),
                key: CacheKey::Blue,
            },
            cell: KindCache {
                cache: cache.clone(),
                key: CacheKey::Cell,
            },
            area: KindCache {
                cache,
                key: CacheKey::Area,
            },
        }
    }
}

/// The outcome of looking a query's identifiers up: the rows known from the cache and
/// the identifiers that must be read from the database.
#[derive(Debug)]
pub struct Lookup<R: Cached> {
    /// Cached rows.
    pub rows: Vec<R>,
    /// Identifiers not in the cache.
    pub missing: Vec<R::Id>,
}

impl<R: Cached> KindCache<R> {
    /// Splits `ids` into cached rows and identifiers to load.
    pub fn lookup(&self, ids: &[R::Id]) -> Lookup<R> {
        let Some(cache) = &self.cache else {
            return Lookup {
                rows: Vec::new(),
                missing: ids.to_vec(),
            };
        };
        let mut rows = Vec::new();
        let mut missing = Vec::new();
        for id in ids {
            match cache
                .get(&(self.key)(*id))
                .and_then(|entry| R::from_entry(entry, *id))
            {
                Some(row) => rows.push(row),
                None => missing.push(*id),
            }
        }
        Lookup { rows, missing }
    }

    /// Remembers rows the database returned.
    pub fn remember(&self, loaded: &[R]) {
        let Some(cache) = &self.cache else {
            return;
        };
        for row in loaded {
            if let Some(entry) = row.to_entry() {
                cache.insert((self.key)(row.id()), entry);
            }
        }
    }

    /// Entries currently held, of all kinds, expired ones included (for tests).
    pub fn len(&self) -> u64 {
        self.cache.as_ref().map_or(0, |c| c.len())
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(n: u8) -> Mac {
        Mac::from_bytes(&[0x02, 0, 0, 0, 0, n]).unwrap()
    }

    #[test]
    fn remembers_rows_but_not_unknown_networks_per_kind() {
        let cache = StationCache::new(100, Duration::from_secs(60));
        let known = MacStation::new(mac(1), 51.0, 0.0, DateTime::from_unix_seconds(0));
        let first = cache.wifi.lookup(&[mac(1), mac(2)]);
        assert!(first.rows.is_empty());
        assert_eq!(first.missing, vec![mac(1), mac(2)]);
        cache.wifi.remember(std::slice::from_ref(&known));

        let again = cache.wifi.lookup(&[mac(1), mac(2)]);
        assert_eq!(again.rows, vec![known]);
        assert_eq!(
            again.missing,
            vec![mac(2)],
            "an unknown network is asked for again"
        );
        // The same MAC as a Bluetooth beacon is a different station.
        assert_eq!(cache.blue.lookup(&[mac(1)]).missing, vec![mac(1)]);
    }

    #[test]
    fn rows_come_back_exactly_as_stored() {
        let full = MacStation {
            id: mac(7),
            lat: Some(-33.8688),
            lon: Some(151.2093),
            radius: Some(123),
            region: Some("AU".into()),
            samples: Some(456),
            source: Some(ReportSource::Fused),
            weight: Some(12.75),
            created: Some(DateTime::from_unix_seconds(1_600_000_000)),
            modified: Some(DateTime::from_unix_seconds(1_700_000_000)),
            last_seen: Some(Date::from_days(19_700)),
            block_first: Some(Date::from_days(19_000)),
            block_last: Some(Date::from_days(19_500)),
            block_count: Some(3),
        };
        let empty = MacStation {
            id: mac(8),
            lat: None,
            lon: None,
            radius: None,
            region: None,
            samples: None,
            source: None,
            weight: None,
            created: None,
            modified: None,
            last_seen: None,
            block_first: None,
            block_last: None,
            block_count: None,
        };
        let area_id = CellAreaId::new(ichnaea_core::Radio::Lte, 262, 1, 5).unwrap();
        for row in [&full, &empty] {
            let entry = row.to_entry().unwrap();
            assert_eq!(&MacStation::from_entry(entry, row.id).unwrap(), row);
            assert!(AreaStation::from_entry(entry, area_id).is_none());
        }
        let cell = CellStation {
            id: CellId::new(ichnaea_core::Radio::Lte, 262, 1, 5, 77).unwrap(),
            lat: full.lat,
            lon: full.lon,
            radius: full.radius,
            region: full.region.clone(),
            samples: full.samples,
            source: full.source,
            weight: full.weight,
            created: full.created,
            modified: full.modified,
            last_seen: full.last_seen,
            block_first: full.block_first,
            block_last: full.block_last,
            block_count: full.block_count,
        };
        assert_eq!(
            CellStation::from_entry(cell.to_entry().unwrap(), cell.id).unwrap(),
            cell
        );
        let area = AreaStation {
            id: area_id,
            lat: Some(52.5),
            lon: None,
            radius: Some(9_000),
            region: Some("DE".into()),
            num_cells: Some(12),
            avg_cell_radius: None,
            created: None,
            modified: Some(DateTime::from_unix_seconds(-5)),
            last_seen: Some(Date::from_days(-3)),
        };
        assert_eq!(
            AreaStation::from_entry(area.to_entry().unwrap(), area.id).unwrap(),
            area
        );

        // Values the compact form cannot tell from "missing" are not cached.
        let mut odd = full.clone();
        odd.weight = Some(f64::NAN);
        assert!(odd.to_entry().is_none());
        let mut odd = full.clone();
        odd.region = Some("DEU".into());
        assert!(odd.to_entry().is_none());
        let cache = StationCache::new(10, Duration::from_secs(60));
        cache.wifi.remember(std::slice::from_ref(&odd));
        assert_eq!(cache.wifi.lookup(&[odd.id]).missing, vec![odd.id]);
    }

    #[test]
    fn the_oldest_entries_make_room_and_updates_do_not_count_twice() {
        let rows: Vec<MacStation> = (0..=255u8)
            .map(|n| MacStation::new(mac(n), 51.0, 0.0, DateTime::from_unix_seconds(0)))
            .collect();
        let cache = StationCache::new(64, Duration::from_secs(60));
        cache.wifi.remember(&rows[..64]);
        cache.wifi.remember(&rows[..64]);
        assert!(cache.wifi.len() <= 64);
        // 192 more rows: the cache stays within its bound and keeps the newest ones
        // (each shard evicts its own oldest entries, so the split is not exact).
        cache.wifi.remember(&rows[64..]);
        assert!(cache.wifi.len() <= 16 * 4, "{}", cache.wifi.len());
        let ids: Vec<Mac> = rows.iter().map(|r| r.id).collect();
        let old = cache.wifi.lookup(&ids[..64]);
        let new = cache.wifi.lookup(&ids[192..]);
        assert!(
            old.rows.len() < new.rows.len(),
            "{} {}",
            old.rows.len(),
            new.rows.len()
        );
    }

    #[test]
    fn entries_expire_and_a_zero_size_caches_nothing() {
        let row = MacStation::new(mac(1), 51.0, 0.0, DateTime::from_unix_seconds(0));
        let cache = StationCache::new(100, Duration::from_millis(50)).wifi;
        cache.remember(std::slice::from_ref(&row));
        assert!(cache.lookup(&[mac(1)]).missing.is_empty());
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(cache.lookup(&[mac(1)]).missing, vec![mac(1)]);

        let off = StationCache::new(0, Duration::from_secs(60)).wifi;
        off.remember(std::slice::from_ref(&row));
        assert_eq!(off.lookup(&[mac(1)]).missing, vec![mac(1)]);
        assert!(off.is_empty());
    }
}
