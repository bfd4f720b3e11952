//! The datamap quadrant tables (`pipeline.md` §7).
//!
//! [`update_datamap`] records dequeued grid cells of one quadrant in one transaction:
//! lock the cells that exist (`SELECT grid, modified … FOR UPDATE`), let the pure
//! [`plan_datamap_update`] decide, then `INSERT IGNORE` the new cells (`created =
//! modified = today`) in one statement and set `modified = today` on the others in one
//! more. The plan is idempotent (a second run the same day finds every cell modified
//! today), so the optional batch marker only saves work. The transaction runs under the
//! lock-retry policy (`crate::retry`; the reference's metric is `datamaps.dberror`), and
//! batches of one quadrant take turns across workers (`crate::shard_lock`): while
//! another batch holds the quadrant, [`update_datamap`] returns a
//! [`DbError::is_busy`] error without writing.
//!
//! [`cleanup_datamap`] deletes cells not seen for a year.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel_async::{AsyncMysqlConnection, RunQueryDsl};
use ichnaea_core::grid::Grid;
use ichnaea_core::pipeline::datamap::{
    DataMapRow, DatamapPlan, datamap_cleanup_cutoff, plan_datamap_update,
};
use ichnaea_core::shard::DataMapShard;
use ichnaea_core::time::{Date, DateTime};

use crate::convert::{date_from_sql, date_to_sql, grid_from_sql, grid_to_sql};
use crate::error::DbError;
use crate::markers::{self, BatchMarker};
use crate::retry::{BatchStatus, Retried, retry_transaction};
use crate::shard_lock;
use crate::shards::with_datamap_table;

/// Records dequeued grid cells in their quadrant table (`today` is `now.date()`),
/// exactly once per `marker` if one is given; returns the plan that was written. Every
/// grid must belong to `shard` (else an [`DbError::is_invalid`] error and no write).
pub async fn update_datamap(
    conn: &mut AsyncMysqlConnection,
    shard: DataMapShard,
    marker: Option<&BatchMarker>,
    grids: &[Grid],
    now: DateTime,
) -> Result<Retried<BatchStatus<DatamapPlan>>, DbError> {
    if grids.iter().any(|g| g.shard() != shard) {
        return Err(DbError::invalid(format!(
            "a grid cell does not belong to table {}",
            shard.table_name()
        )));
    }
    if grids.is_empty() {
        return Ok(Retried {
            value: BatchStatus::Applied(DatamapPlan::default()),
            lock_failures: Vec::new(),
        });
    }
    // Batches of one quadrant take turns across workers, as station batches do: new
    // cells are inserted into the gaps that `FOR UPDATE` locked, and two workers'
    // batches deadlocked on them.
    shard_lock::try_acquire(conn, shard.table_name()).await?;
    let result = retry_transaction!(conn, async |c| {
        datamap_attempt(c, shard, marker, grids, now).await
    });
    let released = shard_lock::release(conn).await;
    let result = result?;
    released?;
    Ok(result)
}

async fn datamap_attempt(
    conn: &mut AsyncMysqlConnection,
    shard: DataMapShard,
    marker: Option<&BatchMarker>,
    grids: &[Grid],
    now: DateTime,
) -> Result<BatchStatus<DatamapPlan>, DbError> {
    if !markers::claim(conn, marker, now).await? {
        return Ok(BatchStatus::AlreadyProcessed);
    }
    let today = now.date();
    let today_sql = date_to_sql(today)?;
    let ids: BTreeSet<Vec<u8>> = grids.iter().map(|g| grid_to_sql(*g)).collect();
    let locked: Vec<(Vec<u8>, Option<NaiveDate>)> = with_datamap_table!(shard, t => {
        t::table
            .filter(t::grid.eq_any(&ids))
            .select((t::grid, t::modified))
            .for_update()
            .load(conn)
            .await
    })?;
    // A NULL `modified` (never written by the pipeline) counts as long ago.
    let existing: HashMap<Grid, Date> = locked
        .into_iter()
        .filter_map(|(id, modified)| {
            Some((
                grid_from_sql(&id)?,
                modified.map_or(Date::EPOCH, date_from_sql),
            ))
        })
        .collect();
    let plan = plan_datamap_update(grids, &existing, today);
    if !plan.insert.is_empty() {
        let new_ids: Vec<Vec<u8>> = plan.insert.iter().map(|r| grid_to_sql(r.grid)).collect();
        with_datamap_table!(shard, t => {
            let values: Vec<_> = new_ids
                .iter()
                .map(|id| {
                    (
                        t::grid.eq(id),
                        t::created.eq(today_sql),
                        t::modified.eq(today_sql),
                    )
                })
                .collect();
            diesel::insert_or_ignore_into(t::table)
                .values(values)
                .execute(conn)
                .await
        })?;
    }
    if !plan.touch.is_empty() {
        let touched: Vec<Vec<u8>> = plan.touch.iter().map(|g| grid_to_sql(*g)).collect();
        with_datamap_table!(shard, t => {
            diesel::update(t::table.filter(t::grid.eq_any(&touched)))
                .set(t::modified.eq(today_sql))
                .execute(conn)
                .await
        })?;
    }
    Ok(BatchStatus::Applied(plan))
}

/// `cleanup_datamap`: deletes the cells of a quadrant not modified within a year of
/// `today`; returns how many were deleted.
pub async fn cleanup_datamap(
    conn: &mut AsyncMysqlConnection,
    shard: DataMapShard,
    today: Date,
) -> Result<usize, DbError> {
    let cutoff = date_to_sql(datamap_cleanup_cutoff(today))?;
    Ok(with_datamap_table!(shard, t => {
        diesel::delete(t::table.filter(t::modified.lt(cutoff)))
            .execute(conn)
            .await
    })?)
}

/// One page of a quadrant for the tile renderer, in key order (ascending latitude, then
/// longitude).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatamapPage {
    /// `(grid, modified)` of each row; rows with a malformed grid are left out.
    pub rows: Vec<(Grid, Option<Date>)>,
    /// The raw key to continue after, or `None` when this was the last page.
    pub next: Option<Vec<u8>>,
}

/// Reads up to `limit` rows of a quadrant whose key is greater than `after` (keyset
/// pagination, as the reference's export: `WHERE grid > :last ORDER BY grid LIMIT n`), so
/// a table of any size is read in pages of bounded size without holding a cursor open.
pub async fn datamap_page(
    conn: &mut AsyncMysqlConnection,
    shard: DataMapShard,
    after: Option<&[u8]>,
    limit: usize,
) -> Result<DatamapPage, DbError> {
    let limit = limit.max(1);
    let sql_limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let raw: Vec<(Vec<u8>, Option<NaiveDate>)> = with_datamap_table!(shard, t => {
        let query = t::table
            .select((t::grid, t::modified))
            .order(t::grid)
            .limit(sql_limit)
            .into_boxed();
        let query = match after {
            Some(key) => query.filter(t::grid.gt(key.to_vec())),
            None => query,
        };
        query.load(conn).await
    })?;
    let next = if raw.len() < limit {
        None
    } else {
        raw.last().map(|(key, _)| key.clone())
    };
    let rows = raw
        .into_iter()
        .filter_map(|(key, modified)| Some((grid_from_sql(&key)?, modified.map(date_from_sql))))
        .collect();
    Ok(DatamapPage { rows, next })
}

/// `grid, created, modified` of a datamap row.
type DataMapSql = (Vec<u8>, Option<NaiveDate>, Option<NaiveDate>);

/// Every row of a quadrant, in key order (for the tile export and tests). Rows with a
/// malformed grid or a NULL date are skipped.
pub async fn load_datamap(
    conn: &mut AsyncMysqlConnection,
    shard: DataMapShard,
) -> Result<Vec<DataMapRow>, DbError> {
    let rows: Vec<DataMapSql> = with_datamap_table!(shard, t => {
        t::table
            .select((t::grid, t::created, t::modified))
            .order(t::grid)
            .load(conn)
            .await
    })?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, created, modified)| {
            Some(DataMapRow {
                grid: grid_from_sql(&id)?,
                created: date_from_sql(created?),
                modified: date_from_sql(modified?),
            })
        })
        .collect())
}
