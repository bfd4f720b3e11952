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
//! cost as much memory as the row itself. Here an entry costs about 300 bytes (the
//! 176-byte row in a hash table, its key in the eviction ring, the region text); eviction
//! is by insertion order, and expiry is checked on read.
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

use ichnaea_core::ids::{CellAreaId, CellId, Mac};
use ichnaea_core::locate::station::{AreaStation, CellStation, MacStation};

/// Independent parts of the cache, each with its own lock.
const SHARDS: usize = 16;

/// The entries, in [`SHARDS`] locked parts.
struct Store {
    shards: Box<[Mutex<Shard>]>,
    /// Entries per shard.
    per_shard: usize,
    ttl: Duration,
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
                // Full size from the start: growing in steps would leave the freed
                // smaller tables behind as fragmented heap.
                Mutex::new(Shard {
                    map: HashMap::with_capacity(per_shard),
                    ring: Vec::with_capacity(per_shard),
                    hand: 0,
                })
            })
            .collect();
        Store {
            shards,
            per_shard,
            ttl,
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
        let ttl = u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX);
        (now.saturating_sub(slot.stored) < ttl).then(|| slot.entry.clone())
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

/// A cached row.
#[derive(Debug, Clone)]
pub enum CacheEntry {
    /// A WiFi or Bluetooth row.
    Mac(MacStation),
    /// A cell row.
    Cell(CellStation),
    /// A cell area row.
    Area(AreaStation),
}

/// A row the cache can hold.
pub trait Cached: Clone + Send + Sync + 'static {
    /// The row's identifier.
    type Id: Copy + Eq + Hash + Send + Sync + 'static;
    /// The identifier of a row.
    fn id(&self) -> Self::Id;
    /// The row as a cache entry.
    fn into_entry(self) -> CacheEntry;
    /// The row of a cache entry, if it is of this kind.
    fn from_entry(entry: CacheEntry) -> Option<Self>;
}

impl Cached for MacStation {
    type Id = Mac;
    fn id(&self) -> Mac {
        self.id
    }
    fn into_entry(self) -> CacheEntry {
        CacheEntry::Mac(self)
    }
    fn from_entry(entry: CacheEntry) -> Option<Self> {
        match entry {
            CacheEntry::Mac(row) => Some(row),
            _ => None,
        }
    }
}

impl Cached for CellStation {
    type Id = CellId;
    fn id(&self) -> CellId {
        self.id
    }
    fn into_entry(self) -> CacheEntry {
        CacheEntry::Cell(self)
    }
    fn from_entry(entry: CacheEntry) -> Option<Self> {
        match entry {
            CacheEntry::Cell(row) => Some(row),
            _ => None,
        }
    }
}

impl Cached for AreaStation {
    type Id = CellAreaId;
    fn id(&self) -> CellAreaId {
        self.id
    }
    fn into_entry(self) -> CacheEntry {
        CacheEntry::Area(self)
    }
    fn from_entry(entry: CacheEntry) -> Option<Self> {
        match entry {
            CacheEntry::Area(row) => Some(row),
            _ => None,
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
            match cache.get(&(self.key)(*id)).and_then(R::from_entry) {
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
            cache.insert((self.key)(row.id()), row.clone().into_entry());
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
    use ichnaea_core::time::DateTime;

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
