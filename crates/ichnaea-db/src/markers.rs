//! Batch markers: exactly-once database effects under at-least-once queue delivery.
//!
//! # Why
//!
//! The worker dequeues a batch, applies it in one transaction, and only then removes it
//! from the queue. A crash (or a lost connection) between the commit and the removal makes
//! the same batch come back. Most pipeline updates are **not** idempotent: a station
//! batch applied twice merges its observations twice (samples and weights double, a
//! `new` becomes a `change`, `block_count` increments again), and a stat counter folded
//! twice counts twice (`ichnaea_core::pipeline` module documentation).
//!
//! # How
//!
//! Every batch carries a [`BatchMarker`]: the queue it came from and an id unique within
//! that queue. Inside the batch's own transaction, **before** anything else, the writer
//! runs `INSERT IGNORE INTO pipeline_batch (queue, batch_id, processed)`:
//!
//! * one row inserted → first delivery: the batch is applied, and the marker commits or
//!   rolls back **atomically** with its writes, so "marker exists" means exactly "the
//!   batch's writes are committed";
//! * nothing inserted (the key exists) → a replay of a committed batch: the transaction
//!   writes nothing and the call reports [`crate::retry::BatchStatus::AlreadyProcessed`];
//! * two workers holding the same batch at once: the second `INSERT` waits on the first
//!   one's key lock; when the first commits, the second sees the duplicate and skips; if
//!   the first rolls back, the second applies the batch. Claiming first also means
//!   duplicates queue up on one small key instead of deadlocking on station rows.
//!
//! A lock-failure retry (`crate::retry`) rolls back the marker with everything else and
//! claims it again in the next attempt.
//!
//! Markers are only needed for as long as a batch can be redelivered;
//! [`cleanup_batch_markers`] deletes old ones (index on `processed`).

use diesel::prelude::*;
use diesel_async::{AsyncMysqlConnection, RunQueryDsl};
use ichnaea_core::time::DateTime;

use crate::convert::datetime_to_sql;
use crate::error::DbError;
use crate::schema::pipeline_batch;

/// How long markers are kept by default: far longer than any queue keeps an item.
pub const DEFAULT_MARKER_MAX_AGE_DAYS: u32 = 7;

/// The identity of one dequeued batch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BatchMarker {
    queue: String,
    id: u64,
}

impl BatchMarker {
    /// Longest queue name the `pipeline_batch.queue` column holds.
    pub const MAX_QUEUE_LEN: usize = 64;

    /// A marker for batch `id` of `queue` (e.g. `update_wifi_6`). The queue name must be
    /// 1 to 64 characters.
    pub fn new(queue: impl Into<String>, id: u64) -> Result<BatchMarker, DbError> {
        let queue = queue.into();
        let len = queue.chars().count();
        if len == 0 || len > Self::MAX_QUEUE_LEN {
            return Err(DbError::invalid(format!(
                "batch marker queue names must have 1 to {} characters, not {len}",
                Self::MAX_QUEUE_LEN
            )));
        }
        Ok(BatchMarker { queue, id })
    }

    /// The queue name.
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// The batch id within the queue.
    pub fn id(&self) -> u64 {
        self.id
    }
}

/// Claims a batch inside the caller's transaction: `true` if this is its first
/// application (the marker was inserted), `false` for a replay. No marker (`None`)
/// always proceeds.
pub(crate) async fn claim(
    conn: &mut AsyncMysqlConnection,
    marker: Option<&BatchMarker>,
    now: DateTime,
) -> Result<bool, DbError> {
    let Some(marker) = marker else {
        return Ok(true);
    };
    let inserted = diesel::insert_or_ignore_into(pipeline_batch::table)
        .values((
            pipeline_batch::queue.eq(marker.queue()),
            pipeline_batch::batch_id.eq(marker.id()),
            pipeline_batch::processed.eq(datetime_to_sql(now)?),
        ))
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

/// Whether a batch's marker exists (its writes are committed).
pub async fn is_batch_processed(
    conn: &mut AsyncMysqlConnection,
    marker: &BatchMarker,
) -> Result<bool, DbError> {
    let found: Option<u64> = pipeline_batch::table
        .filter(pipeline_batch::queue.eq(marker.queue()))
        .filter(pipeline_batch::batch_id.eq(marker.id()))
        .select(pipeline_batch::batch_id)
        .first(conn)
        .await
        .optional()?;
    Ok(found.is_some())
}

/// Deletes the markers processed more than `max_age_days` days before `now`; returns how
/// many were deleted.
pub async fn cleanup_batch_markers(
    conn: &mut AsyncMysqlConnection,
    now: DateTime,
    max_age_days: u32,
) -> Result<usize, DbError> {
    let cutoff = datetime_to_sql(now.add_days(-i64::from(max_age_days)))?;
    Ok(
        diesel::delete(pipeline_batch::table.filter(pipeline_batch::processed.lt(cutoff)))
            .execute(conn)
            .await?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_must_fit_the_column() {
        assert!(BatchMarker::new("", 1).unwrap_err().is_invalid());
        assert!(BatchMarker::new("q".repeat(65), 1).is_err());
        let marker = BatchMarker::new("q".repeat(64), 7).unwrap();
        assert_eq!((marker.queue().len(), marker.id()), (64, 7));
    }
}
