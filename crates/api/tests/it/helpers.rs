//! Building the application for a test.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ichnaea_api::AppState;
use ichnaea_db::{DbPools, PoolConfig};
use ichnaea_runtime::config::{RawConfig, Role, Settings};
use ichnaea_runtime::{GeoIp, Metrics, RedisClient};
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
    AppState {
        db: DbPools::new(Some(&read), None).unwrap(),
        redis: RedisClient::new(&redis_url.to_owned().into(), 4, Duration::from_millis(500))
            .unwrap(),
        geoip,
        metrics: Metrics::noop(),
        version: Arc::new(serde_json::json!({
            "source": "ichnaea-rs", "version": "1.2.3", "commit": "abc", "build": "ci"
        })),
        settings: Arc::new(settings()),
    }
}
