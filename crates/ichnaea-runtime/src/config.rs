//! Configuration: typed, layered, validated, documented.
//!
//! Settings are read with figment in three layers, later ones winning:
//!
//! 1. built-in defaults;
//! 2. an optional TOML file (`--config FILE`), whose keys are the variable names below in
//!    lower case (`db_readonly_uri = "mysql://…"`);
//! 3. environment variables, with the reference service's names, so existing runbooks and
//!    deployment files carry over.
//!
//! Environment values are taken verbatim as strings (figment's own environment provider
//! would parse `[…]` or `{…}` as structures, which could mangle a password). Each binary then
//! parses the sections it needs; [`Settings::load`] reports **every** problem at once, each
//! naming its variable, instead of stopping at the first. Database and Redis URLs have no
//! defaults: a process that needs one and does not get it refuses to start.
//!
//! Every variable is listed in [`VARS`], which `ichnaea-admin check-config` prints and
//! `docs/CONFIG.md` documents (a test checks the two agree).

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use figment::providers::{Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};
use secrecy::{ExposeSecret, SecretString};

/// The secret key the reference ships for development; refused outside local development.
pub const DEV_SECRET_KEY: &str = "default for development, change in production";

/// Which binary is loading its settings; decides which variables are required.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `ichnaea-api`.
    Api,
    /// `ichnaea-worker`.
    Worker,
    /// `ichnaea-scheduler`.
    Scheduler,
    /// `ichnaea-tiles`.
    Tiles,
    /// `ichnaea-admin` commands that touch the database.
    Admin,
    /// `ichnaea-admin` commands that need no backend (e.g. `check-config --role none`).
    Offline,
}

impl Role {
    /// All roles that run as services or touch the database.
    pub const ALL: [Role; 5] = [
        Role::Api,
        Role::Worker,
        Role::Scheduler,
        Role::Tiles,
        Role::Admin,
    ];

    fn needs(self, var: Need) -> bool {
        use Need::*;
        use Role::*;
        matches!(
            (self, var),
            (Api, ReadDb | Redis)
                | (Worker, WriteDb | Redis)
                | (Scheduler, Redis)
                | (Tiles, ReadDb)
                | (Admin, WriteDb)
        )
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "api" => Ok(Role::Api),
            "worker" => Ok(Role::Worker),
            "scheduler" => Ok(Role::Scheduler),
            "tiles" => Ok(Role::Tiles),
            "admin" => Ok(Role::Admin),
            "none" => Ok(Role::Offline),
            other => Err(format!(
                "unknown role {other:?}; expected api, worker, scheduler, tiles, admin or none"
            )),
        }
    }
}

#[derive(Clone, Copy)]
enum Need {
    ReadDb,
    WriteDb,
    Redis,
}

/// The description of one configuration variable.
#[derive(Debug, Clone, Copy)]
pub struct VarSpec {
    /// Environment variable name.
    pub name: &'static str,
    /// Default value, if any (`None`: unset unless given).
    pub default: Option<&'static str>,
    /// Whether the value is secret (hidden by `check-config`).
    pub secret: bool,
    /// One-line description.
    pub doc: &'static str,
}

const fn var(name: &'static str, default: Option<&'static str>, doc: &'static str) -> VarSpec {
    VarSpec {
        name,
        default,
        secret: false,
        doc,
    }
}

const fn secret(name: &'static str, doc: &'static str) -> VarSpec {
    VarSpec {
        name,
        default: None,
        secret: true,
        doc,
    }
}

/// Every configuration variable, in documentation order.
pub const VARS: &[VarSpec] = &[
    var(
        "LOCAL_DEV_ENV",
        Some("false"),
        "Local development mode: readable logs, metrics logged instead of sent, development secret key allowed.",
    ),
    var(
        "LOGGING_LEVEL",
        Some("INFO"),
        "Log level: CRITICAL, ERROR, WARNING, INFO or DEBUG. RUST_LOG, when set, overrides it with a full filter.",
    ),
    secret(
        "DB_READONLY_URI",
        "MySQL URL of the read-only pool (a replica is fine): mysql://USER:PASSWORD@HOST:PORT/DATABASE. Required by ichnaea-api and ichnaea-tiles.",
    ),
    secret(
        "DB_READWRITE_URI",
        "MySQL URL of the read-write pool (the primary). Required by ichnaea-worker and ichnaea-admin.",
    ),
    var(
        "DB_POOL_MAX_SIZE",
        Some("10"),
        "Maximum connections per database pool (at least 2).",
    ),
    var(
        "DB_POOL_TIMEOUT_MS",
        Some("2000"),
        "How long a request waits for a database connection before failing, in milliseconds.",
    ),
    secret(
        "REDIS_URI",
        "Redis URL: redis://[:PASSWORD@]HOST:PORT/DB. Required by ichnaea-api, ichnaea-worker and ichnaea-scheduler.",
    ),
    var(
        "REDIS_POOL_MAX_SIZE",
        Some("20"),
        "Maximum Redis connections per process (at least 2).",
    ),
    var(
        "REDIS_TIMEOUT_MS",
        Some("2000"),
        "How long a request waits for a Redis connection, in milliseconds.",
    ),
    var(
        "GEOIP_PATH",
        None,
        "Path of a MaxMind GeoIP2/GeoLite2 City database. Unset or missing: the service runs without IP-based positions and says so in its log.",
    ),
    var("STATSD_HOST", None, "statsd host; unset disables metrics."),
    var("STATSD_PORT", Some("8125"), "statsd port."),
    secret("SENTRY_DSN", "Sentry DSN; unset disables Sentry."),
    var("SENTRY_ENVIRONMENT", None, "Sentry environment tag."),
    secret(
        "SECRET_KEY",
        "Salt for response signatures. Required outside local development, and must not be the development default.",
    ),
    var(
        "ASSET_BUCKET",
        None,
        "S3 bucket for map tiles and public exports. Unset: assets go to the local directory ASSET_DIR.",
    ),
    var(
        "ASSET_URL",
        None,
        "Public base URL of the asset bucket (CDN); unset serves tiles from /static/datamap/.",
    ),
    var(
        "ASSET_DIR",
        Some("var/assets"),
        "Local directory used as the object store when ASSET_BUCKET is unset.",
    ),
    var(
        "CELL_EXPORT_ENABLED",
        Some("true"),
        "Schedule the public cell exports (hourly diff, daily full) to the asset store, S3 or ASSET_DIR. The reference scheduled them only with ASSET_BUCKET set.",
    ),
    var(
        "S3_ENDPOINT_URL",
        None,
        "Endpoint of an S3-compatible store (MinIO, Ceph, …); unset uses AWS. Credentials and region come from the standard AWS_* variables or the instance profile.",
    ),
    secret(
        "MAPBOX_TOKEN",
        "Mapbox token of the website map; also enables the datamap and region-statistics tasks.",
    ),
    var(
        "WORKER_POLL_INTERVAL_MS",
        Some("1000"),
        "How often ichnaea-worker looks at an empty queue again, in milliseconds.",
    ),
    var(
        "WORKER_LEASE_SECS",
        Some("60"),
        "How long a worker reserves a claimed batch; a batch whose worker died is redelivered after this.",
    ),
    var(
        "WORKER_STATION_BATCH",
        Some("20000"),
        "Most observations a station update takes from one shard queue at once; a backlog merges into fewer, larger transactions.",
    ),
    var(
        "WORKER_STATION_MAX_AGE_MS",
        Some("5000"),
        "Longest wait of a partial station batch, in milliseconds: a station queue is drained when it holds a full batch or its oldest observation waited this long (0: at once).",
    ),
    var(
        "EXPORT_MAX_AGE_SECS",
        Some("60"),
        "Longest wait of a partial export batch before it is exported anyway (the reference waits an hour).",
    ),
    var(
        "SCHEDULER_INTERVALS",
        None,
        "Overrides of the periodic task intervals, e.g. `data.update_statcounter=300,data.monitor_api_users=60` (seconds; interval tasks only).",
    ),
    var(
        "DAILY_LIMIT_HTTP_429",
        Some("false"),
        "Answer keys over their daily limit with 429 and Retry-After instead of the reference's 403.",
    ),
    var(
        "ICHNAEA_API_BIND",
        Some("127.0.0.1:8000"),
        "Address ichnaea-api listens on (also --bind).",
    ),
    var(
        "LOCATE_CACHE_ENTRIES",
        Some("100000"),
        "Station rows the api keeps in memory for locate (all kinds together); 0 turns the cache off.",
    ),
    var(
        "LOCATE_CACHE_TTL_SECS",
        Some("60"),
        "How long the api may answer from a cached station row before reading it again.",
    ),
    var(
        "ICHNAEA_API_WORKERS",
        None,
        "HTTP worker threads of ichnaea-api; unset uses one per CPU core.",
    ),
    var(
        "ICHNAEA_VERSION_FILE",
        Some("version.json"),
        "The version.json served at /__version__.",
    ),
];

/// Every problem found while loading configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<String>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "invalid configuration: {one}"),
            many => {
                write!(f, "invalid configuration ({} problems):", many.len())?;
                for p in many {
                    write!(f, "\n  - {p}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigErrors {}

/// A figment provider of plain string values, taken verbatim.
struct Strings {
    name: &'static str,
    values: BTreeMap<String, String>,
}

impl Provider for Strings {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.name)
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let dict: Dict = self
            .values
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.clone())))
            .collect();
        Ok(Profile::Default.collect(dict))
    }
}

/// The merged raw values of every known variable, with where each came from.
#[derive(Debug, Clone)]
pub struct RawConfig {
    values: BTreeMap<&'static str, (String, String)>,
}

impl RawConfig {
    /// Loads defaults, then the optional TOML file, then the process environment.
    pub fn load(file: Option<&Path>) -> Result<RawConfig, ConfigErrors> {
        Self::load_from(file, std::env::vars())
    }

    /// Like [`RawConfig::load`], with an explicit environment (for tests and tools).
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<RawConfig, ConfigErrors> {
        let defaults = VARS
            .iter()
            .filter_map(|v| v.default.map(|d| (key(v.name), d.to_owned())))
            .collect();
        let mut figment = Figment::from(Strings {
            name: "default",
            values: defaults,
        });
        let mut errors = Vec::new();
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigErrors(vec![format!(
                    "configuration file {} does not exist",
                    path.display()
                )]));
            }
            let toml = Figment::from(Toml::file(path));
            match toml.extract::<BTreeMap<String, Value>>() {
                Ok(map) => {
                    for k in map.keys() {
                        if !VARS.iter().any(|v| key(v.name) == *k) {
                            errors.push(format!(
                                "{}: unknown setting {k:?} (keys are the variable names in lower case)",
                                path.display()
                            ));
                        }
                    }
                }
                Err(e) => errors.push(format!("{}: {e}", path.display())),
            }
            figment = figment.merge(Toml::file(path));
        }
        let env: BTreeMap<String, String> = env
            .into_iter()
            .filter(|(k, _)| VARS.iter().any(|v| v.name == k))
            .map(|(k, v)| (key(&k), v))
            .collect();
        figment = figment.merge(Strings {
            name: "environment",
            values: env,
        });

        let mut values = BTreeMap::new();
        for spec in VARS {
            let k = key(spec.name);
            let Ok(value) = figment.find_value(&k) else {
                continue;
            };
            let source = figment
                .find_metadata(&k)
                .map(|m| m.name.to_string())
                .unwrap_or_default();
            match value_to_string(&value) {
                Some(text) => {
                    values.insert(spec.name, (text, source));
                }
                None => errors.push(format!(
                    "{}: expected a single value, got a list or table (from {source})",
                    spec.name
                )),
            }
        }
        if errors.is_empty() {
            Ok(RawConfig { values })
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// The raw text of a variable, if set (empty strings count as unset).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(|(v, _)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// Where a variable's value came from: `default`, `environment` or the TOML file.
    pub fn source(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|(_, s)| s.as_str())
    }
}

fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

fn value_to_string(value: &Value) -> Option<String> {
    match value {
        Value::String(_, s) => Some(s.clone()),
        Value::Char(_, c) => Some(c.to_string()),
        Value::Bool(_, b) => Some(b.to_string()),
        Value::Num(_, n) => Some(match n.to_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            Some(f) => f.to_string(),
            None => return None,
        }),
        Value::Empty(_, _) => Some(String::new()),
        Value::Dict(..) | Value::Array(..) => None,
    }
}

/// Typed access to raw values that collects every parse error instead of stopping.
struct Parser<'a> {
    raw: &'a RawConfig,
    errors: Vec<String>,
}

impl Parser<'_> {
    fn string(&self, name: &str) -> Option<String> {
        self.raw.get(name).map(str::to_owned)
    }

    fn secret(&self, name: &str) -> Option<SecretString> {
        self.raw.get(name).map(|s| SecretString::from(s.to_owned()))
    }

    fn parse<T>(&mut self, name: &str, what: &str, f: impl FnOnce(&str) -> Option<T>) -> Option<T> {
        let text = self.raw.get(name)?;
        let parsed = f(text.trim());
        if parsed.is_none() {
            self.errors
                .push(format!("{name} must be {what}, got {text:?}"));
        }
        parsed
    }

    /// The boolean `name`, or `default` when unset.
    fn boolean(&mut self, name: &str, default: bool) -> bool {
        self.parse(name, "true or false", |s| {
            match s.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" | "t" | "y" => Some(true),
                "0" | "false" | "no" | "off" | "f" | "n" => Some(false),
                _ => None,
            }
        })
        .unwrap_or(default)
    }

    fn number<T: FromStr + PartialOrd + Copy + fmt::Display>(
        &mut self,
        name: &str,
        min: T,
        max: T,
    ) -> Option<T> {
        self.parse(name, &format!("a whole number from {min} to {max}"), |s| {
            s.parse::<T>().ok().filter(|v| *v >= min && *v <= max)
        })
    }

    fn millis(&mut self, name: &str) -> Option<Duration> {
        self.number::<u64>(name, 1, 3_600_000)
            .map(Duration::from_millis)
    }

    fn require(&mut self, name: &str, why: &str) {
        if self.raw.get(name).is_none() {
            self.errors.push(format!("{name} must be set ({why})"));
        }
    }

    fn url(&mut self, name: &str, schemes: &[&str]) {
        if let Some(text) = self.raw.get(name) {
            match url::Url::parse(text) {
                Ok(u) if schemes.contains(&u.scheme()) => {}
                Ok(u) => self.errors.push(format!(
                    "{name} must be a {} URL, not {}://…",
                    schemes.join(" or "),
                    u.scheme()
                )),
                // The message of a URL parse error never contains the URL itself, so it
                // cannot leak a password.
                Err(e) => self.errors.push(format!("{name} is not a valid URL: {e}")),
            }
        }
    }
}

/// Log verbosity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Errors only (`CRITICAL` and `ERROR`).
    Error,
    /// Warnings and errors.
    Warn,
    /// The default.
    Info,
    /// Everything useful for debugging.
    Debug,
}

impl LogLevel {
    /// The `tracing` filter directive for this level.
    pub fn directive(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }
}

/// Database settings.
#[derive(Debug, Clone)]
pub struct DbSettings {
    /// `DB_READONLY_URI`.
    pub readonly_uri: Option<SecretString>,
    /// `DB_READWRITE_URI`.
    pub readwrite_uri: Option<SecretString>,
    /// `DB_POOL_MAX_SIZE`.
    pub pool_max_size: usize,
    /// `DB_POOL_TIMEOUT_MS`.
    pub pool_timeout: Duration,
}

/// Redis settings.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `REDIS_URI`.
    pub uri: Option<SecretString>,
    /// `REDIS_POOL_MAX_SIZE`.
    pub pool_max_size: usize,
    /// `REDIS_TIMEOUT_MS`.
    pub timeout: Duration,
}

/// Object store settings: S3 (or compatible) when a bucket is set, else a local directory.
#[derive(Debug, Clone)]
pub struct AssetSettings {
    /// `ASSET_BUCKET`.
    pub bucket: Option<String>,
    /// `ASSET_URL`.
    pub url: Option<String>,
    /// `ASSET_DIR`.
    pub dir: PathBuf,
    /// `S3_ENDPOINT_URL`.
    pub s3_endpoint: Option<String>,
    /// `CELL_EXPORT_ENABLED`: whether the scheduler triggers the public cell exports.
    pub cell_exports: bool,
}

/// Telemetry settings.
#[derive(Debug, Clone)]
pub struct TelemetrySettings {
    /// `LOGGING_LEVEL`.
    pub log_level: LogLevel,
    /// `STATSD_HOST`.
    pub statsd_host: Option<String>,
    /// `STATSD_PORT`.
    pub statsd_port: u16,
    /// `SENTRY_DSN`.
    pub sentry_dsn: Option<SecretString>,
    /// `SENTRY_ENVIRONMENT`.
    pub sentry_environment: Option<String>,
}

/// Settings of the worker.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// `WORKER_POLL_INTERVAL_MS`.
    pub poll_interval: Duration,
    /// `WORKER_LEASE_SECS`.
    pub lease: Duration,
    /// `WORKER_STATION_BATCH`.
    pub station_batch: usize,
    /// `WORKER_STATION_MAX_AGE_MS`.
    pub station_max_age: Duration,
    /// `EXPORT_MAX_AGE_SECS`.
    pub export_max_age: Duration,
    /// `SCHEDULER_INTERVALS`: task name → interval in seconds.
    pub scheduler_intervals: Vec<(String, u64)>,
}

/// Settings of the HTTP service.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// `ICHNAEA_API_BIND`.
    pub bind: SocketAddr,
    /// `ICHNAEA_API_WORKERS`.
    pub workers: Option<usize>,
    /// `ICHNAEA_VERSION_FILE`.
    pub version_file: PathBuf,
    /// `LOCATE_CACHE_ENTRIES`: 0 turns the locate station cache off.
    pub locate_cache_entries: u64,
    /// `LOCATE_CACHE_TTL_SECS`.
    pub locate_cache_ttl: Duration,
}

/// The complete, validated configuration of a process.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `LOCAL_DEV_ENV`.
    pub local_dev_env: bool,
    /// Database.
    pub db: DbSettings,
    /// Redis.
    pub redis: RedisSettings,
    /// `GEOIP_PATH`.
    pub geoip_path: Option<PathBuf>,
    /// Logs, metrics, Sentry.
    pub telemetry: TelemetrySettings,
    /// Object store.
    pub assets: AssetSettings,
    /// `SECRET_KEY` (the development default in local development when unset).
    pub secret_key: SecretString,
    /// `MAPBOX_TOKEN`.
    pub mapbox_token: Option<SecretString>,
    /// `DAILY_LIMIT_HTTP_429`.
    pub daily_limit_http_429: bool,
    /// HTTP service.
    pub api: ApiSettings,
    /// Worker.
    pub worker: WorkerSettings,
}

impl Settings {
    /// Loads and validates the configuration for a role: defaults, then `file`, then the
    /// environment.
    pub fn load(role: Role, file: Option<&Path>) -> Result<Settings, ConfigErrors> {
        Settings::from_raw(&RawConfig::load(file)?, &[role])
    }

    /// Validates raw values for one or more roles, reporting every problem.
    pub fn from_raw(raw: &RawConfig, roles: &[Role]) -> Result<Settings, ConfigErrors> {
        let mut p = Parser {
            raw,
            errors: Vec::new(),
        };
        let local_dev_env = p.boolean("LOCAL_DEV_ENV", false);
        let log_level = p
            .parse(
                "LOGGING_LEVEL",
                "one of CRITICAL, ERROR, WARNING, INFO, DEBUG",
                |s| match s.to_ascii_uppercase().as_str() {
                    "CRITICAL" | "ERROR" => Some(LogLevel::Error),
                    "WARNING" | "WARN" => Some(LogLevel::Warn),
                    "INFO" => Some(LogLevel::Info),
                    "DEBUG" => Some(LogLevel::Debug),
                    _ => None,
                },
            )
            .unwrap_or(LogLevel::Info);

        let needs = |n: Need| roles.iter().any(|r| r.needs(n));
        if needs(Need::ReadDb) {
            p.require("DB_READONLY_URI", "the api and tiles read stations from it");
        }
        if needs(Need::WriteDb) {
            p.require("DB_READWRITE_URI", "the worker and admin tools write to it");
        }
        if needs(Need::Redis) {
            p.require("REDIS_URI", "queues, limits and caches live in Redis");
        }
        p.url("DB_READONLY_URI", &["mysql", "mysql+pymysql"]);
        p.url("DB_READWRITE_URI", &["mysql", "mysql+pymysql"]);
        p.url("REDIS_URI", &["redis", "rediss"]);
        p.url("S3_ENDPOINT_URL", &["http", "https"]);
        p.url("ASSET_URL", &["http", "https"]);

        let db = DbSettings {
            readonly_uri: p.secret("DB_READONLY_URI"),
            readwrite_uri: p.secret("DB_READWRITE_URI"),
            pool_max_size: p.number("DB_POOL_MAX_SIZE", 2, 1000).unwrap_or(10),
            pool_timeout: p
                .millis("DB_POOL_TIMEOUT_MS")
                .unwrap_or(Duration::from_secs(2)),
        };
        let redis = RedisSettings {
            uri: p.secret("REDIS_URI"),
            pool_max_size: p.number("REDIS_POOL_MAX_SIZE", 2, 1000).unwrap_or(20),
            timeout: p
                .millis("REDIS_TIMEOUT_MS")
                .unwrap_or(Duration::from_secs(2)),
        };
        let telemetry = TelemetrySettings {
            log_level,
            statsd_host: p.string("STATSD_HOST"),
            statsd_port: p.number("STATSD_PORT", 1, 65535).unwrap_or(8125),
            sentry_dsn: p.secret("SENTRY_DSN"),
            sentry_environment: p.string("SENTRY_ENVIRONMENT"),
        };
        if raw
            .get("SENTRY_DSN")
            .is_some_and(|dsn| url::Url::parse(dsn).is_err())
        {
            p.errors
                .push("SENTRY_DSN is not a valid DSN URL".to_owned());
        }
        let assets = AssetSettings {
            bucket: p.string("ASSET_BUCKET"),
            url: p.string("ASSET_URL"),
            dir: PathBuf::from(p.string("ASSET_DIR").unwrap_or_else(|| "var/assets".into())),
            s3_endpoint: p.string("S3_ENDPOINT_URL"),
            cell_exports: p.boolean("CELL_EXPORT_ENABLED", true),
        };

        let secret_key = match p.secret("SECRET_KEY") {
            Some(k) => k,
            None => SecretString::from(DEV_SECRET_KEY),
        };
        if roles.contains(&Role::Api)
            && !local_dev_env
            && secret_key.expose_secret() == DEV_SECRET_KEY
        {
            p.errors.push(
                "SECRET_KEY must be set to a private value outside local development (LOCAL_DEV_ENV=false)"
                    .to_owned(),
            );
        }

        let api = ApiSettings {
            bind: p
                .parse(
                    "ICHNAEA_API_BIND",
                    "a socket address such as 127.0.0.1:8000",
                    |s| s.parse().ok(),
                )
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8000))),
            workers: p.number("ICHNAEA_API_WORKERS", 1, 1024),
            version_file: PathBuf::from(
                p.string("ICHNAEA_VERSION_FILE")
                    .unwrap_or_else(|| "version.json".into()),
            ),
            locate_cache_entries: p
                .number("LOCATE_CACHE_ENTRIES", 0, 50_000_000)
                .unwrap_or(100_000),
            locate_cache_ttl: Duration::from_secs(
                p.number("LOCATE_CACHE_TTL_SECS", 1, 86_400).unwrap_or(60),
            ),
        };

        let worker = WorkerSettings {
            poll_interval: p
                .millis("WORKER_POLL_INTERVAL_MS")
                .unwrap_or(Duration::from_secs(1)),
            lease: Duration::from_secs(p.number("WORKER_LEASE_SECS", 3, 86_400).unwrap_or(60)),
            station_batch: p
                .number("WORKER_STATION_BATCH", 1, 100_000)
                .unwrap_or(20_000),
            station_max_age: Duration::from_millis(
                p.number("WORKER_STATION_MAX_AGE_MS", 0, 3_600_000)
                    .unwrap_or(5000),
            ),
            export_max_age: Duration::from_secs(
                p.number("EXPORT_MAX_AGE_SECS", 0, 86_400).unwrap_or(60),
            ),
            scheduler_intervals: p
                .parse(
                    "SCHEDULER_INTERVALS",
                    "a comma-separated list of task=seconds",
                    parse_intervals,
                )
                .unwrap_or_default(),
        };
        let settings = Settings {
            local_dev_env,
            db,
            redis,
            geoip_path: p.string("GEOIP_PATH").map(PathBuf::from),
            telemetry,
            assets,
            secret_key,
            mapbox_token: p.secret("MAPBOX_TOKEN"),
            daily_limit_http_429: p.boolean("DAILY_LIMIT_HTTP_429", false),
            api,
            worker,
        };
        if p.errors.is_empty() {
            Ok(settings)
        } else {
            Err(ConfigErrors(p.errors))
        }
    }
}

/// Parses `task=seconds,task=seconds`; `None` if any part is malformed or zero.
fn parse_intervals(text: &str) -> Option<Vec<(String, u64)>> {
    text.split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            let (name, secs) = part.split_once('=')?;
            let secs: u64 = secs.trim().parse().ok().filter(|s| *s > 0)?;
            Some((name.trim().to_owned(), secs))
        })
        .collect()
}

/// One line of `check-config` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveVar {
    /// Variable name.
    pub name: &'static str,
    /// Shown value: secrets are masked, unset values are `None`.
    pub value: Option<String>,
    /// Where the value came from.
    pub source: String,
}

/// The effective value of every variable, with secrets hidden (URL passwords masked,
/// other secrets replaced by `<set>`), for `ichnaea-admin check-config`.
pub fn effective(raw: &RawConfig) -> Vec<EffectiveVar> {
    VARS.iter()
        .map(|spec| {
            let value = raw.get(spec.name).map(|v| {
                if !spec.secret {
                    v.to_owned()
                } else if spec.name.ends_with("_URI") {
                    mask_url_password(v)
                } else {
                    "<set, hidden>".to_owned()
                }
            });
            EffectiveVar {
                name: spec.name,
                value,
                source: raw.source(spec.name).unwrap_or("unset").to_owned(),
            }
        })
        .collect()
}

/// A URL with its password replaced by `***`.
pub fn mask_url_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                // Only URLs that cannot carry credentials refuse a password, and this one
                // already has one.
                let _ = u.set_password(Some("***"));
            }
            u.into()
        }
        Err(_) => "<unparsable URL, hidden>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn load(pairs: &[(&str, &str)], roles: &[Role]) -> Result<Settings, ConfigErrors> {
        Settings::from_raw(&RawConfig::load_from(None, env(pairs)).unwrap(), roles)
    }

    const API_ENV: &[(&str, &str)] = &[
        ("DB_READONLY_URI", "mysql://read:pw@db:3306/location"),
        ("REDIS_URI", "redis://redis:6379/0"),
        ("SECRET_KEY", "s3cret"),
    ];

    #[test]
    fn defaults_apply() {
        let s = load(API_ENV, &[Role::Api]).unwrap();
        assert!(!s.local_dev_env);
        assert_eq!(s.telemetry.log_level, LogLevel::Info);
        assert_eq!(s.telemetry.statsd_port, 8125);
        assert_eq!(s.telemetry.statsd_host, None);
        assert_eq!(s.db.pool_max_size, 10);
        assert_eq!(s.db.pool_timeout, Duration::from_millis(2000));
        assert_eq!(s.redis.pool_max_size, 20);
        assert_eq!(s.api.bind.to_string(), "127.0.0.1:8000");
        assert_eq!(s.api.version_file, PathBuf::from("version.json"));
        assert_eq!(s.assets.dir, PathBuf::from("var/assets"));
        assert_eq!(s.geoip_path, None);
        assert_eq!(s.worker.poll_interval, Duration::from_secs(1));
        assert_eq!(s.worker.lease, Duration::from_secs(60));
        assert_eq!(s.worker.station_batch, 20_000);
        assert_eq!(s.worker.station_max_age, Duration::from_secs(5));
        assert_eq!(s.worker.export_max_age, Duration::from_secs(60));
    }

    #[test]
    fn every_variable_parses_from_the_environment() {
        let s = load(
            &[
                ("LOCAL_DEV_ENV", "yes"),
                ("LOGGING_LEVEL", "debug"),
                ("DB_READONLY_URI", "mysql+pymysql://r@db/location"),
                ("DB_READWRITE_URI", "mysql://w:pw@db/location"),
                ("DB_POOL_MAX_SIZE", "7"),
                ("DB_POOL_TIMEOUT_MS", "250"),
                ("REDIS_URI", "redis://r:6379/1"),
                ("REDIS_POOL_MAX_SIZE", "3"),
                ("REDIS_TIMEOUT_MS", "900"),
                ("GEOIP_PATH", "/data/GeoIP2-City.mmdb"),
                ("STATSD_HOST", "statsd.local"),
                ("STATSD_PORT", "9125"),
                ("SENTRY_DSN", "https://key@sentry.example/1"),
                ("SENTRY_ENVIRONMENT", "stage"),
                ("SECRET_KEY", "[not-a-list]"),
                ("ASSET_BUCKET", "assets"),
                ("ASSET_URL", "https://cdn.example/"),
                ("ASSET_DIR", "/srv/assets"),
                ("S3_ENDPOINT_URL", "http://127.0.0.1:9000"),
                ("MAPBOX_TOKEN", "pk.123"),
                ("DAILY_LIMIT_HTTP_429", "true"),
                ("WORKER_POLL_INTERVAL_MS", "250"),
                ("WORKER_LEASE_SECS", "30"),
                ("WORKER_STATION_BATCH", "250"),
                ("WORKER_STATION_MAX_AGE_MS", "0"),
                ("EXPORT_MAX_AGE_SECS", "2"),
                (
                    "SCHEDULER_INTERVALS",
                    "data.update_statcounter=300, data.monitor_api_users=60",
                ),
                ("ICHNAEA_API_BIND", "0.0.0.0:8080"),
                ("ICHNAEA_API_WORKERS", "4"),
                ("ICHNAEA_VERSION_FILE", "/app/version.json"),
                ("LOCATE_CACHE_ENTRIES", "0"),
                ("LOCATE_CACHE_TTL_SECS", "5"),
            ],
            &Role::ALL,
        )
        .unwrap();
        assert!(s.local_dev_env);
        assert_eq!(s.telemetry.log_level, LogLevel::Debug);
        assert_eq!(
            s.db.readonly_uri.unwrap().expose_secret(),
            "mysql+pymysql://r@db/location"
        );
        assert_eq!(
            s.db.readwrite_uri.unwrap().expose_secret(),
            "mysql://w:pw@db/location"
        );
        assert_eq!(s.db.pool_max_size, 7);
        assert_eq!(s.db.pool_timeout, Duration::from_millis(250));
        assert_eq!(s.redis.uri.unwrap().expose_secret(), "redis://r:6379/1");
        assert_eq!(s.redis.pool_max_size, 3);
        assert_eq!(s.redis.timeout, Duration::from_millis(900));
        assert_eq!(s.geoip_path, Some(PathBuf::from("/data/GeoIP2-City.mmdb")));
        assert_eq!(s.telemetry.statsd_host.as_deref(), Some("statsd.local"));
        assert_eq!(s.telemetry.statsd_port, 9125);
        assert_eq!(
            s.telemetry.sentry_dsn.unwrap().expose_secret(),
            "https://key@sentry.example/1"
        );
        assert_eq!(s.telemetry.sentry_environment.as_deref(), Some("stage"));
        assert_eq!(
            s.secret_key.expose_secret(),
            "[not-a-list]",
            "values are taken verbatim"
        );
        assert_eq!(s.assets.bucket.as_deref(), Some("assets"));
        assert_eq!(s.assets.url.as_deref(), Some("https://cdn.example/"));
        assert_eq!(s.assets.dir, PathBuf::from("/srv/assets"));
        assert_eq!(
            s.assets.s3_endpoint.as_deref(),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(s.mapbox_token.unwrap().expose_secret(), "pk.123");
        assert!(s.daily_limit_http_429);
        assert_eq!(s.worker.poll_interval, Duration::from_millis(250));
        assert_eq!(s.worker.lease, Duration::from_secs(30));
        assert_eq!(s.worker.station_batch, 250);
        assert_eq!(s.worker.station_max_age, Duration::ZERO);
        assert_eq!(s.worker.export_max_age, Duration::from_secs(2));
        assert_eq!(
            s.worker.scheduler_intervals,
            vec![
                ("data.update_statcounter".to_owned(), 300),
                ("data.monitor_api_users".to_owned(), 60)
            ]
        );
        assert_eq!(s.api.bind.to_string(), "0.0.0.0:8080");
        assert_eq!(s.api.workers, Some(4));
        assert_eq!(s.api.locate_cache_entries, 0);
        assert_eq!(s.api.locate_cache_ttl, Duration::from_secs(5));
        assert_eq!(s.api.version_file, PathBuf::from("/app/version.json"));
    }

    #[test]
    fn every_problem_is_reported_at_once_naming_the_variable() {
        let err = load(
            &[
                ("LOGGING_LEVEL", "loud"),
                ("STATSD_PORT", "99999"),
                ("DB_POOL_MAX_SIZE", "1"),
                ("REDIS_URI", "http://wrong"),
                ("ICHNAEA_API_BIND", "localhost"),
                ("SCHEDULER_INTERVALS", "data.update_statcounter"),
            ],
            &[Role::Api],
        )
        .unwrap_err();
        let text = err.to_string();
        for needle in [
            "LOGGING_LEVEL",
            "STATSD_PORT",
            "DB_POOL_MAX_SIZE",
            "DB_READONLY_URI must be set",
            "REDIS_URI must be a redis or rediss URL",
            "SECRET_KEY",
            "ICHNAEA_API_BIND",
            "SCHEDULER_INTERVALS",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
        }
        assert_eq!(err.0.len(), 8, "{text}");
    }

    #[test]
    fn cell_exports_are_on_unless_turned_off() {
        let on = load(&[("REDIS_URI", "redis://h/1")], &[Role::Scheduler]).unwrap();
        assert!(on.assets.cell_exports, "on by default, bucket or not");
        let off = load(
            &[
                ("REDIS_URI", "redis://h/1"),
                ("CELL_EXPORT_ENABLED", "false"),
            ],
            &[Role::Scheduler],
        )
        .unwrap();
        assert!(!off.assets.cell_exports);
        let err = load(
            &[
                ("REDIS_URI", "redis://h/1"),
                ("CELL_EXPORT_ENABLED", "maybe"),
            ],
            &[Role::Scheduler],
        )
        .unwrap_err();
        assert!(err.to_string().contains("CELL_EXPORT_ENABLED"), "{err}");
    }

    #[test]
    fn roles_require_their_backends() {
        let err = load(&[], &[Role::Worker]).unwrap_err().to_string();
        assert!(err.contains("DB_READWRITE_URI must be set"));
        assert!(err.contains("REDIS_URI must be set"));
        assert!(!err.contains("DB_READONLY_URI"));
        let err = load(&[], &[Role::Scheduler]).unwrap_err().to_string();
        assert!(err.contains("REDIS_URI") && !err.contains("DB_"), "{err}");
        assert!(load(&[], &[Role::Offline]).is_ok());
        let err = load(&[("DB_READONLY_URI", "mysql://x@y/z")], &[Role::Tiles]);
        assert!(err.is_ok());
    }

    #[test]
    fn dev_secret_key_is_refused_outside_local_dev() {
        let base = &API_ENV[..2];
        assert!(load(base, &[Role::Api]).is_err());
        let mut dev = base.to_vec();
        dev.push(("LOCAL_DEV_ENV", "true"));
        assert!(load(&dev, &[Role::Api]).is_ok());
        let mut explicit = base.to_vec();
        explicit.push(("SECRET_KEY", DEV_SECRET_KEY));
        assert!(load(&explicit, &[Role::Api]).is_err());
        assert!(
            load(base, &[Role::Scheduler]).is_ok(),
            "only the api signs responses"
        );
    }

    #[test]
    fn toml_file_is_layered_between_defaults_and_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ichnaea.toml");
        std::fs::write(
            &path,
            "statsd_host = \"from-file\"\nstatsd_port = 1234\nlocal_dev_env = true\n",
        )
        .unwrap();
        let raw = RawConfig::load_from(Some(&path), env(&[("STATSD_PORT", "4321")])).unwrap();
        assert_eq!(raw.get("STATSD_HOST"), Some("from-file"));
        assert_eq!(raw.get("STATSD_PORT"), Some("4321"));
        assert_eq!(raw.source("STATSD_PORT"), Some("environment"));
        assert_eq!(raw.source("LOGGING_LEVEL"), Some("default"));
        assert!(raw.source("STATSD_HOST").unwrap().contains("TOML"));
        let s = Settings::from_raw(&raw, &[Role::Offline]).unwrap();
        assert!(s.local_dev_env);
        assert_eq!(s.telemetry.statsd_port, 4321);
    }

    #[test]
    fn toml_typos_and_missing_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "statsd_hots = \"x\"\n").unwrap();
        let err = RawConfig::load_from(Some(&path), env(&[])).unwrap_err();
        assert!(err.to_string().contains("statsd_hots"), "{err}");
        let err = RawConfig::load_from(Some(&dir.path().join("nope.toml")), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
    }

    #[test]
    fn empty_values_count_as_unset() {
        let s = load(
            &[
                ("STATSD_HOST", ""),
                ("GEOIP_PATH", ""),
                ("LOCAL_DEV_ENV", "1"),
            ],
            &[Role::Offline],
        )
        .unwrap();
        assert_eq!(s.telemetry.statsd_host, None);
        assert_eq!(s.geoip_path, None);
    }

    #[test]
    fn effective_config_hides_secrets() {
        let raw = RawConfig::load_from(
            None,
            env(&[
                ("DB_READWRITE_URI", "mysql://root:hunter2@db/location"),
                ("SECRET_KEY", "topsecret"),
                ("SENTRY_DSN", "https://abc@sentry.example/1"),
            ]),
        )
        .unwrap();
        let shown = effective(&raw);
        let text = format!("{shown:?}");
        assert!(!text.contains("hunter2") && !text.contains("topsecret") && !text.contains("abc@"));
        let db = shown.iter().find(|v| v.name == "DB_READWRITE_URI").unwrap();
        assert_eq!(db.value.as_deref(), Some("mysql://root:***@db/location"));
        assert_eq!(db.source, "environment");
        let unset = shown.iter().find(|v| v.name == "GEOIP_PATH").unwrap();
        assert_eq!(
            (unset.value.as_deref(), unset.source.as_str()),
            (None, "unset")
        );
        assert_eq!(shown.len(), VARS.len());
    }

    #[test]
    fn every_variable_is_in_the_env_example() {
        let example = include_str!("../../../.env.example");
        let missing: Vec<_> = VARS
            .iter()
            .filter(|v| !example.contains(&format!("# {}=", v.name)))
            .map(|v| v.name)
            .collect();
        assert!(missing.is_empty(), "not in .env.example: {missing:?}");
    }

    #[test]
    fn every_variable_is_documented() {
        let doc = include_str!("../../../docs/CONFIG.md");
        let missing: Vec<_> = VARS
            .iter()
            .filter(|v| !doc.contains(&format!("| `{}` |", v.name)))
            .map(|v| v.name)
            .collect();
        assert!(missing.is_empty(), "not in docs/CONFIG.md: {missing:?}");
    }
}
