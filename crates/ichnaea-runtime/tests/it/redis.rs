//! The Redis pool answers quickly while Redis is down and recovers by itself.

use std::time::{Duration, Instant};

use ichnaea_runtime::RedisClient;
use ichnaea_testing::{TcpProxy, TestRedis, redis_server_url, server_addr};

#[tokio::test]
async fn ping_fails_fast_when_down_and_recovers() {
    let redis = TestRedis::new().await;
    let proxy = TcpProxy::start(server_addr(&redis_server_url(), 6379)).await;
    let db = redis.url().rsplit('/').next().unwrap().to_owned();
    let url = format!("redis://{}/{db}", proxy.addr());
    let client = RedisClient::new(&url.into(), 4, Duration::from_millis(500)).unwrap();
    client.ping().await.unwrap();

    proxy.disable().await;
    let started = Instant::now();
    let err = client.ping().await.unwrap_err();
    assert!(err.is_unavailable(), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "took {:?}",
        started.elapsed()
    );

    proxy.enable();
    let mut ok = false;
    for _ in 0..30 {
        if client.ping().await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "did not recover");
}

#[tokio::test]
async fn bad_url_is_a_config_error_without_echoing_it() {
    let err = RedisClient::new(
        &"not-a-url-with-s3cret".to_owned().into(),
        2,
        Duration::from_secs(1),
    )
    .err()
    .unwrap();
    assert!(!err.to_string().contains("s3cret"));
}
