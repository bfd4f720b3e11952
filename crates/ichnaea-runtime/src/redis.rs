//! The Redis connection pool.
//!
//! Like the database pools, the Redis pool is built without connecting: a process starts
//! while Redis is down and recovers by itself once it is back. Every checkout is bounded by
//! `REDIS_TIMEOUT_MS`, and every command by a response timeout, so an unreachable Redis
//! turns into a fast error instead of a hung request.
//!
//! Checking a connection out of the pool costs a round trip: the pool pings every
//! connection it hands out. That doubled the Redis round trips of a locate request, whose
//! own work is one short transaction. So the hot paths (daily limits, queue pushes and
//! claims, the fallback cache) use [`RedisClient::shared`] instead: one multiplexed
//! connection, taken from the pool once and then shared by every task of the process.
//! Commands from concurrent requests travel together on its socket, and a connection that
//! fails is dropped, so the next command checks out (and so verifies) a fresh one.
//! Anything that needs a connection to itself (`WATCH`, blocking commands) uses
//! [`RedisClient::get`].

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use deadpool_redis::{Connection, Manager, Pool};
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Cmd, Pipeline, RedisFuture, Value};
use secrecy::{ExposeSecret, SecretString};
use thiserror::Error;

/// A Redis failure.
#[derive(Debug, Error)]
pub enum RedisError {
    /// The configured URL is unusable.
    #[error("invalid Redis configuration: {0}")]
    Config(String),
    /// No connection could be had in time.
    #[error("Redis unavailable: {0}")]
    Unavailable(String),
    /// A command failed.
    #[error("Redis command failed: {0}")]
    Command(#[from] redis::RedisError),
    /// Stored data could not be decoded.
    #[error("bad data in Redis: {0}")]
    Data(String),
}

impl RedisError {
    /// True when Redis could not be reached (as opposed to a bad command or bad data).
    pub fn is_unavailable(&self) -> bool {
        match self {
            RedisError::Unavailable(_) => true,
            RedisError::Command(e) => {
                e.is_io_error()
                    || e.is_timeout()
                    || e.is_connection_dropped()
                    || e.is_connection_refusal()
            }
            _ => false,
        }
    }
}

/// A pooled Redis client, cheap to clone.
#[derive(Clone)]
pub struct RedisClient {
    pool: Pool,
    timeout: Duration,
    shared: Arc<SharedSlot>,
}

/// The process-wide multiplexed connection, when one is established.
#[derive(Default)]
struct SharedSlot(Mutex<Option<MultiplexedConnection>>);

impl SharedSlot {
    fn current(&self) -> Option<MultiplexedConnection> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, conn: Option<MultiplexedConnection>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = conn;
    }
}

impl RedisClient {
    /// Builds the pool without connecting.
    pub fn new(
        uri: &SecretString,
        max_size: usize,
        timeout: Duration,
    ) -> Result<RedisClient, RedisError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout.max(Duration::from_secs(5))));
        // The error text of an unparsable URL may echo the URL; keep it out.
        let manager = Manager::new_with_config(uri.expose_secret(), config)
            .map_err(|_| RedisError::Config("REDIS_URI is not a valid Redis URL".into()))?;
        let pool = Pool::builder(manager)
            .max_size(max_size.max(1))
            .wait_timeout(Some(timeout))
            .create_timeout(Some(timeout))
            .recycle_timeout(Some(timeout))
            .runtime(deadpool_redis::Runtime::Tokio1)
            .build()
            .map_err(|e| RedisError::Config(e.to_string()))?;
        Ok(RedisClient {
            pool,
            timeout,
            shared: Arc::default(),
        })
    }

    /// The process's shared connection (see the module docs): no checkout, no ping.
    /// Establishing it, after start or after a failure, checks a verified connection out
    /// of the pool.
    pub async fn shared(&self) -> Result<SharedConnection, RedisError> {
        let conn = match self.shared.current() {
            Some(conn) => conn,
            None => {
                let checked_out = self.get().await?;
                let conn = MultiplexedConnection::clone(&checked_out);
                self.shared.set(Some(conn.clone()));
                conn
            }
        };
        Ok(SharedConnection {
            conn,
            slot: Arc::clone(&self.shared),
        })
    }

    /// Checks out a connection.
    pub async fn get(&self) -> Result<Connection, RedisError> {
        match tokio::time::timeout(self.timeout * 3, self.pool.get()).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(RedisError::Unavailable(e.to_string())),
            Err(_) => Err(RedisError::Unavailable(
                "timed out waiting for a connection".into(),
            )),
        }
    }

    /// `PING`, for the heartbeat. It checks a connection out of the pool, which pings it
    /// once more: the heartbeat tests the pool as well as the server.
    pub async fn ping(&self) -> Result<(), RedisError> {
        let mut conn = self.get().await?;
        let pong: String = redis::cmd("PING").query_async(&mut conn).await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(RedisError::Data(format!("unexpected PING answer {pong:?}")))
        }
    }

    /// Current pool state: (max size, open connections, idle connections, waiters).
    pub fn status(&self) -> (usize, usize, usize, usize) {
        let s = self.pool.status();
        (s.max_size, s.size, s.available, s.waiting)
    }
}

/// A handle on the process's shared connection; see [`RedisClient::shared`]. A command
/// that fails because the connection is broken retires it, so the next
/// [`RedisClient::shared`] reconnects.
pub struct SharedConnection {
    conn: MultiplexedConnection,
    slot: Arc<SharedSlot>,
}

impl SharedConnection {
    fn retire_on_failure<T>(&self, result: &redis::RedisResult<T>) {
        if let Err(e) = result
            && (e.is_unrecoverable_error()
                || e.is_io_error()
                || e.is_connection_dropped()
                || e.is_timeout())
        {
            self.slot.set(None);
        }
    }
}

impl ConnectionLike for SharedConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let result = self.conn.req_packed_command(cmd).await;
            self.retire_on_failure(&result);
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let result = self.conn.req_packed_commands(pipeline, offset, count).await;
            self.retire_on_failure(&result);
            result
        })
    }

    fn get_db(&self) -> i64 {
        self.conn.get_db()
    }
}
