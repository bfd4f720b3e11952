//! Accuracy regression test: a tiny simulated town is submitted to the real api and worker
//! (in-process, on a test database and Redis), and the held-out queries are evaluated.
//!
//! Thresholds, measured on this dataset (tiny, seed 1) when the test was written and
//! loosened so that noise cannot trip them but a real regression does:
//! * WiFi median error: measured 36 m; fails above 60 m. WiFi
//!   stations in this model are heard up to ~100 m away, so a median beyond 60 m means
//!   the server has stopped triangulating and is returning a single station or a cell.
//! * WiFi found rate: fails below 80 % (measured 95 %): every WiFi query sees ≥ 2
//!   networks, most of which contributors submitted from the surrounding streets.
//! * The share of WiFi answers whose true position is inside the reported accuracy radius:
//!   Ichnaea's accuracy is meant as a 95 % radius (measured 89.5 %); fails below 70 %,
//!   which catches an
//!   accuracy computation that became overconfident (e.g. a p50 instead of a p95).
//! * Cell answers must be found for most queries (≥ 70 %, measured 100 %) and within
//!   5 km at the median (measured 0.4 km).
//! * IP-only queries must be answered from the dataset's GeoIP file.
//!
//! Everything is deterministic except the server's timing, so the numbers only move when
//! the server's algorithms or the generator change.

use std::time::{Duration, Instant};

use actix_web::HttpServer;
use ichnaea_api::{AppState, build_app};
use ichnaea_runtime::Metrics;
use ichnaea_runtime::config::{RawConfig, Role, Settings};
use ichnaea_sim::dataset::{self, GenerateOptions};
use ichnaea_sim::evaluate;
use ichnaea_sim::http::Target;
use ichnaea_sim::presets::Size;
use ichnaea_sim::query::Kind;
use ichnaea_sim::submit::{self, SubmitOptions};
use ichnaea_testing::{TestDb, TestRedis};

fn settings(vars: &[(&str, &str)], role: Role) -> Settings {
    let raw = RawConfig::load_from(
        None,
        vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    )
    .expect("configuration loads");
    Settings::from_raw(&raw, &[role]).expect("configuration is valid")
}

#[actix_web::test]
async fn tiny_world_accuracy_does_not_regress() {
    let started = Instant::now();
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    {
        let pool = ichnaea_db::DbPool::new(&db.pool_config()).unwrap();
        let mut conn = pool.get().await.unwrap();
        let mut key = ichnaea_db::api_key::ApiKeyRow::with_defaults("sim-test");
        key.maxreq = None;
        // Locate queries must not feed back into the stations during the evaluation.
        key.store_sample_locate = Some(0);
        assert!(ichnaea_db::api_key::insert(&mut conn, &key).await.unwrap());
        // Test databases start with empty tables: seed the internal export as the
        // baseline migration does.
        ichnaea_db::export_config::upsert(
            &mut conn,
            &ichnaea_db::export_config::ExportConfigRow {
                name: "internal".into(),
                batch: Some(100),
                schema: Some("internal".into()),
                url: None,
                skip_keys: None,
                skip_sources: None,
            },
        )
        .await
        .unwrap();
    }
    let data = tempfile::tempdir().unwrap();
    let opts = GenerateOptions {
        size: Size::Tiny,
        seed: 1,
        reports: None,
        queries_per_kind: None,
    };
    let manifest = dataset::generate(data.path(), &opts, |_| {}).unwrap();
    let geoip = data.path().join("geoip.mmdb");

    let db_url = db.url();
    let redis_url = redis.url();
    let api = settings(
        &[
            ("LOCAL_DEV_ENV", "true"),
            ("LOGGING_LEVEL", "WARNING"),
            ("DB_READONLY_URI", &db_url),
            ("REDIS_URI", &redis_url),
            ("GEOIP_PATH", geoip.to_str().unwrap()),
        ],
        Role::Api,
    );
    let state = AppState::from_settings(api, Metrics::noop()).unwrap();
    let server = HttpServer::new(move || build_app(state.clone()))
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
    let addr = server.addrs()[0];
    let server = server.run();
    let server_handle = server.handle();
    actix_web::rt::spawn(server);

    let worker = settings(
        &[
            ("LOCAL_DEV_ENV", "true"),
            ("DB_READWRITE_URI", &db_url),
            ("REDIS_URI", &redis_url),
            ("WORKER_POLL_INTERVAL_MS", "50"),
            ("EXPORT_MAX_AGE_SECS", "0"),
            ("WORKER_STATION_MAX_AGE_MS", "0"),
        ],
        Role::Worker,
    );
    let worker_state =
        ichnaea_worker::WorkerState::from_settings(&worker, Metrics::noop()).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = actix_web::rt::spawn(ichnaea_worker::run(worker_state, async move {
        let _ = stopped.await;
    }));

    let target = Target::new(&format!("http://{addr}"), Some("sim-test".into()), 4).unwrap();
    let summary = submit::submit(
        data.path(),
        &target,
        &SubmitOptions {
            concurrency: 4,
            wait_timeout: Duration::from_secs(30),
            poll_interval: Duration::from_millis(200),
        },
        |_| {},
    )
    .await
    .unwrap();
    assert!(summary.caught_up, "pipeline did not catch up: {summary:?}");
    assert_eq!(summary.uploads_failed, 0, "{summary:?}");
    assert_eq!(summary.reports, manifest.training.reports);

    let (report, _) = evaluate::evaluate(data.path(), &target, 8, |_| {})
        .await
        .unwrap();
    let _ = stop.send(());
    let _ = worker.await;
    server_handle.stop(true).await;
    let table = report.markdown();
    println!("{table}");

    let wifi = report.kind(Kind::Wifi).unwrap();
    assert!(
        wifi.found_rate >= 0.8,
        "WiFi found rate regressed:\n{table}"
    );
    assert!(
        wifi.median_m.unwrap() <= 60.0,
        "WiFi median error regressed:\n{table}"
    );
    assert!(
        wifi.within_accuracy.unwrap() >= 0.70,
        "WiFi accuracy radius no longer covers the truth:\n{table}"
    );
    let cell = report.kind(Kind::Cell).unwrap();
    assert!(
        cell.found_rate >= 0.7,
        "cell found rate regressed:\n{table}"
    );
    assert!(
        cell.median_m.unwrap() <= 5_000.0,
        "cell median error regressed:\n{table}"
    );
    let ip = report.kind(Kind::Ip).unwrap();
    assert!(
        ip.found_rate >= 0.99,
        "IP queries not answered from GeoIP:\n{table}"
    );
    println!("accuracy test took {:?}", started.elapsed());
}
