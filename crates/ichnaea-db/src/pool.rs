//! The two MySQL connection pools.
//!
//! The reference splits database access by role (`pipeline.md` §1): the api only reads
//! (`DB_READONLY_URI`, usually a replica) and the worker and admin tools write
//! (`DB_READWRITE_URI`, the primary). [`DbPools`] keeps that split explicit at every call
//! site: code asks for [`DbPools::read`] or [`DbPools::write`].
//!
//! Pools are built lazily: creating one never connects, so a service starts even while the
//! database is down and recovers by itself when it returns (checkouts verify their
//! connection, and broken ones are replaced).
//!
//! # Checkout checks
//!
//! The write pool verifies every connection it hands out with a `SELECT 1`: its users run
//! batches of many statements, so one more round trip is noise. The read pool serves the
//! api's per-request lookups, where that round trip was a quarter of the database work of
//! a WiFi query; it only verifies a connection that sat unused for [`READ_VERIFY_IDLE`]
//! (long enough for a server restart or an idle timeout to have closed it), and its users
//! end checkouts with [`DbPool::release`], which drops a connection after an error instead
//! of returning it.
//!
//! Acquire timeouts are short, so a missing database turns into a quick `503` rather than
//! piling up requests.
//!
//! Every connection runs in strict SQL mode with InnoDB strict mode and UTC, whatever the
//! server's defaults, so behaviour is the same on MariaDB 10.11 and MySQL 8.

use std::fmt;
use std::time::Duration;

use diesel::ConnectionError;
use diesel_async::pooled_connection::deadpool::{Hook, HookError, Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncMysqlConnection, SimpleAsyncConnection};
use secrecy::{ExposeSecret, SecretString};

use crate::error::DbError;

/// A pooled MySQL connection.
pub type DbConn = Object<AsyncMysqlConnection>;

/// Session settings applied to every new connection: the deployment guide's strict modes,
/// enforced from the client side so a lenient server default cannot change behaviour.
/// (The isolation level uses the statement form: MariaDB 10.11 and MySQL 8 disagree on the
/// name of the variable.)
pub(crate) const SESSION_SETUP: &str = "SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION,STRICT_TRANS_TABLES', \
     SESSION innodb_strict_mode = ON; \
     SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ";

/// How long a read-pool connection may sit unused before a checkout verifies it.
pub const READ_VERIFY_IDLE: Duration = Duration::from_secs(1);

/// How a pool checks a connection before handing it out again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checkout {
    /// `SELECT 1` on every checkout.
    Verified,
    /// `SELECT 1` only when the connection was unused for this long.
    VerifiedAfterIdle(Duration),
}

/// How one pool connects.
#[derive(Clone)]
pub struct PoolConfig {
    /// `mysql://user:password@host:port/database`; `mysql+pymysql://` is accepted too.
    pub url: SecretString,
    /// Maximum number of connections.
    pub max_size: usize,
    /// How long a checkout may wait for a free connection or for a new one to connect.
    pub timeout: Duration,
}

impl fmt::Debug for PoolConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolConfig")
            .field("url", &redact_url(self.url.expose_secret()))
            .field("max_size", &self.max_size)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A snapshot of a pool's state, for the heartbeat and the `db.pool` gauges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PoolStatus {
    /// Configured maximum.
    pub max_size: usize,
    /// Connections currently open.
    pub size: usize,
    /// Open connections not in use.
    pub available: usize,
    /// Tasks waiting for a connection.
    pub waiting: usize,
}

/// One connection pool.
#[derive(Clone)]
pub struct DbPool {
    pool: Pool<AsyncMysqlConnection>,
    timeout: Duration,
    database: String,
}

impl DbPool {
    /// Builds a pool without connecting; every checkout verifies its connection.
    pub fn new(config: &PoolConfig) -> Result<DbPool, DbError> {
        Self::build(config, Checkout::Verified)
    }

    /// Builds a pool for per-request reads: a checkout only verifies a connection that
    /// was unused for [`READ_VERIFY_IDLE`] (see the module documentation).
    pub fn new_for_reads(config: &PoolConfig) -> Result<DbPool, DbError> {
        Self::build(config, Checkout::VerifiedAfterIdle(READ_VERIFY_IDLE))
    }

    fn build(config: &PoolConfig, checkout: Checkout) -> Result<DbPool, DbError> {
        let url = normalize_url(config.url.expose_secret())?;
        let database = database_name(&url);
        let mut manager_config = ManagerConfig::default();
        manager_config.custom_setup = Box::new(|url| Box::pin(establish(url.to_owned())));
        if let Checkout::VerifiedAfterIdle(_) = checkout {
            // The manager then only checks for an open transaction; the hook below adds
            // the ping for connections that sat unused.
            manager_config.recycling_method = RecyclingMethod::Fast;
        }
        let mut builder = Pool::builder(AsyncDieselConnectionManager::new_with_config(
            url,
            manager_config,
        ))
        .max_size(config.max_size.max(1));
        if let Checkout::VerifiedAfterIdle(idle) = checkout {
            // A failed ping discards the connection and the checkout tries the next one.
            builder = builder.pre_recycle(Hook::async_fn(
                move |conn: &mut AsyncMysqlConnection, metrics| {
                    let stale = metrics.last_used() >= idle;
                    Box::pin(async move {
                        if stale {
                            conn.batch_execute("SELECT 1")
                                .await
                                .map_err(|e| HookError::message(e.to_string()))?;
                        }
                        Ok(())
                    })
                },
            ));
        }
        let pool = builder
            .wait_timeout(Some(config.timeout))
            .create_timeout(Some(config.timeout))
            .recycle_timeout(Some(config.timeout))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| DbError::config(format!("cannot build pool: {e}")))?;
        Ok(DbPool {
            pool,
            timeout: config.timeout,
            database,
        })
    }

    /// Checks out a connection, waiting at most the configured timeout.
    pub async fn get(&self) -> Result<DbConn, DbError> {
        // deadpool's own timeouts cover waiting and connecting; this outer bound also
        // covers a recycle check stuck on a half-open TCP connection.
        match tokio::time::timeout(self.timeout * 3, self.pool.get()).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(DbError::unavailable(e.to_string())),
            Err(_) => Err(DbError::unavailable("timed out waiting for a connection")),
        }
    }

    /// Ends a checkout with the `result` of the work done on `conn`: a success returns
    /// the connection to the pool; an error, which may have left it broken, drops it (the
    /// pool opens a new one when needed). Users of the read pool must end checkouts this
    /// way (see the module documentation).
    pub fn release<T>(conn: DbConn, result: Result<T, DbError>) -> Result<T, DbError> {
        if result.is_err() {
            drop(Object::take(conn));
        }
        result
    }

    /// The pool's current state.
    pub fn status(&self) -> PoolStatus {
        let s = self.pool.status();
        PoolStatus {
            max_size: s.max_size,
            size: s.size,
            available: s.available,
            waiting: s.waiting,
        }
    }

    /// The database (schema) name this pool connects to.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// Closes the pool: waiting and future checkouts fail.
    pub fn close(&self) {
        self.pool.close();
    }
}

async fn establish(url: String) -> diesel::ConnectionResult<AsyncMysqlConnection> {
    let mut conn = AsyncMysqlConnection::establish(&url).await?;
    conn.batch_execute(SESSION_SETUP)
        .await
        .map_err(ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

/// The read-only and the read-write pool of a process.
///
/// A binary that needs only one role leaves the other unset; asking for it is then a
/// configuration error, reported clearly instead of silently using the wrong server.
#[derive(Clone, Default)]
pub struct DbPools {
    read: Option<DbPool>,
    write: Option<DbPool>,
}

impl DbPools {
    /// Builds the configured pools (without connecting).
    pub fn new(read: Option<&PoolConfig>, write: Option<&PoolConfig>) -> Result<DbPools, DbError> {
        Ok(DbPools {
            read: read.map(DbPool::new_for_reads).transpose()?,
            write: write.map(DbPool::new).transpose()?,
        })
    }

    /// The read-only pool (`DB_READONLY_URI`), for lookups.
    pub fn read(&self) -> Result<&DbPool, DbError> {
        self.read
            .as_ref()
            .ok_or_else(|| DbError::config("DB_READONLY_URI is not configured for this process"))
    }

    /// The read-write pool (`DB_READWRITE_URI`), for updates.
    pub fn write(&self) -> Result<&DbPool, DbError> {
        self.write
            .as_ref()
            .ok_or_else(|| DbError::config("DB_READWRITE_URI is not configured for this process"))
    }

    /// The state of each configured pool, labelled `read` / `write`.
    pub fn status(&self) -> Vec<(&'static str, PoolStatus)> {
        let mut out = Vec::new();
        if let Some(p) = &self.read {
            out.push(("read", p.status()));
        }
        if let Some(p) = &self.write {
            out.push(("write", p.status()));
        }
        out
    }
}

/// Turns the URL forms operators use into one `mysql_async` accepts: the reference's
/// `mysql+pymysql://` scheme becomes `mysql://` and its `charset` parameter is dropped
/// (connections always use utf8mb4).
pub fn normalize_url(url: &str) -> Result<String, DbError> {
    let mut parsed =
        url::Url::parse(url).map_err(|e| DbError::config(format!("invalid database URL: {e}")))?;
    let scheme = parsed.scheme().to_owned();
    if scheme != "mysql" {
        if scheme.starts_with("mysql+") {
            // `Url::set_scheme` refuses some special-to-non-special changes; rebuilding is
            // simpler and keeps every other part.
            let rest = &url[scheme.len()..];
            parsed = url::Url::parse(&format!("mysql{rest}"))
                .map_err(|e| DbError::config(format!("invalid database URL: {e}")))?;
        } else {
            return Err(DbError::config(format!(
                "database URL must start with mysql://, not {scheme}://"
            )));
        }
    }
    if parsed.path().trim_start_matches('/').is_empty() {
        return Err(DbError::config(
            "database URL must name a database, e.g. mysql://user@host:3306/location",
        ));
    }
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| k != "charset")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(kept);
    }
    Ok(parsed.into())
}

/// The URL with its password replaced by `***`, for display.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                // Setting a password only fails for URLs that cannot have one.
                let _ = parsed.set_password(Some("***"));
            }
            parsed.into()
        }
        Err(_) => "<unparsable URL>".to_owned(),
    }
}

fn database_name(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.path().trim_start_matches('/').to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_url_forms_are_accepted() {
        assert_eq!(
            normalize_url("mysql+pymysql://root:location@db:3306/location?charset=utf8").unwrap(),
            "mysql://root:location@db:3306/location"
        );
        assert_eq!(
            normalize_url("mysql://u@127.0.0.1/location?charset=utf8&prefer_socket=false").unwrap(),
            "mysql://u@127.0.0.1/location?prefer_socket=false"
        );
    }

    #[test]
    fn bad_urls_are_explained() {
        let err = normalize_url("postgres://x@y/z").unwrap_err().to_string();
        assert!(err.contains("mysql://"), "{err}");
        let err = normalize_url("mysql://x@y").unwrap_err().to_string();
        assert!(err.contains("name a database"), "{err}");
        assert!(normalize_url("not a url").is_err());
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("mysql://root:hunter2@db:3306/location"),
            "mysql://root:***@db:3306/location"
        );
        assert_eq!(
            redact_url("mysql://root@db/location"),
            "mysql://root@db/location"
        );
        let config = PoolConfig {
            url: "mysql://root:hunter2@db/location".into(),
            max_size: 2,
            timeout: Duration::from_secs(1),
        };
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[tokio::test]
    async fn missing_role_is_a_clear_error() {
        let pools = DbPools::default();
        let err = pools.read().err().unwrap().to_string();
        assert!(err.contains("DB_READONLY_URI"), "{err}");
        let err = pools.write().err().unwrap().to_string();
        assert!(err.contains("DB_READWRITE_URI"), "{err}");
    }
}
