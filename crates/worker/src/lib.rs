//! `ichnaea-worker`: drains the Redis data queues into MySQL and the export targets.
//!
//! Workers are stateless and can run in any number: each claims batches from the reliable
//! data queues of `ichnaea_runtime::queue` under a lease, processes them and acknowledges
//! them only once their effects are committed, so a worker killed at any moment loses
//! nothing.
//!
//! This crate currently provides the process: configuration, connections, telemetry and
//! clean shutdown. The tasks themselves (incoming reports, exports, station updates, cell
//! areas, datamap, statistics, monitoring) are added with the data pipeline.

use ichnaea_db::{DbPools, PoolConfig};
use ichnaea_runtime::{Metrics, RedisClient, Settings};

pub mod consumer;

/// Everything a worker task needs.
#[derive(Clone)]
pub struct WorkerState {
    /// Database pools (the worker writes through `write()`).
    pub db: DbPools,
    /// Redis, where the queues live.
    pub redis: RedisClient,
    /// statsd.
    pub metrics: Metrics,
}

impl WorkerState {
    /// Builds the state from settings, without connecting.
    pub fn from_settings(settings: &Settings, metrics: Metrics) -> anyhow::Result<WorkerState> {
        let write = settings.db.readwrite_uri.clone().map(|url| PoolConfig {
            url,
            max_size: settings.db.pool_max_size,
            timeout: settings.db.pool_timeout,
        });
        let redis_uri = settings
            .redis
            .uri
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("REDIS_URI must be set"))?;
        Ok(WorkerState {
            db: DbPools::new(None, write.as_ref())?,
            redis: RedisClient::new(
                redis_uri,
                settings.redis.pool_max_size,
                settings.redis.timeout,
            )?,
            metrics,
        })
    }
}

/// Runs the worker until `shutdown` resolves.
pub async fn run(state: WorkerState, shutdown: impl std::future::Future<Output = ()>) {
    let _state = state;
    tracing::info!("ichnaea-worker started; no pipeline tasks are registered yet");
    shutdown.await;
    tracing::info!("ichnaea-worker stopped");
}
