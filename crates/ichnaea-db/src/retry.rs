//! The lock-retry policy of the pipeline's write transactions (`pipeline.md` §5.10).
//!
//! Several workers may update the same table at once: different batches of one shard
//! queue overlap (a task re-triggers itself while the scheduler starts another), and the
//! locking reads of a batch take InnoDB gap locks on the keys that do not exist yet, so
//! two batches inserting new stations into the same gap deadlock. InnoDB resolves a
//! deadlock by rolling back one transaction (error 1213); a lock that is not granted in
//! time fails the statement (1205). Both are transient, and the remedy is to run the
//! **whole** transaction again from the start: a retry re-reads (and re-locks) the rows,
//! so it sees whatever the other transaction committed and recomputes from that, which
//! keeps the pure pipeline functions' results correct.
//!
//! Like the reference's `retry_on_mysql_lock_fail`, a transaction is attempted at most
//! [`MAX_ATTEMPTS`] times with exponential backoff; other errors are not retried. Every
//! lock failure is reported in [`Retried::lock_failures`] so the caller can emit one
//! `data.station.dberror` (or `datamaps.dberror`) per occurrence with its `errno` tag. If
//! the last attempt fails on a lock too, that error is returned (its
//! [`crate::DbError::lock_failure`] is set) and all [`MAX_ATTEMPTS`] attempts failed.

use std::time::Duration;

use crate::error::{DbError, LockFailure};

/// How many times a transaction is attempted at most (the reference's "max 3 tries").
pub const MAX_ATTEMPTS: usize = 3;

/// The sleep before the first retry; it doubles for each further retry.
const BACKOFF_BASE: Duration = Duration::from_millis(25);

/// The value of a committed transaction and the lock failures of the attempts before it.
#[derive(Debug, Clone, PartialEq)]
pub struct Retried<T> {
    /// What the committed attempt returned.
    pub value: T,
    /// One entry per failed attempt, oldest first (empty when the first attempt
    /// committed).
    pub lock_failures: Vec<LockFailure>,
}

/// Whether a queue batch was applied by this call.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchStatus<T> {
    /// Applied and committed together with its batch marker.
    Applied(T),
    /// Its marker already existed: a replay of a committed batch. Nothing was written,
    /// and the caller must not repeat the post-commit work (queue pushes, counters,
    /// metrics) either.
    AlreadyProcessed,
}

impl<T> BatchStatus<T> {
    /// The applied value, or `None` for a replay.
    pub fn applied(self) -> Option<T> {
        match self {
            BatchStatus::Applied(value) => Some(value),
            BatchStatus::AlreadyProcessed => None,
        }
    }

    /// Whether the batch had already been processed.
    pub fn is_already_processed(&self) -> bool {
        matches!(self, BatchStatus::AlreadyProcessed)
    }
}

/// The sleep after the `failures`-th lock failure.
fn backoff(failures: usize) -> Duration {
    let exponent = u32::try_from(failures.saturating_sub(1))
        .unwrap_or(u32::MAX)
        .min(6);
    BACKOFF_BASE * 2u32.pow(exponent)
}

/// The policy's decision after a failed transaction (already rolled back): when `err` is
/// a lock failure and attempts remain, records it in `lock_failures`, logs it, waits the
/// backoff and returns `true`: run the transaction again. Otherwise returns `false`.
pub(crate) async fn wait_to_retry(err: &DbError, lock_failures: &mut Vec<LockFailure>) -> bool {
    match err.lock_failure() {
        Some(failure) if lock_failures.len() + 1 < MAX_ATTEMPTS => {
            lock_failures.push(failure);
            tracing::warn!(
                errno = failure.errno(),
                attempt = lock_failures.len(),
                "transaction failed on a lock; retrying it"
            );
            tokio::time::sleep(backoff(lock_failures.len())).await;
            true
        }
        _ => false,
    }
}

/// `retry_transaction!(conn, async |c| body)` runs `body` (an expression using the
/// connection `c`, evaluating to `Result<T, DbError>`) in a transaction on `conn`,
/// retrying the whole transaction on lock failures as described in the module
/// documentation; evaluates to `Result<Retried<T>, DbError>`.
///
/// A macro rather than a function: the transaction closure borrows the caller's inputs,
/// and a generic async-closure parameter cannot promise the `Send` future that pooled
/// connections in spawned tasks need.
macro_rules! retry_transaction {
    ($conn:expr, async |$c:ident| $body:expr) => {{
        let conn: &mut diesel_async::AsyncMysqlConnection = $conn;
        let mut lock_failures: Vec<$crate::error::LockFailure> = Vec::new();
        loop {
            let result =
                diesel_async::AsyncConnection::transaction::<_, $crate::error::DbError, _>(
                    &mut *conn,
                    async |$c| $body,
                )
                .await;
            match result {
                Ok(value) => {
                    break Ok($crate::retry::Retried {
                        value,
                        lock_failures,
                    });
                }
                Err(err) => {
                    if !$crate::retry::wait_to_retry(&err, &mut lock_failures).await {
                        break Err(err);
                    }
                }
            }
        }
    }};
}
pub(crate) use retry_transaction;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles() {
        assert_eq!(backoff(1), Duration::from_millis(25));
        assert_eq!(backoff(2), Duration::from_millis(50));
        assert_eq!(backoff(100), Duration::from_millis(25 * 64));
    }

    #[test]
    fn batch_status_accessors() {
        assert_eq!(BatchStatus::Applied(3).applied(), Some(3));
        assert!(BatchStatus::<u8>::AlreadyProcessed.is_already_processed());
        assert_eq!(BatchStatus::<u8>::AlreadyProcessed.applied(), None);
    }
}
