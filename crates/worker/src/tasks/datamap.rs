//! `update_datamap`: records the grid cells that reports came from, for the coverage
//! map (`pipeline.md` §7).

use ichnaea_core::{DataMapShard, Grid};
use ichnaea_db::markers::BatchMarker;
use ichnaea_runtime::Batch;

use crate::WorkerState;
use crate::tasks::station::now;

/// Grid cells per batch.
pub const BATCH: usize = 500;

/// Records one batch of grid cells of one quadrant.
pub async fn handle(
    state: &WorkerState,
    shard: DataMapShard,
    batch: &Batch,
    queue_key: &str,
) -> anyhow::Result<()> {
    let mut grids: Vec<Grid> = batch
        .items
        .iter()
        .filter_map(|raw| Grid::from_bytes(raw).ok())
        .filter(|g| g.shard() == shard)
        .collect();
    grids.sort_unstable();
    grids.dedup();
    if grids.is_empty() {
        return Ok(());
    }
    let marker = BatchMarker::new(queue_key, batch.id)?;
    let pool = state.db.write()?;
    let mut conn = pool.get().await?;
    let result =
        ichnaea_db::datamap::update_datamap(&mut conn, shard, Some(&marker), &grids, now()).await?;
    for failure in &result.lock_failures {
        let errno = failure.errno().to_string();
        state.metrics.incr(
            ichnaea_core::metrics::MetricName::DatamapsDberror,
            &[("errno", errno.as_str())],
        );
    }
    Ok(())
}

/// `cleanup_datamap`: drops grid cells not seen for a year, in every quadrant.
pub async fn cleanup(state: &WorkerState) -> anyhow::Result<()> {
    let pool = state.db.write()?;
    let mut conn = pool.get().await?;
    let today = now().date();
    for shard in DataMapShard::ALL {
        let deleted = ichnaea_db::datamap::cleanup_datamap(&mut conn, shard, today).await?;
        tracing::info!(shard.id = shard.id(), deleted, "cleaned up the datamap");
    }
    Ok(())
}
