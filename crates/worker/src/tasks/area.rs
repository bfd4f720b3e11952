//! `update_cellarea`: recomputes the cell areas whose cells changed (`pipeline.md` §6).
//!
//! The batch's area ids are recomputed from their member cells in one transaction that
//! records the batch id, so a redelivered batch is a no-op. (Recomputing is idempotent
//! anyway; the marker only saves the work.)

use ichnaea_core::pipeline::area::decode_area_queue;
use ichnaea_db::markers::BatchMarker;
use ichnaea_runtime::Batch;

use crate::WorkerState;
use crate::tasks::station::now;

/// Area ids per batch. The reference takes 100; every cell batch pushes the areas it
/// touched, so the queue holds the same few areas many times over, and a batch's ids are
/// de-duplicated before the recomputation. Larger batches collapse more duplicates into
/// one recomputation each: at 100 the area queue was the tail of the pipeline benchmark
/// (`docs/benchmarks.md`).
pub const BATCH: usize = 500;

/// Recomputes one batch of areas.
pub async fn handle(state: &WorkerState, batch: &Batch, queue_key: &str) -> anyhow::Result<()> {
    let areas = decode_area_queue(&batch.items);
    if areas.is_empty() {
        return Ok(());
    }
    let marker = BatchMarker::new(queue_key, batch.id)?;
    let pool = state.db.write()?;
    let mut conn = pool.get().await?;
    let result = ichnaea_db::areas::update_cell_areas(
        &mut conn,
        Some(&marker),
        &areas,
        now(),
        &state.geocoder,
    )
    .await?;
    for failure in &result.lock_failures {
        let errno = failure.errno().to_string();
        state.metrics.incr(
            ichnaea_core::metrics::MetricName::DataStationDberror,
            &[("type", "cellarea"), ("errno", errno.as_str())],
        );
    }
    Ok(())
}
