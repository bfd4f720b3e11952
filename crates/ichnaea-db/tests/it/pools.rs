//! Pools connect lazily, run in strict mode, and survive a database outage.

use std::time::{Duration, Instant};

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;
use ichnaea_db::{DbPool, PoolConfig, health};
use ichnaea_testing::{TcpProxy, TestDb, mysql_server_url, server_addr};

#[derive(QueryableByName)]
struct Modes {
    #[diesel(sql_type = Text)]
    sql_mode: String,
    #[diesel(sql_type = BigInt)]
    strict: i64,
    #[diesel(sql_type = Text)]
    tz: String,
}

#[tokio::test]
async fn connections_run_in_strict_mode_and_utc() {
    let db = TestDb::new().await;
    let pool = DbPool::new(&db.pool_config()).unwrap();
    let mut conn = pool.get().await.unwrap();
    let modes: Modes = diesel::sql_query(
        "SELECT @@SESSION.sql_mode AS sql_mode, @@SESSION.innodb_strict_mode + 0 AS strict, @@SESSION.time_zone AS tz",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(modes.sql_mode, "STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION");
    assert_eq!(modes.strict, 1);
    assert_eq!(modes.tz, "+00:00");
    assert_eq!(pool.database(), db.name());
}

#[tokio::test]
async fn health_check_reports_the_newest_migration() {
    let db = TestDb::new().await;
    let pool = DbPool::new(&db.pool_config()).unwrap();
    let version = health::check(&pool).await.unwrap();
    let newest = ichnaea_db::migrate::embedded().unwrap().pop().unwrap().1;
    assert_eq!(version, Some(newest));
}

#[tokio::test]
async fn pool_fails_fast_while_the_database_is_down_and_recovers() {
    let db = TestDb::new().await;
    let proxy = TcpProxy::start(server_addr(&mysql_server_url(), 3306)).await;
    let url = db.url().replace(
        &format!("{}", server_addr(&mysql_server_url(), 3306).port()),
        &proxy.addr().port().to_string(),
    );
    // The client would otherwise switch to the server's Unix socket, bypassing the proxy.
    let url = format!(
        "{}?prefer_socket=false",
        url.replace("localhost", "127.0.0.1")
    );
    let pool = DbPool::new(&PoolConfig {
        url: url.into(),
        max_size: 2,
        timeout: Duration::from_millis(500),
    })
    .unwrap();
    assert!(health::check(&pool).await.is_ok());

    proxy.disable().await;
    let started = Instant::now();
    let err = health::check(&pool).await.unwrap_err();
    assert!(
        err.is_unavailable() || err.to_string().contains("database"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );

    proxy.enable();
    let mut recovered = false;
    for _ in 0..20 {
        match health::check(&pool).await {
            Ok(_) => {
                recovered = true;
                break;
            }
            Err(e) => eprintln!("still down: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        recovered,
        "pool did not recover after the database came back"
    );
}

#[tokio::test]
async fn building_a_pool_does_not_connect() {
    let pool = DbPool::new(&PoolConfig {
        url: "mysql://nobody@127.0.0.1:1/nowhere".to_owned().into(),
        max_size: 2,
        timeout: Duration::from_millis(200),
    })
    .unwrap();
    let err = pool.get().await.err().unwrap();
    assert!(err.is_unavailable(), "{err}");
}
