//! `ichnaea-bench`: the load generators and workload tools behind `scripts/bench-*.sh`.
//!
//! Every workload is derived from a seed (see [`world`]), every request's answer is
//! checked, and every command prints one JSON line of results, so the scripts can
//! record numbers that mean something. The tools speak only HTTP (and, for the pipeline
//! drain, read Redis queue lengths and the station tables), so they measure the real
//! binaries.

mod drain;
mod http1;
mod load;
mod queries;
mod rng;
mod seed;
mod world;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use clap::{Parser, Subcommand};
use serde_json::json;

use crate::load::LoadSpec;
use crate::queries::Scenario;
use crate::world::{Namespace, SITE_STATIONS, SITE_WIFI, World};

/// The same allocator as the service binaries (set in `ichnaea-runtime`, which this tool
/// does not link): the generator shares the machine with what it measures.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "ichnaea-bench", about = "Benchmark tools for ichnaea-rs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Drops the benchmark database and empties the benchmark Redis database.
    Reset {
        /// MySQL URL of the database; its name must contain `bench`.
        #[arg(long)]
        db: String,
        /// Redis URL with the database number to empty.
        #[arg(long)]
        redis: String,
    },
    /// Inserts the locate world's stations into empty station tables.
    Seed {
        /// MySQL URL of the database.
        #[arg(long)]
        db: String,
        /// WiFi access points (in sites of eight).
        #[arg(long, default_value_t = 1_000_000)]
        wifi: u64,
        /// LTE cells.
        #[arg(long, default_value_t = 100_000)]
        cells: u64,
        /// World seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Locate load against `/v1/geolocate`.
    Locate {
        /// Base URL of the api.
        #[arg(long)]
        url: String,
        /// API key.
        #[arg(long)]
        key: String,
        /// What the requests contain.
        #[arg(long, value_enum)]
        scenario: Scenario,
        /// The seeded WiFi count (queries only name seeded stations).
        #[arg(long, default_value_t = 1_000_000)]
        wifi: u64,
        /// The seeded cell count.
        #[arg(long, default_value_t = 100_000)]
        cells: u64,
        /// World seed (as seeded).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Distinct request bodies to cycle through.
        #[arg(long, default_value_t = 20_000)]
        bodies: usize,
        /// Concurrent connections.
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Seconds to run.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Fixed request rate (open loop); as fast as possible without it.
        #[arg(long)]
        rate: Option<f64>,
        /// The client address sent in `X-Forwarded-For`.
        #[arg(long, default_value = "81.2.69.192")]
        client_ip: String,
    },
    /// Submits the pipeline workload to `/v2/geosubmit`, every report exactly once.
    Submit {
        /// Base URL of the api.
        #[arg(long)]
        url: String,
        /// API key.
        #[arg(long)]
        key: String,
        /// Distinct stations (in sites of eight WiFi, one cell, one beacon).
        #[arg(long, default_value_t = 100_000)]
        stations: u64,
        /// Observations in all (a multiple of `stations`).
        #[arg(long, default_value_t = 1_000_000)]
        observations: u64,
        /// Reports per request.
        #[arg(long, default_value_t = 10)]
        per_request: usize,
        /// Concurrent connections.
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// World seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Runs workers until the queues are empty and checks the station tables.
    Drain {
        /// The `ichnaea-worker` binary.
        #[arg(long)]
        worker_bin: String,
        /// Worker processes.
        #[arg(long, default_value_t = 2)]
        workers: usize,
        /// Redis URL (as the workers get it in `REDIS_URI`).
        #[arg(long)]
        redis: String,
        /// MySQL URL of the database.
        #[arg(long)]
        db: String,
        /// As submitted.
        #[arg(long, default_value_t = 100_000)]
        stations: u64,
        /// As submitted.
        #[arg(long, default_value_t = 1_000_000)]
        observations: u64,
        /// Where the workers' logs go.
        #[arg(long, default_value = "worker-bench.log")]
        log: std::path::PathBuf,
    },
}

/// Sites and reports per site of a pipeline workload.
fn workload(stations: u64, observations: u64) -> anyhow::Result<(u64, u64)> {
    let sites = stations / SITE_STATIONS as u64;
    anyhow::ensure!(sites > 0, "at least {SITE_STATIONS} stations");
    let per_site = observations / (sites * SITE_STATIONS as u64);
    anyhow::ensure!(per_site > 0, "at least one observation per station");
    Ok((sites, per_site))
}

fn bytes(bodies: Vec<Vec<u8>>) -> Arc<Vec<Bytes>> {
    Arc::new(bodies.into_iter().map(Bytes::from).collect())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Reset { db, redis } => reset(&db, &redis).await?,
        Command::Seed {
            db,
            wifi,
            cells,
            seed,
        } => {
            let started = std::time::Instant::now();
            seed::seed(&db, &World::new(seed, Namespace::Locate), wifi, cells).await?;
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "{}",
                json!({"seeded_wifi": wifi, "seeded_cells": cells, "seconds": seconds})
            );
        }
        Command::Locate {
            url,
            key,
            scenario,
            wifi,
            cells,
            seed,
            bodies,
            connections,
            duration,
            rate,
            client_ip,
        } => {
            let world = World::new(seed, Namespace::Locate);
            let bodies = queries::locate_bodies(&world, scenario, wifi, cells, bodies, 99);
            let report = load::run(LoadSpec {
                url: format!("{}/v1/geolocate?key={key}", url.trim_end_matches('/')),
                bodies: bytes(bodies),
                headers: vec![("X-Forwarded-For".into(), client_ip)],
                connections,
                duration: Duration::from_secs(duration),
                rate,
                once: false,
                expect: 200,
            })
            .await?;
            let label = format!("{scenario:?}").to_lowercase();
            println!("{}", report.to_json(&label));
            anyhow::ensure!(
                report.failures() == 0,
                "{} requests failed",
                report.failures()
            );
        }
        Command::Submit {
            url,
            key,
            stations,
            observations,
            per_request,
            connections,
            seed,
        } => {
            let (sites, per_site) = workload(stations, observations)?;
            let world = World::new(seed, Namespace::Pipeline);
            let now_ms = now_ms()?;
            let bodies = world::submit_bodies(&world, sites, per_site, per_request, now_ms);
            let requests = bodies.len();
            let report = load::run(LoadSpec {
                url: format!("{}/v2/geosubmit?key={key}", url.trim_end_matches('/')),
                bodies: bytes(bodies),
                headers: vec![("X-Forwarded-For".into(), "81.2.69.192".into())],
                connections,
                duration: Duration::ZERO,
                rate: None,
                once: true,
                expect: 200,
            })
            .await?;
            let reports = sites * per_site;
            let mut out = report.to_json("geosubmit");
            out["requests"] = json!(requests);
            out["reports"] = json!(reports);
            out["observations"] = json!(reports * SITE_STATIONS as u64);
            out["observations_per_s"] = json!(
                ((reports * SITE_STATIONS as u64) as f64 / report.elapsed.as_secs_f64()).round()
            );
            println!("{out}");
            anyhow::ensure!(
                report.failures() == 0,
                "{} requests failed",
                report.failures()
            );
        }
        Command::Drain {
            worker_bin,
            workers,
            redis,
            db,
            stations,
            observations,
            log,
        } => {
            let (sites, per_site) = workload(stations, observations)?;
            let wifi = sites * SITE_WIFI as u64;
            let expected = drain::Expected {
                wifi: (wifi, wifi * per_site),
                cell: (sites, sites * per_site),
                blue: (sites, sites * per_site),
            };
            let elapsed = drain::drain(&worker_bin, workers, &redis, &log).await?;
            let found = drain::station_totals(&db).await?;
            let seconds = elapsed.as_secs_f64();
            println!(
                "{}",
                json!({
                    "label": "drain",
                    "workers": workers,
                    "seconds": (seconds * 1000.0).round() / 1000.0,
                    "observations": expected.observations(),
                    "observations_per_s": (expected.observations() as f64 / seconds).round(),
                    "stations": {"wifi": found.wifi.0, "cell": found.cell.0, "blue": found.blue.0},
                    "samples": {"wifi": found.wifi.1, "cell": found.cell.1, "blue": found.blue.1},
                })
            );
            anyhow::ensure!(
                found == expected,
                "the station tables do not hold the workload: expected {expected:?}, found {found:?}"
            );
        }
    }
    Ok(())
}

/// Drops the database of `db_url` and flushes the Redis database of `redis_url`. Only
/// for databases named for benchmarks, so a mistyped URL cannot wipe real data.
async fn reset(db_url: &str, redis_url: &str) -> anyhow::Result<()> {
    use mysql_async::prelude::Queryable;
    let opts = mysql_async::Opts::from_url(db_url)?;
    let name = opts
        .db_name()
        .context("the database URL names no database")?
        .to_owned();
    anyhow::ensure!(
        name.contains("bench") && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "refusing to drop {name:?}: only databases named for benchmarks"
    );
    let server = mysql_async::OptsBuilder::from_opts(opts).db_name(None::<String>);
    let mut conn = mysql_async::Conn::new(server).await?;
    conn.query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
        .await?;
    conn.disconnect().await?;
    let client = redis::Client::open(redis_url)?;
    let mut redis_conn = client.get_multiplexed_async_connection().await?;
    let () = redis::cmd("FLUSHDB").query_async(&mut redis_conn).await?;
    Ok(())
}

/// Milliseconds since the epoch.
fn now_ms() -> anyhow::Result<i64> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the clock is before 1970")?;
    Ok(i64::try_from(now.as_millis())?)
}
