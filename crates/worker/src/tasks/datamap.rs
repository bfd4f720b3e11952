//! `update_datamap`: records the grid cells that reports came from, for the coverage
//! map (`pipeline.md` §7).

use std::collections::HashSet;
use std::sync::Mutex;

use ichnaea_core::time::Date;
use ichnaea_core::{DataMapShard, Grid};
use ichnaea_db::markers::BatchMarker;
use ichnaea_runtime::Batch;

use crate::WorkerState;
use crate::tasks::station::{now, taking_turns};

/// Grid cells per batch.
pub const BATCH: usize = 500;

/// The grid cells this process queued for the datamap today.
///
/// A datamap row only records the last day its cell was seen, so a cell needs queueing
/// once a day, but the internal export finds one per report: a street that many reports
/// come from sends the same cell again and again (in the pipeline benchmark, 100 000
/// queue items for 10 000 cells). The export leaves out cells this set already holds and
/// adds the ones it has queued (only after Redis accepted the push, so a failed push is
/// retried in full). The set starts over each UTC day, and when it reaches
/// [`RecentGrids::MAX`] cells, which bounds its memory to a few tens of megabytes; each
/// worker process has its own, so a cell is queued at most once a day per process.
#[derive(Debug, Default)]
pub struct RecentGrids {
    seen: Mutex<(Option<Date>, HashSet<Grid>)>,
}

impl RecentGrids {
    /// Most cells remembered before the set starts over.
    pub const MAX: usize = 1_000_000;

    /// The cells of `grids` not yet queued on `today`, in order.
    pub fn unseen<'a>(&self, today: Date, grids: impl IntoIterator<Item = &'a Grid>) -> Vec<Grid> {
        let Ok(seen) = self.seen.lock() else {
            return grids.into_iter().copied().collect();
        };
        if seen.0 != Some(today) {
            return grids.into_iter().copied().collect();
        }
        grids
            .into_iter()
            .filter(|g| !seen.1.contains(g))
            .copied()
            .collect()
    }

    /// Remembers cells queued on `today`.
    pub fn remember<'a>(&self, today: Date, grids: impl IntoIterator<Item = &'a Grid>) {
        let Ok(mut seen) = self.seen.lock() else {
            return;
        };
        if seen.0 != Some(today) || seen.1.len() >= Self::MAX {
            *seen = (Some(today), HashSet::new());
        }
        seen.1.extend(grids);
    }
}

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
    let now = now();
    let result = taking_turns!(state, |conn| {
        ichnaea_db::datamap::update_datamap(conn, shard, Some(&marker), &grids, now)
    })
    .await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(i: i32) -> Grid {
        Grid::from_position(50.0 + f64::from(i) * 0.01, 8.0)
    }

    #[test]
    fn cells_are_left_out_once_queued_on_the_same_day() {
        let recent = RecentGrids::default();
        let day = Date::from_days(20_000);
        let cells = [grid(1), grid(2), grid(3)];
        assert_eq!(recent.unseen(day, &cells), cells, "nothing queued yet");
        recent.remember(day, &cells[..2]);
        assert_eq!(recent.unseen(day, &cells), [grid(3)]);
        // The next day every cell is new again.
        let next = Date::from_days(20_001);
        assert_eq!(recent.unseen(next, &cells), cells);
        recent.remember(next, &cells[2..]);
        assert_eq!(recent.unseen(next, &cells), [grid(1), grid(2)]);
        assert_eq!(
            recent.unseen(day, &cells),
            cells,
            "an older day is not remembered"
        );
    }
}
