//! `ichnaea-tiles`: one rendering run of the coverage map, for cron or `docker run … map`.
//! Settings, store choice and logging live here; the work is in the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use ichnaea_db::{DbPool, PoolConfig};
use ichnaea_runtime::config::LogLevel;
use ichnaea_runtime::{Role, Settings, telemetry};
use ichnaea_tiles::{RunOptions, TileStore};
use object_store::local::LocalFileSystem;

/// Renders the coverage map from the datamap tables into PNG tiles (`tiles/{z}/{x}/{y}.png`)
/// in the asset store (ASSET_BUCKET, else ASSET_DIR), or in a local directory with
/// --output. Only new or changed tiles are uploaded.
#[derive(Debug, Parser)]
#[command(name = "ichnaea-tiles", version)]
struct Cli {
    /// Optional TOML configuration file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Write the tiles below this local directory (DIR/tiles/…) instead of the asset store.
    #[arg(long, value_name = "DIR")]
    output: Option<PathBuf>,
    /// Rendering threads (default: all CPUs available).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    concurrency: Option<u16>,
    /// Debug logging in readable text (as with LOCAL_DEV_ENV=true, LOGGING_LEVEL=DEBUG).
    #[arg(short, long)]
    verbose: bool,
    /// Never draw the progress bar (it is only drawn on a terminal anyway).
    #[arg(long)]
    no_progress: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut settings = match Settings::load(Role::Tiles, cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ichnaea-tiles: {e}");
            return ExitCode::FAILURE;
        }
    };
    if cli.verbose {
        settings.local_dev_env = true;
        settings.telemetry.log_level = LogLevel::Debug;
    }
    telemetry::init_logging(&settings, "ichnaea");
    let _sentry = telemetry::init_sentry(&settings, env!("CARGO_PKG_VERSION"));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ichnaea-tiles: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(render(&cli, &settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "tile rendering failed");
            eprintln!("ichnaea-tiles: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn render(cli: &Cli, settings: &Settings) -> anyhow::Result<()> {
    let Some(url) = settings.db.readonly_uri.clone() else {
        anyhow::bail!("DB_READONLY_URI is not set");
    };
    let pool = DbPool::new(&PoolConfig {
        url,
        max_size: settings.db.pool_max_size,
        timeout: settings.db.pool_timeout,
    })?;
    let (output, target) = match &cli.output {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            let store = LocalFileSystem::new_with_prefix(dir)?;
            (TileStore::new(Arc::new(store), false), "directory")
        }
        None => {
            let store = ichnaea_runtime::object_store::build(&settings.assets)?;
            let s3 = settings.assets.bucket.is_some();
            (
                TileStore::new(store, s3),
                if s3 { "bucket" } else { "asset directory" },
            )
        }
    };
    let options = RunOptions {
        concurrency: cli.concurrency.map(usize::from),
        progress: !cli.no_progress,
        ..RunOptions::default()
    };
    let today =
        ichnaea_core::time::DateTime::from_unix_seconds(chrono::Utc::now().timestamp()).date();
    let result = ichnaea_tiles::run(&pool, &output, &options, today).await;
    match &result {
        Ok(stats) => {
            let message = if stats.pyramid.tiles == 0 {
                "Datamap is empty; no tiles rendered."
            } else {
                "Datamap tile generation and upload complete."
            };
            tracing::info!(
                target: "canonical-log-line",
                success = true,
                duration_s = stats.duration_s,
                script_name = "ichnaea-tiles",
                output = target,
                row_count = stats.source.rows,
                point_count = stats.pyramid.points,
                tile_count = stats.pyramid.tiles,
                tile_new = stats.sync.tile_new,
                tile_changed = stats.sync.tile_changed,
                tile_unchanged = stats.sync.tile_unchanged,
                tile_deleted = stats.sync.tile_deleted,
                "{message}"
            );
        }
        Err(_) => {
            tracing::info!(
                target: "canonical-log-line",
                success = false,
                script_name = "ichnaea-tiles",
                output = target,
                "Datamap tile generation and upload failed."
            );
        }
    }
    result.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }
}
