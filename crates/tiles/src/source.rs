//! Reading the datamap tables as one stream of cells in ascending latitude.
//!
//! The pyramid needs its cells in latitude order (see [`crate::pyramid`]). The four
//! quadrant tables split at 36°N (and 5°E), and each table's key sorts by latitude
//! first, so the south tables (`se`, `sw`) merged by latitude, followed by the north
//! tables (`ne`, `nw`) merged the same way, give that order without sorting anything.
//! Each table is read with keyset pagination in pages of bounded size, so memory does not
//! grow with the table.

use std::collections::VecDeque;

use ichnaea_core::shard::DataMapShard;
use ichnaea_core::time::Date;
use ichnaea_db::datamap::datamap_page;
use ichnaea_db::{DbError, DbPool};

use crate::jitter;

/// Rows read per query (the reference reads 200 000; smaller pages keep two cursors'
/// buffers small).
pub const DEFAULT_PAGE_SIZE: usize = 50_000;

/// A grid cell ready to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    /// Latitude × 1000.
    pub lat_scaled: i32,
    /// Longitude × 1000.
    pub lon_scaled: i32,
    /// Months since the cell was last modified (rounded).
    pub months: u32,
}

/// Counts of what the source read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SourceStats {
    /// Rows read from the four tables.
    pub rows: u64,
    /// Rows without a `modified` date (never written by the pipeline), skipped.
    pub undated: u64,
}

/// One table's keyset cursor with its buffered page.
struct TableCursor {
    shard: DataMapShard,
    after: Option<Vec<u8>>,
    buffer: VecDeque<Cell>,
    exhausted: bool,
}

impl TableCursor {
    fn new(shard: DataMapShard) -> TableCursor {
        TableCursor {
            shard,
            after: None,
            buffer: VecDeque::new(),
            exhausted: false,
        }
    }

    /// Makes sure the buffer holds a row unless the table is exhausted.
    async fn fill(
        &mut self,
        pool: &DbPool,
        page_size: usize,
        today: Date,
        stats: &mut SourceStats,
    ) -> Result<(), DbError> {
        while self.buffer.is_empty() && !self.exhausted {
            let mut conn = pool.get().await?;
            let page =
                datamap_page(&mut conn, self.shard, self.after.as_deref(), page_size).await?;
            drop(conn);
            stats.rows += page.rows.len() as u64;
            for (grid, modified) in page.rows {
                let Some(modified) = modified else {
                    stats.undated += 1;
                    continue;
                };
                self.buffer.push_back(Cell {
                    lat_scaled: grid.lat_scaled(),
                    lon_scaled: grid.lon_scaled(),
                    months: jitter::months_since(modified, today),
                });
            }
            match page.next {
                Some(next) => self.after = Some(next),
                None => self.exhausted = true,
            }
        }
        Ok(())
    }

    fn front_lat(&self) -> Option<i32> {
        self.buffer.front().map(|c| c.lat_scaled)
    }
}

/// Reads every datamap cell in ascending latitude and hands them to `sink` in batches of
/// at most `page_size` cells; stops early if `sink` returns `false`.
pub async fn read_cells(
    pool: &DbPool,
    today: Date,
    page_size: usize,
    mut sink: impl AsyncFnMut(Vec<Cell>) -> bool,
) -> Result<SourceStats, DbError> {
    let page_size = page_size.max(1);
    let mut stats = SourceStats::default();
    for (a, b) in [
        (DataMapShard::Se, DataMapShard::Sw),
        (DataMapShard::Ne, DataMapShard::Nw),
    ] {
        let mut cursors = [TableCursor::new(a), TableCursor::new(b)];
        let mut batch = Vec::with_capacity(page_size);
        loop {
            for cursor in &mut cursors {
                cursor.fill(pool, page_size, today, &mut stats).await?;
            }
            let pick = match (cursors[0].front_lat(), cursors[1].front_lat()) {
                (None, None) => break,
                (Some(_), None) => 0,
                (None, Some(_)) => 1,
                (Some(x), Some(y)) => usize::from(y < x),
            };
            // Take the run of rows up to the other cursor's latitude in one go.
            let limit = cursors[1 - pick].front_lat().unwrap_or(i32::MAX);
            while let Some(cell) = cursors[pick].buffer.front().copied() {
                if cell.lat_scaled > limit {
                    break;
                }
                cursors[pick].buffer.pop_front();
                batch.push(cell);
                if batch.len() >= page_size && !sink(std::mem::take(&mut batch)).await {
                    return Ok(stats);
                }
            }
        }
        if !batch.is_empty() && !sink(batch).await {
            return Ok(stats);
        }
    }
    Ok(stats)
}
