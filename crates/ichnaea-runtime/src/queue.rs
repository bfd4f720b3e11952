//! Reliable data queues in Redis.
//!
//! Data flows between the processes through named Redis lists (`pipeline.md` §3). The
//! reference takes items off a list and deletes them in one step, so a worker that dies
//! mid-batch loses that batch. Here a consumer *claims* a batch instead: the items move
//! atomically (one Lua script) from the queue into a batch list under a lease, and are
//! deleted only when the consumer *acknowledges* the batch after its work is committed. A
//! batch whose lease expires, because its consumer died or hung, is handed to the next
//! consumer that asks, under the **same batch id**, so the work can be made idempotent by
//! recording processed batch ids. Delivery is therefore at-least-once.
//!
//! Redis keys of a queue named `Q` (the reference's list names are kept for `Q`):
//!
//! | key | type | content |
//! |---|---|---|
//! | `Q` | list | pending items, oldest first |
//! | `Q:since` | string | server time (ms) of the first push since the list was last empty |
//! | `Q:seq` | string | last batch id handed out (started from the clock in ms, so ids stay unique even if Redis loses its data) |
//! | `Q:inflight` | sorted set | claimed batch ids, scored by lease deadline (ms) |
//! | `Q:owner` | hash | batch id → consumer id |
//! | `Q:tries` | hash | batch id → number of deliveries |
//! | `Q:batch:<id>` | list | the items of a claimed batch |
//! | `Q:dead` | list | items of batches that failed [`MAX_DELIVERIES`] times, kept for inspection |
//!
//! Unlike the reference, queues never expire: data waits for a consumer however long that
//! takes. All times come from the Redis server clock (`TIME`), so consumers on hosts with
//! skewed clocks agree on leases. The scripts touch keys they derive from `Q`, which is fine
//! for a standalone or replicated Redis but not for Redis Cluster.

use std::sync::LazyLock;
use std::time::Duration;

use ichnaea_core::QueueName;
use redis::Script;

use crate::redis::{RedisClient, RedisError};

/// The queue scripts, hashed once per process (a `Script` computes its SHA-1 when it is
/// made, and every push and claim runs one).
struct Scripts {
    push: Script,
    push_once: Script,
    claim: Script,
    renew: Script,
    ack: Script,
    ready: Script,
}

static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    push: Script::new(PUSH_SCRIPT),
    push_once: Script::new(PUSH_ONCE_SCRIPT),
    claim: Script::new(CLAIM_SCRIPT),
    renew: Script::new(RENEW_SCRIPT),
    ack: Script::new(ACK_SCRIPT),
    ready: Script::new(READY_SCRIPT),
});

/// After this many deliveries a batch is considered poison: its items move to `Q:dead`
/// instead of being handed out again, so one bad batch cannot stall a queue forever.
pub const MAX_DELIVERIES: u32 = 5;

/// Items are pushed with at most this many per `RPUSH`.
const PUSH_CHUNK: usize = 500;

/// KEYS: queue, since. ARGV: chunk size, then the items. Returns the queue length.
const PUSH_SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local chunk = tonumber(ARGV[1])
local n = #ARGV
local i = 2
while i <= n do
  local j = math.min(i + chunk - 1, n)
  redis.call('RPUSH', KEYS[1], unpack(ARGV, i, j))
  i = j + 1
end
redis.call('SET', KEYS[2], now, 'NX')
return redis.call('LLEN', KEYS[1])
"#;

/// KEYS: queue, since, seq, inflight, owner, tries, dead. ARGV: max, lease_ms, consumer,
/// batch key prefix, max deliveries.
/// Returns `{id, tries, items}` or `false` when there is nothing to do.
const CLAIM_SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local max = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
local consumer = ARGV[3]
local prefix = ARGV[4]
local max_tries = tonumber(ARGV[5])

local function push_all(key, items)
  local i = 1
  while i <= #items do
    local j = math.min(i + 499, #items)
    redis.call('RPUSH', key, unpack(items, i, j))
    i = j + 1
  end
end

-- An abandoned batch is redelivered before any new work is taken.
while true do
  local expired = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, 1)
  if #expired == 0 then break end
  local id = expired[1]
  local tries = redis.call('HINCRBY', KEYS[6], id, 1)
  local items = redis.call('LRANGE', prefix .. id, 0, -1)
  if tries > max_tries then
    if #items > 0 then push_all(KEYS[7], items) end
    redis.call('DEL', prefix .. id)
    redis.call('ZREM', KEYS[4], id)
    redis.call('HDEL', KEYS[5], id)
    redis.call('HDEL', KEYS[6], id)
  else
    redis.call('ZADD', KEYS[4], now + lease, id)
    redis.call('HSET', KEYS[5], id, consumer)
    return {tonumber(id), tries, items}
  end
end

local items = redis.call('LRANGE', KEYS[1], 0, max - 1)
if #items == 0 then
  redis.call('DEL', KEYS[2])
  return false
end
redis.call('LTRIM', KEYS[1], #items, -1)
if redis.call('LLEN', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[2])
end
-- Batch ids must never repeat, even if Redis loses its data while the database keeps
-- its processed-batch markers: a fresh counter starts from the clock in ms (13 digits,
-- which Lua still prints exactly), and no queue hands out a batch per millisecond for long.
if redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('SET', KEYS[3], string.format('%d', now))
end
local id = redis.call('INCR', KEYS[3])
push_all(prefix .. id, items)
redis.call('ZADD', KEYS[4], now + lease, id)
redis.call('HSET', KEYS[5], id, consumer)
redis.call('HSET', KEYS[6], id, 1)
return {id, 1, items}
"#;

/// KEYS: inflight, owner. ARGV: id, consumer, lease_ms. Returns 1 if the lease was renewed.
const RENEW_SCRIPT: &str = r#"
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[3]), ARGV[1])
return 1
"#;

/// KEYS: inflight, owner, tries, batch. ARGV: id.
const ACK_SCRIPT: &str = r#"
redis.call('DEL', KEYS[4])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
"#;

/// KEYS: queue, since. Returns {size, age_ms or -1}.
const READY_SCRIPT: &str = r#"
local size = redis.call('LLEN', KEYS[1])
local since = redis.call('GET', KEYS[2])
if size == 0 or not since then return {size, -1} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return {size, now - tonumber(since)}
"#;

/// KEYS: the marker, then the target queues (2 keys each: list, since). ARGV: marker ttl
/// seconds, then per queue: item count followed by the items.
/// Returns 1 if pushed, 0 if the marker existed (already pushed).
const PUSH_ONCE_SCRIPT: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local arg = 2
local q = 2
while q <= #KEYS do
  local n = tonumber(ARGV[arg])
  arg = arg + 1
  local i = 0
  while i < n do
    local j = math.min(i + 500, n)
    redis.call('RPUSH', KEYS[q], unpack(ARGV, arg + i, arg + j - 1))
    i = j
  end
  if n > 0 then redis.call('SET', KEYS[q + 1], now, 'NX') end
  arg = arg + n
  q = q + 2
end
redis.call('SET', KEYS[1], 1, 'EX', tonumber(ARGV[1]))
return 1
"#;

/// Pushes items to several queues in one atomic step, at most once per `marker`: if the
/// marker key exists (an earlier delivery of the same batch already pushed), nothing is
/// pushed and `false` is returned. The marker lives for `marker_ttl`, which must exceed
/// the time a batch can take to be redelivered.
///
/// This is how a consumer that turns one batch into items of other queues stays
/// exactly-once under at-least-once delivery: it pushes with the batch's marker, then
/// acknowledges; a redelivered batch finds the marker and only acknowledges.
pub async fn push_once(
    redis: &RedisClient,
    marker: &str,
    marker_ttl: Duration,
    pushes: &[(String, Vec<Vec<u8>>)],
) -> Result<bool, RedisError> {
    let script = &SCRIPTS.push_once;
    let mut invocation = script.prepare_invoke();
    invocation.key(marker);
    invocation.arg(marker_ttl.as_secs().max(1));
    for (queue, items) in pushes {
        invocation.key(queue).key(format!("{queue}:since"));
        invocation.arg(items.len());
        for item in items {
            invocation.arg(item.as_slice());
        }
    }
    let mut conn = redis.shared().await?;
    let pushed: i64 = invocation.invoke_async(&mut conn).await?;
    Ok(pushed == 1)
}

/// A batch claimed from a queue; acknowledge it with [`DataQueue::ack`] once its work is
/// durably done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Batch id, unique per queue and stable across redeliveries.
    pub id: u64,
    /// How many times this batch has been delivered (1 on first delivery).
    pub deliveries: u32,
    /// The raw items, in push order.
    pub items: Vec<Vec<u8>>,
}

impl Batch {
    /// True when an earlier consumer already received this batch and did not acknowledge it:
    /// some of its effects may already be committed.
    pub fn is_redelivery(&self) -> bool {
        self.deliveries > 1
    }
}

/// Size and age of a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueState {
    /// Pending items (not counting claimed batches).
    pub size: u64,
    /// Time since the oldest pending push, when there is one.
    pub age: Option<Duration>,
}

impl QueueState {
    /// Whether a consumer should run: at least `batch` items wait, or the oldest has waited
    /// at least `max_age`.
    pub fn is_ready(&self, batch: u64, max_age: Duration) -> bool {
        self.size > 0 && (self.size >= batch || self.age.is_some_and(|a| a >= max_age))
    }
}

/// A named data queue.
#[derive(Clone)]
pub struct DataQueue {
    redis: RedisClient,
    key: String,
}

impl DataQueue {
    /// The queue for a name.
    pub fn new(redis: RedisClient, name: &QueueName) -> DataQueue {
        DataQueue {
            redis,
            key: name.key().into_owned(),
        }
    }

    /// The queue's Redis key.
    pub fn key(&self) -> &str {
        &self.key
    }

    fn sub(&self, suffix: &str) -> String {
        format!("{}:{suffix}", self.key)
    }

    /// Appends items atomically (all or none); returns the queue length afterwards.
    pub async fn push(&self, items: &[Vec<u8>]) -> Result<u64, RedisError> {
        let mut conn = self.redis.shared().await?;
        if items.is_empty() {
            let len: u64 = redis::cmd("LLEN")
                .arg(&self.key)
                .query_async(&mut conn)
                .await?;
            return Ok(len);
        }
        let script = &SCRIPTS.push;
        let mut invocation = script.prepare_invoke();
        invocation
            .key(&self.key)
            .key(self.sub("since"))
            .arg(PUSH_CHUNK);
        for item in items {
            invocation.arg(item.as_slice());
        }
        Ok(invocation.invoke_async(&mut conn).await?)
    }

    /// Claims up to `max` items (or an abandoned batch) for `consumer`, leased for `lease`.
    pub async fn claim(
        &self,
        consumer: &str,
        max: usize,
        lease: Duration,
    ) -> Result<Option<Batch>, RedisError> {
        let mut conn = self.redis.shared().await?;
        let result: Option<(u64, u32, Vec<Vec<u8>>)> = SCRIPTS
            .claim
            .key(&self.key)
            .key(self.sub("since"))
            .key(self.sub("seq"))
            .key(self.sub("inflight"))
            .key(self.sub("owner"))
            .key(self.sub("tries"))
            .key(self.sub("dead"))
            .arg(max.max(1))
            .arg(lease_ms(lease))
            .arg(consumer)
            .arg(self.sub("batch:"))
            .arg(MAX_DELIVERIES)
            .invoke_async(&mut conn)
            .await?;
        Ok(result.map(|(id, deliveries, items)| Batch {
            id,
            deliveries,
            items,
        }))
    }

    /// Extends the lease of a batch this consumer holds; `false` if it lost the batch (its
    /// lease expired and another consumer took it).
    pub async fn renew(
        &self,
        batch: &Batch,
        consumer: &str,
        lease: Duration,
    ) -> Result<bool, RedisError> {
        let mut conn = self.redis.shared().await?;
        let renewed: i64 = SCRIPTS
            .renew
            .key(self.sub("inflight"))
            .key(self.sub("owner"))
            .arg(batch.id)
            .arg(consumer)
            .arg(lease_ms(lease))
            .invoke_async(&mut conn)
            .await?;
        Ok(renewed == 1)
    }

    /// Acknowledges a batch: its items are deleted for good.
    pub async fn ack(&self, batch: &Batch) -> Result<(), RedisError> {
        let mut conn = self.redis.shared().await?;
        let _: i64 = SCRIPTS
            .ack
            .key(self.sub("inflight"))
            .key(self.sub("owner"))
            .key(self.sub("tries"))
            .key(format!("{}:batch:{}", self.key, batch.id))
            .arg(batch.id)
            .invoke_async(&mut conn)
            .await?;
        Ok(())
    }

    /// Size and age of the pending items.
    pub async fn state(&self) -> Result<QueueState, RedisError> {
        let mut conn = self.redis.shared().await?;
        let (size, age_ms): (u64, i64) = SCRIPTS
            .ready
            .key(&self.key)
            .key(self.sub("since"))
            .invoke_async(&mut conn)
            .await?;
        Ok(QueueState {
            size,
            age: u64::try_from(age_ms).ok().map(Duration::from_millis),
        })
    }

    /// Number of claimed, unacknowledged batches.
    pub async fn inflight(&self) -> Result<u64, RedisError> {
        let mut conn = self.redis.shared().await?;
        Ok(redis::cmd("ZCARD")
            .arg(self.sub("inflight"))
            .query_async(&mut conn)
            .await?)
    }

    /// Number of items parked in the dead-letter list.
    pub async fn dead(&self) -> Result<u64, RedisError> {
        let mut conn = self.redis.shared().await?;
        Ok(redis::cmd("LLEN")
            .arg(self.sub("dead"))
            .query_async(&mut conn)
            .await?)
    }
}

fn lease_ms(lease: Duration) -> u64 {
    u64::try_from(lease.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Encodes an item as JSON, gzip-compressed on its own, as the reference stores
/// `update_incoming` items (at the fastest level; the format and the decoder are the
/// same). [`decode_incoming`] reads such items; this project queues LZ4 items instead
/// ([`encode_incoming`]).
pub fn encode_json_gzip<T: serde::Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, RedisError> {
    let json = serde_json::to_vec(value).map_err(|e| RedisError::Data(e.to_string()))?;
    crate::gzip::compress_fast(&json).map_err(|e| RedisError::Data(e.to_string()))
}

/// Decodes an item written by [`encode_json_gzip`] (or any gzip-compressed JSON).
pub fn decode_json_gzip<T: serde::de::DeserializeOwned>(item: &[u8]) -> Result<T, RedisError> {
    let json = crate::gzip::decompress(item).map_err(|e| RedisError::Data(e.to_string()))?;
    serde_json::from_slice(&json).map_err(|e| RedisError::Data(e.to_string()))
}

/// The most reports one `update_incoming` item carries.
///
/// The reference queues every report as its own gzip member. Compressing a few hundred
/// bytes at a time spends most of the work on building Huffman tables and resetting the
/// compressor, about half of the api's CPU on the submit path. So the reports of one
/// request travel together, as one compressed JSON array per chunk of this many.
/// The bound keeps a worker's `update_incoming` batch (counted in items) to a known
/// number of reports.
pub const INCOMING_REPORTS_PER_ITEM: usize = 50;

/// The first bytes of an LZ4-compressed `update_incoming` item: this tag, the JSON's
/// length (`u32`, little-endian), then one LZ4 block. Neither gzip (`1f 8b`) nor JSON
/// starts like this.
const LZ4_TAG: &[u8; 4] = b"LZ4\x01";

/// The largest JSON an LZ4 item may declare: far above any submission the api accepts,
/// so a corrupt length cannot make the worker allocate gigabytes.
const LZ4_MAX_JSON: usize = 256 * 1024 * 1024;

/// Encodes `update_incoming` entries (`pipeline.md` §3.4 (a)) as queue items: JSON arrays
/// of at most [`INCOMING_REPORTS_PER_ITEM`] entries, each compressed with LZ4.
///
/// LZ4 rather than the reference's gzip: the api compresses every submission on the
/// request path, and deflate (even at its fastest level) was the largest single cost
/// there, about a sixth of the api's CPU. On submissions of ten reports LZ4 items are
/// about the size of the fastest gzip level's (2.9 against 2.6 KB for 8.1 KB of JSON)
/// at a fraction of the CPU.
pub fn encode_incoming<T: serde::Serialize>(entries: &[T]) -> Result<Vec<Vec<u8>>, RedisError> {
    entries
        .chunks(INCOMING_REPORTS_PER_ITEM)
        .map(|chunk| {
            let json = serde_json::to_vec(&chunk).map_err(|e| RedisError::Data(e.to_string()))?;
            let length = u32::try_from(json.len())
                .ok()
                .filter(|n| (*n as usize) <= LZ4_MAX_JSON)
                .ok_or_else(|| RedisError::Data("an update_incoming item is too large".into()))?;
            let block = lz4_flex::block::compress(&json);
            let mut item = Vec::with_capacity(LZ4_TAG.len() + 4 + block.len());
            item.extend_from_slice(LZ4_TAG);
            item.extend_from_slice(&length.to_le_bytes());
            item.extend_from_slice(&block);
            Ok(item)
        })
        .collect()
}

/// Decodes one `update_incoming` item into its entries: an LZ4 item of a JSON array
/// (what [`encode_incoming`] writes), or a gzip-compressed JSON array (what earlier
/// versions of this project wrote) or single entry object (the reference's format).
pub fn decode_incoming<T: serde::de::DeserializeOwned>(item: &[u8]) -> Result<Vec<T>, RedisError> {
    let json = match item.strip_prefix(LZ4_TAG.as_slice()) {
        Some(rest) => decompress_lz4(rest)?,
        None => crate::gzip::decompress(item).map_err(|e| RedisError::Data(e.to_string()))?,
    };
    let decoded = match json.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => serde_json::from_slice(&json),
        _ => serde_json::from_slice(&json).map(|entry| vec![entry]),
    };
    decoded.map_err(|e| RedisError::Data(e.to_string()))
}

/// The JSON of an LZ4 item after its tag: length, then the block.
fn decompress_lz4(rest: &[u8]) -> Result<Vec<u8>, RedisError> {
    let bad = |why: &str| RedisError::Data(format!("bad LZ4 update_incoming item: {why}"));
    let (length, block) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| bad("no length"))?;
    let length = usize::try_from(u32::from_le_bytes(*length)).map_err(|_| bad("length"))?;
    if length > LZ4_MAX_JSON {
        return Err(bad("declared length too large"));
    }
    let json = lz4_flex::block::decompress(block, length).map_err(|e| bad(&e.to_string()))?;
    if json.len() != length {
        return Err(bad("length mismatch"));
    }
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_follows_size_and_age() {
        let hour = Duration::from_secs(3600);
        let s = |size, age: Option<u64>| QueueState {
            size,
            age: age.map(Duration::from_secs),
        };
        assert!(!s(0, None).is_ready(100, hour));
        assert!(!s(5, Some(10)).is_ready(100, hour));
        assert!(s(100, Some(10)).is_ready(100, hour));
        assert!(s(5, Some(3600)).is_ready(100, hour));
        assert!(s(1, Some(0)).is_ready(1, hour));
    }

    #[test]
    fn json_gzip_round_trip() {
        let value = serde_json::json!({"api_key": null, "report": {"timestamp": 1}});
        let bytes = encode_json_gzip(&value).unwrap();
        assert_eq!(&bytes[..2], &[0x1f, 0x8b], "gzip magic");
        let back: serde_json::Value = decode_json_gzip(&bytes).unwrap();
        assert_eq!(back, value);
        assert!(decode_json_gzip::<serde_json::Value>(b"garbage").is_err());
    }

    #[test]
    fn incoming_items_are_lz4_arrays_of_at_most_fifty_entries() {
        let entries: Vec<serde_json::Value> = (0..120)
            .map(|i| serde_json::json!({"api_key": "k", "report": {"timestamp": i}}))
            .collect();
        let items = encode_incoming(&entries).unwrap();
        assert_eq!(items.len(), 3);
        let mut back = Vec::new();
        for item in &items {
            assert_eq!(&item[..4], b"LZ4\x01");
            let json_len = u32::from_le_bytes(item[4..8].try_into().unwrap());
            let json = lz4_flex::block::decompress(&item[8..], json_len as usize).unwrap();
            assert_eq!(json.first(), Some(&b'['), "a JSON array");
            back.extend(decode_incoming::<serde_json::Value>(item).unwrap());
        }
        assert_eq!(back, entries);
    }

    #[test]
    fn incoming_items_in_older_formats_are_still_read() {
        let entry = serde_json::json!({"api_key": null, "report": {"timestamp": 1}});
        // The reference's single gzip-compressed object, and an earlier gzip array.
        let single = encode_json_gzip(&entry).unwrap();
        let array = encode_json_gzip(&[&entry, &entry]).unwrap();
        assert_eq!(
            decode_incoming::<serde_json::Value>(&single).unwrap(),
            vec![entry.clone()]
        );
        assert_eq!(
            decode_incoming::<serde_json::Value>(&array).unwrap(),
            vec![entry.clone(), entry]
        );
    }

    #[test]
    fn corrupt_lz4_items_are_errors_not_panics() {
        let item = encode_incoming(&[serde_json::json!({"report": {}})])
            .unwrap()
            .remove(0);
        let mut too_long = item.clone();
        too_long[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut wrong_length = item.clone();
        wrong_length[4] = wrong_length[4].wrapping_add(1);
        for bad in [
            b"LZ4\x01".to_vec(),
            item[..7].to_vec(),
            item[..item.len() - 1].to_vec(),
            too_long,
            wrong_length,
        ] {
            assert!(decode_incoming::<serde_json::Value>(&bad).is_err());
        }
    }
}
