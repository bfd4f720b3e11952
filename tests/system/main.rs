//! The whole deployment as processes, from an empty database: `ichnaea-admin` migrates
//! it and creates a key, then `ichnaea-api`, `ichnaea-worker` and `ichnaea-scheduler` run
//! side by side, sharing nothing but MySQL and Redis. A submission over HTTP becomes
//! locatable over HTTP, and the scheduler's periodic statistics task, run by the worker,
//! counts it.

use std::collections::HashMap;
use std::time::Duration;

use ichnaea_system_tests::{Service, free_port, run, wait_for};
use ichnaea_testing::{ScratchDb, TestRedis};
use mysql_async::prelude::Queryable as _;
use serde_json::{Value, json};

/// The key the test creates with `ichnaea-admin api-key create`.
const KEY: &str = "system-test";

/// The reports' position; every station is seen from within a metre of it.
const LAT: f64 = 48.8584;
const LON: f64 = 2.2945;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_process_locate_and_count_across_processes() {
    let db = ScratchDb::new().await;
    let redis = TestRedis::new().await;
    let db_url = db.url();
    let redis_url = redis.url();

    let (status, _, stderr) = run(
        "ichnaea-admin",
        &["migrate"],
        &[("DB_READWRITE_URI", db_url.as_str())],
    );
    assert!(status.success(), "migrate failed: {stderr}");
    let (status, _, stderr) = run(
        "ichnaea-admin",
        // Locate queries are not fed back into the pipeline, so the statistics count
        // exactly the submission.
        &["api-key", "create", KEY, "--store-sample-locate", "0"],
        &[("DB_READWRITE_URI", db_url.as_str())],
    );
    assert!(status.success(), "api-key create failed: {stderr}");

    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let api = Service::start(
        "ichnaea-api",
        &["--bind", &bind],
        &[
            ("DB_READONLY_URI", db_url.as_str()),
            ("REDIS_URI", redis_url.as_str()),
            ("ICHNAEA_API_WORKERS", "1"),
            // A production configuration (not LOCAL_DEV_ENV) needs a private secret.
            ("SECRET_KEY", "a-private-secret-for-the-system-test"),
            ("LOGGING_LEVEL", "WARNING"),
        ],
    );
    let base = format!("http://{bind}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client");
    let up = wait_for(Duration::from_secs(30), || async {
        let res = http
            .get(format!("{base}/__lbheartbeat__"))
            .send()
            .await
            .ok()?;
        res.status().is_success().then_some(())
    })
    .await;
    assert!(up.is_some(), "the api did not start\n{}", api.output());

    let wifis = json!([
        {"macAddress": "3c:a6:2f:00:10:01", "signalStrength": -52},
        {"macAddress": "3c:a6:2f:00:10:02", "signalStrength": -63},
        {"macAddress": "3c:a6:2f:00:10:03", "signalStrength": -71}]);
    let cell = json!({"radioType": "lte", "mobileCountryCode": 208, "mobileNetworkCode": 1,
                      "locationAreaCode": 9000, "cellId": 1_234_567, "signalStrength": -90});
    let now_ms = chrono::Utc::now().timestamp_millis();
    let items: Vec<Value> = (0..3)
        .map(|i| {
            json!({"timestamp": now_ms, "wifiAccessPoints": wifis, "cellTowers": [cell],
                   "position": {"latitude": LAT + 0.000_005 * f64::from(i),
                                "longitude": LON, "accuracy": 5.0, "source": "gnss"}})
        })
        .collect();
    let res = http
        .post(format!("{base}/v2/geosubmit?key={KEY}"))
        .json(&json!({ "items": items }))
        .send()
        .await
        .expect("the submission is answered");
    assert_eq!(res.status().as_u16(), 200, "{}", api.output());
    assert_eq!(res.text().await.unwrap_or_default(), "{}");

    let locate = |query: Value| {
        let http = http.clone();
        let url = format!("{base}/v1/geolocate?key={KEY}");
        async move {
            let res = http.post(url).json(&query).send().await.ok()?;
            if res.status().as_u16() != 200 {
                return None;
            }
            res.json::<Value>().await.ok()
        }
    };
    let wifi_query = json!({"considerIp": false, "wifiAccessPoints": wifis});
    let cell_query = json!({"considerIp": false, "cellTowers": [cell]});
    assert!(
        locate(wifi_query.clone()).await.is_none(),
        "nothing is locatable before a worker ran"
    );

    // The worker delivers a single report at once; the scheduler triggers the statistics
    // task every second.
    let worker = Service::start(
        "ichnaea-worker",
        &[],
        &[
            ("DB_READWRITE_URI", db_url.as_str()),
            ("REDIS_URI", redis_url.as_str()),
            ("LOGGING_LEVEL", "WARNING"),
            ("WORKER_POLL_INTERVAL_MS", "100"),
            ("EXPORT_MAX_AGE_SECS", "0"),
            ("WORKER_STATION_MAX_AGE_MS", "0"),
        ],
    );
    let scheduler = Service::start(
        "ichnaea-scheduler",
        &[],
        &[
            ("REDIS_URI", redis_url.as_str()),
            ("LOGGING_LEVEL", "WARNING"),
            ("SCHEDULER_INTERVALS", "data.update_statcounter=1"),
        ],
    );

    for (what, query) in [("WiFi", wifi_query), ("cell", cell_query)] {
        let found = wait_for(Duration::from_secs(60), || locate(query.clone())).await;
        let body = found.unwrap_or_else(|| {
            panic!(
                "the submitted {what} stations did not become locatable\n{}\n{}\n{}",
                api.output(),
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
    let pool =
        mysql_async::Pool::new(mysql_async::Opts::from_url(&db_url).expect("the database URL"));
    let counted = wait_for(Duration::from_secs(30), || {
        let pool = pool.clone();
        let expected = &expected;
        async move {
            let mut conn = pool.get_conn().await.ok()?;
            let rows: Vec<(i8, i64)> = conn
                .query("SELECT `key`, CAST(MAX(`value`) AS SIGNED) FROM `stat` GROUP BY `key`")
                .await
                .ok()?;
            let counts: HashMap<i8, i64> = rows.into_iter().collect();
            (expected.iter().all(|(k, v)| counts.get(k) == Some(v))).then_some(counts)
        }
    })
    .await;
    if counted.is_none() {
        let rows: Vec<(i8, String, i64)> = match pool.get_conn().await {
            Ok(mut conn) => conn
                .query("SELECT `key`, CAST(`time` AS CHAR), `value` FROM `stat` ORDER BY `key`, `time`")
                .await
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        panic!(
            "the statistics task did not count the submission: stat rows (key, day, value) \
             {rows:?}, expected the largest value per key {expected:?}\n{}\n{}",
            worker.output(),
            scheduler.output()
        );
    }
    let _ = pool.disconnect().await;

    // Every service stops cleanly on SIGTERM.
    for service in [scheduler, worker, api] {
        let log = service.output();
        let status = service.terminate(Duration::from_secs(30));
        assert!(
            status.is_some_and(|s| s.success()),
            "{status:?} after SIGTERM\n{log}"
        );
    }
}
