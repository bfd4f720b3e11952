//! `ichnaea-worker`: drains the Redis data queues into MySQL and the export targets.
//!
//! Workers are stateless and can run in any number. Each runs one consumer loop per data
//! queue (`consumer`): it claims a batch under a lease, processes it, and acknowledges it
//! only once its effects are committed, so a worker killed at any moment loses nothing;
//! another worker (or the same one, restarted) gets the batch again after its lease, under
//! the same batch id. Every task turns that id into exactly-once effects: Redis pushes are
//! made at most once per batch (`queue::push_once`), database updates record the batch id
//! in the same transaction.
//!
//! Tasks (`tasks`), named as the reference's: `update_incoming` distributes incoming
//! reports to the export targets; `export_reports` sends them (the `internal` target turns
//! them into station observations); `update_wifi` / `update_blue` / `update_cell` merge
//! observations into the station shards; `update_cellarea` recomputes cell areas;
//! `update_datamap` records the coverage map; the periodic tasks (statistics, cleanups,
//! monitoring) run when the scheduler triggers them.

use std::sync::Arc;
use std::time::Duration;

use ichnaea_core::{BlueShard, CellShard, DataMapShard, QueueName, WifiShard};
use ichnaea_db::{DbPools, PoolConfig};
use ichnaea_geocode::Geocoder;
use ichnaea_runtime::{DataQueue, Metrics, RedisClient, Settings};
use tokio::sync::watch;

pub mod consumer;
pub mod tasks;

use consumer::{Consumer, Handler, Readiness, Timing};

/// Everything a worker task needs; cheap to clone.
#[derive(Clone)]
pub struct WorkerState {
    /// Database pools (the worker writes through `write()`).
    pub db: DbPools,
    /// Redis, where the queues live.
    pub redis: RedisClient,
    /// statsd.
    pub metrics: Metrics,
    /// Region shapes, for station regions and report checks.
    pub geocoder: Geocoder,
    /// Outbound HTTP (geosubmit exports).
    pub http: reqwest::Client,
    /// This worker's id in queue leases.
    pub consumer_id: Arc<str>,
    /// Poll interval and lease length.
    pub timing: Timing,
    /// Longest wait of a partial export batch.
    pub export_max_age: Duration,
    /// Most observations per station batch (`WORKER_STATION_BATCH`).
    pub station_batch: usize,
    /// Longest wait of a partial station batch (`WORKER_STATION_MAX_AGE_MS`).
    pub station_max_age: Duration,
    /// Whether reports feed the datamap (the coverage map).
    pub record_datamap: bool,
    /// Grid cells this process queued for the datamap today.
    pub recent_grids: Arc<tasks::datamap::RecentGrids>,
    /// Object store settings (S3 endpoint for backup exports).
    pub assets: ichnaea_runtime::config::AssetSettings,
}

impl WorkerState {
    /// Builds the state from settings, without connecting.
    pub fn from_settings(settings: &Settings, metrics: Metrics) -> anyhow::Result<WorkerState> {
        // A worker runs about 45 queue consumers on a pool of `DB_POOL_MAX_SIZE`
        // connections: under load they queue for a connection. The api's short checkout
        // timeout would fail those batches and leave them leased for a whole lease
        // period; background work waits for its turn instead.
        let write = settings.db.readwrite_uri.clone().map(|url| PoolConfig {
            url,
            max_size: settings.db.pool_max_size,
            timeout: settings.db.pool_timeout.max(WORKER_MIN_POOL_WAIT),
        });
        let redis_uri = settings
            .redis
            .uri
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("REDIS_URI must be set"))?;
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "worker".to_owned());
        Ok(WorkerState {
            db: DbPools::new(None, write.as_ref())?,
            redis: RedisClient::new(
                redis_uri,
                settings.redis.pool_max_size,
                settings.redis.timeout,
            )?,
            metrics,
            geocoder: Geocoder::new()?,
            http: reqwest::Client::builder()
                .user_agent("ichnaea")
                .timeout(Duration::from_secs(60))
                .build()?,
            consumer_id: Arc::from(format!(
                "{host}-{}-{:08x}",
                std::process::id(),
                rand::random::<u32>()
            )),
            timing: Timing {
                poll: settings.worker.poll_interval,
                lease: settings.worker.lease,
            },
            export_max_age: settings.worker.export_max_age,
            station_batch: settings.worker.station_batch,
            station_max_age: settings.worker.station_max_age,
            record_datamap: true,
            recent_grids: Arc::default(),
            assets: settings.assets.clone(),
        })
    }
}

/// The shortest time a worker's consumer waits for a database connection.
pub const WORKER_MIN_POOL_WAIT: Duration = Duration::from_secs(30);

/// A consumer whose handler calls `f(state, batch)`.
fn consumer<F, Fut>(
    state: &WorkerState,
    queue: QueueName,
    task: &'static str,
    batch: usize,
    f: F,
) -> Consumer
where
    F: Fn(WorkerState, ichnaea_runtime::Batch) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let handler_state = state.clone();
    let f = Arc::new(f);
    let handler: Handler = Arc::new(move |batch| {
        let state = handler_state.clone();
        let f = f.clone();
        Box::pin(async move { f(state, batch).await })
    });
    Consumer {
        queue: DataQueue::new(state.redis.clone(), &queue),
        task,
        batch,
        readiness: Readiness::Always,
        handler,
    }
}

impl Consumer {
    /// A station consumer: it waits until its queue holds a full batch
    /// (`WORKER_STATION_BATCH`) or has held observations for `WORKER_STATION_MAX_AGE_MS`
    /// since it was last empty. A station seen several times within that window is then
    /// written once, not once per observation, which is most of the database's work
    /// during a backlog.
    fn lingering(mut self, state: &WorkerState) -> Consumer {
        if !state.station_max_age.is_zero() {
            self.readiness = Readiness::FullOrOld {
                batch: u64::try_from(state.station_batch).unwrap_or(u64::MAX),
                max_age: state.station_max_age,
            };
        }
        self
    }
}

/// The fixed queue consumers of a worker.
pub fn consumers(state: &WorkerState) -> Vec<Consumer> {
    let mut all = vec![
        consumer(
            state,
            QueueName::UpdateIncoming,
            "data.update_incoming",
            tasks::incoming::BATCH,
            |state, batch| async move { tasks::incoming::handle(&state, &batch).await },
        ),
        consumer(
            state,
            QueueName::Tasks,
            "data.periodic",
            1,
            |state, batch| async move { tasks::periodic::handle(&state, &batch).await },
        ),
        consumer(
            state,
            QueueName::UpdateCellArea,
            "data.update_cellarea",
            tasks::area::BATCH,
            |state, batch| async move { tasks::area::handle(&state, &batch, "update_cellarea").await },
        ),
    ];
    for shard in WifiShard::ALL {
        all.push(
            consumer(
                state,
                QueueName::UpdateWifi(shard),
                "data.update_wifi",
                state.station_batch,
                move |state, batch| async move {
                    tasks::station::handle(&state, shard, "wifi", &batch, shard.queue_key()).await
                },
            )
            .lingering(state),
        );
    }
    for shard in BlueShard::ALL {
        all.push(
            consumer(
                state,
                QueueName::UpdateBlue(shard),
                "data.update_blue",
                state.station_batch,
                move |state, batch| async move {
                    tasks::station::handle(&state, shard, "blue", &batch, shard.queue_key()).await
                },
            )
            .lingering(state),
        );
    }
    for shard in CellShard::ALL {
        all.push(
            consumer(
                state,
                QueueName::UpdateCell(shard),
                "data.update_cell",
                state.station_batch,
                move |state, batch| async move {
                    tasks::station::handle(&state, shard, "cell", &batch, shard.queue_key()).await
                },
            )
            .lingering(state),
        );
    }
    for shard in DataMapShard::ALL {
        all.push(consumer(
            state,
            QueueName::UpdateDatamap(shard),
            "data.update_datamap",
            tasks::datamap::BATCH,
            move |state, batch| async move {
                tasks::datamap::handle(&state, shard, &batch, shard.queue_key()).await
            },
        ));
    }
    all
}

/// Runs the worker until `shutdown` resolves; in-flight batches are finished first.
pub async fn run(state: WorkerState, shutdown: impl std::future::Future<Output = ()>) {
    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    for consumer in consumers(&state) {
        tasks.push(tokio::spawn(consumer::run(
            consumer,
            state.consumer_id.clone(),
            state.timing,
            state.metrics.clone(),
            stopped.clone(),
        )));
    }
    tasks.push(tokio::spawn(tasks::export::supervise(
        state.clone(),
        stopped.clone(),
    )));
    tracing::info!(worker.id = %state.consumer_id, "ichnaea-worker started");
    shutdown.await;
    tracing::info!("ichnaea-worker finishing the batches in hand");
    let _ = stop.send(true);
    for task in tasks {
        let _ = task.await;
    }
    tracing::info!("ichnaea-worker stopped");
}

#[cfg(test)]
mod tests {
    use super::*;
    use ichnaea_runtime::config::{RawConfig, Role};

    fn state(station_max_age_ms: &str) -> WorkerState {
        let raw = RawConfig::load_from(
            None,
            [
                ("DB_READWRITE_URI", "mysql://root@127.0.0.1:1/none"),
                ("REDIS_URI", "redis://127.0.0.1:1/0"),
                ("WORKER_STATION_BATCH", "300"),
                ("WORKER_STATION_MAX_AGE_MS", station_max_age_ms),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        )
        .unwrap();
        let settings = Settings::from_raw(&raw, &[Role::Worker]).unwrap();
        WorkerState::from_settings(&settings, Metrics::noop()).unwrap()
    }

    /// Station queues wait for a full batch or their age; the others drain at once.
    #[test]
    fn station_consumers_linger_unless_the_age_is_zero() {
        for (age, lingers) in [("2500", true), ("0", false)] {
            let all = consumers(&state(age));
            let stations: Vec<&Consumer> = all
                .iter()
                .filter(|c| {
                    matches!(
                        c.task,
                        "data.update_wifi" | "data.update_blue" | "data.update_cell"
                    )
                })
                .collect();
            assert_eq!(stations.len(), 16 + 16 + CellShard::ALL.len());
            for c in &stations {
                assert_eq!(c.batch, 300);
                match c.readiness {
                    Readiness::FullOrOld { batch, max_age } => {
                        assert!(lingers, "{}", c.task);
                        assert_eq!(batch, 300);
                        assert_eq!(max_age, Duration::from_millis(2500));
                    }
                    Readiness::Always => assert!(!lingers, "{}", c.task),
                }
            }
            assert!(
                all.iter()
                    .filter(|c| !stations.iter().any(|s| std::ptr::eq(*s, *c)))
                    .all(|c| matches!(c.readiness, Readiness::Always))
            );
        }
    }
}
