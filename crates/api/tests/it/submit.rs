//! The submit APIs against real MySQL (keys) and Redis (the queue).

use std::io::Write;

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use ichnaea_api::build_app;
use ichnaea_runtime::GeoIp;
use ichnaea_runtime::queue::INCOMING_REPORTS_PER_ITEM;
use ichnaea_testing::{TestDb, TestRedis};
use serde_json::{Value, json};

use crate::helpers::{add_key, queued, queued_items, received, state, statsd};

const LONDON: &str = "81.2.69.192";

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn cell_report() -> Value {
    json!({"items": [{
        "timestamp": 1_405_602_028_568_i64,
        "position": {"latitude": 51.5, "longitude": -0.1, "accuracy": 10.0},
        "cellTowers": [{"radioType": "lte", "mobileCountryCode": 234, "mobileNetworkCode": 30,
                        "locationAreaCode": 12, "cellId": 345, "signalStrength": -90}]
    }]})
}

#[actix_web::test]
async fn gzip_submission_is_queued_anonymously() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    let app = test::init_service(build_app(state(&db.url(), &redis.url(), GeoIp::none()))).await;
    let res = test::call_service(
        &app,
        TestRequest::post()
            .uri("/v2/geosubmit")
            .insert_header(("Content-Encoding", "gzip"))
            .insert_header(("X-Forwarded-For", LONDON))
            .set_payload(gzip(cell_report().to_string().as_bytes()))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers().get("access-control-allow-origin").unwrap(),
        "*"
    );
    assert_eq!(
        res.headers().get("access-control-max-age").unwrap(),
        "2592000"
    );
    assert_eq!(test::read_body(res).await, "{}");
    let items = queued(&redis).await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["api_key"], Value::Null);
    assert_eq!(items[0]["source"], "gnss");
    assert_eq!(items[0]["report"]["timestamp"], 1_405_602_028_568_i64);
    assert_eq!(items[0]["report"]["cellTowers"][0]["radioType"], "lte");
    assert_eq!(items[0]["report"]["position"]["latitude"], 51.5);
}

/// The reports of one submission travel together: LZ4-compressed JSON arrays of at most
/// `INCOMING_REPORTS_PER_ITEM` entries, in the order they were sent.
#[actix_web::test]
async fn a_submission_is_queued_in_chunks_of_reports() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    let app = test::init_service(build_app(state(&db.url(), &redis.url(), GeoIp::none()))).await;
    let reports: Vec<Value> = (0..120)
        .map(|i| {
            json!({"timestamp": 1_405_602_028_000_i64 + i,
                   "position": {"latitude": 51.5, "longitude": -0.1},
                   "wifiAccessPoints": [{"macAddress": "a82066123456"}]})
        })
        .collect();
    let res = test::call_service(
        &app,
        TestRequest::post()
            .uri("/v2/geosubmit?key=unknown-key")
            .set_json(json!({ "items": reports }))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let items = queued_items(&redis).await;
    let sizes: Vec<usize> = items
        .iter()
        .map(|item| {
            assert_eq!(&item[..4], b"LZ4\x01", "the LZ4 item tag");
            ichnaea_runtime::queue::decode_incoming::<Value>(item)
                .unwrap()
                .len()
        })
        .collect();
    assert_eq!(sizes, [50, 50, 20]);
    assert_eq!(INCOMING_REPORTS_PER_ITEM, 50);
    let entries = queued(&redis).await;
    let stamps: Vec<i64> = entries
        .iter()
        .map(|e| e["report"]["timestamp"].as_i64().unwrap())
        .collect();
    let sent: Vec<i64> = (0..120).map(|i| 1_405_602_028_000_i64 + i).collect();
    assert_eq!(stamps, sent, "every report once, in order");
    assert!(
        entries
            .iter()
            .all(|e| e["api_key"].is_null() && e["source"] == "gnss")
    );
}

#[actix_web::test]
async fn each_version_answers_its_status() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    let app = test::init_service(build_app(state(&db.url(), &redis.url(), GeoIp::none()))).await;
    let v0 = json!({"items": [{"lat": 51.5, "lon": -0.1, "cell": [{"radio": "umts",
        "mcc": 234, "mnc": 30, "lac": 12, "cid": 345}]}]});
    let res = test::call_service(
        &app,
        TestRequest::post()
            .uri("/v1/submit")
            .set_json(&v0)
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(res.headers().get("content-type").is_none());
    assert_eq!(
        res.headers().get("access-control-allow-origin").unwrap(),
        "*"
    );
    let v1 = json!({"items": [{"latitude": 51.5, "longitude": -0.1,
        "wifiAccessPoints": [{"macAddress": "a82066123456"}]}]});
    let res = test::call_service(
        &app,
        TestRequest::post()
            .uri("/v1/geosubmit")
            .set_json(&v1)
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let items = queued(&redis).await;
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["report"]["cellTowers"][0]["radioType"], "wcdma");
}

#[actix_web::test]
async fn parse_errors_match_the_reference() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    let app = test::init_service(build_app(state(&db.url(), &redis.url(), GeoIp::none()))).await;
    let parse_error = json!({"error": {"errors": [{"domain": "global", "reason": "parseError",
        "message": "Parse Error"}], "code": 400, "message": "Parse Error"}});

    let res = test::call_service(&app, TestRequest::get().uri("/v2/geosubmit").to_request()).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(test::read_body_json::<Value, _>(res).await, parse_error);

    let res = test::call_service(
        &app,
        TestRequest::post()
            .uri("/v2/geosubmit")
            .set_payload("")
            .to_request(),
    )
    .await;
    assert_eq!(test::read_body_json::<Value, _>(res).await, parse_error);

    let cases: [(&[u8], Value); 4] = [
        (b"{}", json!({"validation": {"items": "Required"}})),
        (
            b"\xae",
            json!({"decode": "'utf-8' codec can't decode byte 0xae in position 0: invalid start byte"}),
        ),
        (
            b"[1]",
            json!({"validation": {"": "\"[1]\" is not a mapping type: Does not implement dict-like functionality."}}),
        ),
        (
            b"{\"items\": [{\"wifiAccessPoints\": [{\"macAddress\": 10}]}]}",
            json!({"validation": {"items.0.wifiAccessPoints.0.macAddress": "10 is not a string: {'macAddress': ''}"}}),
        ),
    ];
    for (body, details) in cases {
        let res = test::call_service(
            &app,
            TestRequest::post()
                .uri("/v2/geosubmit")
                .set_payload(body.to_vec())
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let got: Value = test::read_body_json(res).await;
        assert_eq!(got["details"], details, "{}", String::from_utf8_lossy(body));
    }
    for (encoding, body) in [
        ("gzip", b"invalid".to_vec()),
        ("gzip", gzip(b"{}")[..10].to_vec()),
    ] {
        let res = test::call_service(
            &app,
            TestRequest::post()
                .uri("/v1/geosubmit")
                .insert_header(("Content-Encoding", encoding))
                .set_payload(body)
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    }
    assert!(queued(&redis).await.is_empty());
}

#[actix_web::test]
async fn keys_sampling_and_limits() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    add_key(&db, "test", |r| r.maxreq = Some(2)).await;
    add_key(&db, "nosample", |r| r.store_sample_submit = Some(0)).await;
    let (server, metrics) = statsd();
    let mut st = state(&db.url(), &redis.url(), GeoIp::none());
    st.metrics = metrics;
    let app = test::init_service(build_app(st)).await;
    let post = |uri: &str| {
        TestRequest::post()
            .uri(uri)
            .insert_header(("X-Forwarded-For", LONDON))
            .set_json(cell_report())
            .to_request()
    };

    for uri in ["/v2/geosubmit?key=test", "/v2/geosubmit?key=test"] {
        assert_eq!(
            test::call_service(&app, post(uri)).await.status(),
            StatusCode::OK
        );
    }
    let res = test::call_service(&app, post("/v2/geosubmit?key=test")).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "over maxreq");
    let items = queued(&redis).await;
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["api_key"], "test", "the queue keeps the key text");

    assert_eq!(
        test::call_service(&app, post("/v2/geosubmit?key=nosample"))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        queued(&redis).await.len(),
        2,
        "store_sample_submit 0 keeps nothing"
    );

    for uri in ["/v2/geosubmit?key=invalid_key", "/v2/geosubmit?key=abcdefg"] {
        assert_eq!(
            test::call_service(&app, post(uri)).await.status(),
            StatusCode::OK
        );
    }
    let items = queued(&redis).await;
    assert_eq!(items.len(), 4);
    assert_eq!(
        items[3]["api_key"],
        Value::Null,
        "unknown keys submit anonymously"
    );

    let mut conn = redis.conn().await;
    let today = chrono::Utc::now().format("%Y-%m-%d");
    let users: Vec<String> = ::redis::cmd("KEYS")
        .arg("apiuser:*")
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut users = users;
    users.sort();
    assert_eq!(
        users,
        vec![
            format!("apiuser:submit:nosample:{today}"),
            format!("apiuser:submit:test:{today}")
        ]
    );
    let count: u64 = ::redis::cmd("GET")
        .arg(format!(
            "apilimit:test:v2.geosubmit:{}",
            chrono::Utc::now().format("%Y%m%d")
        ))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(count, 3, "the refused request counts too");

    let lines = received(&server);
    let label = ichnaea_api::keys::key_label("test");
    assert!(
        lines.contains(&format!("location.data.batch.upload:1|c|#key:{label}")),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"location.submit.request:1|c|#key:invalid,path:v2.geosubmit".to_owned()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"location.submit.request:1|c|#key:none,path:v2.geosubmit".to_owned()),
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("key:test")),
        "raw keys never reach metrics: {lines:?}"
    );
}

#[actix_web::test]
async fn optional_429_for_exhausted_keys() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    add_key(&db, "test", |r| r.maxreq = Some(1)).await;
    let mut st = state(&db.url(), &redis.url(), GeoIp::none());
    let mut settings = (*st.settings).clone();
    settings.daily_limit_http_429 = true;
    st.settings = std::sync::Arc::new(settings);
    let app = test::init_service(build_app(st)).await;
    let post = || {
        TestRequest::post()
            .uri("/v1/geosubmit?key=test")
            .set_json(json!({"items": []}))
            .to_request()
    };
    assert_eq!(
        test::call_service(&app, post()).await.status(),
        StatusCode::OK
    );
    let res = test::call_service(&app, post()).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=86_400).contains(&retry));
}

#[actix_web::test]
async fn redis_down_means_503_and_nothing_stored() {
    let db = TestDb::new().await;
    let app = test::init_service(build_app(state(
        &db.url(),
        "redis://127.0.0.1:1/0",
        GeoIp::none(),
    )))
    .await;
    let res = test::call_service(
        &app,
        TestRequest::post()
            .uri("/v2/geosubmit")
            .set_json(cell_report())
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        res.headers().get("access-control-allow-origin").unwrap(),
        "*"
    );
    let body: Value = test::read_body_json(res).await;
    assert_eq!(body["error"]["errors"][0]["reason"], "serviceUnavailable");
}

#[actix_web::test]
async fn real_client_payloads_are_accepted() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    let app = test::init_service(build_app(state(&db.url(), &redis.url(), GeoIp::none()))).await;
    // NeoStumbler: extra fields, a 5G NR cell with null ids, 802.11ax, an opt-out SSID.
    let neostumbler = json!({"items": [{
        "timestamp": 1_700_000_000_000_i64,
        "position": {"latitude": 52.52, "longitude": 13.405, "accuracy": 8.5, "altitude": 40.0,
                     "source": "gps"},
        "cellTowers": [
            {"radioType": "nr", "mobileCountryCode": 262, "mobileCountryCodeStr": "262",
             "mobileNetworkCode": 1, "mobileNetworkCodeStr": "01", "locationAreaCode": 70000,
             "cellId": 5_000_000_000_i64, "primaryScramblingCode": 800, "arfcn": 632_628,
             "signalStrength": -95, "serving": 1},
            {"radioType": "lte", "mobileCountryCode": null, "mobileNetworkCode": null,
             "locationAreaCode": null, "cellId": null, "primaryScramblingCode": 10}],
        "wifiAccessPoints": [
            {"macAddress": "a8:20:66:12:34:56", "radioType": "802.11ax", "frequency": 5180,
             "signalStrength": -60, "ssid": "cafe"},
            {"macAddress": "a8:20:66:12:34:57", "signalStrength": -70, "ssid": "home_nomap"}],
        "bluetoothBeacons": [{"macAddress": "a8:20:66:12:34:58", "signalStrength": -80,
                              "estimatedDistance": 3.2}]
    }]});
    let res = test::call_service(
        &app,
        TestRequest::post()
            .uri("/v2/geosubmit")
            .set_json(&neostumbler)
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let items = queued(&redis).await;
    assert_eq!(items.len(), 1);
    let report = &items[0]["report"];
    assert_eq!(report["cellTowers"][0]["radioType"], "nr");
    assert_eq!(report["cellTowers"][0]["cellId"], 5_000_000_000_i64);
    let wifis = report["wifiAccessPoints"].as_array().unwrap();
    assert_eq!(wifis.len(), 1, "the _nomap network is dropped at ingest");
    assert!(!items[0].to_string().contains("home_nomap"));
    assert_eq!(report["bluetoothBeacons"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn options_is_a_cors_preflight() {
    let app = test::init_service(build_app(state(
        "mysql://root@127.0.0.1:1/x",
        "redis://127.0.0.1:1/0",
        GeoIp::none(),
    )))
    .await;
    for uri in ["/v2/geosubmit", "/v1/geosubmit", "/v1/submit"] {
        let res = test::call_service(
            &app,
            TestRequest::default()
                .method(actix_web::http::Method::OPTIONS)
                .uri(uri)
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers().get("access-control-allow-origin").unwrap(),
            "*"
        );
        assert!(res.headers().get("content-type").is_none());
        let res = test::call_service(
            &app,
            TestRequest::default()
                .method(actix_web::http::Method::PUT)
                .uri(uri)
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert!(res.headers().get("access-control-allow-origin").is_none());
    }
}
