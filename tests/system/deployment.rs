//! The whole deployment as processes, from an empty database: `ichnaea-admin` migrates
//! it and creates a key, then `ichnaea-api`, `ichnaea-worker` and `ichnaea-scheduler` run
//! side by side, sharing nothing but MySQL and Redis. A submission over HTTP becomes
//! locatable over HTTP, and the scheduler's periodic statistics task, run by the worker,
//! counts it.

use std::collections::HashMap;
use std::time::Duration;

use ichnaea_system_tests::{Api, Sample, Service, migrate_and_create_key, start_worker, wait_for};
use ichnaea_testing::{ScratchDb, TestRedis};
use mysql_async::prelude::Queryable as _;
use serde_json::json;

/// The reports' position; every station is seen from within a metre of it.
const LAT: f64 = 48.8584;
const LON: f64 = 2.2945;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_process_locate_and_count_across_processes() {
    let db = ScratchDb::new().await;
    let redis = TestRedis::new().await;
    let db_url = db.url();
    let redis_url = redis.url();

    migrate_and_create_key(&db_url);
    let api = Api::start(&db_url, &redis_url, &[]).await;

    let Sample { wifis, cell, items } = Sample::at(LAT, LON);
    api.geosubmit(&items).await;

    let wifi_query = json!({"considerIp": false, "wifiAccessPoints": wifis});
    let cell_query = json!({"considerIp": false, "cellTowers": [cell]});
    assert!(
        api.locate(&wifi_query).await.is_none(),
        "nothing is locatable before a worker ran"
    );

    // The worker delivers a single report at once; the scheduler triggers the statistics
    // task every second.
    let worker = start_worker(&db_url, &redis_url, &[]);
    let scheduler = Service::start(
        "ichnaea-scheduler",
        &[],
        &[
            ("REDIS_URI", redis_url.as_str()),
            ("LOGGING_LEVEL", "WARNING"),
            ("SCHEDULER_INTERVALS", "data.update_statcounter=1"),
            // The exports have a test of their own (`assets`).
            ("CELL_EXPORT_ENABLED", "false"),
        ],
    );

    for (what, query) in [("WiFi", wifi_query), ("cell", cell_query)] {
        let found = wait_for(Duration::from_secs(60), || api.locate(&query)).await;
        let body = found.unwrap_or_else(|| {
            panic!(
                "the submitted {what} stations did not become locatable\n{}\n{}\n{}",
                api.service.output(),
                worker.output(),
                scheduler.output()
            )
        });
        let lat = body["location"]["lat"].as_f64().unwrap_or(f64::NAN);
        let lng = body["location"]["lng"].as_f64().unwrap_or(f64::NAN);
        assert!(
            (lat - LAT).abs() < 0.001 && (lng - LON).abs() < 0.001,
            "{what}: {body}"
        );
    }

    // Running totals in `stat` (pipeline §8): 9 WiFi and 3 cell observations, 3 new access
    // points and 1 new cell.
    let expected: HashMap<i8, i64> = [(1, 3), (2, 1), (3, 9), (4, 3)].into();
    let (db, expected) = (&db, &expected);
    let counted = wait_for(Duration::from_secs(30), || async move {
        let mut conn = db.conn().await;
        let rows: Vec<(i8, i64)> = conn
            .query("SELECT `key`, CAST(MAX(`value`) AS SIGNED) FROM `stat` GROUP BY `key`")
            .await
            .ok()?;
        let _ = conn.disconnect().await;
        let counts: HashMap<i8, i64> = rows.into_iter().collect();
        (expected.iter().all(|(k, v)| counts.get(k) == Some(v))).then_some(counts)
    })
    .await;
    if counted.is_none() {
        let rows: Vec<(i8, String, i64)> = db
            .conn()
            .await
            .query("SELECT `key`, CAST(`time` AS CHAR), `value` FROM `stat` ORDER BY `key`, `time`")
            .await
            .unwrap_or_default();
        panic!(
            "the statistics task did not count the submission: stat rows (key, day, value) \
             {rows:?}, expected the largest value per key {expected:?}\n{}\n{}",
            worker.output(),
            scheduler.output()
        );
    }

    // Every service stops cleanly on SIGTERM.
    for service in [scheduler, worker, api.service] {
        let log = service.output();
        let status = service.terminate(Duration::from_secs(30));
        assert!(
            status.is_some_and(|s| s.success()),
            "{status:?} after SIGTERM\n{log}"
        );
    }
}
