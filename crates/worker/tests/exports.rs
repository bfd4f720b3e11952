//! `update_incoming` distribution and the exporters, against real MySQL and Redis, a
//! local directory and a local HTTP server standing in for another Ichnaea server.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers panic when their setup fails"
)]

use std::io::Read;
use std::sync::{Arc, Mutex};

use ichnaea_db::DbPool;
use ichnaea_db::export_config::{self, ExportConfigRow};
use ichnaea_runtime::config::{RawConfig, Role, Settings};
use ichnaea_runtime::queue::{encode_incoming, encode_json_gzip};
use ichnaea_runtime::{Batch, Metrics};
use ichnaea_testing::{TestDb, TestRedis};
use ichnaea_worker::WorkerState;
use ichnaea_worker::tasks::{export, incoming};
use serde_json::{Value, json};

fn state(db: &TestDb, redis: &TestRedis) -> WorkerState {
    let raw = RawConfig::load_from(
        None,
        [
            ("LOCAL_DEV_ENV", "true"),
            ("DB_READWRITE_URI", db.url().as_str()),
            ("REDIS_URI", redis.url().as_str()),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    )
    .unwrap();
    let settings = Settings::from_raw(&raw, &[Role::Worker]).unwrap();
    WorkerState::from_settings(&settings, Metrics::noop()).unwrap()
}

fn config(name: &str, schema: &str, url: Option<String>) -> ExportConfigRow {
    ExportConfigRow {
        name: name.into(),
        batch: Some(10),
        schema: Some(schema.into()),
        url,
        skip_keys: None,
        skip_sources: None,
    }
}

fn entry(api_key: Option<&str>, source: &str, lat: f64) -> Value {
    json!({
        "api_key": api_key,
        "source": source,
        "report": {"timestamp": 1_700_000_000_000_i64,
                   "position": {"latitude": lat, "longitude": -0.1},
                   "wifiAccessPoints": [{"macAddress": "a82066000001"}]},
    })
}

/// A queue item of one report, in the reference's format (a JSON object).
fn item(api_key: Option<&str>, source: &str, lat: f64) -> Vec<u8> {
    encode_json_gzip(&entry(api_key, source, lat)).unwrap()
}

async fn lrange(redis: &TestRedis, key: &str) -> Vec<Value> {
    let mut conn = redis.conn().await;
    let items: Vec<Vec<u8>> = redis::cmd("LRANGE")
        .arg(key)
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .unwrap();
    items
        .iter()
        .map(|i| serde_json::from_slice(i).unwrap())
        .collect()
}

#[tokio::test]
async fn distribution_follows_skip_rules_and_is_not_repeated() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    {
        let pool = DbPool::new(&db.pool_config()).unwrap();
        let mut conn = pool.get().await.unwrap();
        export_config::upsert(&mut conn, &config("all", "dummy", None))
            .await
            .unwrap();
        let mut picky = config("picky", "dummy", None);
        picky.skip_keys = Some("secret-key".into());
        picky.skip_sources = Some("query".into());
        export_config::upsert(&mut conn, &picky).await.unwrap();
    }
    let state = state(&db, &redis);
    let batch = Batch {
        id: 77,
        deliveries: 1,
        items: vec![
            item(None, "gnss", 1.0),
            item(Some("secret-key"), "gnss", 2.0),
            // Two reports in one item, as the api queues a submission.
            encode_incoming(&[
                entry(Some("other"), "query", 3.0),
                entry(Some("other"), "fused", 4.0),
            ])
            .unwrap()
            .remove(0),
            b"not gzip".to_vec(),
        ],
    };
    incoming::handle(&state, &batch).await.unwrap();
    incoming::handle(&state, &batch).await.unwrap(); // a redelivery
    let all = lrange(&redis, "queue_export_all").await;
    assert_eq!(all.len(), 4, "everything once, the garbage item dropped");
    assert_eq!(all[0]["api_key"], Value::Null);
    assert_eq!(all[0]["source"], "gnss");
    let picky = lrange(&redis, "queue_export_picky").await;
    let lats: Vec<f64> = picky
        .iter()
        .map(|i| i["report"]["position"]["latitude"].as_f64().unwrap())
        .collect();
    assert_eq!(lats, [1.0, 4.0], "no skipped key, no query source");
}

#[tokio::test]
async fn backup_writes_gzipped_reports_per_source_and_key() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    let state = state(&db, &redis);
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "file://{}/backups/{{source}}/{{api_key}}/{{year}}/{{month}}/{{day}}",
        dir.path().display()
    );
    let backup = config("backup", "s3", Some(url));
    let raw: Vec<Vec<u8>> = [
        (None, "gnss", 1.0),
        (Some("k1"), "gnss", 2.0),
        (None, "gnss", 3.0),
    ]
    .iter()
    .map(|(k, s, lat)| {
        serde_json::to_vec(&json!({"api_key": k, "source": s,
                "report": {"position": {"latitude": lat}}}))
        .unwrap()
    })
    .collect();
    let batch = Batch {
        id: 9,
        deliveries: 1,
        items: raw,
    };
    export::export(&state, &backup, &batch).await.unwrap();
    export::export(&state, &backup, &batch).await.unwrap(); // redelivery overwrites
    let today = chrono::Utc::now().format("%Y/%m/%d").to_string();
    let anon = dir
        .path()
        .join(format!("backups/gnss/no_key/{today}/9-0.json.gz"));
    let keyed = dir
        .path()
        .join(format!("backups/gnss/k1/{today}/9-1.json.gz"));
    let read = |p: &std::path::Path| -> Value {
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(p).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        serde_json::from_str(&text).unwrap()
    };
    assert_eq!(read(&anon)["items"].as_array().unwrap().len(), 2);
    assert_eq!(read(&keyed)["items"][0]["position"]["latitude"], 2.0);
    let files = walk(dir.path());
    assert_eq!(files, 2, "no duplicate objects after a redelivery");
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            if p.is_dir() { walk(&p) } else { 1 }
        })
        .sum()
}

/// What the stand-in server received: the `Content-Encoding` header and the body.
type Received = (Option<String>, Value);

#[actix_web::test]
async fn geosubmit_forwarding_posts_gzip_and_retries() {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let failures = Arc::new(Mutex::new(1u32));
    let (r, f) = (received.clone(), failures.clone());
    let server = HttpServer::new(move || {
        let (r, f) = (r.clone(), f.clone());
        App::new().route(
            "/v2/geosubmit",
            web::post().to(move |req: HttpRequest, body: web::Bytes| {
                let (r, f) = (r.clone(), f.clone());
                async move {
                    let mut fail = f.lock().unwrap();
                    if *fail > 0 {
                        *fail -= 1;
                        return HttpResponse::ServiceUnavailable().finish();
                    }
                    let mut text = String::new();
                    flate2::read::GzDecoder::new(&body[..])
                        .read_to_string(&mut text)
                        .unwrap();
                    let encoding = req
                        .headers()
                        .get("content-encoding")
                        .map(|v| v.to_str().unwrap().to_owned());
                    r.lock()
                        .unwrap()
                        .push((encoding, serde_json::from_str(&text).unwrap()));
                    HttpResponse::Ok().json(json!({}))
                }
            }),
        )
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());

    let state = state(&db, &redis);
    let forward = config(
        "tostage",
        "geosubmit",
        Some(format!("http://127.0.0.1:{port}/v2/geosubmit")),
    );
    let raw =
        vec![serde_json::to_vec(&json!({"api_key": null, "report": {"ssid_kept": true}})).unwrap()];
    let batch = Batch {
        id: 1,
        deliveries: 1,
        items: raw,
    };
    export::export(&state, &forward, &batch).await.unwrap();
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "one failure, then success");
    assert_eq!(got[0].0.as_deref(), Some("gzip"));
    assert_eq!(got[0].1, json!({"items": [{"ssid_kept": true}]}));

    // A target that never answers well fails the batch (it stays queued).
    let broken = config(
        "broken",
        "geosubmit",
        Some("http://127.0.0.1:1/v2/geosubmit".into()),
    );
    assert!(export::export(&state, &broken, &batch).await.is_err());
    // An unknown schema leaves the batch queued too.
    assert!(
        export::export(&state, &config("odd", "carrier-pigeon", None), &batch)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn backup_to_an_s3_compatible_store() {
    use object_store::ObjectStoreExt;
    ichnaea_testing::TestS3::require_aws_env();
    let s3 = ichnaea_testing::TestS3::start("backups").await;
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    let mut state = state(&db, &redis);
    state.assets.s3_endpoint = Some(s3.endpoint().to_owned());
    let backup = config(
        "backup",
        "backup",
        Some("s3://backups/{source}/{year}".into()),
    );
    let raw = vec![
        serde_json::to_vec(&json!({"api_key": null, "source": "query", "report": {"a": 1}}))
            .unwrap(),
    ];
    export::export(
        &state,
        &backup,
        &Batch {
            id: 5,
            deliveries: 1,
            items: raw,
        },
    )
    .await
    .unwrap();
    let target = ichnaea_runtime::object_store::for_url("s3://backups/", &state.assets).unwrap();
    let year = chrono::Utc::now().format("%Y").to_string();
    let object = target
        .store
        .get(&object_store::path::Path::from(format!(
            "query/{year}/5-0.json.gz"
        )))
        .await
        .unwrap();
    let bytes = object.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"items": [{"a": 1}]})
    );
}

/// The internal export queues a report's grid cell for the datamap once a day per
/// process: later reports from the same cell add observations but no datamap items.
#[tokio::test]
async fn datamap_cells_are_queued_once_a_day_per_process() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    let now_ms = chrono::Utc::now().timestamp_millis();
    let report = |lat: f64, mac: &str| {
        serde_json::to_vec(&json!({
            "api_key": null,
            "report": {"timestamp": now_ms,
                       "position": {"latitude": lat, "longitude": 13.4, "accuracy": 10.0},
                       "wifiAccessPoints": [{"macAddress": mac, "signalStrength": -60}]},
        }))
        .unwrap()
    };
    let internal = config("internal", "internal", None);
    let batch = |id: u64, items: Vec<Vec<u8>>| Batch {
        id,
        deliveries: 1,
        items,
    };
    let first = state(&db, &redis);
    export::export(
        &first,
        &internal,
        &batch(
            1,
            vec![report(52.5, "a82066000001"), report(52.6, "a82066000002")],
        ),
    )
    .await
    .unwrap();
    // The same two cells again, and a new one.
    export::export(
        &first,
        &internal,
        &batch(
            2,
            vec![
                report(52.5, "a82066000003"),
                report(52.6, "a82066000004"),
                report(52.7, "a82066000005"),
            ],
        ),
    )
    .await
    .unwrap();
    assert_eq!(datamap_items(&redis).await, 3, "each cell once");
    let mut observations = 0;
    for shard in 0..16 {
        let key = format!("update_wifi_{shard:x}");
        observations += lrange(&redis, &key).await.len();
    }
    assert_eq!(observations, 5, "every observation is queued");
    // Another worker process has its own memory of the day's cells.
    let second = state(&db, &redis);
    export::export(
        &second,
        &internal,
        &batch(3, vec![report(52.5, "a82066000006")]),
    )
    .await
    .unwrap();
    assert_eq!(datamap_items(&redis).await, 4);
}

async fn datamap_items(redis: &TestRedis) -> usize {
    let mut conn = redis.conn().await;
    ::redis::cmd("LLEN")
        .arg("update_datamap_ne")
        .query_async(&mut conn)
        .await
        .unwrap()
}
