//! Test support: isolated MySQL databases and Redis databases on the real servers, and a
//! TCP proxy that can cut a service off to test outages.
//!
//! Tests run in parallel (nextest runs each test in its own process; `cargo test` runs them
//! on threads), so every test gets its own database and its own Redis database:
//!
//! * [`TestDb`] claims one of a pool of *slots* with MySQL's `GET_LOCK`, held on a
//!   connection for the life of the test. The lock dies with the connection, so a crashed
//!   or killed test never leaks its slot. Each slot has a database migrated with the
//!   current migrations (its name carries a fingerprint of the migration files, so a changed
//!   migration rebuilds it) whose tables are emptied at the start of every test. Creating
//!   ~45 InnoDB tables costs about a second; reusing slots pays that once per slot.
//! * [`TestRedis`] claims one of Redis databases 1–15 with a lock key in database 0 and
//!   flushes it before use.
//!
//! The servers come from `TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306`) and
//! `TEST_REDIS_URL` (default `redis://127.0.0.1:6379`). A server that cannot be reached
//! fails the test with a message saying how to start it; tests never skip silently.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use ichnaea_db::{DbPools, PoolConfig};
use mysql_async::prelude::Queryable;

pub mod geoip;
mod proxy;
pub mod s3;

pub use proxy::TcpProxy;
pub use s3::TestS3;

/// How many test database slots may exist at once.
const MAX_SLOTS: usize = 32;

/// Tables whose rows describe the schema itself and survive the per-test reset.
const KEPT_TABLES: &[&str] = &["__diesel_schema_migrations", "alembic_version"];

/// The MySQL server URL for tests, without a database.
pub fn mysql_server_url() -> String {
    std::env::var("TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// The Redis server URL for tests, without a database number.
pub fn redis_server_url() -> String {
    let url =
        std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    match url.rsplit_once('/') {
        // Drop a trailing "/<db>" so we can choose the database.
        Some((base, db)) if !base.ends_with('/') && db.chars().all(|c| c.is_ascii_digit()) => {
            base.to_owned()
        }
        _ => url.trim_end_matches('/').to_owned(),
    }
}

async fn server_conn() -> Result<mysql_async::Conn> {
    let url = mysql_server_url();
    let opts = mysql_async::Opts::from_url(&url).context("TEST_MYSQL_URL is not a valid URL")?;
    tokio::time::timeout(Duration::from_secs(10), mysql_async::Conn::new(opts))
        .await
        .map_err(|_| anyhow::anyhow!("timed out"))
        .and_then(|r| r.map_err(Into::into))
        .with_context(|| {
            format!(
                "cannot reach the test MySQL server at {url}; start it (./scripts/services.sh) or set TEST_MYSQL_URL"
            )
        })
}

/// A fingerprint of the migration files, so a changed migration gets fresh databases.
fn migrations_fingerprint() -> Result<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    entries.sort();
    let mut hasher = DefaultHasher::new();
    for path in entries {
        path.file_name().hash(&mut hasher);
        std::fs::read(path.join("up.sql"))
            .unwrap_or_default()
            .hash(&mut hasher);
    }
    Ok(format!("{:08x}", hasher.finish() as u32))
}

/// A migrated, empty MySQL database owned by one test.
pub struct TestDb {
    name: String,
    url: String,
    // Holds the slot's GET_LOCK for as long as the test runs.
    _lock: mysql_async::Conn,
}

impl TestDb {
    /// Claims a database slot, migrates it if needed and empties every table.
    pub async fn new() -> TestDb {
        match Self::try_new().await {
            Ok(db) => db,
            Err(e) => panic!("test database: {e:#}"),
        }
    }

    async fn try_new() -> Result<TestDb> {
        let mut lock = server_conn().await?;
        let fingerprint = migrations_fingerprint()?;
        let mut slot = None;
        for attempt in 0..600 {
            for i in 0..MAX_SLOTS {
                let got: Option<Option<i64>> = lock
                    .query_first(format!("SELECT GET_LOCK('ichnaea_test_slot_{i}', 0)"))
                    .await?;
                if got.flatten() == Some(1) {
                    slot = Some(i);
                    break;
                }
            }
            if slot.is_some() || attempt == 599 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let Some(slot) = slot else {
            bail!("all {MAX_SLOTS} test database slots stayed busy for a minute");
        };
        let name = format!("ichnaea_test_{slot}_{fingerprint}");
        let url = format!("{}/{name}", mysql_server_url());

        let prefix = format!("ichnaea\\_test\\_{slot}\\_%");
        let existing: Vec<String> = lock
            .exec(
                "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE ?",
                (prefix,),
            )
            .await?;
        if !existing.contains(&name) {
            for old in existing {
                lock.query_drop(format!("DROP DATABASE IF EXISTS `{old}`"))
                    .await?;
            }
            lock.query_drop(format!("CREATE DATABASE `{name}` CHARACTER SET utf8"))
                .await?;
            ichnaea_db::migrate::run_pending(&url.clone().into())
                .await
                .with_context(|| format!("migrating {name}"))?;
        }
        let tables: Vec<String> = lock
            .exec(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
                (name.clone(),),
            )
            .await?;
        let deletes: String = tables
            .iter()
            .filter(|t| !KEPT_TABLES.contains(&t.as_str()))
            .map(|t| format!("DELETE FROM `{name}`.`{t}`;"))
            .collect();
        lock.query_drop(deletes).await?;
        Ok(TestDb {
            name,
            url,
            _lock: lock,
        })
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The database URL.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// A pool configuration for this database.
    pub fn pool_config(&self) -> PoolConfig {
        PoolConfig {
            url: self.url.clone().into(),
            max_size: 4,
            timeout: Duration::from_secs(5),
        }
    }

    /// Read and write pools on this database.
    pub fn pools(&self) -> DbPools {
        let config = self.pool_config();
        DbPools::new(Some(&config), Some(&config)).expect("test pools")
    }

    /// A plain connection to this database.
    pub async fn conn(&self) -> mysql_async::Conn {
        connect(&self.url).await
    }
}

/// A plain connection to the database at a test URL.
async fn connect(url: &str) -> mysql_async::Conn {
    let opts = mysql_async::Opts::from_url(url).expect("test url");
    mysql_async::Conn::new(opts).await.expect("test connection")
}

/// An empty database that is not migrated, dropped when the value is dropped.
pub struct ScratchDb {
    name: String,
    url: String,
}

impl ScratchDb {
    /// Creates a new, empty database with a random name.
    pub async fn new() -> ScratchDb {
        let name = format!("ichnaea_scratch_{:016x}", rand::random::<u64>());
        let mut conn = server_conn().await.expect("test MySQL server");
        conn.query_drop(format!("CREATE DATABASE `{name}` CHARACTER SET utf8"))
            .await
            .expect("create scratch database");
        let url = format!("{}/{name}", mysql_server_url());
        ScratchDb { name, url }
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The database URL.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// A plain connection to this database.
    pub async fn conn(&self) -> mysql_async::Conn {
        connect(&self.url).await
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime; do the async work on a separate thread with
        // its own runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    if let Ok(mut conn) = server_conn().await {
                        let _ = conn
                            .query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
                            .await;
                        let _ = conn.disconnect().await;
                    }
                });
            }
        })
        .join();
    }
}

/// One of Redis databases 1–15, owned by one test and flushed before use.
pub struct TestRedis {
    db: u8,
    token: String,
}

impl TestRedis {
    /// Claims a free Redis database.
    pub async fn new() -> TestRedis {
        match Self::try_new().await {
            Ok(r) => r,
            Err(e) => panic!("test Redis: {e:#}"),
        }
    }

    async fn try_new() -> Result<TestRedis> {
        let base = redis_server_url();
        let client = redis::Client::open(format!("{base}/0"))?;
        let mut conn = tokio::time::timeout(
            Duration::from_secs(10),
            client.get_multiplexed_async_connection(),
        )
        .await
        .map_err(|_| anyhow::anyhow!("timed out"))
        .and_then(|r| r.map_err(Into::into))
        .with_context(|| {
            format!("cannot reach the test Redis server at {base}; start it (./scripts/services.sh) or set TEST_REDIS_URL")
        })?;
        let token = format!("{}-{:016x}", std::process::id(), rand::random::<u64>());
        for _ in 0..600 {
            for db in 1..=15u8 {
                let got: Option<String> = redis::cmd("SET")
                    .arg(format!("ichnaea_test_redis_slot_{db}"))
                    .arg(&token)
                    .arg("NX")
                    .arg("EX")
                    .arg(1800)
                    .query_async(&mut conn)
                    .await?;
                if got.is_some() {
                    let client = redis::Client::open(format!("{base}/{db}"))?;
                    let mut c = client.get_multiplexed_async_connection().await?;
                    let _: () = redis::cmd("FLUSHDB").query_async(&mut c).await?;
                    return Ok(TestRedis { db, token });
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("all 15 test Redis databases stayed busy for a minute")
    }

    /// The URL of this test's Redis database.
    pub fn url(&self) -> String {
        format!("{}/{}", redis_server_url(), self.db)
    }

    /// A Redis client on this database.
    pub fn client(&self) -> ichnaea_runtime::RedisClient {
        ichnaea_runtime::RedisClient::new(&self.url().into(), 8, Duration::from_secs(5))
            .expect("test Redis client")
    }

    /// A plain connection to this database.
    pub async fn conn(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("test redis url")
            .get_multiplexed_async_connection()
            .await
            .expect("test redis connection")
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        // Release the slot only if we still own it; a plain blocking connection is fine in
        // Drop.
        let conn = redis::Client::open(format!("{}/0", redis_server_url()))
            .and_then(|client| client.get_connection_with_timeout(Duration::from_secs(2)));
        if let Ok(mut conn) = conn {
            let key = format!("ichnaea_test_redis_slot_{}", self.db);
            let owner: Option<String> = redis::cmd("GET").arg(&key).query(&mut conn).ok().flatten();
            if owner.as_deref() == Some(self.token.as_str()) {
                let _: Result<(), _> = redis::cmd("DEL").arg(&key).query(&mut conn);
            }
        }
    }
}

/// The address a URL's host and port resolve to (for pointing a [`TcpProxy`] at a server).
pub fn server_addr(url: &str, default_port: u16) -> SocketAddr {
    use std::net::ToSocketAddrs;
    let parsed = url::Url::parse(url).expect("server url");
    let host = parsed.host_str().expect("server host").to_owned();
    let port = parsed.port().unwrap_or(default_port);
    (host.as_str(), port)
        .to_socket_addrs()
        .expect("resolvable server")
        .next()
        .expect("server address")
}
