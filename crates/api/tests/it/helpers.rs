//! Building the application for a test.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ichnaea_api::AppState;
use ichnaea_core::QueueName;
use ichnaea_db::{DbPools, PoolConfig};
use ichnaea_runtime::config::{RawConfig, Role, Settings};
use ichnaea_runtime::{DataQueue, GeoIp, Metrics, RedisClient};
use ichnaea_testing::geoip::{DEFAULT_RECORDS, write_city_db};

/// Settings as a test would configure them.
pub fn settings() -> Settings {
    let raw =
        RawConfig::load_from(None, [("LOCAL_DEV_ENV".to_owned(), "true".to_owned())]).unwrap();
    Settings::from_raw(&raw, &[Role::Offline]).unwrap()
}

/// A GeoIP database built `age_days` ago, in a temporary directory.
pub fn geoip(age_days: u64) -> (GeoIp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("city.mmdb");
    let built = SystemTime::now() - Duration::from_secs(age_days * 86_400);
    write_city_db(&path, DEFAULT_RECORDS, built).unwrap();
    (GeoIp::open(&path).unwrap(), dir)
}

/// An application state on the given backends.
pub fn state(db_url: &str, redis_url: &str, geoip: GeoIp) -> AppState {
    let read = PoolConfig {
        url: db_url.to_owned().into(),
        max_size: 4,
        timeout: Duration::from_millis(500),
    };
    let redis =
        RedisClient::new(&redis_url.to_owned().into(), 4, Duration::from_millis(500)).unwrap();
    let settings = settings();
    AppState {
        db: DbPools::new(Some(&read), None).unwrap(),
        incoming: DataQueue::new(redis.clone(), &QueueName::UpdateIncoming),
        redis,
        geoip,
        geocoder: ichnaea_geocode::Geocoder::new().unwrap(),
        keys: ichnaea_api::keys::KeyCache::new(),
        stations: ichnaea_api::station_cache::StationCache::new(
            settings.api.locate_cache_entries,
            settings.api.locate_cache_ttl,
        ),
        fallback: ichnaea_api::fallback::FallbackClient::new().unwrap(),
        metrics: Metrics::noop(),
        version: Arc::new(serde_json::json!({
            "source": "ichnaea-rs", "version": "1.2.3", "commit": "abc", "build": "ci"
        })),
        settings: Arc::new(settings),
    }
}

/// Inserts an API key with the creation defaults, changed by `f`.
pub async fn add_key(
    db: &ichnaea_testing::TestDb,
    key: &str,
    f: impl FnOnce(&mut ichnaea_db::api_key::ApiKeyRow),
) {
    let pool = ichnaea_db::DbPool::new(&db.pool_config()).unwrap();
    let mut conn = pool.get().await.unwrap();
    let mut row = ichnaea_db::api_key::ApiKeyRow::with_defaults(key);
    f(&mut row);
    assert!(ichnaea_db::api_key::insert(&mut conn, &row).await.unwrap());
}

/// A UDP socket standing in for statsd, and metrics that send to it.
pub fn statsd() -> (std::net::UdpSocket, Metrics) {
    let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    server
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let port = server.local_addr().unwrap().port();
    (server, Metrics::udp("127.0.0.1", port).unwrap())
}

/// Every metric line received so far.
pub fn received(server: &std::net::UdpSocket) -> Vec<String> {
    let mut lines = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok(n) = server.recv(&mut buf) {
        lines.extend(
            String::from_utf8_lossy(&buf[..n])
                .lines()
                .map(str::to_owned),
        );
    }
    lines
}

/// A positioned station seen today, with a 10 m radius and 10 samples.
pub fn station(
    key: ichnaea_core::pipeline::station::StationKey,
    lat: f64,
    lon: f64,
) -> ichnaea_core::pipeline::station::StationRow {
    let now = ichnaea_core::time::DateTime::from_unix_seconds(chrono::Utc::now().timestamp());
    let mut row = ichnaea_core::pipeline::station::StationRow::new(key);
    row.lat = Some(lat);
    row.lon = Some(lon);
    row.max_lat = Some(lat);
    row.min_lat = Some(lat);
    row.max_lon = Some(lon);
    row.min_lon = Some(lon);
    row.created = Some(now.add_days(-30));
    row.modified = Some(now.add_days(-30));
    row.last_seen = Some(now.date().add_days(-1));
    row.radius = Some(10);
    row.samples = Some(10);
    row.weight = Some(10.0);
    row.source = Some(ichnaea_core::ReportSource::Gnss);
    row
}

/// Inserts station rows into their table.
pub async fn add_stations(
    db: &ichnaea_testing::TestDb,
    table: ichnaea_db::StationTable,
    rows: &[ichnaea_core::pipeline::station::StationRow],
) {
    let pool = ichnaea_db::DbPool::new(&db.pool_config()).unwrap();
    let mut conn = pool.get().await.unwrap();
    let n = ichnaea_db::stations::insert_station_rows(&mut conn, table, rows)
        .await
        .unwrap();
    assert_eq!(n, rows.len());
}

/// The raw items of `update_incoming`, oldest first.
pub async fn queued_items(redis: &ichnaea_testing::TestRedis) -> Vec<Vec<u8>> {
    let mut conn = redis.conn().await;
    ::redis::cmd("LRANGE")
        .arg("update_incoming")
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .unwrap()
}

/// Every report entry queued in `update_incoming` (`{api_key, source, report}`), decoded,
/// in order.
pub async fn queued(redis: &ichnaea_testing::TestRedis) -> Vec<serde_json::Value> {
    queued_items(redis)
        .await
        .iter()
        .flat_map(|item| ichnaea_runtime::queue::decode_incoming(item).unwrap())
        .collect()
}
