//! `ichnaea-api`: parse the command line, load settings, start telemetry, serve.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ichnaea_runtime::{Metrics, Role, Settings, telemetry};

/// The ichnaea-rs HTTP service.
#[derive(Debug, Parser)]
#[command(name = "ichnaea-api", version)]
struct Cli {
    /// Optional TOML configuration file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Listen address (overrides ICHNAEA_API_BIND).
    #[arg(long, value_name = "ADDR")]
    bind: Option<SocketAddr>,
}

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(Role::Api, cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ichnaea-api: {e}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init_logging(&settings, "ichnaea");
    let _sentry = telemetry::init_sentry(&settings, env!("CARGO_PKG_VERSION"));
    let bind = cli.bind.unwrap_or(settings.api.bind);
    let metrics = Metrics::from_settings(&settings);
    let result = match ichnaea_api::AppState::from_settings(settings, metrics) {
        Ok(state) => ichnaea_api::run(state, bind).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "ichnaea-api failed");
            eprintln!("ichnaea-api: {e:#}");
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
