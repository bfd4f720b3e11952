//! The external fallback provider, against a local fake provider (it stands in for a third
//! party's service, so a fake is the right tool here) and real Redis.

use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use actix_web::{App, HttpResponse, HttpServer, web};
use ichnaea_api::build_app;
use ichnaea_runtime::GeoIp;
use ichnaea_testing::{TestDb, TestRedis};
use serde_json::{Value, json};

use crate::helpers::{add_key, state};

/// What the fake provider saw and what it answers.
#[derive(Default)]
struct Provider {
    requests: Mutex<Vec<Value>>,
    answer: Mutex<(u16, String)>,
}

async fn provider_handler(body: web::Json<Value>, p: web::Data<Arc<Provider>>) -> HttpResponse {
    p.requests.lock().unwrap().push(body.into_inner());
    let (status, text) = p.answer.lock().unwrap().clone();
    HttpResponse::build(StatusCode::from_u16(status).unwrap())
        .content_type("application/json")
        .body(text)
}

fn start_provider() -> (Arc<Provider>, String) {
    let provider = Arc::new(Provider::default());
    *provider.answer.lock().unwrap() = (
        200,
        json!({"location": {"lat": 1.0, "lng": 1.0}, "accuracy": 11.6}).to_string(),
    );
    let data = provider.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(data.clone()))
            .route("/v1/geolocate", web::post().to(provider_handler))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());
    (
        provider,
        format!("http://127.0.0.1:{port}/v1/geolocate?key=provider-key"),
    )
}

async fn locate<S, B>(app: &S, wifis: &[&str]) -> (StatusCode, Value)
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    let body = json!({"wifiAccessPoints": wifis.iter().map(|m| json!({"macAddress": m, "ssid": "x"})).collect::<Vec<_>>()});
    let res = test::call_service(
        app,
        TestRequest::post()
            .uri("/v1/geolocate?key=fall")
            .insert_header(("X-Forwarded-For", "127.0.0.1"))
            .set_json(body)
            .to_request(),
    )
    .await;
    let status = res.status();
    (status, test::read_body_json(res).await)
}

#[actix_web::test]
async fn provider_answers_are_used_cached_and_rate_limited() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    let (provider, url) = start_provider();
    add_key(&db, "fall", |r| {
        r.allow_fallback = Some(true);
        r.fallback_name = Some("fall".into());
        r.fallback_url = Some(url.clone());
        r.fallback_ratelimit = Some(3);
        r.fallback_ratelimit_interval = Some(3600);
        r.fallback_cache_expire = Some(60);
    })
    .await;
    let (server, metrics) = crate::helpers::statsd();
    let mut st = state(&db.url(), &redis.url(), GeoIp::none());
    st.metrics = metrics;
    let app = test::init_service(build_app(st)).await;

    let (status, body) = locate(&app, &["a82066000001", "a82066000002"]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"location": {"lat": 1.0, "lng": 1.0}, "accuracy": 11.6})
    );
    {
        let requests = provider.requests.lock().unwrap();
        assert_eq!(requests.len(), 1);
        assert_eq!(
            requests[0]["fallbacks"],
            json!({"lacf": true, "ipf": false})
        );
        assert_eq!(
            requests[0]["wifiAccessPoints"][0]["macAddress"],
            "a82066000001"
        );
        assert_eq!(requests[0]["wifiAccessPoints"][0]["ssid"], "x");
    }

    // The same networks again: answered from the Redis cache, no provider call.
    let (status, body) = locate(&app, &["a82066000001", "a82066000002"]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["accuracy"], 11.6);
    assert_eq!(provider.requests.lock().unwrap().len(), 1);

    // "Not found" is cached too.
    *provider.answer.lock().unwrap() = (404, "{}".into());
    let (status, _) = locate(&app, &["a82066000011", "a82066000012"]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = locate(&app, &["a82066000011", "a82066000012"]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(provider.requests.lock().unwrap().len(), 2);

    // A provider error is not cached; the rate limit (3 per hour) then stops the calls.
    *provider.answer.lock().unwrap() = (500, "oops".into());
    let (status, _) = locate(&app, &["a82066000021", "a82066000022"]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(provider.requests.lock().unwrap().len(), 3);
    *provider.answer.lock().unwrap() = (
        200,
        json!({"location": {"lat": 2.0, "lng": 2.0}, "accuracy": 50.0}).to_string(),
    );
    let (status, _) = locate(&app, &["a82066000021", "a82066000022"]).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "over the provider rate limit"
    );
    assert_eq!(provider.requests.lock().unwrap().len(), 3);

    // Every query ran the internal source (no stations: a miss) and the provider
    // (answered twice, once from the cache; not found, failed or rate limited 4 times).
    let lines = crate::helpers::received(&server);
    let label = ichnaea_api::keys::key_label("fall");
    let count = |source: &str, status: &str| {
        let line = format!(
            "location.locate.source:1|c|#key:{label},source:{source},accuracy:high,status:{status}"
        );
        lines.iter().filter(|l| **l == line).count()
    };
    assert_eq!(count("internal", "miss"), 6, "{lines:#?}");
    assert_eq!(count("internal", "hit"), 0);
    assert_eq!(count("fallback", "hit"), 2, "{lines:#?}");
    assert_eq!(count("fallback", "miss"), 4, "{lines:#?}");
}
