//! `update_blue`, `update_wifi`, `update_cell`: merge observations into the station
//! tables (`pipeline.md` §5).
//!
//! Batches of one table take turns across workers (`ichnaea_db::shard_lock`): a batch
//! whose table is busy gives its connection back and tries again after a short pause
//! (`taking_turns!`, which the datamap batches use too).
//!
//! One batch of one shard's queue is applied in one database transaction that also records
//! the batch id (`ichnaea_db::stations::apply_station_batch`), so a batch redelivered after
//! a crash changes nothing the second time: station samples and weights count every
//! observation exactly once. After the commit, the touched cell areas are queued for
//! recomputation and the daily statistics counters are incremented; a crash between the
//! commit and those two steps loses only those follow-ups (areas are recomputed again by
//! their next cell update; counters are statistics), never an observation.

use std::time::Duration;

use ichnaea_core::QueueName;
use ichnaea_core::metrics::MetricName;
use ichnaea_core::pipeline::batch::StationBatch;
use ichnaea_core::pipeline::stats::stat_counter_key;
use ichnaea_core::time::DateTime;
use ichnaea_db::markers::BatchMarker;
use ichnaea_db::retry::BatchStatus;
use ichnaea_db::shards::StationShard;
use ichnaea_runtime::{Batch, DataQueue};

use crate::WorkerState;

/// First pause before trying a table that another worker's batch is writing again.
pub(crate) const BUSY_PAUSE_MIN: Duration = Duration::from_millis(10);

/// Longest pause between such tries.
pub(crate) const BUSY_PAUSE_MAX: Duration = Duration::from_millis(200);

/// How long a batch keeps trying a busy table before it fails (and is redelivered after
/// its lease). The consumer renews the lease meanwhile.
pub(crate) const BUSY_WAIT_MAX: Duration = Duration::from_secs(300);

/// The current time as the pipeline's clock.
pub fn now() -> DateTime {
    DateTime::from_unix_seconds(chrono::Utc::now().timestamp())
}

/// Evaluates `$write`, a batch write that takes its table's turn
/// (`ichnaea_db::shard_lock`), with `$conn` bound to a pooled connection; yields
/// `anyhow::Result` of its value. While another worker's batch is writing the table, it
/// gives the connection back and tries again after a pause (10 ms, doubling up to
/// 200 ms), for up to `BUSY_WAIT_MAX`. (A macro: the futures of an async closure over a
/// borrowed connection cannot be shown to be `Send`.)
macro_rules! taking_turns {
    ($state:expr, |$conn:ident| $write:expr) => {
        async {
            let pool = $state.db.write()?;
            let started = std::time::Instant::now();
            let mut pause = $crate::tasks::station::BUSY_PAUSE_MIN;
            loop {
                let mut pooled = pool.get().await?;
                let result = {
                    let $conn: &mut diesel_async::AsyncMysqlConnection = &mut pooled;
                    $write.await
                };
                drop(pooled);
                match result {
                    Err(e)
                        if e.is_busy()
                            && started.elapsed() < $crate::tasks::station::BUSY_WAIT_MAX =>
                    {
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min($crate::tasks::station::BUSY_PAUSE_MAX);
                    }
                    other => break anyhow::Ok(other?),
                }
            }
        }
    };
}
pub(crate) use taking_turns;

/// Applies one batch of a station shard's queue.
pub async fn handle<S>(
    state: &WorkerState,
    shard: S,
    kind: &'static str,
    batch: &Batch,
    queue_key: &str,
) -> anyhow::Result<()>
where
    S: StationShard,
    S::Observation: serde::de::DeserializeOwned,
{
    let observations: Vec<S::Observation> = batch
        .items
        .iter()
        .filter_map(|raw| serde_json::from_slice(raw).ok())
        .collect();
    let dropped = batch.items.len() - observations.len();
    if dropped > 0 {
        tracing::warn!(
            queue.name = queue_key,
            items = dropped,
            "dropped unreadable observations"
        );
    }
    let station_batch = StationBatch::new(observations);
    if station_batch.is_empty() {
        return Ok(());
    }
    let marker = BatchMarker::new(queue_key, batch.id)?;
    let now = now();
    let result = taking_turns!(state, |conn| {
        ichnaea_db::stations::apply_station_batch(
            conn,
            shard,
            &marker,
            &station_batch,
            now,
            &state.geocoder,
        )
    })
    .await?;
    for failure in &result.lock_failures {
        let errno = failure.errno().to_string();
        state.metrics.incr(
            MetricName::DataStationDberror,
            &[("type", kind), ("errno", errno.as_str())],
        );
    }
    let outcome = match result.value {
        BatchStatus::AlreadyProcessed => {
            tracing::info!(
                queue.name = queue_key,
                batch.id = batch.id,
                "batch was already applied"
            );
            return Ok(());
        }
        BatchStatus::Applied(outcome) => outcome,
    };
    for (metric, value) in outcome.metrics() {
        state.metrics.count(
            metric,
            i64::try_from(value).unwrap_or(i64::MAX),
            &[("type", kind)],
        );
    }
    if !outcome.areas.is_empty() {
        let areas: Vec<Vec<u8>> = outcome.areas.iter().map(|a| a.to_bytes()).collect();
        DataQueue::new(state.redis.clone(), &QueueName::UpdateCellArea)
            .push(&areas)
            .await?;
    }
    let mut conn = state.redis.get().await?;
    let mut pipe = redis::pipe();
    for (key, amount) in outcome.stat_increments() {
        if amount > 0 {
            let name = stat_counter_key(key, now.date());
            pipe.cmd("INCRBY").arg(&name).arg(amount).ignore();
            pipe.cmd("EXPIRE").arg(&name).arg(172_800).ignore();
        }
    }
    pipe.query_async::<()>(&mut conn).await?;
    Ok(())
}
