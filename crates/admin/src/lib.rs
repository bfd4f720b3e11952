//! `ichnaea-admin`: the operator's command line.
//!
//! * `migrate [--status]`: applies pending schema migrations (a deploy step; services
//!   never migrate on start) or shows which are applied.
//! * `api-key create|list|show|update|delete`: manages the `api_key` table, with one flag per
//!   column (`--maxreq 5`, `--allow-fallback true`, `--fallback-name null`, …).
//! * `load-cells FILE…`: imports MLS / OpenCellID cell CSV files (`load_cells`).
//! * `dump --datatype cell|wifi|blue --filename F [--lat --lon --radius]`: writes a station
//!   dump (`dump`).
//! * `check-config [--role ROLE]`: validates the configuration and prints the effective value
//!   and source of every variable, secrets hidden.
//!
//! Every failure is one line on stderr (`error: …`) and a non-zero exit status.

use std::io::Write;
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use ichnaea_db::api_key::{self, ApiKeyChanges, ApiKeyRow};
use ichnaea_db::{DbPool, PoolConfig, migrate};
use ichnaea_runtime::config::{self, RawConfig, Role, Settings};

pub mod dump;
pub mod load_cells;

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "ichnaea-admin",
    version,
    about = "Administer an ichnaea-rs installation"
)]
pub struct Cli {
    /// Optional TOML configuration file (keys are the environment variable names in lower case).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending database migrations (uses DB_READWRITE_URI).
    Migrate {
        /// Only show which migrations are applied and which are pending.
        #[arg(long)]
        status: bool,
        /// Create the database first if it does not exist (first installs).
        #[arg(long, conflicts_with = "status")]
        create_database: bool,
    },
    /// Manage API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(ApiKeyCommand),
    /// Import public cell CSV files (MLS exports or OpenCellID, plain or gzip, full or diff).
    LoadCells {
        /// The files to import, in order.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Write all stations of one type to a gzip CSV file (the reference's location_dump).
    Dump(dump::DumpArgs),
    /// Validate the configuration and print every variable's effective value (secrets hidden).
    CheckConfig {
        /// Validate for this binary: api, worker, scheduler, tiles, admin, none, or all.
        #[arg(long, default_value = "all")]
        role: String,
    },
}

/// `api-key` subcommands.
#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key (a random UUID when KEY is omitted) with the reference's defaults,
    /// overridden by any flag given.
    Create {
        /// The key text: 4 to 40 letters, digits or dashes.
        key: Option<String>,
        /// Column values.
        #[command(flatten)]
        columns: Columns,
    },
    /// List all keys.
    List,
    /// Show every column of a key.
    Show {
        /// The key text.
        key: String,
    },
    /// Change columns of a key; `null` sets a column to NULL.
    Update {
        /// The key text.
        key: String,
        /// Column values.
        #[command(flatten)]
        columns: Columns,
    },
    /// Delete a key.
    Delete {
        /// The key text.
        key: String,
    },
}

/// A flag value that may be `null`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nullable<T> {
    /// Set the column to NULL.
    Null,
    /// Set the column to this value.
    Value(T),
}

impl<T> Nullable<T> {
    fn into_option(self) -> Option<T> {
        match self {
            Nullable::Null => None,
            Nullable::Value(v) => Some(v),
        }
    }
}

fn nullable<T: FromStr>(text: &str) -> Result<Nullable<T>, String>
where
    T::Err: std::fmt::Display,
{
    if text.eq_ignore_ascii_case("null") {
        return Ok(Nullable::Null);
    }
    text.parse()
        .map(Nullable::Value)
        .map_err(|e| format!("{e}"))
}

fn nullable_bool(text: &str) -> Result<Nullable<bool>, String> {
    match text.to_ascii_lowercase().as_str() {
        "null" => Ok(Nullable::Null),
        "true" | "1" | "yes" | "on" => Ok(Nullable::Value(true)),
        "false" | "0" | "no" | "off" => Ok(Nullable::Value(false)),
        _ => Err("expected true, false or null".to_owned()),
    }
}

fn nullable_percent(text: &str) -> Result<Nullable<i8>, String> {
    match nullable::<i8>(text)? {
        Nullable::Value(v) if !(0..=100).contains(&v) => {
            Err("expected a percentage from 0 to 100, or null".to_owned())
        }
        other => Ok(other),
    }
}

fn nullable_count(text: &str) -> Result<Nullable<i32>, String> {
    match nullable::<i32>(text)? {
        Nullable::Value(v) if v < 0 => Err("expected a number ≥ 0, or null".to_owned()),
        other => Ok(other),
    }
}

/// The fallback protocols the api can speak.
pub const FALLBACK_SCHEMAS: &[&str] = &[
    "ichnaea/v1",
    "combain/v1",
    "googlemaps/v1",
    "unwiredlabs/v1",
];

fn fallback_schema(text: &str) -> Result<Nullable<String>, String> {
    if text.eq_ignore_ascii_case("null") {
        return Ok(Nullable::Null);
    }
    if FALLBACK_SCHEMAS.contains(&text) {
        Ok(Nullable::Value(text.to_owned()))
    } else {
        Err(format!(
            "expected one of {} or null",
            FALLBACK_SCHEMAS.join(", ")
        ))
    }
}

fn fallback_url(text: &str) -> Result<Nullable<String>, String> {
    if text.eq_ignore_ascii_case("null") {
        return Ok(Nullable::Null);
    }
    match url::Url::parse(text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && text.len() <= 256 => {
            Ok(Nullable::Value(text.to_owned()))
        }
        Ok(_) => Err("expected an http(s) URL of at most 256 characters".to_owned()),
        Err(e) => Err(format!("not a URL: {e}")),
    }
}

fn short_text(text: &str) -> Result<Nullable<String>, String> {
    if text.eq_ignore_ascii_case("null") {
        Ok(Nullable::Null)
    } else if text.is_empty() || text.chars().count() > 40 {
        Err("expected 1 to 40 characters, or null".to_owned())
    } else {
        Ok(Nullable::Value(text.to_owned()))
    }
}

/// One flag per `api_key` column.
#[derive(Debug, Clone, Default, Args)]
pub struct Columns {
    /// Daily request limit per API path (0 or null: unlimited).
    #[arg(long, value_parser = nullable_count)]
    pub maxreq: Option<Nullable<i32>>,
    /// May use the external fallback provider.
    #[arg(long, value_parser = nullable_bool)]
    pub allow_fallback: Option<Nullable<bool>>,
    /// May call /v1/geolocate.
    #[arg(long, value_parser = nullable_bool)]
    pub allow_locate: Option<Nullable<bool>>,
    /// May call /v1/country.
    #[arg(long, value_parser = nullable_bool)]
    pub allow_region: Option<Nullable<bool>>,
    /// Fallback provider name (rate-limit partition and metric tag).
    #[arg(long, value_parser = short_text)]
    pub fallback_name: Option<Nullable<String>>,
    /// Fallback protocol: ichnaea/v1, combain/v1, googlemaps/v1 or unwiredlabs/v1.
    #[arg(long, value_parser = fallback_schema)]
    pub fallback_schema: Option<Nullable<String>>,
    /// Fallback provider URL (unwiredlabs: append the token as `#TOKEN`).
    #[arg(long, value_parser = fallback_url)]
    pub fallback_url: Option<Nullable<String>>,
    /// Fallback requests allowed per interval (0: unlimited).
    #[arg(long, value_parser = nullable_count)]
    pub fallback_ratelimit: Option<Nullable<i32>>,
    /// Fallback rate limit interval in seconds.
    #[arg(long, value_parser = nullable_count)]
    pub fallback_ratelimit_interval: Option<Nullable<i32>>,
    /// Seconds to cache fallback answers (0 or null: no caching).
    #[arg(long, value_parser = nullable_count)]
    pub fallback_cache_expire: Option<Nullable<i32>>,
    /// Percentage (0–100) of locate queries fed to the data pipeline.
    #[arg(long, value_parser = nullable_percent)]
    pub store_sample_locate: Option<Nullable<i8>>,
    /// Percentage (0–100) of submissions kept.
    #[arg(long, value_parser = nullable_percent)]
    pub store_sample_submit: Option<Nullable<i8>>,
}

impl Columns {
    fn changes(&self) -> ApiKeyChanges {
        ApiKeyChanges {
            maxreq: self.maxreq.clone().map(Nullable::into_option),
            allow_fallback: self.allow_fallback.clone().map(Nullable::into_option),
            allow_locate: self.allow_locate.clone().map(Nullable::into_option),
            allow_region: self.allow_region.clone().map(Nullable::into_option),
            fallback_name: self.fallback_name.clone().map(Nullable::into_option),
            fallback_schema: self.fallback_schema.clone().map(Nullable::into_option),
            fallback_url: self.fallback_url.clone().map(Nullable::into_option),
            fallback_ratelimit: self.fallback_ratelimit.clone().map(Nullable::into_option),
            fallback_ratelimit_interval: self
                .fallback_ratelimit_interval
                .clone()
                .map(Nullable::into_option),
            fallback_cache_expire: self
                .fallback_cache_expire
                .clone()
                .map(Nullable::into_option),
            store_sample_locate: self.store_sample_locate.clone().map(Nullable::into_option),
            store_sample_submit: self.store_sample_submit.clone().map(Nullable::into_option),
        }
    }
}

pub use ichnaea_core::apikey::valid_key_text;

/// Runs a command with configuration from the process environment.
pub async fn run(cli: Cli, out: &mut impl Write) -> Result<()> {
    let raw = RawConfig::load(cli.config.as_deref())?;
    run_with(cli.command, &raw, out).await
}

/// Runs a command with the given raw configuration.
pub async fn run_with(command: Command, raw: &RawConfig, out: &mut impl Write) -> Result<()> {
    match command {
        Command::CheckConfig { role } => check_config(raw, &role, out),
        Command::Migrate {
            status,
            create_database,
        } => {
            let settings = Settings::from_raw(raw, &[Role::Admin])?;
            let url = write_url(&settings)?;
            if create_database && migrate::create_database(&url).await? {
                writeln!(out, "Created the database.")?;
            }
            if status {
                migration_status(&url, out).await
            } else {
                run_migrations(&url, out).await
            }
        }
        Command::LoadCells { files } => {
            let settings = Settings::from_raw(raw, &[Role::Admin])?;
            let url = write_url(&settings)?;
            load_cells::load_cells(&settings, &url, &files, out).await?;
            Ok(())
        }
        Command::Dump(args) => {
            let settings = Settings::from_raw(raw, &[Role::Admin])?;
            let pool = write_pool(&settings)?;
            dump::dump(&pool, &args, out).await
        }
        Command::ApiKey(cmd) => {
            let settings = Settings::from_raw(raw, &[Role::Admin])?;
            let pool = DbPool::new(&PoolConfig {
                url: write_url(&settings)?,
                max_size: 2,
                timeout: settings.db.pool_timeout,
            })?;
            api_key_command(cmd, &pool, out).await
        }
    }
}

/// A small pool on the read-write database.
fn write_pool(settings: &Settings) -> Result<DbPool> {
    Ok(DbPool::new(&PoolConfig {
        url: write_url(settings)?,
        max_size: 2,
        timeout: settings.db.pool_timeout,
    })?)
}

fn write_url(settings: &Settings) -> Result<secrecy::SecretString> {
    settings
        .db
        .readwrite_uri
        .clone()
        .context("DB_READWRITE_URI must be set")
}

fn check_config(raw: &RawConfig, role: &str, out: &mut impl Write) -> Result<()> {
    let roles: Vec<Role> = if role == "all" {
        Role::ALL.to_vec()
    } else {
        vec![role.parse().map_err(anyhow::Error::msg)?]
    };
    let result = Settings::from_raw(raw, &roles);
    for var in config::effective(raw) {
        writeln!(
            out,
            "{:<22} = {:<40} ({})",
            var.name,
            var.value.as_deref().unwrap_or("<unset>"),
            var.source
        )?;
    }
    match result {
        Ok(_) => {
            writeln!(out, "configuration is valid for role {role}")?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

async fn run_migrations(url: &secrecy::SecretString, out: &mut impl Write) -> Result<()> {
    let applied = migrate::run_pending(url).await?;
    if applied.is_empty() {
        writeln!(out, "Database schema is up to date; no migration applied.")?;
    } else {
        for name in &applied {
            writeln!(out, "Applied migration {name}")?;
        }
        writeln!(out, "Applied {} migration(s).", applied.len())?;
    }
    Ok(())
}

async fn migration_status(url: &secrecy::SecretString, out: &mut impl Write) -> Result<()> {
    let (states, unknown) = migrate::status(url).await?;
    for s in &states {
        writeln!(
            out,
            "[{}] {}",
            if s.applied { "applied" } else { "pending" },
            s.name
        )?;
    }
    for v in &unknown {
        writeln!(out, "[unknown] {v} (applied by a newer release)")?;
    }
    let pending = states.iter().filter(|s| !s.applied).count();
    writeln!(out, "{pending} pending migration(s).")?;
    Ok(())
}

/// Checks a command's arguments before anything touches the database.
fn check_api_key_args(cmd: &ApiKeyCommand) -> Result<()> {
    match cmd {
        ApiKeyCommand::Create { key: Some(key), .. } if !valid_key_text(key) => {
            bail!("invalid API key {key:?}: use 4 to 40 letters, digits or dashes")
        }
        ApiKeyCommand::Update { columns, .. } if columns.changes().is_empty() => {
            bail!("nothing to update: give at least one column flag (see --help)")
        }
        _ => Ok(()),
    }
}

async fn api_key_command(cmd: ApiKeyCommand, pool: &DbPool, out: &mut impl Write) -> Result<()> {
    check_api_key_args(&cmd)?;
    let mut conn = pool.get().await?;
    match cmd {
        ApiKeyCommand::Create { key, columns } => {
            let key = key.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            let mut row = ApiKeyRow::with_defaults(key.clone());
            columns.changes().apply_to(&mut row);
            if api_key::insert(&mut conn, &row).await? {
                writeln!(out, "Created API key: '{key}'")?;
                Ok(())
            } else {
                bail!("API key '{key}' exists")
            }
        }
        ApiKeyCommand::List => {
            let rows = api_key::list(&mut conn).await?;
            writeln!(out, "{} api keys.", rows.len())?;
            if !rows.is_empty() {
                let table: Vec<[String; 4]> = rows
                    .iter()
                    .map(|r| {
                        [
                            r.valid_key.clone(),
                            show_opt(&r.allow_fallback),
                            show_opt(&r.allow_locate),
                            show_opt(&r.allow_region),
                        ]
                    })
                    .collect();
                let header = [
                    "valid_key",
                    "allow_fallback",
                    "allow_locate",
                    "allow_region",
                ];
                let widths: Vec<usize> = (0..4)
                    .map(|i| {
                        table
                            .iter()
                            .map(|r| r[i].len())
                            .chain([header[i].len()])
                            .max()
                            .unwrap_or(0)
                    })
                    .collect();
                let line = |cells: [&str; 4]| {
                    cells
                        .iter()
                        .zip(&widths)
                        .map(|(c, w)| format!("{c:<w$}"))
                        .collect::<Vec<_>>()
                        .join(" | ")
                        .trim_end()
                        .to_owned()
                };
                writeln!(out, "{}", line(header))?;
                for r in &table {
                    writeln!(out, "{}", line([&r[0], &r[1], &r[2], &r[3]]))?;
                }
            }
            Ok(())
        }
        ApiKeyCommand::Show { key } => match api_key::find(&mut conn, &key).await? {
            Some(row) => write_row(&row, out),
            None => bail!("API key '{key}' does not exist"),
        },
        ApiKeyCommand::Update { key, columns } => {
            let changes = columns.changes();
            if api_key::update(&mut conn, &key, &changes).await? {
                writeln!(out, "Updated API key: '{key}'")?;
                Ok(())
            } else {
                bail!("API key '{key}' does not exist")
            }
        }
        ApiKeyCommand::Delete { key } => {
            if api_key::delete(&mut conn, &key).await? {
                writeln!(out, "Deleted API key: '{key}'")?;
                Ok(())
            } else {
                bail!("API key '{key}' does not exist")
            }
        }
    }
}

fn show_opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "null".to_owned(), T::to_string)
}

fn write_row(row: &ApiKeyRow, out: &mut impl Write) -> Result<()> {
    let lines: [(&str, String); 14] = [
        ("valid_key", row.valid_key.clone()),
        ("maxreq", show_opt(&row.maxreq)),
        ("allow_fallback", show_opt(&row.allow_fallback)),
        ("allow_locate", show_opt(&row.allow_locate)),
        ("allow_region", show_opt(&row.allow_region)),
        ("fallback_name", show_opt(&row.fallback_name)),
        ("fallback_schema", show_opt(&row.fallback_schema)),
        ("fallback_url", show_opt(&row.fallback_url)),
        ("fallback_ratelimit", show_opt(&row.fallback_ratelimit)),
        (
            "fallback_ratelimit_interval",
            show_opt(&row.fallback_ratelimit_interval),
        ),
        (
            "fallback_cache_expire",
            show_opt(&row.fallback_cache_expire),
        ),
        ("store_sample_submit", show_opt(&row.store_sample_submit)),
        ("store_sample_locate", show_opt(&row.store_sample_locate)),
        // Logs and metrics name keys by this label, never by the key itself.
        ("label", ichnaea_core::apikey::key_label(&row.valid_key)),
    ];
    for (name, value) in lines {
        writeln!(out, "{name} : {value}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_parse_values_and_null() {
        let cli = Cli::try_parse_from([
            "ichnaea-admin",
            "api-key",
            "update",
            "k123",
            "--maxreq",
            "5",
            "--allow-locate",
            "false",
            "--fallback-name",
            "null",
            "--store-sample-locate",
            "50",
        ])
        .unwrap();
        let Command::ApiKey(ApiKeyCommand::Update { columns, .. }) = cli.command else {
            panic!("wrong command");
        };
        let c = columns.changes();
        assert_eq!(c.maxreq, Some(Some(5)));
        assert_eq!(c.allow_locate, Some(Some(false)));
        assert_eq!(c.fallback_name, Some(None));
        assert_eq!(c.store_sample_locate, Some(Some(50)));
        assert_eq!(c.allow_region, None);
    }

    #[test]
    fn bad_flag_values_are_refused() {
        for args in [
            ["--store-sample-locate", "101"],
            ["--maxreq", "-1"],
            ["--allow-locate", "maybe"],
            ["--fallback-schema", "acme/v9"],
            ["--fallback-url", "ftp://x"],
        ] {
            let mut argv = vec!["ichnaea-admin", "api-key", "create", "k123"];
            argv.extend(args);
            assert!(Cli::try_parse_from(argv).is_err(), "{args:?}");
        }
    }
}
