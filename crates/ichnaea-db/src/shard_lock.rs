//! One station batch per table at a time, across every worker.
//!
//! # Why
//!
//! A station batch locks its rows with `SELECT … FOR UPDATE` and inserts new stations
//! into the gaps between them. Two batches of the same table in different worker
//! processes (each process runs one consumer per shard queue) take those gap locks in
//! interleaved order and deadlock. With batches of thousands of observations that
//! happened every few seconds of a backlog; the lock-retry policy gave up on some of them
//! after three attempts, and such a batch then waited out a whole queue lease.
//!
//! So a batch first takes a server-wide named lock of its table (`GET_LOCK`, scoped to
//! the database), holds it for its transaction, including lock-retries, and releases it
//! afterwards. Batches of different tables still run in parallel; batches of one table
//! take turns instead of deadlocking. The lock is only tried, never waited for on the
//! server: a busy table is reported as [`DbError::is_busy`] at once, so the caller can
//! give its connection back to the pool while it waits (a worker's consumers of ~40
//! queues share a handful of connections). If a worker dies, MySQL releases the lock
//! with its connection.

use diesel::QueryableByName;
use diesel::sql_types::{Integer, Nullable, Text};
use diesel_async::{AsyncMysqlConnection, RunQueryDsl};

use crate::error::DbError;

#[derive(QueryableByName)]
struct LockAnswer {
    #[diesel(sql_type = Nullable<Integer>)]
    ok: Option<i32>,
}

/// The lock's name: a hash of the database and table names (MySQL allows 64
/// characters), so databases on one server do not share locks.
const NAME: &str = "SHA1(CONCAT(DATABASE(), '/', ?))";

/// Takes the named lock of `table` for this connection if it is free; a
/// [`DbError::busy`] error if another session holds it.
pub(crate) async fn try_acquire(
    conn: &mut AsyncMysqlConnection,
    table: &str,
) -> Result<(), DbError> {
    let answer: LockAnswer = diesel::sql_query(format!("SELECT GET_LOCK({NAME}, 0) AS ok"))
        .bind::<Text, _>(table)
        .get_result(conn)
        .await?;
    match answer.ok {
        Some(1) => Ok(()),
        _ => Err(DbError::busy(format!(
            "another batch is writing to {table}"
        ))),
    }
}

/// Releases every named lock of this connection. (All of them, not just one: `GET_LOCK`
/// nests within a connection, so a release that never ran, say after a lost reply,
/// would otherwise leave a pooled connection holding its table's lock for good.)
pub(crate) async fn release(conn: &mut AsyncMysqlConnection) -> Result<(), DbError> {
    let _: LockAnswer = diesel::sql_query("SELECT RELEASE_ALL_LOCKS() AS ok")
        .get_result(conn)
        .await?;
    Ok(())
}
