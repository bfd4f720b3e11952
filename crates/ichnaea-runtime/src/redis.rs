//! The Redis connection pool.
//!
//! Like the database pools, the Redis pool is built without connecting: a process starts
//! while Redis is down and recovers by itself once it is back. Every checkout is bounded by
//! `REDIS_TIMEOUT_MS`, and every command by a response timeout, so an unreachable Redis
//! turns into a fast error instead of a hung request.

use std::time::Duration;

use deadpool_redis::{Connection, Manager, Pool};
use redis::AsyncConnectionConfig;
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
        Ok(RedisClient { pool, timeout })
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

    /// `PING`, for the heartbeat.
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
