//! The data pipeline end to end, against real MySQL and Redis: reports through the worker
//! into the station tables, exactly once even when the worker is killed mid-batch.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers panic when their setup fails"
)]

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ichnaea_core::{Mac, QueueName, WifiShard};
use ichnaea_db::export_config::{self, ExportConfigRow};
use ichnaea_db::{DbPool, StationTable};
use ichnaea_runtime::DataQueue;
use ichnaea_runtime::queue::{encode_incoming, encode_json_gzip};
use ichnaea_testing::{TestDb, TestRedis};
use serde_json::{Value, json};

/// 40 WiFi access points spread over many shards, 100 m apart.
fn stations() -> Vec<(Mac, f64, f64)> {
    (0..40u64)
        .map(|i| {
            let mac = Mac::parse(&format!("a8{:02x}{:x}0{:06x}", i, i % 16, i + 1)).unwrap();
            (
                mac,
                51.5 + 0.001 * (i / 8) as f64,
                -0.1 + 0.001 * (i % 8) as f64,
            )
        })
        .collect()
}

/// `reports` GNSS reports, each seeing 4 access points from right next to them; returns
/// the `update_incoming` entries and how many times each access point was observed.
fn reports(reports: usize) -> (Vec<Value>, HashMap<Mac, u32>) {
    let all = stations();
    let now_ms = chrono::Utc::now().timestamp_millis();
    let mut counts = HashMap::new();
    let mut items = Vec::new();
    for r in 0..reports {
        let seen: Vec<&(Mac, f64, f64)> =
            (0..4).map(|k| &all[(r * 7 + k * 11) % all.len()]).collect();
        let (_, lat, lon) = seen[0];
        let wifis: Vec<_> = seen
            .iter()
            .map(|(mac, _, _)| {
                *counts.entry(*mac).or_insert(0u32) += 1;
                json!({"macAddress": mac.to_hex(), "signalStrength": -60})
            })
            .collect();
        let item = json!({
            "api_key": null,
            "source": "gnss",
            "report": {
                "timestamp": now_ms,
                "position": {"latitude": lat + 0.00001 * (r % 3) as f64, "longitude": lon, "accuracy": 10.0},
                "wifiAccessPoints": wifis,
            }
        });
        items.push(item);
    }
    (items, counts)
}

async fn add_internal_export(db: &TestDb, batch: i32) {
    let pool = DbPool::new(&db.pool_config()).unwrap();
    let mut conn = pool.get().await.unwrap();
    export_config::upsert(
        &mut conn,
        &ExportConfigRow {
            name: "internal".into(),
            batch: Some(batch),
            schema: Some("internal".into()),
            url: None,
            skip_keys: None,
            skip_sources: None,
        },
    )
    .await
    .unwrap();
}

/// Samples per access point, as stored.
async fn stored_samples(db: &TestDb) -> HashMap<Mac, u32> {
    let pool = DbPool::new(&db.pool_config()).unwrap();
    let mut conn = pool.get().await.unwrap();
    let mut out = HashMap::new();
    let all = stations();
    for shard in WifiShard::ALL {
        let keys: Vec<_> = all
            .iter()
            .filter(|(m, _, _)| WifiShard::for_mac(m) == shard)
            .map(|(m, _, _)| ichnaea_core::pipeline::station::StationKey::Mac(*m))
            .collect();
        if keys.is_empty() {
            continue;
        }
        let rows =
            ichnaea_db::stations::load_station_rows(&mut conn, StationTable::Wifi(shard), &keys)
                .await
                .unwrap();
        for (key, row) in rows {
            if let Some(mac) = key.mac() {
                out.insert(mac, row.samples.unwrap_or(0));
            }
        }
    }
    out
}

fn path_queues() -> Vec<String> {
    let mut keys: Vec<String> = vec!["update_incoming".into(), "queue_export_internal".into()];
    keys.extend(WifiShard::ALL.iter().map(|s| s.queue_key().to_owned()));
    keys
}

/// Batches claimed but not acknowledged, over the whole path.
async fn in_flight(redis: &TestRedis) -> u64 {
    let mut conn = redis.conn().await;
    let mut total = 0;
    for key in path_queues() {
        let n: u64 = redis::cmd("ZCARD")
            .arg(format!("{key}:inflight"))
            .query_async(&mut conn)
            .await
            .unwrap();
        total += n;
    }
    total
}

/// Whether every queue of the path is empty with nothing in flight.
async fn idle(redis: &TestRedis) -> bool {
    let mut conn = redis.conn().await;
    for key in path_queues() {
        let len: u64 = redis::cmd("LLEN")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        let inflight: u64 = redis::cmd("ZCARD")
            .arg(format!("{key}:inflight"))
            .query_async(&mut conn)
            .await
            .unwrap();
        if len + inflight > 0 {
            return false;
        }
    }
    true
}

fn worker(db: &TestDb, redis: &TestRedis) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ichnaea-worker"))
        .env("DB_READWRITE_URI", db.url())
        .env("REDIS_URI", redis.url())
        .env("LOCAL_DEV_ENV", "true")
        .env("LOGGING_LEVEL", "WARNING")
        .env("WORKER_LEASE_SECS", "3")
        .env("WORKER_POLL_INTERVAL_MS", "50")
        .env("EXPORT_MAX_AGE_SECS", "0")
        .env("WORKER_STATION_MAX_AGE_MS", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_idle(redis: &TestRedis, within: Duration) {
    let started = Instant::now();
    while !idle(redis).await {
        assert!(
            started.elapsed() < within,
            "the pipeline did not drain within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn reports_reach_the_station_tables_with_several_workers() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    add_internal_export(&db, 5).await;
    let (entries, counts) = reports(300);
    let incoming = DataQueue::new(redis.client(), &QueueName::UpdateIncoming);
    // As the api queues them: several reports per item.
    for chunk in entries.chunks(20) {
        incoming
            .push(&encode_incoming(chunk).unwrap())
            .await
            .unwrap();
    }
    let mut workers = [
        worker(&db, &redis),
        worker(&db, &redis),
        worker(&db, &redis),
    ];
    wait_idle(&redis, Duration::from_secs(60)).await;
    for child in &mut workers {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let stored = stored_samples(&db).await;
    assert_eq!(stored, counts, "every observation counted once");
}

/// A worker killed with SIGKILL at arbitrary moments, then restarted, loses no
/// observation and counts none twice.
#[tokio::test]
async fn sigkill_mid_batch_loses_and_duplicates_nothing() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    add_internal_export(&db, 10).await;
    let (entries, counts) = reports(600);
    // One report per item (the reference's format, still read), so batches are small.
    let items: Vec<Vec<u8>> = entries
        .iter()
        .map(|entry| encode_json_gzip(entry).unwrap())
        .collect();
    let incoming = DataQueue::new(redis.client(), &QueueName::UpdateIncoming);
    // Small pushes, so the worker takes many small batches and a kill lands mid-way.
    for chunk in items.chunks(50) {
        incoming.push(chunk).await.unwrap();
    }
    let mut interrupted = 0;
    for round in 0..3 {
        let mut child = worker(&db, &redis);
        // Kill as soon as the worker holds a batch (after a little work in later rounds).
        tokio::time::sleep(Duration::from_millis(100 * round)).await;
        let started = Instant::now();
        while in_flight(&redis).await == 0 && started.elapsed() < Duration::from_secs(30) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        child.kill().unwrap(); // SIGKILL: no cleanup, claimed batches stay claimed.
        child.wait().unwrap();
        interrupted += in_flight(&redis).await;
    }
    assert!(
        interrupted > 0,
        "the kills must land while batches are in flight"
    );
    let mut child = worker(&db, &redis);
    wait_idle(&redis, Duration::from_secs(120)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let stored = stored_samples(&db).await;
    let total: u32 = counts.values().sum();
    assert_eq!(total, 2400);
    assert_eq!(stored, counts, "exactly once despite the kills");
}
