//! The Redis pool answers quickly while Redis is down and recovers by itself.

use std::time::{Duration, Instant};

use ichnaea_runtime::RedisClient;
use ichnaea_testing::{TcpProxy, TestRedis, redis_server_url, server_addr};

/// A client of a test database that reaches Redis through a proxy the test can cut.
async fn proxied_client() -> (TestRedis, TcpProxy, RedisClient) {
    let redis = TestRedis::new().await;
    let proxy = TcpProxy::start(server_addr(&redis_server_url(), 6379)).await;
    let url = redis.url();
    let db = url.rsplit('/').next().expect("a database number");
    let url = format!("redis://{}/{db}", proxy.addr());
    let client = RedisClient::new(&url.into(), 4, Duration::from_millis(500)).expect("a client");
    (redis, proxy, client)
}

#[tokio::test]
async fn ping_fails_fast_when_down_and_recovers() {
    let (_redis, proxy, client) = proxied_client().await;
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

async fn client_id(conn: &mut ichnaea_runtime::redis::SharedConnection) -> redis::RedisResult<i64> {
    redis::cmd("CLIENT").arg("ID").query_async(conn).await
}

/// The shared connection is one connection for the whole process, survives a cut by
/// retiring the broken connection, and fails fast while Redis is unreachable.
#[tokio::test]
async fn shared_connection_is_reused_and_replaced_after_a_cut() {
    let (_redis, proxy, client) = proxied_client().await;

    let first = client_id(&mut client.shared().await.unwrap())
        .await
        .unwrap();
    let again = client_id(&mut client.clone().shared().await.unwrap())
        .await
        .unwrap();
    assert_eq!(first, again, "every caller shares one connection");

    proxy.disable().await;
    // The command on the cut connection fails and retires it; while Redis stays
    // unreachable, getting a new one fails fast.
    assert!(
        client_id(&mut client.shared().await.unwrap())
            .await
            .is_err()
    );
    let started = Instant::now();
    let err = client.shared().await.err().expect("unreachable");
    assert!(err.is_unavailable(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(7));

    proxy.enable();
    let mut replaced = None;
    for _ in 0..30 {
        if let Ok(mut conn) = client.shared().await
            && let Ok(id) = client_id(&mut conn).await
        {
            replaced = Some(id);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let replaced = replaced.expect("did not recover");
    assert_ne!(replaced, first, "a new connection replaced the cut one");
    let later = client_id(&mut client.shared().await.unwrap())
        .await
        .unwrap();
    assert_eq!(later, replaced);
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
