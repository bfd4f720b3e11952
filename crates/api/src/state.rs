//! The shared state of the HTTP service.
//!
//! Built once at start and handed to every worker thread; everything in it is cheap to
//! clone (pools and clients are reference-counted). Tests build the same state against
//! their own database and Redis, so there are no globals.

use std::sync::Arc;

use ichnaea_core::QueueName;
use ichnaea_db::DbPools;
use ichnaea_geocode::Geocoder;
use ichnaea_runtime::{DataQueue, GeoIp, Metrics, RedisClient, Settings};

use crate::fallback::FallbackClient;
use crate::keys::KeyCache;
use crate::station_cache::StationCache;

/// Everything a request handler may need.
#[derive(Clone)]
pub struct AppState {
    /// Database pools (the api uses the read-only one).
    pub db: DbPools,
    /// Redis.
    pub redis: RedisClient,
    /// The GeoIP database, possibly empty.
    pub geoip: GeoIp,
    /// Region shapes and the MCC table.
    pub geocoder: Geocoder,
    /// The API key cache.
    pub keys: KeyCache,
    /// Station rows recently read by locate.
    pub stations: StationCache,
    /// The client of external fallback providers.
    pub fallback: FallbackClient,
    /// The `update_incoming` queue that submissions and sampled queries go to.
    pub incoming: DataQueue,
    /// statsd.
    pub metrics: Metrics,
    /// The contents of `version.json`, served at `/__version__`.
    pub version: Arc<serde_json::Value>,
    /// The validated settings.
    pub settings: Arc<Settings>,
}

impl AppState {
    /// Builds the state from settings: pools are created without connecting, the GeoIP
    /// database and `version.json` are read from disk.
    pub fn from_settings(settings: Settings, metrics: Metrics) -> anyhow::Result<AppState> {
        let read = settings
            .db
            .readonly_uri
            .clone()
            .map(|url| ichnaea_db::PoolConfig {
                url,
                max_size: settings.db.pool_max_size,
                timeout: settings.db.pool_timeout,
            });
        let db = DbPools::new(read.as_ref(), None)?;
        let redis_uri = settings
            .redis
            .uri
            .clone()
            .ok_or_else(|| anyhow::anyhow!("REDIS_URI must be set"))?;
        let redis = RedisClient::new(
            &redis_uri,
            settings.redis.pool_max_size,
            settings.redis.timeout,
        )?;
        let geoip = GeoIp::load(settings.geoip_path.as_deref());
        let version = load_version(&settings.api.version_file);
        Ok(AppState {
            db,
            incoming: DataQueue::new(redis.clone(), &QueueName::UpdateIncoming),
            redis,
            geoip,
            geocoder: Geocoder::new()?,
            keys: KeyCache::new(),
            stations: StationCache::new(
                settings.api.locate_cache_entries,
                settings.api.locate_cache_ttl,
            ),
            fallback: FallbackClient::new()?,
            metrics,
            version: Arc::new(version),
            settings: Arc::new(settings),
        })
    }
}

/// Reads `version.json`; `{}` when it is missing or not a JSON object, as the reference does.
pub fn load_version(path: &std::path::Path) -> serde_json::Value {
    let empty = serde_json::Value::Object(Default::default());
    match std::fs::read(path) {
        Ok(bytes) => match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(v) if v.is_object() => v,
            _ => {
                tracing::warn!(file = %path.display(), "version file is not a JSON object; serving {{}}");
                empty
            }
        },
        Err(_) => {
            tracing::info!(file = %path.display(), "no version file; /__version__ serves {{}}");
            empty
        }
    }
}
