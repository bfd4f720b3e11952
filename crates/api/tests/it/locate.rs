//! `/v1/geolocate` and `/v1/country` against real MySQL, Redis and GeoIP databases.

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use ichnaea_api::build_app;
use ichnaea_core::pipeline::station::StationKey;
use ichnaea_core::{BlueShard, CellId, CellShard, Mac, Radio, WifiShard};
use ichnaea_db::StationTable;
use ichnaea_runtime::GeoIp;
use ichnaea_testing::{TestDb, TestRedis};
use serde_json::{Value, json};

use crate::helpers::{add_key, add_stations, geoip, queued, state, station};

const LONDON_IP: &str = "81.2.69.192";

fn mac(text: &str) -> Mac {
    Mac::parse(text).unwrap()
}

async fn post<S, B>(app: &S, uri: &str, body: Value) -> (StatusCode, Value)
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let res = test::call_service(
        app,
        TestRequest::post()
            .uri(uri)
            .insert_header(("X-Forwarded-For", LONDON_IP))
            .set_json(body)
            .to_request(),
    )
    .await;
    let status = res.status();
    let bytes = test::read_body(res).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[actix_web::test]
async fn wifi_blue_and_cell_positions() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    add_key(&db, "test", |r| r.store_sample_locate = Some(0)).await;
    let wifis = [
        mac("a82066000001"),
        mac("a82167000002"),
        mac("a82268000003"),
    ];
    for (i, m) in wifis.iter().enumerate() {
        add_stations(
            &db,
            StationTable::Wifi(WifiShard::for_mac(m)),
            &[station(StationKey::Mac(*m), 51.5 + 0.0001 * i as f64, -0.1)],
        )
        .await;
    }
    let blues = [mac("b82066000001"), mac("b82066000002")];
    add_stations(
        &db,
        StationTable::Blue(BlueShard::for_mac(&blues[0])),
        &[
            station(StationKey::Mac(blues[0]), 48.85, 2.35),
            station(StationKey::Mac(blues[1]), 48.8501, 2.35),
        ],
    )
    .await;
    let lte = CellId::new(Radio::Lte, 262, 1, 5, 12_345).unwrap();
    let nr = CellId::new(Radio::Nr, 262, 1, 70_000, 5_000_000_000).unwrap();
    let mut lte_row = station(StationKey::Cell(lte), 52.52, 13.405);
    lte_row.radius = Some(2000);
    let mut nr_row = station(StationKey::Cell(nr), 52.53, 13.41);
    nr_row.radius = Some(800);
    add_stations(
        &db,
        StationTable::Cell(CellShard::for_radio(Radio::Lte)),
        &[lte_row],
    )
    .await;
    add_stations(
        &db,
        StationTable::Cell(CellShard::for_radio(Radio::Nr)),
        &[nr_row],
    )
    .await;

    let (geo, _dir) = geoip(10);
    let app = test::init_service(build_app(state(&db.url(), &redis.url(), geo))).await;

    let (status, body) = post(
        &app,
        "/v1/geolocate?key=test",
        json!({"wifiAccessPoints": [
            {"macAddress": "a8:20:66:00:00:01", "signalStrength": -60},
            {"macAddress": "a8:21:67:00:00:02", "signalStrength": -70},
            {"macAddress": "a8:22:68:00:00:03"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let lat = body["location"]["lat"].as_f64().unwrap();
    assert!((lat - 51.5001).abs() < 0.0002, "{body}");
    assert!((body["location"]["lng"].as_f64().unwrap() + 0.1).abs() < 0.0001);
    let accuracy = body["accuracy"].as_f64().unwrap();
    assert!((10.0..=500.0).contains(&accuracy), "{body}");
    assert!(body.get("fallback").is_none());

    let (status, body) = post(
        &app,
        "/v1/geolocate?key=test",
        json!({"bluetoothBeacons": [{"macAddress": "b82066000001"}, {"macAddress": "b82066000002"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        (body["location"]["lat"].as_f64().unwrap() - 48.85).abs() < 0.001,
        "{body}"
    );

    let (status, body) = post(
        &app,
        "/v1/geolocate?key=test",
        json!({"considerIp": false, "cellTowers": [{"radioType": "lte", "mobileCountryCode": 262,
            "mobileNetworkCode": 1, "locationAreaCode": 5, "cellId": 12345}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["location"], json!({"lat": 52.52, "lng": 13.405}));
    assert_eq!(body["accuracy"], 2000.0);

    let (status, body) = post(
        &app,
        "/v1/geolocate?key=test",
        json!({"considerIp": false, "cellTowers": [{"radioType": "nr", "mobileCountryCode": 262,
            "mobileNetworkCode": 1, "locationAreaCode": 70000, "newRadioCellId": 5_000_000_000_i64}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "5G NR end to end: {body}");
    assert_eq!(body["location"], json!({"lat": 52.53, "lng": 13.41}));
    assert_eq!(body["accuracy"], 1000.0, "clamped to the cell minimum");
}

#[actix_web::test]
async fn geoip_answers_and_not_found() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    add_key(&db, "test", |_| {}).await;
    let (geo, _dir) = geoip(10);
    let app = test::init_service(build_app(state(&db.url(), &redis.url(), geo))).await;

    // IP only: the London record; no fallback key for a purely IP-based query.
    let (status, body) = post(&app, "/v1/geolocate?key=test", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["location"], json!({"lat": 51.5142, "lng": -0.0931}));
    assert!(body.get("fallback").is_none(), "{body}");

    // Networks we do not know: GeoIP answers with the ipf tag.
    let (status, body) = post(
        &app,
        "/v1/geolocate?key=test",
        json!({"wifiAccessPoints": [{"macAddress": "a82066999991"}, {"macAddress": "a82066999992"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["fallback"], "ipf");

    // No IP data: 404 notFound.
    let res = test::call_service(
        &app,
        TestRequest::post()
            .uri("/v1/geolocate?key=test")
            .insert_header(("X-Forwarded-For", "127.0.0.1"))
            .set_json(json!({}))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        res.headers().get("access-control-allow-origin").unwrap(),
        "*"
    );
    let body: Value = test::read_body_json(res).await;
    assert_eq!(body["error"]["errors"][0]["reason"], "notFound");

    // The region API: GeoIP and cells.
    let (status, body) = post(&app, "/v1/country?key=test", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"country_code": "GB", "country_name": "United Kingdom"})
    );
    let res = test::call_service(
        &app,
        TestRequest::post()
            .uri("/v1/country?key=test")
            .insert_header(("X-Forwarded-For", "127.0.0.1"))
            .set_json(
                json!({"cellTowers": [{"radioType": "gsm", "mobileCountryCode": 262,
                "mobileNetworkCode": 1, "locationAreaCode": 5, "cellId": 6}]}),
            )
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = test::read_body_json(res).await;
    assert_eq!(
        body,
        json!({"country_code": "DE", "country_name": "Germany"})
    );
}

#[actix_web::test]
async fn key_rules() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    add_key(&db, "nolocate", |r| r.allow_locate = Some(false)).await;
    add_key(&db, "noregion", |r| r.allow_region = Some(false)).await;
    add_key(&db, "limited", |r| r.maxreq = Some(1)).await;
    let app = test::init_service(build_app(state(&db.url(), &redis.url(), GeoIp::none()))).await;
    let invalid = |body: &Value| body["error"]["errors"][0]["reason"] == "keyInvalid";
    for uri in [
        "/v1/geolocate",
        "/v1/geolocate?key=invalid_key",
        "/v1/geolocate?key=unknownkey",
        "/v1/geolocate?key=nolocate",
        "/v1/country?key=noregion",
        "/v1/country",
    ] {
        let (status, body) = post(&app, uri, json!({})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(invalid(&body), "{uri}: {body}");
    }
    // Key problems come before body problems.
    let res = test::call_service(
        &app,
        TestRequest::post()
            .uri("/v1/geolocate")
            .set_payload("garbage")
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = test::read_body_json(res).await;
    assert!(invalid(&body));

    let (status, _) = post(&app, "/v1/geolocate?key=limited", json!({})).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "allowed, but nothing knows this client"
    );
    let (status, body) = post(&app, "/v1/geolocate?key=limited", json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["errors"][0]["reason"], "dailyLimitExceeded");
    // The region API is never limited.
    for _ in 0..3 {
        let (status, _) = post(&app, "/v1/country?key=limited", json!({})).await;
        assert_ne!(status, StatusCode::FORBIDDEN);
    }

    // Validation errors on a non-empty body.
    let (status, body) = post(&app, "/v1/geolocate?key=limited", json!([1])).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "still limited first: {body}");
    let (status, body) = post(
        &app,
        "/v1/country?key=noregion",
        json!({"wifiAccessPoints": 5}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(invalid(&body));
}

#[actix_web::test]
async fn sampled_queries_feed_the_pipeline() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    add_key(&db, "test", |_| {}).await;
    let blues = [mac("b82066000001"), mac("b82066000002")];
    add_stations(
        &db,
        StationTable::Blue(BlueShard::for_mac(&blues[0])),
        &[
            station(StationKey::Mac(blues[0]), 51.5, -0.1),
            station(StationKey::Mac(blues[1]), 51.5001, -0.1),
        ],
    )
    .await;
    let app = test::init_service(build_app(state(&db.url(), &redis.url(), GeoIp::none()))).await;
    let body = json!({"bluetoothBeacons": [
        {"macAddress": "b82066000001", "signalStrength": -50},
        {"macAddress": "b82066000002", "name": "my-beacon"}]});
    let (status, answer) = post(&app, "/v1/geolocate?key=test", body.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let items = queued(&redis).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["api_key"], "test");
    assert_eq!(items[0]["source"], "query");
    let report = &items[0]["report"];
    assert_eq!(report["position"]["source"], "query");
    assert_eq!(report["position"]["latitude"], answer["location"]["lat"]);
    assert_eq!(report["bluetoothBeacons"][0]["macAddress"], "b82066000001");
    assert_eq!(report["bluetoothBeacons"][1]["name"], "my-beacon");

    // A global rate of 0 stops the export.
    let mut conn = redis.conn().await;
    let _: () = ::redis::cmd("SET")
        .arg("global_locate_sample_rate")
        .arg("0")
        .query_async(&mut conn)
        .await
        .unwrap();
    post(&app, "/v1/geolocate?key=test", body.clone()).await;
    assert_eq!(queued(&redis).await.len(), 1);
    // Region queries are never exported.
    let _: () = ::redis::cmd("DEL")
        .arg("global_locate_sample_rate")
        .query_async(&mut conn)
        .await
        .unwrap();
    post(&app, "/v1/country?key=test", body).await;
    assert_eq!(queued(&redis).await.len(), 1);
}

#[actix_web::test]
async fn database_down_still_answers_from_geoip() {
    let redis = TestRedis::new().await;
    let (geo, _dir) = geoip(10);
    let app = test::init_service(build_app(state(
        "mysql://root@127.0.0.1:1/location",
        &redis.url(),
        geo,
    )))
    .await;
    // The key cannot be checked: the default key serves the request (api.md §7.6).
    let (status, body) = post(
        &app,
        "/v1/geolocate?key=anykey",
        json!({"wifiAccessPoints": [{"macAddress": "a82066999991"}, {"macAddress": "a82066999992"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["fallback"], "ipf");
}

#[actix_web::test]
async fn unknown_keys_are_cached_and_redis_outages_fail_open() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    let (geo, _dir) = geoip(10);
    let app = test::init_service(build_app(state(&db.url(), &redis.url(), geo))).await;
    let (status, _) = post(&app, "/v1/geolocate?key=late-key", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Created now, but the negative cache entry holds (as in the reference) until it expires.
    add_key(&db, "late-key", |_| {}).await;
    let (status, _) = post(&app, "/v1/geolocate?key=late-key", json!({})).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "negative entries are cached"
    );

    // Redis down: limits are not enforced, the answer still comes (GeoIP here).
    add_key(&db, "limited", |r| r.maxreq = Some(1)).await;
    let (geo, _dir2) = geoip(10);
    let app = test::init_service(build_app(state(&db.url(), "redis://127.0.0.1:1/0", geo))).await;
    for _ in 0..3 {
        let (status, body) = post(&app, "/v1/geolocate?key=limited", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

#[actix_web::test]
async fn locate_metrics_use_key_labels() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    add_key(&db, "test", |_| {}).await;
    let (geo, _dir) = geoip(10);
    let (server, metrics) = crate::helpers::statsd();
    let mut st = state(&db.url(), &redis.url(), geo);
    st.metrics = metrics;
    let app = test::init_service(build_app(st)).await;
    post(&app, "/v1/geolocate?key=test", json!({})).await;
    post(&app, "/v1/geolocate", json!({})).await;
    post(&app, "/v1/country?key=test", json!({})).await;
    let lines = crate::helpers::received(&server);
    let label = ichnaea_api::keys::key_label("test");
    for expected in [
        // Only GeoIP ran: the query has no networks, so the internal source did not.
        format!("location.locate.source:1|c|#key:{label},source:geoip,accuracy:low,status:hit"),
        format!("location.region.source:1|c|#key:{label},source:geoip,accuracy:low,status:hit"),
        format!("location.locate.request:1|c|#key:{label},path:v1.geolocate"),
        "location.locate.request:1|c|#key:none,path:v1.geolocate".to_owned(),
        format!("location.locate.query:1|c|#key:{label},blue:none,cell:none,wifi:none"),
        format!(
            "location.locate.result:1|c|#key:{label},fallback_allowed:false,accuracy:low,status:hit,source:geoip"
        ),
        "location.request:1|c|#path:v1.geolocate,method:post,status:200".to_owned(),
        "location.request:1|c|#path:v1.geolocate,method:post,status:400".to_owned(),
    ] {
        assert!(
            lines.contains(&expected),
            "missing {expected} in {lines:#?}"
        );
    }
    assert!(!lines.iter().any(|l| l.contains("key:test")));
    assert!(
        !lines.iter().any(|l| l.contains("source:internal")),
        "the internal source did not run: {lines:#?}"
    );
}

/// Known stations are answered from the api's cache for `LOCATE_CACHE_TTL_SECS` (a
/// change in MySQL shows only after that); networks MySQL did not know are asked for
/// again, so stations the pipeline just wrote are used at once. A cache of size 0 reads
/// MySQL every time.
#[actix_web::test]
async fn known_stations_are_cached_and_new_ones_found_at_once() {
    use mysql_async::prelude::Queryable;

    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    add_key(&db, "test", |r| r.store_sample_locate = Some(0)).await;
    let known = [mac("a82066000011"), mac("a82066000012")];
    let new = [mac("a82066000013"), mac("a82066000014")];
    for (i, m) in known.iter().enumerate() {
        add_stations(
            &db,
            StationTable::Wifi(WifiShard::for_mac(m)),
            &[station(StationKey::Mac(*m), 51.5 + 0.0001 * i as f64, -0.1)],
        )
        .await;
    }
    let query = |macs: &[Mac]| {
        let aps: Vec<Value> = macs
            .iter()
            .map(|m| {
                let hex: String = m.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
                json!({"macAddress": hex})
            })
            .collect();
        json!({"considerIp": false, "wifiAccessPoints": aps})
    };
    let lat = |body: &Value| body["location"]["lat"].as_f64().unwrap();
    let (geo, _dir) = geoip(10);
    let cached = test::init_service(build_app(state(&db.url(), &redis.url(), geo))).await;
    let (geo, _dir2) = geoip(10);
    let mut uncached_state = state(&db.url(), &redis.url(), geo);
    uncached_state.stations =
        ichnaea_api::station_cache::StationCache::new(0, std::time::Duration::from_secs(60));
    let uncached = test::init_service(build_app(uncached_state)).await;

    let (status, body) = post(&cached, "/v1/geolocate?key=test", query(&known)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!((lat(&body) - 51.5).abs() < 0.001, "{body}");
    let (status, _) = post(&cached, "/v1/geolocate?key=test", query(&new)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Behind the api's back: the known stations move to Paris, the new ones appear there.
    let mut conn = db.conn().await;
    for m in &known {
        conn.exec_drop(
            format!(
                "UPDATE {} SET lat = 48.85, lon = 2.35, max_lat = 48.85, min_lat = 48.85, \
                 max_lon = 2.35, min_lon = 2.35 WHERE mac = ?",
                WifiShard::for_mac(m).table_name()
            ),
            (m.as_bytes().to_vec(),),
        )
        .await
        .unwrap();
    }
    for (i, m) in new.iter().enumerate() {
        add_stations(
            &db,
            StationTable::Wifi(WifiShard::for_mac(m)),
            &[station(
                StationKey::Mac(*m),
                48.86 + 0.0001 * i as f64,
                2.35,
            )],
        )
        .await;
    }

    // The cached rows still say London; the new stations are found at once.
    let (status, body) = post(&cached, "/v1/geolocate?key=test", query(&known)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!((lat(&body) - 51.5).abs() < 0.001, "{body}");
    let (status, body) = post(&cached, "/v1/geolocate?key=test", query(&new)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!((lat(&body) - 48.86).abs() < 0.001, "{body}");
    // Without a cache the move shows at once.
    let (status, body) = post(&uncached, "/v1/geolocate?key=test", query(&known)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!((lat(&body) - 48.85).abs() < 0.001, "{body}");
}
