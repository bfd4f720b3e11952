//! `ichnaea-worker`: load settings, start telemetry, run until SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ichnaea_runtime::{Metrics, Role, Settings, shutdown, telemetry};

/// The ichnaea-rs data pipeline worker.
#[derive(Debug, Parser)]
#[command(name = "ichnaea-worker", version)]
struct Cli {
    /// Optional TOML configuration file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(Role::Worker, cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ichnaea-worker: {e}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init_logging(&settings, "ichnaea");
    let _sentry = telemetry::init_sentry(&settings, env!("CARGO_PKG_VERSION"));
    let metrics = Metrics::from_settings(&settings);
    match ichnaea_worker::WorkerState::from_settings(&settings, metrics) {
        Ok(state) => {
            ichnaea_worker::run(state, shutdown::signal()).await;
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ichnaea-worker: {e:#}");
            ExitCode::FAILURE
        }
    }
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
