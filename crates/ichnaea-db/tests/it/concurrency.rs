//! Concurrent batches on one shard: lock failures are retried and every batch lands once
//! (`pipeline.md` §5.10).

use std::time::Duration;

use diesel_async::{AsyncMysqlConnection, SimpleAsyncConnection};
use ichnaea_core::pipeline::batch::{BatchOutcome, StationBatch};
use ichnaea_core::pipeline::observation::WifiObservation;
use ichnaea_core::pipeline::station::{StationKey, Transition};
use ichnaea_core::{Mac, ReportSource};
use ichnaea_db::error::DbError;
use ichnaea_db::retry::{BatchStatus, Retried};
use ichnaea_db::stations::{apply_station_batch, insert_station_rows, load_station_rows};
use ichnaea_db::{BatchMarker, LockFailure, StationShard};
use ichnaea_testing::TestDb;
use mysql_async::prelude::Queryable;

use crate::fixtures::*;

fn key_bytes() -> Vec<u8> {
    mac(0).as_bytes().to_vec()
}

/// A MAC of shard `6` that no earlier test used: the slot databases are reused, and an
/// old delete-marked record with the same key would turn the gap locks of
/// [`deadlock_victim_is_retried`] into record locks (a plain wait, no deadlock).
fn fresh_mac() -> Mac {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        .to_be_bytes();
    let [.., a, b, c, d, e] = nanos;
    Mac::from_array([0x5e, a, 0x60 | (b & 0x0f), c, d, e]).unwrap()
}

/// Applies `batch` to the fixtures' WiFi shard as the batch `marker` names, at `now()`.
async fn apply_wifi(
    conn: &mut AsyncMysqlConnection,
    marker: &BatchMarker,
    batch: &StationBatch<WifiObservation>,
) -> Result<Retried<BatchStatus<BatchOutcome>>, DbError> {
    apply_station_batch(
        conn,
        WifiObservation::shard(),
        marker,
        batch,
        now(),
        &TestRegions,
    )
    .await
}

/// Makes a raw transaction "heavier" than a station batch, so InnoDB picks the batch as
/// the deadlock victim.
async fn heavy_transaction(raw: &mut mysql_async::Conn) {
    raw.query_drop("START TRANSACTION").await.unwrap();
    let values: Vec<String> = (0..50)
        .map(|i| format!("(1, DATE('2000-01-01') + INTERVAL {i} DAY, 1)"))
        .collect();
    raw.query_drop(format!(
        "INSERT INTO stat (`key`, time, value) VALUES {}",
        values.join(", ")
    ))
    .await
    .unwrap();
}

/// Two transactions both gap-lock a missing station and then both insert it: a deadlock.
/// The batch is the victim, is retried, and then merges into the row the other
/// transaction committed.
#[tokio::test]
async fn deadlock_victim_is_retried() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    let key = fresh_mac();
    let key_bytes = key.as_bytes().to_vec();
    let mut raw = db.conn().await;
    heavy_transaction(&mut raw).await;
    let locked: Vec<Vec<u8>> = raw
        .exec(
            "SELECT mac FROM wifi_shard_6 WHERE mac IN (?) FOR UPDATE",
            (key_bytes.clone(),),
        )
        .await
        .unwrap();
    assert!(locked.is_empty());

    let task = tokio::spawn(async move {
        let obs: Vec<WifiObservation> = make_obs::<WifiObservation>(ReportSource::Gnss, 0.0)
            .into_iter()
            .map(|o| with(o, |o| o.mac = key))
            .collect();
        let marker = BatchMarker::new("update_wifi_6", 1).unwrap();
        let result = apply_wifi(&mut conn, &marker, &StationBatch::new(obs)).await;
        (result, conn)
    });
    // Let the batch lock the gap and block on its insert, then insert into the same gap.
    tokio::time::sleep(Duration::from_millis(500)).await;
    raw.exec_drop("INSERT INTO wifi_shard_6 (mac) VALUES (?)", (key_bytes,))
        .await
        .unwrap();
    raw.query_drop("COMMIT").await.unwrap();

    let (result, mut conn) = task.await.unwrap();
    let result = result.unwrap();
    assert_eq!(result.lock_failures, vec![LockFailure::Deadlock]);
    assert_eq!(LockFailure::Deadlock.errno(), 1213);
    let outcome = result.value.applied().unwrap();
    assert_eq!(
        outcome.count(Transition::Change),
        1,
        "the retry saw the row the other transaction committed"
    );
    let key = StationKey::Mac(key);
    let rows = load_station_rows(&mut conn, WifiObservation::shard().table(), &[key])
        .await
        .unwrap();
    assert_eq!(rows[&key].samples, Some(3));
    assert_eq!(rows[&key].created, None, "created by the raw insert");
}

/// A lock held longer than `innodb_lock_wait_timeout` fails the first attempt with 1205;
/// the retry gets the lock once it is released.
#[tokio::test]
async fn lock_wait_timeout_is_retried() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    insert_station_rows(
        &mut conn,
        WifiObservation::shard().table(),
        &[station::<WifiObservation>(0, LAT, LON)],
    )
    .await
    .unwrap();
    conn.batch_execute("SET SESSION innodb_lock_wait_timeout = 1")
        .await
        .unwrap();
    let mut raw = db.conn().await;
    raw.query_drop("START TRANSACTION").await.unwrap();
    let _: Vec<Vec<u8>> = raw
        .exec(
            "SELECT mac FROM wifi_shard_6 WHERE mac = ? FOR UPDATE",
            (key_bytes(),),
        )
        .await
        .unwrap();

    let task = tokio::spawn(async move {
        let batch = StationBatch::new(make_obs::<WifiObservation>(ReportSource::Gnss, 0.0));
        let marker = BatchMarker::new("update_wifi_6", 7).unwrap();
        apply_wifi(&mut conn, &marker, &batch).await
    });
    tokio::time::sleep(Duration::from_millis(1400)).await;
    raw.query_drop("COMMIT").await.unwrap();
    let result = task.await.unwrap().unwrap();
    assert_eq!(result.lock_failures, vec![LockFailure::LockWaitTimeout]);
    assert_eq!(result.lock_failures[0].errno(), 1205);
    assert_eq!(result.value.applied().unwrap().count(Transition::Change), 1);
}

/// Two connections apply batches for the same stations of one shard at the same time,
/// several rounds: the batches take turns on the table's lock, none deadlocks, and every
/// observation is merged exactly once.
#[tokio::test]
async fn concurrent_batches_on_one_shard_all_land() {
    const ROUNDS: u64 = 5;
    const STATIONS: u8 = 8;
    let db = TestDb::new().await;
    let (pool, _conn) = connect(&db).await;
    let mut tasks = Vec::new();
    for worker in 0..2u64 {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = pool.get().await.unwrap();
            let mut lock_failures = Vec::new();
            for round in 0..ROUNDS {
                let obs: Vec<WifiObservation> = (0..STATIONS)
                    .flat_map(|n| {
                        [
                            WifiObservation::build(n, LAT, LON, ReportSource::Gnss),
                            WifiObservation::build(n, LAT, LON, ReportSource::Gnss),
                        ]
                    })
                    .collect();
                let marker = BatchMarker::new("update_wifi_6", worker * 1000 + round).unwrap();
                let batch = StationBatch::new(obs);
                // As the worker does: a busy table is tried again after a pause.
                let result = loop {
                    match apply_wifi(&mut conn, &marker, &batch).await {
                        Err(e) if e.is_busy() => {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                        other => break other.unwrap(),
                    }
                };
                assert!(result.value.applied().is_some());
                lock_failures.extend(result.lock_failures);
            }
            lock_failures
        }));
    }
    let mut failures = Vec::new();
    for task in tasks {
        failures.extend(task.await.unwrap());
    }
    assert!(
        failures.is_empty(),
        "batches of one table take turns, so they never deadlock: {failures:?}"
    );
    let mut conn = pool.get().await.unwrap();
    let keys: Vec<_> = (0..STATIONS).map(WifiObservation::key).collect();
    let rows = load_station_rows(&mut conn, WifiObservation::shard().table(), &keys)
        .await
        .unwrap();
    assert_eq!(rows.len(), usize::from(STATIONS));
    for row in rows.values() {
        let expected = 2 * 2 * ROUNDS as u32;
        assert_eq!(row.samples, Some(expected), "every batch merged once");
        assert_eq!(row.weight, Some(f64::from(expected)));
        assert_eq!(row.created, Some(now()));
    }
    let marker_rows: Vec<u64> = db
        .conn()
        .await
        .query("SELECT COUNT(*) FROM pipeline_batch")
        .await
        .unwrap();
    assert_eq!(marker_rows, vec![2 * ROUNDS]);
}

#[test]
fn fixture_stations_share_one_shard() {
    let keys: Vec<Mac> = (0..8).map(mac).collect();
    assert!(
        keys.iter()
            .all(|m| ichnaea_core::WifiShard::for_mac(m) == WifiObservation::shard())
    );
}

/// Every pipeline write can run in a spawned task (its future is `Send`), as the worker
/// runs them.
#[tokio::test]
async fn pipeline_writes_run_in_spawned_tasks() {
    use ichnaea_core::{DataMapShard, Grid};
    use ichnaea_db::{areas, datamap, stats};

    let db = TestDb::new().await;
    let (pool, _conn) = connect(&db).await;
    let mut conn = pool.get().await.unwrap();
    let task = tokio::spawn(async move {
        let area = gsm_cell(0).area();
        let areas = areas::update_cell_areas(&mut conn, None, &[area], now(), &TestRegions)
            .await
            .unwrap();
        let grid = Grid::from_position(50.0, 10.0);
        let grids = datamap::update_datamap(&mut conn, DataMapShard::Ne, None, &[grid], now())
            .await
            .unwrap();
        let counters = [stats::StatCounter {
            key: ichnaea_core::StatKey::Wifi,
            day: today(),
            value: 2,
        }];
        let folded = stats::fold_stat_counters(&mut conn, None, &counters, now())
            .await
            .unwrap();
        let regions = stats::update_region_stats(&mut conn).await.unwrap();
        (areas, grids, folded, regions)
    });
    let (areas, grids, folded, regions) = task.await.unwrap();
    assert_eq!(
        areas.value.applied().unwrap(),
        vec![(gsm_cell(0).area(), ichnaea_db::areas::AreaChange::Absent)]
    );
    assert_eq!(grids.value.applied().unwrap().insert.len(), 1);
    assert_eq!(folded.value.applied().unwrap(), counters_after());
    assert_eq!(regions.value, None);
}

fn counters_after() -> Vec<ichnaea_db::stats::StatCounter> {
    vec![ichnaea_db::stats::StatCounter {
        key: ichnaea_core::StatKey::Wifi,
        day: today(),
        value: 2,
    }]
}

/// Batches of one table take its named lock (`ichnaea_db::shard_lock`): while another
/// session holds it a batch is refused as busy, having written nothing (not even its
/// marker); once the lock is free the same batch applies, and releases the lock.
#[tokio::test]
async fn batches_of_one_table_take_turns_on_its_named_lock() {
    let db = TestDb::new().await;
    let (_pool, mut conn) = connect(&db).await;
    let mut raw = db.conn().await;
    let name = "SHA1(CONCAT(DATABASE(), '/', 'wifi_shard_6'))";
    let taken: Option<i32> = raw
        .query_first(format!("SELECT GET_LOCK({name}, 0)"))
        .await
        .unwrap();
    assert_eq!(taken, Some(1));

    let batch = StationBatch::new(make_obs::<WifiObservation>(ReportSource::Gnss, 0.0));
    let marker = BatchMarker::new("update_wifi_6", 11).unwrap();
    let refused = apply_wifi(&mut conn, &marker, &batch).await.unwrap_err();
    assert!(refused.is_busy(), "{refused}");
    assert!(
        !ichnaea_db::markers::is_batch_processed(&mut conn, &marker)
            .await
            .unwrap()
    );

    let _: Option<i32> = raw
        .query_first(format!("SELECT RELEASE_LOCK({name})"))
        .await
        .unwrap();
    let result = apply_wifi(&mut conn, &marker, &batch).await.unwrap();
    assert!(result.lock_failures.is_empty());
    assert_eq!(result.value.applied().unwrap().count(Transition::New), 1);
    let free: Option<i32> = raw
        .query_first(format!("SELECT IS_FREE_LOCK({name})"))
        .await
        .unwrap();
    assert_eq!(free, Some(1), "the batch released the lock");
}
