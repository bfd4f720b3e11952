//! `/__heartbeat__`, `/__lbheartbeat__`, `/__version__`, `/contribute.json`, 404 and 405.

use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use actix_web::test::{self, TestRequest};
use ichnaea_api::build_app;
use ichnaea_runtime::GeoIp;
use ichnaea_testing::{TcpProxy, TestDb, TestRedis, mysql_server_url, server_addr};
use serde_json::{Value, json};

use crate::helpers::{geoip, state};

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

#[actix_web::test]
async fn heartbeat_all_up() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    let (geo, _dir) = geoip(30);
    let app = test::init_service(build_app(state(&db.url(), &redis.url(), geo))).await;
    let res = test::call_service(&app, TestRequest::get().uri("/__heartbeat__").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("access-control-allow-origin").is_none());
    let body: Value = test::read_body_json(res).await;
    assert_eq!(keys(&body), ["database", "geoip", "redis"]);
    for part in ["database", "geoip", "redis"] {
        assert_eq!(body[part]["up"], true, "{part}: {body}");
        assert!(body[part]["time"].as_u64().is_some(), "{part}: {body}");
    }
    let newest = ichnaea_db::migrate::embedded().unwrap().pop().unwrap().1;
    assert_eq!(body["database"]["alembic_version"], newest);
    assert_eq!(body["database"]["pool"]["max_size"], 4);
    assert_eq!(body["geoip"]["age_in_days"], 30);
    assert!(body["geoip"]["version"].as_str().unwrap().ends_with('Z'));
}

#[actix_web::test]
async fn heartbeat_with_broken_backends() {
    let app = test::init_service(build_app(state(
        "mysql://root@127.0.0.1:1/location",
        "redis://127.0.0.1:1/0",
        GeoIp::none(),
    )))
    .await;
    let res = test::call_service(&app, TestRequest::get().uri("/__heartbeat__").to_request()).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "application/json"
    );
    assert!(res.headers().get("access-control-allow-origin").is_none());
    assert!(res.headers().get("access-control-max-age").is_none());
    let mut body: Value = test::read_body_json(res).await;
    body["database"].as_object_mut().unwrap().remove("pool");
    assert_eq!(
        body,
        json!({
            "database": {"up": false, "time": 0, "alembic_version": "unknown"},
            "geoip": {"up": false, "time": 0, "age_in_days": -1, "version": "2020-02-26T12:17:00Z"},
            "redis": {"up": false, "time": 0},
        })
    );
    // The load balancer check does not depend on any backend.
    let res = test::call_service(
        &app,
        TestRequest::get().uri("/__lbheartbeat__").to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        test::read_body_json::<Value, _>(res).await,
        json!({"status": "OK"})
    );
}

#[actix_web::test]
async fn heartbeat_follows_a_database_outage_and_recovery() {
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    let (geo, _dir) = geoip(1);
    let proxy = TcpProxy::start(server_addr(&mysql_server_url(), 3306)).await;
    let port = server_addr(&mysql_server_url(), 3306).port().to_string();
    let url = format!(
        "{}?prefer_socket=false",
        db.url().replace(&port, &proxy.addr().port().to_string())
    );
    let app = test::init_service(build_app(state(&url, &redis.url(), geo))).await;
    let get = || TestRequest::get().uri("/__heartbeat__").to_request();
    assert_eq!(
        test::call_service(&app, get()).await.status(),
        StatusCode::OK
    );

    proxy.disable().await;
    let res = test::call_service(&app, get()).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = test::read_body_json(res).await;
    assert_eq!(body["database"]["up"], false);
    assert_eq!(body["redis"]["up"], true);

    proxy.enable();
    let mut status = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..30 {
        status = test::call_service(&app, get()).await.status();
        if status == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        status,
        StatusCode::OK,
        "heartbeat did not recover by itself"
    );
}

#[actix_web::test]
async fn lbheartbeat_methods() {
    let app = test::init_service(build_app(state(
        "mysql://root@127.0.0.1:1/location",
        "redis://127.0.0.1:1/0",
        GeoIp::none(),
    )))
    .await;
    for method in [Method::GET, Method::POST, Method::HEAD] {
        let res = test::call_service(
            &app,
            TestRequest::default()
                .method(method.clone())
                .uri("/__lbheartbeat__")
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK, "{method}");
        assert_eq!(
            res.headers().get("content-type").unwrap(),
            "application/json"
        );
        assert!(res.headers().get("access-control-allow-origin").is_none());
    }
    for method in [Method::DELETE, Method::PATCH, Method::PUT, Method::OPTIONS] {
        for path in [
            "/__lbheartbeat__",
            "/__heartbeat__",
            "/__version__",
            "/contribute.json",
        ] {
            let res = test::call_service(
                &app,
                TestRequest::default()
                    .method(method.clone())
                    .uri(path)
                    .to_request(),
            )
            .await;
            assert_eq!(
                res.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            assert!(res.headers().get("access-control-allow-origin").is_none());
        }
    }
}

#[actix_web::test]
async fn version_and_contribute() {
    let app = test::init_service(build_app(state(
        "mysql://root@127.0.0.1:1/location",
        "redis://127.0.0.1:1/0",
        GeoIp::none(),
    )))
    .await;
    let res = test::call_service(&app, TestRequest::get().uri("/__version__").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = test::read_body_json(res).await;
    assert_eq!(keys(&body), ["build", "commit", "source", "version"]);

    let res = test::call_service(
        &app,
        TestRequest::get().uri("/contribute.json").to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = test::read_body_json(res).await;
    assert_eq!(body["repository"]["license"], "Apache 2.0");

    // The committed version.json has the four keys too.
    let committed = ichnaea_api::state::load_version(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../version.json"),
    );
    assert_eq!(keys(&committed), ["build", "commit", "source", "version"]);
    assert_eq!(
        ichnaea_api::state::load_version(std::path::Path::new("/nonexistent/version.json")),
        json!({})
    );
}

#[actix_web::test]
async fn unknown_paths_and_security_headers() {
    let app = test::init_service(build_app(state(
        "mysql://root@127.0.0.1:1/location",
        "redis://127.0.0.1:1/0",
        GeoIp::none(),
    )))
    .await;
    for path in ["/nope", "/__lbheartbeat__/", "/v1/search", "/v1/transfer"] {
        let res = test::call_service(&app, TestRequest::get().uri(path).to_request()).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        let h = res.headers();
        assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
        assert_eq!(h.get("x-frame-options").unwrap(), "DENY");
        assert!(h.get("content-security-policy").is_some());
        assert!(
            h.get("content-type")
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let body = test::read_body(res).await;
        assert_eq!(&body[..], b"<h1>404 Not Found</h1>");
    }
    let res = test::call_service(
        &app,
        TestRequest::get().uri("/__lbheartbeat__").to_request(),
    )
    .await;
    let h = res.headers();
    assert_eq!(
        h.get("strict-transport-security").unwrap(),
        "max-age=31536000; includeSubDomains"
    );
    assert!(
        h.get("x-frame-options").is_none(),
        "only HTML gets frame options"
    );
}
