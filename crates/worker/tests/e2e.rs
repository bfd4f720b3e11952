//! End to end: a submission through the HTTP API, processed by a real worker process,
//! makes its stations locatable through the HTTP API.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use ichnaea_api::{AppState, build_app};
use ichnaea_db::DbPool;
use ichnaea_db::api_key::{self, ApiKeyRow};
use ichnaea_db::export_config::{self, ExportConfigRow};
use ichnaea_runtime::Metrics;
use ichnaea_runtime::config::{RawConfig, Role, Settings};
use ichnaea_testing::{TestDb, TestRedis};
use serde_json::{Value, json};

#[actix_web::test]
async fn submit_process_locate() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    {
        let pool = DbPool::new(&db.pool_config()).unwrap();
        let mut conn = pool.get().await.unwrap();
        api_key::insert(&mut conn, &ApiKeyRow::with_defaults("test"))
            .await
            .unwrap();
        export_config::upsert(
            &mut conn,
            &ExportConfigRow {
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
    let raw = RawConfig::load_from(
        None,
        [
            ("LOCAL_DEV_ENV", "true"),
            ("DB_READONLY_URI", db.url().as_str()),
            ("REDIS_URI", redis.url().as_str()),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    )
    .unwrap();
    let settings = Settings::from_raw(&raw, &[Role::Api]).unwrap();
    let app = test::init_service(build_app(
        AppState::from_settings(settings, Metrics::noop()).unwrap(),
    ))
    .await;

    let wifis = json!([
        {"macAddress": "12:34:56:00:00:01", "signalStrength": -55},
        {"macAddress": "12:34:56:00:00:02", "signalStrength": -65},
        {"macAddress": "12:34:56:00:00:03", "signalStrength": -75}]);
    let now_ms = chrono::Utc::now().timestamp_millis();
    let items: Vec<Value> = (0..3)
        .map(|i| {
            json!({"timestamp": now_ms, "wifiAccessPoints": wifis,
                   "position": {"latitude": 52.5163 + 0.00001 * f64::from(i),
                                "longitude": 13.3777, "accuracy": 8.0, "source": "gnss"}})
        })
        .collect();
    let res = test::call_service(
        &app,
        TestRequest::post()
            .uri("/v2/geosubmit?key=test")
            .set_json(json!({"items": items}))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);

    let locate = || {
        TestRequest::post()
            .uri("/v1/geolocate?key=test")
            .insert_header(("X-Forwarded-For", "127.0.0.1"))
            .set_json(json!({"considerIp": false, "wifiAccessPoints": wifis}))
            .to_request()
    };
    assert_eq!(
        test::call_service(&app, locate()).await.status(),
        StatusCode::NOT_FOUND,
        "nothing is known before the worker ran"
    );

    let mut worker = Command::new(env!("CARGO_BIN_EXE_ichnaea-worker"))
        .env("DB_READWRITE_URI", db.url())
        .env("REDIS_URI", redis.url())
        .env("LOCAL_DEV_ENV", "true")
        .env("LOGGING_LEVEL", "WARNING")
        .env("WORKER_POLL_INTERVAL_MS", "100")
        .env("EXPORT_MAX_AGE_SECS", "0")
        .env("WORKER_STATION_MAX_AGE_MS", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let found = loop {
        let res = test::call_service(&app, locate()).await;
        if res.status() == StatusCode::OK {
            break Some(test::read_body_json::<Value, _>(res).await);
        }
        if started.elapsed() > Duration::from_secs(30) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    worker.kill().unwrap();
    worker.wait().unwrap();
    let body = found.expect("the submitted stations became locatable within 30 s");
    let lat = body["location"]["lat"].as_f64().unwrap();
    let lng = body["location"]["lng"].as_f64().unwrap();
    assert!(
        (lat - 52.5163).abs() < 0.001 && (lng - 13.3777).abs() < 0.001,
        "{body}"
    );
}
