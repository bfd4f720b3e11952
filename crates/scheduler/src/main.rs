//! `ichnaea-scheduler`: load settings, start telemetry, compete for the leader lock.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use ichnaea_runtime::{Role, Settings, shutdown, telemetry};

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
    /// Push a trigger for this periodic task now (e.g. `data.cell_export_full`) and exit,
    /// without taking the leader lock; repeatable.
    #[arg(long, value_name = "TASK")]
    trigger: Vec<String>,
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
    let lease = Duration::from_secs(cli.lease_secs);
    let result = if cli.trigger.is_empty() {
        ichnaea_scheduler::run_from_settings(&settings, lease, shutdown::signal()).await
    } else {
        ichnaea_scheduler::trigger_now(&settings, &cli.trigger).await
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ichnaea-scheduler: {e}");
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
