//! `ichnaea-scheduler`: load settings, start telemetry, compete for the leader lock.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use ichnaea_runtime::{RedisClient, Role, Settings, shutdown, telemetry};

/// The ichnaea-rs periodic task scheduler (run one or more; one is active).
#[derive(Debug, Parser)]
#[command(name = "ichnaea-scheduler", version)]
struct Cli {
    /// Optional TOML configuration file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Leader lock lease in seconds: a standby takes over within this time.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(3..=3600))]
    lease_secs: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(Role::Scheduler, cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ichnaea-scheduler: {e}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init_logging(&settings, "ichnaea");
    let _sentry = telemetry::init_sentry(&settings, env!("CARGO_PKG_VERSION"));
    let redis = match settings
        .redis
        .uri
        .as_ref()
        .map(|uri| RedisClient::new(uri, settings.redis.pool_max_size, settings.redis.timeout))
    {
        Some(Ok(r)) => r,
        Some(Err(e)) => {
            eprintln!("ichnaea-scheduler: {e}");
            return ExitCode::FAILURE;
        }
        None => {
            eprintln!("ichnaea-scheduler: REDIS_URI must be set");
            return ExitCode::FAILURE;
        }
    };
    let lock = ichnaea_scheduler::LeaderLock::new(redis, Duration::from_secs(cli.lease_secs));
    tracing::info!(scheduler.id = lock.id(), "ichnaea-scheduler started");
    let tasks = ichnaea_scheduler::catalogue(settings.assets.bucket.is_some());
    ichnaea_scheduler::run(lock, tasks, shutdown::signal()).await;
    tracing::info!("ichnaea-scheduler stopped");
    ExitCode::SUCCESS
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
