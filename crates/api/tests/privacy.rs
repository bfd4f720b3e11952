//! No IP address, MAC address or API key reaches a log line.
//!
//! A test binary of its own: the test installs a thread-local `tracing` subscriber, and
//! `tracing` caches per call site whether anyone listens. Beside other tests running
//! without a subscriber in the same process (plain `cargo test` runs a binary's tests on
//! parallel threads), a call site could be cached as disabled and the log stay empty.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers panic when their setup fails"
)]

#[path = "it/helpers.rs"]
#[expect(dead_code, reason = "this binary uses only some of the shared helpers")]
mod helpers;

use std::sync::{Arc, Mutex};

use actix_web::test::{self, TestRequest};
use ichnaea_api::build_app;
use ichnaea_runtime::telemetry::MozLog;
use ichnaea_testing::{TestDb, TestRedis};
use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

use helpers::{add_key, geoip, state};

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buf {
    type Writer = Buf;
    fn make_writer(&'a self) -> Buf {
        self.clone()
    }
}

#[actix_web::test]
async fn logs_carry_no_personal_data_or_secrets() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    let secret_key = "0f1e2d3c-secret-api-key";
    add_key(&db, secret_key, |_| {}).await;
    let (geo, _dir) = geoip(10);
    let buf = Buf::default();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::DEBUG)
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(MozLog::new("ichnaea"))
                .with_writer(buf.clone()),
        );
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = test::init_service(build_app(state(&db.url(), &redis.url(), geo))).await;
    let body = json!({
        "wifiAccessPoints": [{"macAddress": "a8:20:66:7a:bc:01", "ssid": "home"},
                             {"macAddress": "a8:20:66:7a:bc:02"}],
        "cellTowers": [{"radioType": "lte", "mobileCountryCode": 262, "mobileNetworkCode": 1,
                        "locationAreaCode": 4242, "cellId": 987654}]
    });
    for uri in [
        format!("/v1/geolocate?key={secret_key}"),
        format!("/v1/country?key={secret_key}"),
        "/v1/geolocate?key=wrong-key-text".to_owned(),
    ] {
        test::call_service(
            &app,
            TestRequest::post()
                .uri(&uri)
                .insert_header(("X-Forwarded-For", "81.2.69.192"))
                .set_json(&body)
                .to_request(),
        )
        .await;
    }
    let submit = json!({"items": [{"position": {"latitude": 51.5, "longitude": -0.1},
        "wifiAccessPoints": [{"macAddress": "a8:20:66:7a:bc:01"}]}]});
    test::call_service(
        &app,
        TestRequest::post()
            .uri(&format!("/v2/geosubmit?key={secret_key}"))
            .insert_header(("X-Forwarded-For", "81.2.69.192"))
            .set_json(&submit)
            .to_request(),
    )
    .await;

    let logs = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("canonical-log-line"),
        "the requests were logged: {logs}"
    );
    assert!(
        logs.contains(&ichnaea_api::keys::key_label(secret_key)),
        "keys appear by label"
    );
    for secret in [
        secret_key,
        "wrong-key-text",
        "81.2.69.192",
        "a8:20:66:7a:bc:01",
        "a820667abc01",
        "a820667abc02",
        "987654",
        "4242",
        "\"home\"",
    ] {
        assert!(
            !logs.contains(secret),
            "{secret} leaked into the logs:\n{logs}"
        );
    }
}
